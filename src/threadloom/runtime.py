"""What a node can ask for as ``runtime``: the run's context, store and stream writer.

Example::

    from dataclasses import dataclass
    from threadloom.runtime import Runtime

    @dataclass
    class Context:
        user_id: str

    def node(state: dict, runtime: Runtime[Context]) -> dict:
        return {"owner": runtime.context.user_id}
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Generic, TypeVar

from threadloom.types import StreamWriter

__all__ = [
    "DEFAULT_RUNTIME",
    "ExecutionInfo",
    "RunControl",
    "Runtime",
    "ServerInfo",
    "get_runtime",
]

ContextT = TypeVar("ContextT")


def _no_write(_: Any) -> None:
    return None


def _engine_heartbeat() -> None:
    """Move the idle deadline of the timed node attempt running here (no-op elsewhere)."""
    from threadloom._engine._timeout import heartbeat

    heartbeat()


class RunControl:
    """Asks one run to stop cooperatively: ``request_drain()`` (from any thread) lets the
    step in progress finish and save, then the run raises
    :class:`~threadloom.errors.GraphDrained` instead of starting the next step.

    Pass a fresh one per run: ``graph.invoke(inputs, config, control=RunControl())``.
    Nodes see it as ``runtime.control``. Example::

        import signal
        from threadloom.runtime import RunControl

        control = RunControl()
        signal.signal(signal.SIGTERM, lambda *_: control.request_drain("sigterm"))
    """

    __slots__ = ("_reason",)

    def __init__(self) -> None:
        # One attribute written once: a drain request needs no lock between threads.
        self._reason: str | None = None

    def request_drain(self, reason: str = "shutdown") -> None:
        """Stop the run before its next step, with ``reason`` in the ``GraphDrained`` error."""
        self._reason = reason

    @property
    def drain_requested(self) -> bool:
        """Whether ``request_drain()`` was called."""
        return self._reason is not None

    @property
    def drain_reason(self) -> str | None:
        """The reason given to ``request_drain()``, or ``None``."""
        return self._reason

    def __repr__(self) -> str:
        return f"RunControl(drain_reason={self._reason!r})"


@dataclass(frozen=True)
class ExecutionInfo:
    """Where a node or tool runs: its checkpoint, namespace, task and attempt."""

    checkpoint_id: str
    checkpoint_ns: str
    task_id: str
    thread_id: str | None = None
    run_id: str | None = None
    node_attempt: int = 1
    node_first_attempt_time: float | None = None

    def patch(self, **overrides: Any) -> ExecutionInfo:
        """A copy with some fields replaced."""
        return replace(self, **overrides)


@dataclass(frozen=True)
class ServerInfo:
    """The agent server's view of a run: which assistant and graph, for which user."""

    assistant_id: str
    graph_id: str
    user: Any = None


def server_info_from(configurable: Mapping[str, Any]) -> ServerInfo | None:
    """The :class:`ServerInfo` of a run whose config names an ``assistant_id``, a
    ``graph_id`` or an authenticated user (``langgraph_auth_user``, any object with an
    ``identity``), as an agent server passes them; ``None`` for a run outside a server."""
    assistant_id = configurable.get("assistant_id")
    graph_id = configurable.get("graph_id")
    auth_user = configurable.get("langgraph_auth_user")
    user = auth_user if auth_user is not None and hasattr(auth_user, "identity") else None
    if assistant_id is None and graph_id is None and user is None:
        return None
    return ServerInfo(
        assistant_id=str(assistant_id) if assistant_id else "",
        graph_id=str(graph_id) if graph_id else "",
        user=user,
    )


@dataclass(frozen=True)
class Runtime(Generic[ContextT]):
    """The run-scoped things a node may use, besides the state and config."""

    context: ContextT = None  # type: ignore[assignment]  # no context unless one is passed
    """The ``context=`` passed to invoke/stream (typed by the graph's ``context_schema``)."""
    store: Any = None
    """The store the graph was compiled with, or ``None``."""
    stream_writer: StreamWriter = field(default=_no_write)
    """Emits a part on the ``custom`` stream (does nothing when it is not streamed)."""
    heartbeat: Callable[[], None] = field(default=_engine_heartbeat)
    """Tell a timed node attempt it is making progress (moves its ``idle_timeout``)."""
    previous: Any = None
    """In an entrypoint: what the thread's previous run returned (or saved)."""
    execution_info: ExecutionInfo | None = None
    """Where the node runs: checkpoint, namespace, task, thread, run and attempt (set in a run)."""
    server_info: ServerInfo | None = None
    """The agent server's assistant and user, when run by the server."""
    control: RunControl | None = None
    """The run's ``control=`` (to see whether a drain was requested), or ``None``."""

    def override(self, **changes: Any) -> Runtime[ContextT]:
        """A copy with some fields replaced."""
        return replace(self, **changes)

    def merge(self, other: Runtime[ContextT]) -> Runtime[ContextT]:
        """``other``'s fields where it sets them, this runtime's elsewhere."""
        return Runtime(
            context=other.context or self.context,
            store=other.store or self.store,
            stream_writer=self.stream_writer
            if other.stream_writer is _no_write
            else other.stream_writer,
            heartbeat=self.heartbeat if other.heartbeat is _engine_heartbeat else other.heartbeat,
            previous=self.previous if other.previous is None else other.previous,
            execution_info=other.execution_info or self.execution_info,
            server_info=other.server_info or self.server_info,
            control=other.control or self.control,
        )

    def patch_execution_info(self, **overrides: Any) -> Runtime[ContextT]:
        """A copy whose ``execution_info`` has some fields replaced."""
        if self.execution_info is None:
            raise RuntimeError("execution_info is not set: patch it inside a running graph node")
        return replace(self, execution_info=self.execution_info.patch(**overrides))


DEFAULT_RUNTIME: Runtime[Any] = Runtime()
"""A runtime with nothing in it: no context, no store, a writer that drops its parts."""


def get_runtime(context_schema: Any = None) -> Runtime[Any]:
    """The :class:`Runtime` of the node running in this context."""
    from threadloom._engine._context import current_scope

    task = current_scope("get_runtime")
    return task.run.task_runtime(task)
