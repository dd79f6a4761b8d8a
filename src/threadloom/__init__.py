"""threadloom: stateful LLM applications that remember.

A state-graph runtime whose threads keep their state between calls
(checkpointers), and a long-term memory store shared across threads,
namespaced per user and searchable by meaning.

The names a first program needs are here, imported on first use so that
``import threadloom`` stays instant::

    from threadloom import END, START, InMemorySaver, MessagesState, StateGraph

Everything else lives in the public modules (``threadloom.graph``,
``threadloom.types``, ``threadloom.store.memory``, ...), which are also the
paths LangGraph code migrates to.
"""

# No imports at run time, not even ``typing`` (it alone costs more than the rest of this file).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from threadloom.checkpoint.memory import InMemorySaver
    from threadloom.constants import END, START
    from threadloom.errors import ThreadloomError
    from threadloom.graph import MessagesState, StateGraph, add_messages
    from threadloom.store.memory import InMemoryStore
    from threadloom.types import Command, Interrupt, RetryPolicy, Send, interrupt

__version__ = "0.1.0"

# name -> the public module it is re-exported from (imported on first access)
_LAZY: dict[str, str] = {
    "StateGraph": "threadloom.graph",
    "MessagesState": "threadloom.graph",
    "add_messages": "threadloom.graph",
    "START": "threadloom.constants",
    "END": "threadloom.constants",
    "Command": "threadloom.types",
    "Send": "threadloom.types",
    "Interrupt": "threadloom.types",
    "interrupt": "threadloom.types",
    "RetryPolicy": "threadloom.types",
    "InMemorySaver": "threadloom.checkpoint.memory",
    "InMemoryStore": "threadloom.store.memory",
    "ThreadloomError": "threadloom.errors",
}

__all__ = [
    "END",
    "START",
    "Command",
    "InMemorySaver",
    "InMemoryStore",
    "Interrupt",
    "MessagesState",
    "RetryPolicy",
    "Send",
    "StateGraph",
    "ThreadloomError",
    "__version__",
    "add_messages",
    "interrupt",
]


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'threadloom' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
