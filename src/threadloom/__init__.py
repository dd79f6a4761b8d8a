"""threadloom: stateful LLM applications that remember.

A state-graph runtime whose threads keep their state between calls
(checkpointers), and a long-term memory store shared across threads,
namespaced per user and searchable by meaning. Import from the public
modules: ``threadloom.graph``, ``threadloom.store.memory``,
``threadloom.checkpoint.memory``, ...
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
