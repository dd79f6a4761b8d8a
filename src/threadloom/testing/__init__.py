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
- ``threadloom.testing.postgres``: a throwaway PostgreSQL server for tests.
"""
