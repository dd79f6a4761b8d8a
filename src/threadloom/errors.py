"""Every error threadloom raises, in one tree.

Catch :class:`ThreadloomError` for all of them, or the built-in each leaf also
subclasses (``ValueError``, ``TypeError``, ``KeyError``, ...)::

    ThreadloomError
    ├── InvalidNamespaceError (ValueError)       bad namespace on a write/delete
    ├── InvalidStoreInputError (ValueError)      empty key, bad limit/offset, ...
    ├── InvalidValueError (TypeError)            value not a dict / not JSON-serializable
    ├── InvalidFilterError (ValueError)          unknown filter operator or malformed filter
    ├── IndexNotConfiguredError (ValueError)     query= on a store without an index
    ├── IndexConfigMismatchError (ValueError)    dims differ from the vectors on disk
    ├── EmbeddingError (ValueError)              embedder raised, wrong count/dims, NaN/inf
    ├── InvalidEmbedderError (TypeError)         `embed` is not an Embeddings, function or string
    ├── UnknownEmbeddingProviderError (ValueError)  malformed "provider:model" or unknown provider
    ├── GraphBuildError (ValueError)             unknown node, no entry point, duplicate, reserved
    ├── InvalidUpdateError (ValueError)          unknown state key, conflicting writes
    ├── GraphRecursionError (RecursionError)     recursion_limit reached
    ├── EmptyInputError (ValueError)             a graph invoked with nothing to do
    ├── MissingThreadIdError (ValueError)        checkpointer graph called without thread_id
    ├── StoreNotConfiguredError (ValueError)     a node asks for `store`, none compiled in
    ├── CheckpointerNotConfiguredError (ValueError)  state read/update on a graph with no checkpointer
    ├── InvalidResumeError (ValueError)          Command(resume=...) with no pending interrupt
    ├── EmptyChannelError (KeyError)             reading a channel that holds no value
    ├── SerializationError (TypeError)           a value the checkpoint serializer cannot encode or load
    │   └── DecryptionError                      an encrypted row fails to authenticate, or is plaintext
    ├── CheckpointConflictError (RuntimeError)   two writers raced on one thread; retry
    ├── SchemaVersionError (RuntimeError)        a database written by a newer threadloom
    ├── DatabaseError (RuntimeError)             unusable database path, file or server
    │   ├── ForeignDatabaseError                 a SQLite file holding another application's tables
    │   └── ConnectionLostError (ConnectionError)  the server connection dropped mid-call
    ├── InvalidConnectionError (TypeError)       a backend given something that is not a connection
    ├── MemoryNamespaceError (ValueError)        a memory namespace template lacks a value
    ├── MemoryNotFoundError (KeyError)           update/delete of a memory that does not exist
    └── GraphBubbleUp                            control flow, not a failure
        ├── GraphInterrupt                       a node called interrupt()
        └── ParentCommand                        a subgraph's Command for its parent
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = [
    "CheckpointConflictError",
    "CheckpointerNotConfiguredError",
    "ConnectionLostError",
    "DatabaseError",
    "DecryptionError",
    "EmbeddingError",
    "EmptyChannelError",
    "EmptyInputError",
    "ForeignDatabaseError",
    "GraphBubbleUp",
    "GraphBuildError",
    "GraphInterrupt",
    "GraphRecursionError",
    "IndexConfigMismatchError",
    "IndexNotConfiguredError",
    "InvalidConnectionError",
    "InvalidEmbedderError",
    "InvalidFilterError",
    "InvalidNamespaceError",
    "InvalidResumeError",
    "InvalidStoreInputError",
    "InvalidUpdateError",
    "InvalidValueError",
    "MemoryNamespaceError",
    "MemoryNotFoundError",
    "MissingThreadIdError",
    "ParentCommand",
    "SchemaVersionError",
    "SerializationError",
    "StoreNotConfiguredError",
    "ThreadloomError",
    "UnknownEmbeddingProviderError",
]


class ThreadloomError(Exception):
    """Base class of every error threadloom raises on purpose."""


# --- store ---------------------------------------------------------------


class InvalidNamespaceError(ThreadloomError, ValueError):
    """A namespace is empty, has an empty or non-string label, a label with '.', or a reserved first label."""


class InvalidStoreInputError(ThreadloomError, ValueError):
    """An argument to a store call is invalid (empty key, negative limit or offset, ...)."""


class InvalidValueError(ThreadloomError, TypeError):
    """A stored value is not a dict, or is not JSON-serializable."""


class InvalidFilterError(ThreadloomError, ValueError):
    """A search filter uses an unknown operator or has the wrong shape."""


class IndexNotConfiguredError(ThreadloomError, ValueError):
    """A semantic query was asked of a store created without an index."""


class IndexConfigMismatchError(ThreadloomError, ValueError):
    """The store's index configuration disagrees with the vectors already stored."""


class EmbeddingError(ThreadloomError, ValueError):
    """The embedder failed or returned unusable vectors; nothing was written."""


class InvalidEmbedderError(ThreadloomError, TypeError):
    """An embedder cannot be used: wrong type, or an async-only one called synchronously in a loop."""


class UnknownEmbeddingProviderError(ThreadloomError, ValueError):
    """A ``"provider:model"`` string is malformed or names a provider threadloom does not know."""


# --- graph ---------------------------------------------------------------


class GraphBuildError(ThreadloomError, ValueError):
    """A graph definition is invalid; raised while building or compiling it."""


class InvalidUpdateError(ThreadloomError, ValueError):
    """A node wrote a state update that cannot be applied."""


class GraphRecursionError(ThreadloomError, RecursionError):
    """The graph ran more supersteps than ``recursion_limit`` allows.

    Raise the limit in the config: ``graph.invoke(inputs, {"recursion_limit": 100})``.
    """


class EmptyInputError(ThreadloomError, ValueError):
    """A graph was invoked with no input and no checkpoint to resume from."""


class MissingThreadIdError(ThreadloomError, ValueError):
    """A graph compiled with a checkpointer was called without ``configurable.thread_id``."""


class StoreNotConfiguredError(ThreadloomError, ValueError):
    """A node asked for the store, but the graph was compiled without one."""


class CheckpointerNotConfiguredError(ThreadloomError, ValueError):
    """``get_state``/``update_state``/history on a graph compiled without a checkpointer."""


class InvalidResumeError(ThreadloomError, ValueError):
    """``Command(resume=...)`` was sent to a thread with no pending interrupt."""


class EmptyChannelError(ThreadloomError, KeyError):
    """A channel was read before any value was written to it."""


# --- checkpoints and persistence ------------------------------------------


class SerializationError(ThreadloomError, TypeError):
    """A value cannot be serialized into a checkpoint (nothing was written), or stored data cannot be loaded."""


class DecryptionError(SerializationError):
    """An encrypted row was tampered with or needs a key not given, or a row is plaintext where encryption is required."""


class CheckpointConflictError(ThreadloomError, RuntimeError):
    """Another writer advanced this thread first. Re-read the state and retry the turn."""


class SchemaVersionError(ThreadloomError, RuntimeError):
    """The database was written by a newer threadloom; it is left untouched."""


class DatabaseError(ThreadloomError, RuntimeError):
    """A database path, file or server cannot be used; the message says why."""


class ForeignDatabaseError(DatabaseError):
    """A SQLite file holds tables that are not threadloom's; it was left untouched.

    Pass ``allow_foreign_tables=True`` (``--allow-foreign-tables`` on the
    command line) to share the file with another application on purpose.
    """


class ConnectionLostError(DatabaseError, ConnectionError):
    """The connection to the database server dropped while a call used it.

    ``committed`` tells what became of the call's writes: ``False`` when nothing
    was written (the transaction died with the connection), ``None`` when the
    connection dropped during COMMIT, so the write may or may not be stored.
    """

    def __init__(self, message: str, *, committed: bool | None = False) -> None:
        super().__init__(message)
        self.committed = committed


class InvalidConnectionError(ThreadloomError, TypeError):
    """A backend was given something that is neither a connection nor a path/conn string."""


# --- control flow ----------------------------------------------------------


# --- memory --------------------------------------------------------------


class MemoryNamespaceError(ThreadloomError, ValueError):
    """A memory namespace template names a value the run's config and context do not give."""


class MemoryNotFoundError(ThreadloomError, KeyError):
    """A memory to update or delete does not exist in its namespace."""

    def __str__(self) -> str:
        # KeyError quotes its argument; the message reads better unquoted.
        return str(self.args[0]) if self.args else ""


class GraphBubbleUp(ThreadloomError):
    """Base of exceptions that carry control flow out of a node, not failures."""


class GraphInterrupt(GraphBubbleUp):
    """Raised inside a node by ``interrupt()``; the run pauses and can be resumed."""

    def __init__(self, interrupts: Sequence[Any] = ()) -> None:
        super().__init__(interrupts)
        self.interrupts = list(interrupts)


class ParentCommand(GraphBubbleUp):
    """Carries a ``Command(graph=Command.PARENT)`` from a subgraph to its parent."""

    def __init__(self, command: Any) -> None:
        super().__init__(command)
        self.command = command
