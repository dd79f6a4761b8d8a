"""A compiled graph: the public run, stream and state methods over the engine."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Iterator, Sequence
from contextlib import aclosing
from typing import TYPE_CHECKING, Any

from threadloom._engine._caching import NODE_NS
from threadloom._engine._checkpoint import ChannelCache, write_channels
from threadloom._engine._constants import TASK_CONFIG
from threadloom._engine._context import Task, current_task
from threadloom._engine._drivers import (
    Event,
    Sink,
    Tee,
    complete_async,
    complete_sync,
    run_async,
    run_sync,
)
from threadloom._engine._events import subgraph_config, task_views
from threadloom._engine._jsonschema import json_schema
from threadloom._engine._messages import StreamMessagesHandler
from threadloom._engine._options import (
    SKIP,
    Call,
    HistoryOptions,
    Modes,
    RunOptions,
    address_metadata,
    check_history_options,
    check_options,
    coerce_context,
    durability_of,
    output_keys,
    parse_modes,
)
from threadloom._engine._run import Run, _ChildInput
from threadloom._engine._runnable import RunnableGraph
from threadloom._engine._spec import GraphSpec
from threadloom._engine._subgraphs import (
    graph_for_namespace,
    recast,
    subgraphs_of,
    with_checkpoint_map,
)
from threadloom._engine._superstep import SaverCall, Script, load, save
from threadloom._engine._tracing import atraced, traced, wants_trace
from threadloom._engine._updates import as_update, update_ops
from threadloom.errors import (
    CheckpointerNotConfiguredError,
    CheckpointNotFoundError,
    InvalidUpdateError,
    SubgraphNotFoundError,
    UnsupportedOptionError,
)
from threadloom.types import Command, Interrupt, PregelTask, StateSnapshot, StateUpdate

if TYPE_CHECKING:
    from langchain_core.runnables import RunnableConfig
    from typing_extensions import Self, Unpack

__all__ = ["CompiledGraph"]

_LIVE_MODES = frozenset({"messages", "custom"})
_NO_MODES: frozenset[str] = frozenset()
_LINEAGE_KEYS = ("thread_id", "checkpoint_ns", "checkpoint_id", "checkpoint_map")


def _noop_sink(ns: tuple[str, ...], mode: str, payload: Any) -> None:
    return None


class CompiledGraph(RunnableGraph):
    """A runnable graph (a LangChain ``Runnable``). Build one with ``StateGraph(...).compile()``.

    Example::

        from typing_extensions import TypedDict
        from threadloom.graph import StateGraph, START

        class State(TypedDict):
            n: int

        builder = StateGraph(State)
        builder.add_node("inc", lambda s: {"n": s["n"] + 1})
        builder.add_edge(START, "inc")
        assert builder.compile().invoke({"n": 1}) == {"n": 2}
    """

    def __init__(
        self,
        spec: GraphSpec,
        *,
        checkpointer: Any = None,
        store: Any = None,
        name: str | None = None,
    ) -> None:
        self.spec = spec
        self.checkpointer = checkpointer
        self.store = store
        self.name = name or spec.name
        self._cache = ChannelCache()
        # Types the builder declared, for the JSON schema methods.
        self.input_type: Any = None
        self.output_type: Any = None
        self.context_schema: Any = None
        self.cache: Any = None
        """Where nodes with a ``cache_policy`` keep their results (``compile(cache=...)``)."""
        self.stream_mode: str | None = None
        """The default ``stream_mode`` of ``stream`` (``None``: ``"updates"``)."""
        self.step_timeout: float | None = None
        """Seconds a step's tasks may take together; past it the run raises
        :class:`~threadloom.errors.StepTimeoutError` (``None``: no limit)."""

    def copy(self, update: dict[str, Any] | None = None) -> Self:
        """A new compiled graph with the same attributes, those in ``update`` replaced.

        The copy shares the graph's saver, store and nodes (a shallow copy), as
        LangGraph's ``copy`` does; it runs with a cache of thread states of its own.
        """
        clone = object.__new__(type(self))
        clone.__dict__.update(self.__dict__)
        for key, value in (update or {}).items():
            if key.startswith("_") or key not in self.__dict__:
                raise TypeError(f"copy() cannot set {key!r}: the graph has no such attribute")
            setattr(clone, key, value)
        clone._cache = ChannelCache()
        return clone

    def clear_cache(self, nodes: Sequence[str] | None = None) -> None:
        """Forget the cached results of ``nodes`` (all nodes by default)."""
        if self.cache is not None:
            self.cache.clear([(NODE_NS, n) for n in (nodes or self.spec.nodes)])

    async def aclear_cache(self, nodes: Sequence[str] | None = None) -> None:
        """Async twin of :meth:`clear_cache`."""
        if self.cache is not None:
            await self.cache.aclear([(NODE_NS, n) for n in (nodes or self.spec.nodes)])

    def get_input_jsonschema(self, config: Any = None) -> dict[str, Any]:
        """The JSON schema of what ``invoke`` accepts."""
        return json_schema(self.input_type, "LangGraphInput")

    def get_output_jsonschema(self, config: Any = None) -> dict[str, Any]:
        """The JSON schema of what ``invoke`` returns."""
        return json_schema(self.output_type, "LangGraphOutput")

    def get_context_jsonschema(self) -> dict[str, Any] | None:
        """The JSON schema of the run context (``context=``), or ``None`` without a context schema."""
        if self.context_schema is None:
            return None
        return json_schema(self.context_schema, "Context")

    # --- runs -----------------------------------------------------------------

    def _run(
        self,
        config: Any,
        modes: frozenset[str],
        sink: Sink | None,
        *,
        context: Any = None,
        interrupt_before: Any = None,
        interrupt_after: Any = None,
    ) -> Run:
        parent = current_task()
        if parent is not None and _own_lineage(config, parent):
            parent = None  # a graph called with its own thread: a root run, not a subgraph
        if parent is not None:
            if config is None:
                config = parent.config
            prun = parent.run
            forward = prun.modes if prun.subgraphs else prun.modes & _LIVE_MODES
            # Streamed inside a node (stream(), or invoke with a stream mode): the caller
            # reads the subgraph's parts, and the parent's stream still gets its share.
            tee = Tee(sink, modes, prun.sink, forward) if sink is not None else None
            run = Run(
                self,
                dict(config or {}),
                modes=forward | modes if tee is not None else forward,
                sink=tee if tee is not None else prun.sink,
                context=context,
                parent=parent,
                interrupt_before=interrupt_before,
                interrupt_after=interrupt_after,
            )
            run.subgraphs = prun.subgraphs
            run.callbacks_handler = prun.callbacks_handler
            if tee is not None:
                assert sink is not None
                tee.prefix = run.ns_path
                run.subgraphs = prun.subgraphs or sink.subgraphs
                if "messages" in modes:
                    # Its caller reads its tokens; the parent's stream gets them only with
                    # subgraphs=True (through the tee), as in LangGraph.
                    own = StreamMessagesHandler(lambda ns, payload: tee(ns, "messages", payload))
                    if not prun.subgraphs:
                        tee.parent_modes = forward - {"messages"}
                    run.callbacks_handler = own
                    run.callbacks = _add_handler(_without_messages(run.config.get("callbacks")), own)
            run.durability = prun.durability
            run.traced = prun.trace is not None
            return run
        config = dict(config or {})
        checkpoint_map = None
        configurable = config.get("configurable") or {}
        if configurable.get("checkpoint_ns"):
            # A subgraph's config given to the root: the root runs from its checkpoint of
            # that time, the subgraphs from theirs (``checkpoint_map``), as in LangGraph.
            checkpoint_map = dict(configurable.get("checkpoint_map") or {})
            config["metadata"] = address_metadata(config.get("metadata"), configurable)
            config["configurable"] = {
                **configurable,
                "checkpoint_ns": "",
                "checkpoint_id": checkpoint_map.pop("", None),
            }
        run = Run(
            self,
            config,
            modes=modes,
            sink=sink if sink is not None else _noop_sink,
            context=context,
            interrupt_before=interrupt_before,
            interrupt_after=interrupt_after,
        )
        run.checkpoint_map = checkpoint_map
        if sink is not None:
            run.subgraphs = sink.subgraphs
            if "messages" in modes:
                handler = StreamMessagesHandler(lambda ns, payload: sink(ns, "messages", payload))
                run.callbacks_handler = handler
                run.callbacks = _add_handler(run.config.get("callbacks"), handler)
        run.traced = wants_trace(run.config)
        return run

    def _open(self, input: Any, config: Any, options: RunOptions, method: str) -> Call:
        """Check a call's options and set up its run; nothing has run yet."""
        invoked = method.endswith("invoke")
        check_options(options, method)
        get = options.get
        stream_mode = get("stream_mode", "values" if invoked else self.stream_mode)
        final = invoked and stream_mode == "values"
        print_mode = get("print_mode")
        subgraphs = bool(get("subgraphs", False))
        if final and not print_mode:
            modes: Modes | None = None
            sink = None
        else:
            modes = parse_modes(stream_mode, print_mode, options.get("debug"), final=final)
            # Parts stream as they are made when a subgraph's parts interleave with ours.
            live = bool(modes.run & _LIVE_MODES) or self.spec.streams_live or subgraphs
            sink = Sink(live=live, subgraphs=subgraphs)
        run = self._run(
            config,
            modes.run if modes is not None else _NO_MODES,
            sink,
            context=coerce_context(self.context_schema, get("context")),
            interrupt_before=get("interrupt_before"),
            interrupt_after=get("interrupt_after"),
        )
        keys = options.get("output_keys")
        if keys is not None:
            run.output_keys = output_keys(run, keys)
        run.durability = durability_of(options)
        run.control = get("control")
        return Call(run, input, sink, modes, subgraphs, not final)

    def invoke(  # type: ignore[override]  # typed options, not **kwargs
        self, input: Any, config: RunnableConfig | None = None, **options: Unpack[RunOptions]
    ) -> Any:
        """Run the graph to the end (or to an interrupt) and return its output state.

        Keyword options (LangGraph's; any other keyword is a ``TypeError``):
        ``context``, ``stream_mode``, ``print_mode``, ``output_keys``,
        ``interrupt_before``, ``interrupt_after``, ``durability``, ``subgraphs``,
        ``debug``, ``version``, ``control`` and the deprecated ``checkpoint_during``;
        see :class:`~threadloom._engine._options.RunOptions`. With a ``stream_mode``
        other than ``"values"``, return the list of stream parts instead.
        """
        if not options:  # the hot path: no stream, no option to check
            run = self._run(config, _NO_MODES, None)
            for _ in self._events(run, input, None):
                pass
            return run.final_output()
        call = self._open(input, config, options, "invoke")
        events = self._events(call.run, input, call.sink)
        return call.result([p for e in events if (p := call.part(e)) is not SKIP])

    async def ainvoke(  # type: ignore[override]  # typed options, not **kwargs
        self, input: Any, config: RunnableConfig | None = None, **options: Unpack[RunOptions]
    ) -> Any:
        """Async twin of :meth:`invoke`."""
        if not options:  # the hot path: no stream, no option to check
            run = self._run(config, _NO_MODES, None)
            async for _ in self._aevents(run, input, None):
                pass
            return run.final_output()
        call = self._open(input, config, options, "ainvoke")
        events = self._aevents(call.run, input, call.sink)
        return call.result([p async for e in events if (p := call.part(e)) is not SKIP])

    def stream(  # type: ignore[override]  # typed options, not **kwargs
        self, input: Any, config: RunnableConfig | None = None, **options: Unpack[RunOptions]
    ) -> Iterator[Any]:
        """Run the graph, yielding stream parts.

        ``stream_mode`` is one of ``"values"``, ``"updates"`` (the default),
        ``"messages"``, ``"custom"``, ``"debug"``, ``"checkpoints"``, ``"tasks"``, or
        a list of them (parts are then ``(mode, part)`` pairs); ``subgraphs=True``
        prefixes each part with the namespace of the graph that produced it. The
        other keyword options are those of :meth:`invoke`.
        """
        call = self._open(input, config, options, "stream")
        for event in self._events(call.run, input, call.sink):
            part = call.part(event)
            if part is not SKIP:
                yield part

    async def astream(  # type: ignore[override]  # typed options, not **kwargs
        self, input: Any, config: RunnableConfig | None = None, **options: Unpack[RunOptions]
    ) -> AsyncIterator[Any]:
        """Async twin of :meth:`stream`."""
        call = self._open(input, config, options, "astream")
        # Closing the stream closes the run at once: its running tasks are cancelled.
        async with aclosing(self._aevents(call.run, input, call.sink)) as events:
            async for event in events:
                part = call.part(event)
                if part is not SKIP:
                    yield part

    def _events(self, run: Run, input: Any, sink: Sink | None) -> Iterator[Event]:
        """The run's stream events; a run that stops mid-turn releases its turn."""
        events = _releasing(run, run_sync(run, self._child_input(run, input), sink))
        return traced(run, input, events) if run.traced else events

    def _aevents(self, run: Run, input: Any, sink: Sink | None) -> AsyncGenerator[Event, None]:
        """Async twin of :meth:`_events`."""
        events = _areleasing(run, run_async(run, self._child_input(run, input), sink))
        return atraced(run, input, events) if run.traced else events

    def _child_input(self, run: Run, value: Any) -> Any:
        """Inside a parent task, a subgraph resumes from its own interrupt instead of restarting."""
        if run.parent is None or isinstance(value, Command):
            return value
        return _ChildInput(value)

    # --- state ------------------------------------------------------------------

    def _state_run(self, config: Any) -> Run:
        if self.checkpointer in (None, False, True):
            raise CheckpointerNotConfiguredError(
                "this graph was compiled without a checkpointer, so it keeps no state: "
                "pass checkpointer=... to compile()"
            )
        config = dict(config or {})
        ns = (config.get("configurable") or {}).get("checkpoint_ns") or ""
        if not ns:
            return Run(self, config, modes=frozenset(), sink=_noop_sink)
        # A subgraph's namespace: the subgraph's state, in this graph's saver.
        sub = graph_for_namespace(self, ns)
        if sub is None:
            raise SubgraphNotFoundError(
                f"checkpoint_ns {ns!r} names no subgraph of graph {self.name!r} "
                f"(its subgraphs: {[path for path, _ in subgraphs_of(self, recurse=True)]})"
            )
        if sub.checkpointer is True:
            ns = recast(ns)
        config["configurable"] = {**config["configurable"], "checkpoint_ns": ns}
        run = Run(sub, config, modes=frozenset(), sink=_noop_sink)
        if run.saver is None:
            run.saver = self.checkpointer
        return run

    def get_subgraphs(
        self, *, namespace: str | None = None, recurse: bool = False
    ) -> Iterator[tuple[str, CompiledGraph]]:
        """The subgraphs of this graph's nodes as ``(name, graph)``, nested ones too with
        ``recurse`` (their names joined by ``|``); ``namespace`` picks the one it names."""
        return subgraphs_of(self, namespace, recurse=recurse)

    async def aget_subgraphs(
        self, *, namespace: str | None = None, recurse: bool = False
    ) -> AsyncIterator[tuple[str, CompiledGraph]]:
        """Async twin of :meth:`get_subgraphs`."""
        for item in subgraphs_of(self, namespace, recurse=recurse):
            yield item

    def get_state(self, config: RunnableConfig, *, subgraphs: bool = False) -> StateSnapshot:
        """The thread's state at its latest checkpoint (or the one ``checkpoint_id`` names).

        With ``subgraphs=True`` a pending task that runs a subgraph carries the
        subgraph's own snapshot in ``task.state``.
        """
        return complete_sync(_read_state(self._state_run(config), subgraphs))

    async def aget_state(self, config: RunnableConfig, *, subgraphs: bool = False) -> StateSnapshot:
        """Async twin of :meth:`get_state`."""
        return await complete_async(_read_state(self._state_run(config), subgraphs))

    def get_state_history(
        self, config: RunnableConfig, **options: Unpack[HistoryOptions]
    ) -> Iterator[StateSnapshot]:
        """The thread's checkpoints as snapshots, newest first (``filter``, ``before``, ``limit``)."""
        saver, where = self._history(config, options, "get_state_history")
        for found in saver.list(where, **options):
            yield self._past_snapshot(config, found)

    async def aget_state_history(
        self, config: RunnableConfig, **options: Unpack[HistoryOptions]
    ) -> AsyncIterator[StateSnapshot]:
        """Async twin of :meth:`get_state_history`."""
        saver, where = self._history(config, options, "aget_state_history")
        async for found in saver.alist(where, **options):
            yield self._past_snapshot(config, found)

    def _history(self, config: Any, options: HistoryOptions, method: str) -> tuple[Any, Any]:
        check_history_options(options, method)
        probe = self._state_run(config)
        return probe.saver, probe.saver_config()

    def _past_snapshot(self, config: Any, found: Any) -> StateSnapshot:
        run = self._state_run(config)
        run.load_tuple(found)
        return complete_sync(_snapshot(run))  # no subgraph states: no saver call to make

    def update_state(
        self,
        config: RunnableConfig,
        values: Any,
        as_node: str | None = None,
        task_id: str | None = None,
    ) -> RunnableConfig:
        """Write ``values`` as if node ``as_node`` had returned them; return the new checkpoint's config.

        The nodes that follow ``as_node`` run on the next invoke (with ``None`` as
        input). ``task_id`` (LangGraph's, to attribute the update to one task) is
        not supported yet.
        """
        return complete_sync(self._write_state(config, values, as_node, task_id))

    async def aupdate_state(
        self,
        config: RunnableConfig,
        values: Any,
        as_node: str | None = None,
        task_id: str | None = None,
    ) -> RunnableConfig:
        """Async twin of :meth:`update_state`."""
        return await complete_async(self._write_state(config, values, as_node, task_id))

    def bulk_update_state(
        self, config: RunnableConfig, supersteps: Sequence[Sequence[StateUpdate]]
    ) -> RunnableConfig:
        """Apply several supersteps of updates, each saved as one checkpoint; return the last one's config.

        Within a superstep the updates apply together, as the writes of
        parallel nodes do; each :class:`~threadloom.types.StateUpdate` names
        the node it comes from.
        """
        return complete_sync(self._write_bulk(config, supersteps))

    async def abulk_update_state(
        self, config: RunnableConfig, supersteps: Sequence[Sequence[StateUpdate]]
    ) -> RunnableConfig:
        """Async twin of :meth:`bulk_update_state`."""
        return await complete_async(self._write_bulk(config, supersteps))

    def _write_bulk(
        self, config: RunnableConfig, supersteps: Sequence[Sequence[StateUpdate]]
    ) -> Script[RunnableConfig]:
        steps = [[as_update(u) for u in step] for step in supersteps]
        if not steps:
            raise InvalidUpdateError("No supersteps provided to bulk_update_state")
        if not any(steps):
            raise InvalidUpdateError("No updates provided to bulk_update_state")
        for step in steps:
            for update in step:
                if update.task_id is not None:
                    raise UnsupportedOptionError("StateUpdate(task_id=...) is not supported yet")
        run = self._state_run(config)
        yield from load(run)
        for step in steps:
            if step:
                ops = yield from update_ops(run, [(u.values, u.as_node) for u in step])
                yield from save(run, ops)
        run.graph._cache.put(run.cache_key, run.thread_state())
        return with_checkpoint_map(run.checkpoint_config, run.metadata)

    def _write_state(
        self, config: RunnableConfig, values: Any, as_node: str | None, task_id: str | None
    ) -> Script[RunnableConfig]:
        """Load the thread, apply an update as ``as_node`` and save it as a new checkpoint."""
        if task_id is not None:
            raise UnsupportedOptionError("update_state(task_id=...) is not supported yet")
        run = self._state_run(config)
        yield from load(run)
        _require_checkpoint(run)
        ops = yield from update_ops(run, [(values, as_node)])
        yield from save(run, ops)
        run.graph._cache.put(run.cache_key, run.thread_state())
        return with_checkpoint_map(run.checkpoint_config, run.metadata)


def _own_lineage(config: Any, parent: Task) -> bool:
    """Whether ``config``, given to a graph called inside ``parent``, addresses checkpoints
    of its own (LangGraph: an explicit thread, namespace or checkpoint drops the ambient
    one); the task's own config passed on still makes a subgraph call."""
    configurable = (config or {}).get("configurable") or {}
    if configurable.get(TASK_CONFIG):
        return False
    return any(configurable.get(k) for k in _LINEAGE_KEYS)


def _read_state(run: Run, subgraphs: bool) -> Script[StateSnapshot]:
    """Load the thread (leaving its kept channels cached) and describe it: its latest
    checkpoint as it stands now, or the one ``checkpoint_id`` names as it was saved."""
    yield from load(run, peek=True)
    if run.checkpoint_id is None:
        return _empty_snapshot(run)
    return (yield from _snapshot(run, subgraphs, live=run.wants_latest()))


def _stopped_mid_turn(run: Run) -> dict[str, Any] | None:
    """The checkpoint a run that did not finish stopped at (its turn holds the thread until released)."""
    if run.done or run.saver is None or not run.checkpoint_config:
        return None
    return run.checkpoint_config


def _releasing(run: Run, events: Iterator[Event]) -> Iterator[Event]:
    """``events``; a run that stops mid-turn (interrupt, error, abandoned stream) releases its turn."""
    try:
        yield from events
    finally:
        stopped = _stopped_mid_turn(run)
        if stopped is not None:
            with contextlib.suppress(Exception):  # best effort: turn_timeout releases it otherwise
                run.saver.release_turn(stopped)


async def _areleasing(
    run: Run, events: AsyncGenerator[Event, None]
) -> AsyncGenerator[Event, None]:
    """Async twin of :func:`_releasing` (a cancelled run releases its turn too)."""
    try:
        async with aclosing(events):
            async for event in events:
                yield event
    finally:
        stopped = _stopped_mid_turn(run)
        if stopped is not None:
            with contextlib.suppress(Exception):  # best effort: turn_timeout releases it otherwise
                await run.saver.arelease_turn(stopped)


def _require_checkpoint(run: Run) -> None:
    """An update of a checkpoint the thread does not have changes nothing (it would start the thread over)."""
    if not run.wants_latest() and run.checkpoint_id is None:
        wanted = run.configurable.get("checkpoint_id")
        raise CheckpointNotFoundError(
            f"thread {run.thread_id!r} has no checkpoint {wanted!r} (namespace {run.ns!r}); "
            "nothing was changed. Pass a config from get_state_history(), or omit checkpoint_id "
            "to update the latest state."
        )


def _without_messages(callbacks: Any) -> Any:
    """``callbacks`` without the handlers that feed an outer ``messages`` stream."""
    if callbacks is None:
        return None
    if isinstance(callbacks, list):
        return [h for h in callbacks if not isinstance(h, StreamMessagesHandler)]
    manager = callbacks.copy()
    for handler in [*manager.handlers]:
        if isinstance(handler, StreamMessagesHandler):
            manager.remove_handler(handler)
    return manager


def _add_handler(callbacks: Any, handler: Any) -> Any:
    if callbacks is None:
        return [handler]
    if isinstance(callbacks, list):
        return [*callbacks, handler]
    manager = callbacks.copy()
    manager.add_handler(handler, inherit=True)
    return manager


def _subgraph_state(run: Run, task: Task, recurse: bool) -> Script[Any]:
    """What ``PregelTask.state`` shows for a task that runs a subgraph: the config of the
    subgraph's namespace, or (``recurse``) the subgraph's own snapshot read from it."""
    config = subgraph_config(run, task)
    if config is None or not recurse or run.saver is None:
        return config
    subgraph = task.node.subgraph
    ns = config["configurable"]["checkpoint_ns"]
    own = recast(ns) if subgraph.checkpointer is True else ns
    child = Run(
        subgraph,
        {"configurable": {"thread_id": run.thread_id, "checkpoint_ns": own}},
        modes=frozenset(),
        sink=_noop_sink,
    )
    child.saver = run.saver
    found = yield SaverCall(run.saver, "get_tuple", (child.saver_config(),))
    if found is None:
        return _empty_snapshot(child, config)
    child.load_tuple(found)
    return (yield from _snapshot(child, True, live=True))


def _snapshot(run: Run, subgraphs: bool = False, live: bool = False) -> Script[StateSnapshot]:
    """The snapshot of the run's checkpoint. ``live`` (the thread's head, as LangGraph reads
    it): the values include the writes of the step's tasks that already finished, and
    ``next`` names only the tasks still to run; otherwise the checkpoint as saved."""
    tasks = run.next_tasks(dry=True)
    views = task_views(run, tasks, live=live)
    if live:
        finished = [v for v in views if v.done is not None]
        if finished:
            for view in finished:
                view.task.writes = view.done or []
            write_channels(run.channels, [v.task for v in finished])
            tasks = [v.task for v in views if v.done is None]
    snapshot_tasks = []
    interrupts: list[Interrupt] = []
    for view in views:
        task = view.task
        interrupts.extend(view.interrupts)
        snapshot_tasks.append(
            PregelTask(
                id=task.id,
                name=task.name,
                path=task.path,
                error=view.error,  # as saved: the repr of the exception, as LangGraph shows it
                interrupts=view.interrupts,
                state=(yield from _subgraph_state(run, task, subgraphs)),
                result=view.result,
            )
        )
    return StateSnapshot(
        values=run.snapshot_values(),
        next=tuple(t.name for t in tasks),
        config=with_checkpoint_map(run.checkpoint_config, run.metadata),
        metadata=run.metadata,
        created_at=run.created_at,
        parent_config=with_checkpoint_map(run.parent_config, run.metadata) or None,
        tasks=tuple(snapshot_tasks),
        interrupts=tuple(interrupts),
    )


def _empty_snapshot(run: Run, config: Any = None) -> StateSnapshot:
    return StateSnapshot(
        values={},
        next=(),
        config=config or run.saver_config(),  # type: ignore[arg-type]
        metadata=None,
        created_at=None,
        parent_config=None,
    )
