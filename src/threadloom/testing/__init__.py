"""Test helpers for threadloom backends and applications (pytest-based).

Import the submodule you need; this package imports nothing itself:

- ``threadloom.testing.store``: the store conformance suite (``StoreConformance``)
  that every store backend's tests subclass with a ``make_store`` fixture.
- ``threadloom.testing.embeddings``: deterministic fake embedders (a hashing
  bag-of-words ``HashingEmbed`` and misbehaving ones) for store tests.
- ``threadloom.testing.checkpoint``: the checkpointer conformance suite.
- ``threadloom.testing.graph``: ``GraphClient``, to run one graph test through the sync
  and the async API.
- ``threadloom.testing.models``: fake chat models for graph tests.
- ``threadloom.testing.memory``: ``ScriptedMemoryModel``, a chat model whose
  structured outputs follow a script (for the memory manager), and helpers.
- ``threadloom.testing.memory_conformance``: the memory-layer conformance suite.
- ``threadloom.testing.postgres``: a throwaway PostgreSQL server for tests.
- ``threadloom.testing.browser``: Debian's headless Chromium (driven by Selenium) and
  Firefox ESR (driven over Marionette).
"""
