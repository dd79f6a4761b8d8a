"""The keyword options of ``invoke``/``stream`` (and twins), checked once, and how parts are shown.

The options are LangGraph 1.2's, by name and type (:class:`RunOptions`); an
unknown keyword is a ``TypeError``, as for any Python function, instead of
being dropped. :class:`Call` holds what one call decided: which modes the run
streams, which parts reach the caller and which are only printed.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal, TypedDict

from langchain_core.runnables import RunnableConfig

from threadloom.errors import InvalidOptionError, UnsupportedOptionError
from threadloom.types import All, Durability, StreamMode
from threadloom.warnings import LangGraphDeprecatedSinceV10

if TYPE_CHECKING:
    from threadloom._engine._drivers import Event, Sink
    from threadloom._engine._run import Run

__all__ = [
    "ALL_MODES",
    "SKIP",
    "Call",
    "HistoryOptions",
    "Modes",
    "RunOptions",
    "address_metadata",
    "check_history_options",
    "check_options",
    "coerce_context",
    "durability_of",
    "output_keys",
    "parse_modes",
]

ALL_MODES = frozenset({"values", "updates", "messages", "custom", "debug", "checkpoints", "tasks"})
_DURABILITY = frozenset({"sync", "async", "exit"})


class RunOptions(TypedDict, total=False):
    """The keywords ``invoke``, ``stream``, ``ainvoke`` and ``astream`` accept (LangGraph's).

    ``stream_mode`` defaults to ``"values"`` for ``invoke`` (which then returns
    the final state) and ``"updates"`` for ``stream``. ``print_mode`` prints the
    parts of its modes to stdout without returning them. ``output_keys`` limits
    the output state to these keys (one key as a string: its value alone).
    ``durability="exit"`` saves one checkpoint when the run stops (done,
    interrupted or failed) instead of one per step; ``"sync"`` and ``"async"``
    (the default) both save each step before the next one starts, and ``"sync"``
    also saves the writes of each task of a parallel step as the task finishes,
    and each ``@task`` call's result as it returns (a crash later in the step
    does not run them again). ``control``
    (a :class:`~threadloom.runtime.RunControl`) lets another thread stop the run
    between steps. ``version="v2"`` is not supported yet
    (:class:`~threadloom.errors.UnsupportedOptionError`).
    ``checkpoint_during`` is LangGraph's deprecated spelling of ``durability``.
    """

    context: Any
    stream_mode: StreamMode | Sequence[StreamMode] | None
    print_mode: StreamMode | Sequence[StreamMode]
    output_keys: str | Sequence[str] | None
    interrupt_before: All | Sequence[str] | None
    interrupt_after: All | Sequence[str] | None
    durability: Durability | None
    control: Any
    subgraphs: bool
    debug: bool | None
    version: Literal["v1", "v2"]
    checkpoint_during: bool | None


class HistoryOptions(TypedDict, total=False):
    """The keywords of ``get_state_history``/``aget_state_history`` (LangGraph's).

    ``filter`` matches checkpoint metadata, ``before`` is a checkpoint config to
    list from (exclusive), ``limit`` caps the number of snapshots.
    """

    filter: dict[str, Any] | None
    before: RunnableConfig | None
    limit: int | None


_KNOWN = frozenset(RunOptions.__annotations__)
_KNOWN_HISTORY = frozenset(HistoryOptions.__annotations__)

SKIP: Any = object()
"""What :meth:`Call.part` returns for a part that is not the caller's (only printed)."""


class Modes:
    """The modes a call streams, the ones it only prints, and the shape of its parts."""

    __slots__ = ("multi", "printed", "run", "streamed")

    def __init__(self, streamed: frozenset[str], printed: frozenset[str], multi: bool) -> None:
        self.streamed = streamed
        self.printed = printed
        self.run = streamed | printed
        self.multi = multi


def _refuse_unknown(options: Any, known: frozenset[str], method: str) -> None:
    unknown = options.keys() - known
    if unknown:
        raise TypeError(f"{method}() got an unexpected keyword argument {sorted(unknown)[0]!r}")


def check_history_options(options: HistoryOptions, method: str) -> None:
    """Refuse unknown keywords of a history call (as Python does for a plain signature)."""
    _refuse_unknown(options, _KNOWN_HISTORY, method)


def check_options(options: RunOptions, method: str) -> None:
    """Refuse unknown keywords and values; nothing has run yet."""
    _refuse_unknown(options, _KNOWN, method)
    during = options.get("checkpoint_during")
    if during is not None:
        warnings.warn(
            "`checkpoint_during` is deprecated and will be removed. Please use `durability` instead.",
            LangGraphDeprecatedSinceV10,
            stacklevel=3,
        )
        if options.get("durability") is not None:
            raise InvalidOptionError("pass durability= or checkpoint_during=, not both")
    durability = options.get("durability")
    if durability is not None and durability not in _DURABILITY:
        raise InvalidOptionError(
            f"unknown durability {durability!r}; use one of {sorted(_DURABILITY)}"
        )
    version = options.get("version", "v1")
    if version == "v2":
        raise UnsupportedOptionError(
            'version="v2" (typed stream parts) is not supported yet; use the default "v1"'
        )
    if version != "v1":
        raise InvalidOptionError(f"unknown version {version!r}; use 'v1'")
    control = options.get("control")
    if control is not None:
        from threadloom.runtime import RunControl

        if not isinstance(control, RunControl):
            raise InvalidOptionError(
                f"control must be a threadloom.runtime.RunControl, got {type(control).__name__}"
            )


def coerce_context(schema: Any, context: Any) -> Any:
    """A ``context`` dict built into the ``context_schema`` dataclass or pydantic class.

    As LangGraph does: other contexts pass as they are; a missing or unknown
    field raises the class's own error (``TypeError``, pydantic's ``ValidationError``).
    """
    if context is None or schema is None or not isinstance(context, dict):
        return context
    if dataclasses.is_dataclass(schema) or hasattr(schema, "model_validate"):
        return schema(**context)
    return context


def durability_of(options: RunOptions) -> str:
    """The run's durability: ``durability=``, or ``checkpoint_during=False`` meaning ``"exit"``."""
    durability = options.get("durability")
    if durability is not None:
        return durability
    during = options.get("checkpoint_during")
    return "exit" if during is False else "async"


def parse_modes(stream_mode: Any, print_mode: Any, debug: bool | None, *, final: bool) -> Modes:
    """The modes of one call; ``stream_mode=None`` means ``"updates"``.

    ``final`` (``invoke`` with ``stream_mode="values"``): the caller gets the final
    state, so no mode is streamed to it.
    """
    if stream_mode is None:
        stream_mode = "updates"
    if isinstance(stream_mode, str):
        modes, multi = [stream_mode], False
    else:
        modes, multi = list(stream_mode), True
    if debug:
        modes.append("debug")
        multi = multi or len(set(modes)) > 1
    printed = [print_mode] if isinstance(print_mode, str) else list(print_mode or ())
    for mode in (*modes, *printed):
        if mode not in ALL_MODES:
            raise InvalidOptionError(
                f"unknown stream_mode {mode!r}; use one of {sorted(ALL_MODES)}"
            )
    return Modes(frozenset() if final else frozenset(modes), frozenset(printed), multi)


def output_keys(run: Run, keys: str | Sequence[str]) -> str | tuple[str, ...]:
    """Check ``output_keys`` against the graph's state keys."""
    wanted = (keys,) if isinstance(keys, str) else tuple(keys)
    known = run.spec.state_keys
    for key in wanted:
        if key not in known:
            raise InvalidOptionError(
                f"output_keys names {key!r}, which is not a state key; known keys: {sorted(known)}"
            )
    return keys if isinstance(keys, str) else wanted


class Call:
    """One public call: its run, the input to start it with, and how its parts are shown."""

    __slots__ = ("modes", "parts", "run", "sink", "subgraphs", "value")

    def __init__(
        self,
        run: Run,
        value: Any,
        sink: Sink | None,
        modes: Modes | None,
        subgraphs: bool,
        parts: bool,
    ) -> None:
        self.run = run
        self.value = value
        self.sink = sink
        self.modes = modes
        self.subgraphs = subgraphs
        self.parts = parts  # False: invoke returns the final state, not the parts

    def part(self, event: Event) -> Any:
        """The part to hand to the caller for ``event`` (printing it first if asked), or SKIP."""
        ns, mode, payload = event
        modes = self.modes
        assert modes is not None
        if mode in modes.printed:
            print(f"[{'/'.join(ns) + ' ' if ns else ''}{mode}] {payload!r}")
        if mode not in modes.streamed:
            return SKIP
        if self.subgraphs:
            return (ns, mode, payload) if modes.multi else (ns, payload)
        return (mode, payload) if modes.multi else payload

    def result(self, parts: list[Any]) -> Any:
        """What ``invoke`` returns: the list of parts, or the final output state."""
        return parts if self.parts else self.run.final_output()


_TO_METADATA = (
    "thread_id",
    "checkpoint_id",
    "checkpoint_ns",
    "task_id",
    "run_id",
    "assistant_id",
    "graph_id",
)
"""``configurable`` keys a node's metadata carries (so ``messages`` parts and traces show them)."""


def address_metadata(metadata: Any, configurable: dict[str, Any]) -> dict[str, Any]:
    """``metadata`` with the run's address from ``configurable`` (thread, checkpoint, task,
    run ids) where it has none, as LangGraph's ``ensure_config`` copies them."""
    out = dict(metadata or ())
    for key in _TO_METADATA:
        value = configurable.get(key)
        if value and key not in out:
            out[key] = value
    return out
