"""Values that nodes return or raise to steer a graph, and what the graph reports back.

Example::

    from threadloom.types import Command, Send

    def route(state: dict) -> Command:
        return Command(update={"seen": True}, goto=[Send("worker", {"n": 1})])
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from datetime import timedelta
from typing import Any, ClassVar, Generic, Literal, NamedTuple, TypeVar

from langchain_core.messages.tool import ToolOutputMixin
from langchain_core.runnables import RunnableConfig

from threadloom.channels.overwrite import Overwrite

__all__ = [
    "All",
    "CachePolicy",
    "Command",
    "Durability",
    "Interrupt",
    "Overwrite",
    "PregelTask",
    "RetryPolicy",
    "Send",
    "StateSnapshot",
    "StateUpdate",
    "StreamMode",
    "StreamWriter",
    "TimeoutPolicy",
    "default_retry_on",
    "interrupt",
]

N = TypeVar("N")

All = Literal["*"]
"""``interrupt_before="*"``: interrupt before every node."""

StreamMode = Literal["values", "updates", "messages", "custom", "debug", "checkpoints", "tasks"]
"""What :meth:`stream` yields: full states, per-node updates, LLM tokens, custom data, events."""

Durability = Literal["sync", "async", "exit"]
"""When a run saves its checkpoints (LangGraph's option; threadloom saves every step before the next).

threadloom accepts all three and always saves each step's checkpoint before
the next step starts, so ``"async"`` and ``"exit"`` are as durable as ``"sync"``.
"""

StreamWriter = Callable[[Any], None]
"""A function a node calls to emit data on the ``custom`` stream."""


class Send:
    """Run ``node`` in the next step with ``arg`` as its input instead of the state.

    Return a list of them from a conditional edge to fan out (map-reduce).

    Example::

        def fan_out(state: dict) -> list[Send]:
            return [Send("worker", {"item": x}) for x in state["items"]]
    """

    __slots__ = ("arg", "node", "timeout")

    def __init__(self, node: str, arg: Any, *, timeout: Any = None) -> None:
        self.node = node
        self.arg = arg
        self.timeout = TimeoutPolicy.coerce(timeout)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Send) and (self.node, self.arg) == (other.node, other.arg)

    def __hash__(self) -> int:
        return hash(self.node)

    def __repr__(self) -> str:
        return f"Send(node={self.node!r}, arg={self.arg!r})"


@dataclass(frozen=True)
class Command(Generic[N], ToolOutputMixin):
    """Update the state and choose the next nodes in one return value.

    ``update`` is applied like a node's return value; ``goto`` names the next
    node(s) or carries :class:`Send` packets; ``resume`` answers a pending
    :func:`interrupt` when passed as a graph's input; ``graph=Command.PARENT``
    sends the command to the graph that runs this one as a node.

    A LangChain tool may return a Command: the tool node applies it instead
    of wrapping it in a ``ToolMessage`` (hence :class:`ToolOutputMixin`).
    """

    graph: str | None = None
    update: Any = None
    resume: Any = None
    goto: Send | Sequence[Send | N] | N = ()

    PARENT: ClassVar[Literal["__parent__"]] = "__parent__"

    def __repr__(self) -> str:
        # As LangGraph shows a command: only the fields that hold something.
        shown = (
            f"{f.name}={getattr(self, f.name)!r}" for f in fields(self) if getattr(self, f.name)
        )
        return f"Command({', '.join(shown)})"

    def goto_targets(self) -> list[Any]:
        """``goto`` as a list of node names and :class:`Send` packets."""
        goto = self.goto
        if goto is None:
            return []
        if isinstance(goto, (str, Send)):
            return [goto]
        return list(goto)  # type: ignore[arg-type]  # a sequence of names or Sends


_DEFAULT_INTERRUPT_ID = "placeholder-id"
_LEGACY_INTERRUPT_FIELDS = frozenset({"ns", "when", "resumable", "interrupt_id"})


def _ns_hash(ns: str) -> str:
    import hashlib

    return hashlib.md5(ns.encode(), usedforsecurity=False).hexdigest()


@dataclass(frozen=True)  # the __init__ below is kept: it accepts the legacy fields
class Interrupt:
    """A pause requested by :func:`interrupt`: the value shown to the caller and its id.

    ``id`` is what ``Command(resume={id: value})`` answers; it stays the same
    every time the interrupted task runs again from the same checkpoint.

    The fields LangGraph dropped in 0.6 (``ns``, ``when``, ``resumable``) are
    still accepted, as there, so that interrupts saved by older versions load:
    without an ``id``, the namespace ``ns`` gives it (as :meth:`from_ns` does).
    """

    value: Any
    id: str = _DEFAULT_INTERRUPT_ID
    response_schema: Any = field(default=None, kw_only=True)
    """The schema a resume value should follow, when the graph gave one (LangGraph 1.2's field)."""

    def __init__(
        self,
        value: Any,
        id: str = _DEFAULT_INTERRUPT_ID,
        *,
        response_schema: Any = None,
        **legacy: Any,
    ) -> None:
        unknown = set(legacy) - _LEGACY_INTERRUPT_FIELDS
        if unknown:
            raise TypeError(f"Interrupt() got an unexpected keyword argument {sorted(unknown)[0]!r}")
        ns = legacy.get("ns")
        if id == _DEFAULT_INTERRUPT_ID and isinstance(ns, Sequence) and not isinstance(ns, str):
            id = _ns_hash("|".join(ns))
        object.__setattr__(self, "value", value)
        object.__setattr__(self, "id", id)
        object.__setattr__(self, "response_schema", response_schema)

    @classmethod
    def from_ns(cls, value: Any, ns: str) -> Interrupt:
        """An interrupt whose id is derived from a checkpoint namespace (LangGraph's helper)."""
        return cls(value=value, id=_ns_hash(ns))

    @property
    def interrupt_id(self) -> str:
        """The old name of :attr:`id` (deprecated in LangGraph too)."""
        import warnings

        from threadloom.warnings import LangGraphDeprecatedSinceV10

        warnings.warn(
            "`interrupt_id` is deprecated. Use `id` instead.", LangGraphDeprecatedSinceV10, stacklevel=2
        )
        return self.id


def interrupt(value: Any) -> Any:
    """Pause the graph and surface ``value``; return the resume value once resumed.

    The first call in a node raises :class:`GraphInterrupt`, which stops the
    run and reports ``Interrupt(value)`` under ``"__interrupt__"``. Invoking
    the graph again with ``Command(resume=answer)`` re-runs the node, and this
    call then returns ``answer``. Needs a checkpointer to be resumable.

    Example::

        def ask(state: dict) -> dict:
            name = interrupt("what is your name?")
            return {"name": name}
    """
    from threadloom._engine._context import current_scope

    return current_scope("interrupt").next_interrupt(value)


def default_retry_on(exc: Exception) -> bool:
    """Retry transient failures, not programming errors: the default of :class:`RetryPolicy`."""
    if isinstance(exc, ConnectionError):
        return True
    if isinstance(
        exc,
        (
            ValueError,
            TypeError,
            ArithmeticError,
            ImportError,
            LookupError,
            NameError,
            SyntaxError,
            RuntimeError,
            ReferenceError,
            StopIteration,
            StopAsyncIteration,
            OSError,
        ),
    ):
        return False
    status = getattr(getattr(exc, "response", None), "status_code", None)
    if isinstance(status, int):
        return status >= 500
    return True


class RetryPolicy(NamedTuple):
    """How a failing node is retried: exponential back-off with optional jitter.

    Example::

        from threadloom.graph import START, MessagesState, StateGraph

        builder = StateGraph(MessagesState)
        builder.add_node("fetch", lambda s: {}, retry_policy=RetryPolicy(max_attempts=5))
        builder.add_edge(START, "fetch")
    """

    initial_interval: float = 0.5
    """Seconds before the first retry."""
    backoff_factor: float = 2.0
    """Multiplier of the interval after each retry."""
    max_interval: float = 128.0
    """Upper bound of the interval, in seconds."""
    max_attempts: int = 3
    """Attempts in total, the first included."""
    jitter: bool = True
    """Add up to one second of random delay."""
    retry_on: type[Exception] | Sequence[type[Exception]] | Callable[[Exception], bool] = (
        default_retry_on
    )
    """Which exceptions are retried: classes, or a predicate."""

    def should_retry(self, exc: Exception) -> bool:
        """Whether ``exc`` is retried under this policy."""
        retry_on = self.retry_on
        if isinstance(retry_on, type) and issubclass(retry_on, BaseException):
            return isinstance(exc, retry_on)
        if isinstance(retry_on, Sequence):
            return isinstance(exc, tuple(retry_on))
        return bool(retry_on(exc))  # type: ignore[call-arg]  # the predicate form

    def interval(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        wait = min(self.max_interval, self.initial_interval * self.backoff_factor ** (attempt - 1))
        # Up to a second more, drawn as LangGraph draws it (tests that patch it see the same call).
        return wait + (random.uniform(0, 1) if self.jitter else 0.0)


def _seconds(value: Any, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, timedelta):
        value = value.total_seconds()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number of seconds or a timedelta, got {value!r}")
    if not value > 0:
        raise ValueError(f"{name} must be greater than 0, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class TimeoutPolicy:
    """Time limits of one attempt of an async node or task (a retry starts a new attempt).

    ``run_timeout`` caps the attempt's wall-clock time; ``idle_timeout`` caps the
    time without progress. Progress is ``runtime.heartbeat()`` and, with
    ``refresh_on="auto"``, also each ``custom`` stream write and each message a
    ``messages`` stream carries (a model's streamed tokens). An attempt past a
    limit is cancelled and fails with :class:`~threadloom.errors.NodeTimeoutError`.
    A number (or ``timedelta``) where a policy is expected is a ``run_timeout``.
    """

    run_timeout: float | timedelta | None = None
    idle_timeout: float | timedelta | None = None
    refresh_on: Literal["auto", "heartbeat"] = "auto"

    @classmethod
    def coerce(cls, value: float | timedelta | TimeoutPolicy | None) -> TimeoutPolicy | None:
        """A policy with limits in seconds, checked (``ValueError`` for a limit <= 0)."""
        if value is None:
            return None
        if not isinstance(value, TimeoutPolicy):
            value = cls(run_timeout=value)
        if value.refresh_on not in ("auto", "heartbeat"):
            raise ValueError("refresh_on must be 'auto' or 'heartbeat'")
        run = _seconds(value.run_timeout, "run_timeout")
        idle = _seconds(value.idle_timeout, "idle_timeout")
        if run is None and idle is None:
            return None
        if run == value.run_timeout and idle == value.idle_timeout:
            return value
        return cls(run_timeout=run, idle_timeout=idle, refresh_on=value.refresh_on)


def _default_cache_key(*args: Any, **kwargs: Any) -> str:
    """A key for a node's or task's input: a hash of its serialized form."""
    import hashlib

    from threadloom.checkpoint.serde.jsonplus import JsonPlusSerializer

    kind, data = JsonPlusSerializer().dumps_typed((args, kwargs))
    return hashlib.sha256(kind.encode() + data).hexdigest()


@dataclass(frozen=True)
class CachePolicy(Generic[N]):
    """Cache a node's or task's results: ``key_func`` maps its input to a key, kept ``ttl`` seconds."""

    key_func: Callable[..., str | bytes] = _default_cache_key
    ttl: int | None = None


class StateUpdate(NamedTuple):
    """One update of ``bulk_update_state``: ``values`` as if node ``as_node`` had returned them."""

    values: dict[str, Any] | Any
    as_node: str | None = None
    task_id: str | None = None


class PregelTask(NamedTuple):
    """A task of a checkpoint: a node due to run, with its error, interrupts or result."""

    id: str
    name: str
    path: tuple[Any, ...] = ()
    error: Exception | None = None
    interrupts: tuple[Interrupt, ...] = ()
    state: Any = None
    result: Any = None


class StateSnapshot(NamedTuple):
    """A thread's state at one checkpoint, as returned by ``get_state``."""

    values: dict[str, Any] | Any
    """The state channels' values."""
    next: tuple[str, ...]
    """Nodes that run in the next step (empty when the run is done)."""
    config: RunnableConfig
    """Config that addresses this checkpoint (with its ``checkpoint_id``)."""
    metadata: dict[str, Any] | None
    """The checkpoint's metadata (``source``, ``step``, ...)."""
    created_at: str | None
    """ISO timestamp of the checkpoint."""
    parent_config: RunnableConfig | None
    """Config of the previous checkpoint, if any."""
    tasks: tuple[PregelTask, ...] = ()
    """The tasks of the next step, with pending interrupts and errors."""
    interrupts: tuple[Interrupt, ...] = ()
    """Interrupts waiting for a resume value."""
