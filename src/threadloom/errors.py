"""Every error threadloom raises, in one tree of families callers can catch.

Catch :class:`ThreadloomError` for all failures, a family (:class:`StoreError`,
:class:`GraphError`, :class:`PersistenceError`, :class:`SerializationError`,
:class:`ServerError`) for
one area, or the built-in each leaf also subclasses (``ValueError``,
``TypeError``, ``KeyError``, ...). Errors a caller can recover from carry the
facts as attributes (``CheckpointConflictError.thread_id``,
``SchemaVersionError.found``/``.known``, ...) besides the message::

    ThreadloomError
    ├── StoreError                               the long-term memory store and its embedders
    │   ├── InvalidNamespaceError (ValueError)       bad namespace on a write/delete
    │   ├── InvalidStoreInputError (ValueError)      empty key, bad limit/offset, ...
    │   │   └── MemoryImportError                        a bad line in a memory export file (.line)
    │   ├── InvalidValueError (TypeError)            value not a dict / not JSON-serializable
    │   ├── InvalidFilterError (ValueError)          unknown filter operator or malformed filter
    │   ├── IndexNotConfiguredError (ValueError)     query= on a store without an index
    │   ├── IndexConfigMismatchError (ValueError)    dims differ from the vectors on disk
    │   ├── EmbeddingError (ValueError)              embedder raised, wrong count/dims, NaN/inf
    │   ├── InvalidEmbedderError (TypeError)         `embed` is not an Embeddings, function or string
    │   ├── UnknownEmbeddingProviderError (ValueError)  malformed "provider:model" or unknown provider
    │   ├── MemoryNamespaceError (ValueError)        a memory namespace template lacks a value
    │   └── MemoryNotFoundError (KeyError)           update/delete of a memory that does not exist
    ├── GraphError                               building or running a graph
    │   ├── GraphBuildError (ValueError)             unknown node, no entry point, duplicate, reserved
    │   ├── InvalidCheckpointerError (TypeError)     compile(checkpointer=) given something not a saver
    │   ├── InvalidUpdateError (ValueError)          unknown state key, conflicting writes
    │   ├── GraphRecursionError (RecursionError)     recursion_limit reached (.limit)
    │   ├── EmptyInputError (ValueError)             a graph invoked with nothing to do
    │   ├── MissingThreadIdError (ValueError)        checkpointer graph called without thread_id
    │   ├── StoreNotConfiguredError (ValueError)     a node asks for `store`, none compiled in
    │   ├── CheckpointerNotConfiguredError (ValueError)  state read/update on a graph with no checkpointer
    │   ├── SubgraphNotFoundError (ValueError)       a checkpoint_ns that names no subgraph of the graph
    │   ├── InvalidResumeError (ValueError)          Command(resume=...) with no pending interrupt (.thread_id)
    │   │   └── AmbiguousResumeError (RuntimeError)   one resume value for several pending interrupts
    │   ├── InvalidOptionError (ValueError)          a run option with an unknown value (stream_mode, durability, ...)
    │   ├── UnsupportedOptionError (NotImplementedError)  a LangGraph run option threadloom does not support yet
    │   ├── EmptyChannelError (KeyError)             reading a channel that holds no value
    │   ├── NodeTimeoutError                         a node attempt ran past its TimeoutPolicy (.node/.kind);
    │   │                                                no built-in base, so the default retry policy retries it
    │   ├── StepTimeoutError (TimeoutError)          a step ran past the graph's step_timeout (.timeout/.nodes)
    │   └── NodeCancelledError                       a node's own body raised asyncio.CancelledError (.node)
    ├── PersistenceError                         databases and the checkpoints kept in them
    │   ├── CheckpointError                          a thread's checkpoints
    │   │   ├── CheckpointConflictError (RuntimeError)  two writers raced on one thread; retry (.thread_id)
    │   │   ├── CheckpointNotFoundError (KeyError)      update_state names a checkpoint the thread lacks
    │   │   └── InvalidCheckpointInputError (ValueError)  bad checkpoint_id, limit, thread id, NUL in an id
    │   ├── SchemaVersionError (RuntimeError)        a database written by a newer threadloom (.found/.known)
    │   ├── DatabaseError (RuntimeError)             unusable database path, file or server
    │   │   ├── ForeignDatabaseError                     a SQLite file holding another application's tables
    │   │   └── ConnectionLostError (ConnectionError)    the server connection dropped mid-call
    │   ├── InvalidConnectionError (TypeError)       a backend given something that is not a connection
    │   └── MigrationError (ValueError)              `threadloom migrate` met a source row it will not read (.row)
    ├── SerializationError (TypeError)           a value the checkpoint serializer cannot encode or load
    │   └── DecryptionError                          an encrypted row fails to authenticate, or is plaintext
    └── ServerError                              `threadloom serve` and its ASGI app
        └── ServerConfigError (ValueError)           a bad langgraph.json, graph path, auth or bind setting

Control flow is not a failure, so it stands outside the tree: a broad
``except ThreadloomError`` in a node never swallows an ``interrupt()``::

    GraphBubbleUp (Exception)                    carries control flow out of a node
    ├── GraphInterrupt                           a node called interrupt()
    ├── GraphDrained                             a run stopped between steps by RunControl.request_drain()
    └── ParentCommand                            a subgraph's Command for its parent
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "AmbiguousResumeError",
    "CheckpointConflictError",
    "CheckpointError",
    "CheckpointNotFoundError",
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
    "GraphDrained",
    "GraphError",
    "GraphInterrupt",
    "GraphRecursionError",
    "IndexConfigMismatchError",
    "IndexNotConfiguredError",
    "InvalidCheckpointInputError",
    "InvalidCheckpointerError",
    "InvalidConnectionError",
    "InvalidEmbedderError",
    "InvalidFilterError",
    "InvalidNamespaceError",
    "InvalidOptionError",
    "InvalidResumeError",
    "InvalidStoreInputError",
    "InvalidUpdateError",
    "InvalidValueError",
    "MemoryImportError",
    "MemoryNamespaceError",
    "MemoryNotFoundError",
    "MigrationError",
    "MissingThreadIdError",
    "NodeCancelledError",
    "NodeError",
    "NodeTimeoutError",
    "ParentCommand",
    "PersistenceError",
    "SchemaVersionError",
    "SerializationError",
    "ServerConfigError",
    "ServerError",
    "StepTimeoutError",
    "StoreError",
    "StoreNotConfiguredError",
    "SubgraphNotFoundError",
    "ThreadloomError",
    "UnknownEmbeddingProviderError",
    "UnsupportedOptionError",
]


class ThreadloomError(Exception):
    """Base class of every error threadloom raises on purpose."""


# --- store ---------------------------------------------------------------


class StoreError(ThreadloomError):
    """A store call (or its embedder) failed; nothing was written."""


class InvalidNamespaceError(StoreError, ValueError):
    """A namespace is empty, has an empty or non-string label, a label with '.', or a reserved first label."""


class InvalidStoreInputError(StoreError, ValueError):
    """An argument to a store call is invalid (empty key, negative limit or offset, ...)."""


class InvalidValueError(StoreError, TypeError):
    """A stored value is not a dict, or is not JSON-serializable."""


class InvalidFilterError(StoreError, ValueError):
    """A search filter uses an unknown operator or has the wrong shape."""


class IndexNotConfiguredError(StoreError, ValueError):
    """A semantic query was asked of a store created without an index."""


class IndexConfigMismatchError(StoreError, ValueError):
    """The store's index configuration disagrees with the vectors already stored."""


class EmbeddingError(StoreError, ValueError):
    """The embedder failed or returned unusable vectors; nothing was written."""


class InvalidEmbedderError(StoreError, TypeError):
    """An embedder cannot be used: wrong type, or an async-only one called synchronously in a loop."""


class UnknownEmbeddingProviderError(StoreError, ValueError):
    """A ``"provider:model"`` string is malformed or names a provider threadloom does not know."""


class MemoryImportError(InvalidStoreInputError):
    """A memory export file cannot be imported: a malformed line, an unknown field, a newer
    format, or an item the store refuses. ``line`` is the 1-based line; nothing was written."""

    def __init__(self, message: str, *, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


class MemoryNamespaceError(StoreError, ValueError):
    """A memory namespace template names a value the run's config and context do not give."""


class MemoryNotFoundError(StoreError, KeyError):
    """A memory to update or delete does not exist in its namespace."""

    def __str__(self) -> str:
        # KeyError quotes its argument; the message reads better unquoted.
        return str(self.args[0]) if self.args else ""


# --- graph ---------------------------------------------------------------


class GraphError(ThreadloomError):
    """A graph cannot be built, or a run cannot go on."""


class GraphBuildError(GraphError, ValueError):
    """A graph definition is invalid; raised while building or compiling it."""


class InvalidCheckpointerError(GraphError, TypeError):
    """``compile(checkpointer=...)`` got something that is not a saver, ``True``, ``False`` or ``None``."""


class InvalidUpdateError(GraphError, ValueError):
    """A node wrote a state update that cannot be applied."""


class GraphRecursionError(GraphError, RecursionError):
    """The graph ran more supersteps than ``recursion_limit`` allows (``limit``).

    Raise the limit in the config: ``graph.invoke(inputs, {"recursion_limit": 100})``.
    """

    def __init__(self, message: str = "", *, limit: int | None = None) -> None:
        super().__init__(message)
        self.limit = limit


class EmptyInputError(GraphError, ValueError):
    """A graph was invoked with no input and no checkpoint to resume from."""


class MissingThreadIdError(GraphError, ValueError):
    """A graph compiled with a checkpointer was called without ``configurable.thread_id``."""


class StoreNotConfiguredError(GraphError, ValueError):
    """A node asked for the store, but the graph was compiled without one."""


class CheckpointerNotConfiguredError(GraphError, ValueError):
    """``get_state``/``update_state``/history on a graph compiled without a checkpointer."""


class SubgraphNotFoundError(GraphError, ValueError):
    """A config's ``checkpoint_ns`` names no subgraph of the graph it was given to."""


class InvalidResumeError(GraphError, ValueError):
    """``Command(resume=...)`` was sent to a thread (``thread_id``) with no pending interrupt."""

    def __init__(self, message: str = "", *, thread_id: str | None = None) -> None:
        super().__init__(message)
        self.thread_id = thread_id


class AmbiguousResumeError(InvalidResumeError, RuntimeError):
    """One resume value for several pending interrupts: resume with a map ``{interrupt id: value}``."""


class InvalidOptionError(GraphError, ValueError):
    """A run option (``stream_mode``, ``durability``, ``output_keys``, ...) has a value threadloom does not know."""


class UnsupportedOptionError(GraphError, NotImplementedError):
    """A run option LangGraph accepts, with a value threadloom does not support yet; nothing ran."""


class EmptyChannelError(GraphError, KeyError):
    """A channel was read before any value was written to it."""


class NodeTimeoutError(GraphError):
    """A node (or task) attempt exceeded its ``TimeoutPolicy``: ``kind`` says which limit fired.

    Not a ``TimeoutError`` (an ``OSError``), so the default retry policy retries it.
    """

    def __init__(
        self,
        node: str,
        elapsed: float,
        *,
        kind: str,
        idle_timeout: float | None = None,
        run_timeout: float | None = None,
    ) -> None:
        limit = idle_timeout if kind == "idle" else run_timeout
        if limit is None or kind not in ("idle", "run"):
            raise ValueError("kind must be 'idle' or 'run', with that timeout given")
        what = "idle timeout" if kind == "idle" else "run timeout"
        super().__init__(
            f"node '{node}' exceeded its {what} of {limit:.3f}s (elapsed: {elapsed:.3f}s)"
        )
        self.node = node
        self.elapsed = elapsed
        self.kind = kind
        self.timeout = limit
        self.idle_timeout = idle_timeout
        self.run_timeout = run_timeout


# On Python 3.10 ``asyncio.TimeoutError`` is not the built-in one; LangGraph's async runs
# raise the asyncio one, so the error is both wherever they differ.
_TIMEOUT_BASES: tuple[type[BaseException], ...] = (
    (TimeoutError,) if asyncio.TimeoutError is TimeoutError else (TimeoutError, asyncio.TimeoutError)
)


class StepTimeoutError(GraphError, *_TIMEOUT_BASES):  # type: ignore[misc]
    """A step's tasks ran past the graph's ``step_timeout`` (seconds): the ones still running
    (``nodes``) were cancelled, or abandoned in their worker thread (a sync node cannot be
    stopped); the writes of those that finished are saved as pending writes."""

    def __init__(self, timeout: float, nodes: Sequence[str]) -> None:
        names = ", ".join(repr(n) for n in nodes)
        super().__init__(f"Timed out: the step ran past step_timeout={timeout}s ({names} still running)")
        self.timeout = timeout
        self.nodes = tuple(nodes)

    def __reduce__(self) -> Any:
        return (type(self), (self.timeout, self.nodes))


class NodeCancelledError(GraphError):
    """A node's body raised ``asyncio.CancelledError`` itself (not the run being cancelled):
    the node failed, and the run fails with this error, as LangGraph reports it."""

    def __init__(self, node: str, message: str | None = None) -> None:
        super().__init__(message or f"Node {node!r} raised asyncio.CancelledError")
        self.node = node


@dataclass(frozen=True)
class NodeError:
    """Not an exception: what a node's ``error_handler`` receives as ``error`` (the node, its error)."""

    node: str
    error: BaseException


# --- checkpoints and persistence ------------------------------------------


class PersistenceError(ThreadloomError):
    """A database or the checkpoints in it cannot be used as asked."""


class CheckpointError(PersistenceError):
    """A thread's checkpoints cannot be read or written as asked."""


class CheckpointConflictError(CheckpointError, RuntimeError):
    """Another writer advanced this thread first. Re-read the state and retry the turn.

    ``thread_id`` and ``checkpoint_ns`` name the thread; ``latest`` is its head
    checkpoint id when the write was refused, ``expected`` the one this write
    was computed from (``None`` when unknown).
    """

    def __init__(
        self,
        message: str = "",
        *,
        thread_id: str | None = None,
        checkpoint_ns: str = "",
        latest: str | None = None,
        expected: str | None = None,
    ) -> None:
        super().__init__(message)
        self.thread_id = thread_id
        self.checkpoint_ns = checkpoint_ns
        self.latest = latest
        self.expected = expected


class CheckpointNotFoundError(CheckpointError, KeyError):
    """A write names a ``checkpoint_id`` the thread does not have; nothing was changed."""

    def __str__(self) -> str:  # KeyError would show the message quoted
        return str(self.args[0]) if self.args else ""


class InvalidCheckpointInputError(CheckpointError, ValueError):
    """An argument to a checkpointer is unusable (a ``checkpoint_id`` that is not a string,
    a ``limit`` that is not an integer, a NUL character in an id, ...); nothing was read or written."""


class SchemaVersionError(PersistenceError, RuntimeError):
    """The database was written by a newer threadloom; it is left untouched.

    ``found`` is the schema version in the database, ``known`` the newest this
    threadloom knows, ``component`` the tables concerned (``None`` when unknown).
    """

    def __init__(
        self,
        message: str = "",
        *,
        found: int | None = None,
        known: int | None = None,
        component: str | None = None,
    ) -> None:
        super().__init__(message)
        self.found = found
        self.known = known
        self.component = component


class DatabaseError(PersistenceError, RuntimeError):
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


class InvalidConnectionError(PersistenceError, TypeError):
    """A backend was given something that is neither a connection nor a path/conn string."""


class MigrationError(PersistenceError, ValueError):
    """A LangGraph source the migration refuses: a pickled or unreadable row, or a missing option.

    ``row`` names the source row (table and key); ``pickle`` is true for a pickled value.
    Nothing of the failing batch is recorded as done, so a re-run starts from it again.
    """

    def __init__(self, message: str, *, row: str | None = None, pickle: bool = False) -> None:
        super().__init__(message)
        self.row = row
        self.pickle = pickle


# --- serialization -----------------------------------------------------------


class SerializationError(ThreadloomError, TypeError):
    """A value cannot be serialized into (or read back from) a checkpoint; nothing was written.

    The base of the serializer's errors: catch it around anything that saves state.
    """


class DecryptionError(SerializationError):
    """An encrypted row was tampered with or needs a key not given, or a row is plaintext where encryption is required."""


class ServerError(ThreadloomError):
    """Base of the agent server's errors (``threadloom serve``, ``threadloom.server``)."""


class ServerConfigError(ServerError, ValueError):
    """The server cannot start as configured: config file, graph path, auth or bind address."""


# --- control flow (outside the ThreadloomError tree) ------------------------


class GraphBubbleUp(Exception):
    """Base of exceptions that carry control flow out of a node, not failures.

    Not a :class:`ThreadloomError`: a node's ``except ThreadloomError`` (meant
    for failures) must never swallow an ``interrupt()``.
    """


class GraphInterrupt(GraphBubbleUp):
    """Raised inside a node by ``interrupt()``; the run pauses and can be resumed."""

    def __init__(self, interrupts: Sequence[Any] = ()) -> None:
        super().__init__(interrupts)
        self.interrupts = list(interrupts)


class GraphDrained(GraphBubbleUp):
    """A run stopped before its next step because its ``RunControl`` asked it to drain
    (``request_drain()``, e.g. on SIGTERM). The thread's state is saved: invoking it
    again with ``None`` continues from that step. ``reason`` is the drain's reason."""

    def __init__(self, reason: str = "shutdown") -> None:
        super().__init__(f"Graph drained: {reason}")
        self.reason = reason

    def __reduce__(self) -> Any:
        return (type(self), (self.reason,))


class ParentCommand(GraphBubbleUp):
    """Carries a ``Command(graph=Command.PARENT)`` from a subgraph to its parent."""

    def __init__(self, command: Any) -> None:
        super().__init__(command)
        self.command = command
