"""A compiled graph: the public run, stream and state methods over the engine."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

from threadloom._engine._checkpoint import ChannelCache
from threadloom._engine._constants import ERROR, INTERRUPT, NULL_TASK_ID, START
from threadloom._engine._context import Task, current_task
from threadloom._engine._drivers import Event, Sink, run_async, run_sync
from threadloom._engine._messages import StreamMessagesHandler
from threadloom._engine._run import Run, _ChildInput
from threadloom._engine._spec import GraphSpec
from threadloom.errors import (
    CheckpointerNotConfiguredError,
    CheckpointNotFoundError,
    InvalidUpdateError,
)
from threadloom.types import Command, Interrupt, PregelTask, StateSnapshot

__all__ = ["CompiledGraph"]

_ALL_MODES = frozenset({"values", "updates", "messages", "custom", "debug", "checkpoints", "tasks"})
_LIVE_MODES = frozenset({"messages", "custom"})


def _noop_sink(ns: tuple[str, ...], mode: str, payload: Any) -> None:
    return None


class CompiledGraph:
    """A runnable graph. Build one with ``StateGraph(...).compile()``.

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
        if parent is not None:
            if config is None:
                config = parent.config
            prun = parent.run
            modes = prun.modes if prun.subgraphs else prun.modes & _LIVE_MODES
            run = Run(
                self,
                dict(config or {}),
                modes=modes,
                sink=prun.sink,
                context=context,
                parent=parent,
                interrupt_before=interrupt_before,
                interrupt_after=interrupt_after,
            )
            run.subgraphs = prun.subgraphs
            run.callbacks_handler = prun.callbacks_handler
            return run
        run = Run(
            self,
            dict(config or {}),
            modes=modes,
            sink=sink if sink is not None else _noop_sink,
            context=context,
            interrupt_before=interrupt_before,
            interrupt_after=interrupt_after,
        )
        if sink is not None:
            run.subgraphs = sink.subgraphs
            if "messages" in modes:
                handler = StreamMessagesHandler(lambda ns, payload: sink(ns, "messages", payload))
                run.callbacks_handler = handler
                run.callbacks = _add_handler(run.config.get("callbacks"), handler)
        return run

    def invoke(
        self,
        input: Any,
        config: Any = None,
        *,
        context: Any = None,
        stream_mode: Any = "values",
        interrupt_before: Any = None,
        interrupt_after: Any = None,
        **kwargs: Any,
    ) -> Any:
        """Run the graph to the end (or to an interrupt) and return its output state.

        With a ``stream_mode`` other than ``"values"``, return the list of
        stream parts instead.
        """
        if stream_mode != "values":
            return list(
                self.stream(
                    input,
                    config,
                    context=context,
                    stream_mode=stream_mode,
                    interrupt_before=interrupt_before,
                    interrupt_after=interrupt_after,
                )
            )
        run = self._run(
            config,
            frozenset(),
            None,
            context=context,
            interrupt_before=interrupt_before,
            interrupt_after=interrupt_after,
        )
        for _ in run_sync(run, self._child_input(run, input), None):
            pass
        return run.final_output()

    async def ainvoke(
        self,
        input: Any,
        config: Any = None,
        *,
        context: Any = None,
        stream_mode: Any = "values",
        interrupt_before: Any = None,
        interrupt_after: Any = None,
        **kwargs: Any,
    ) -> Any:
        """Async twin of :meth:`invoke`."""
        if stream_mode != "values":
            return [
                part
                async for part in self.astream(
                    input,
                    config,
                    context=context,
                    stream_mode=stream_mode,
                    interrupt_before=interrupt_before,
                    interrupt_after=interrupt_after,
                )
            ]
        run = self._run(
            config,
            frozenset(),
            None,
            context=context,
            interrupt_before=interrupt_before,
            interrupt_after=interrupt_after,
        )
        async for _ in run_async(run, self._child_input(run, input), None):
            pass
        return run.final_output()

    def stream(
        self,
        input: Any,
        config: Any = None,
        *,
        context: Any = None,
        stream_mode: Any = None,
        subgraphs: bool = False,
        interrupt_before: Any = None,
        interrupt_after: Any = None,
        debug: bool | None = None,
        **kwargs: Any,
    ) -> Iterator[Any]:
        """Run the graph, yielding stream parts.

        ``stream_mode`` is one of ``"values"``, ``"updates"`` (the default),
        ``"messages"``, ``"custom"``, ``"debug"``, or a list of them (parts
        are then ``(mode, part)`` pairs); ``subgraphs=True`` prefixes each
        part with the namespace of the graph that produced it.
        """
        modes, multi = _parse_modes(stream_mode, debug)
        sink = Sink(live=bool(modes & _LIVE_MODES), subgraphs=subgraphs)
        run = self._run(
            config,
            modes,
            sink,
            context=context,
            interrupt_before=interrupt_before,
            interrupt_after=interrupt_after,
        )
        for event in run_sync(run, self._child_input(run, input), sink):
            yield _format(event, multi, subgraphs)

    async def astream(
        self,
        input: Any,
        config: Any = None,
        *,
        context: Any = None,
        stream_mode: Any = None,
        subgraphs: bool = False,
        interrupt_before: Any = None,
        interrupt_after: Any = None,
        debug: bool | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[Any]:
        """Async twin of :meth:`stream`."""
        modes, multi = _parse_modes(stream_mode, debug)
        sink = Sink(live=bool(modes & _LIVE_MODES), subgraphs=subgraphs)
        run = self._run(
            config,
            modes,
            sink,
            context=context,
            interrupt_before=interrupt_before,
            interrupt_after=interrupt_after,
        )
        async for event in run_async(run, self._child_input(run, input), sink):
            yield _format(event, multi, subgraphs)

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
        return Run(self, dict(config or {}), modes=frozenset(), sink=_noop_sink)

    def get_state(self, config: Any, *, subgraphs: bool = False) -> StateSnapshot:
        """The thread's state at its latest checkpoint (or the one ``checkpoint_id`` names).

        With ``subgraphs=True`` a pending task that runs a subgraph carries the
        subgraph's own snapshot in ``task.state``.
        """
        run = self._state_run(config)
        sub = _subgraph_states if subgraphs else None
        saver = run.saver
        assert saver is not None
        if run.wants_latest():
            cached = self._cache.peek(run.cache_key)
            if cached is not None:
                latest = saver.peek_latest(run.saver_config())
                if latest is not None and latest[0] == cached.checkpoint_id and not latest[1]:
                    run.load_cached(cached)
                    return _snapshot(run, sub)
        found = saver.get_tuple(run.saver_config())
        run.load_tuple(found)
        return _snapshot(run, sub) if found is not None else _empty_snapshot(run)

    async def aget_state(self, config: Any, *, subgraphs: bool = False) -> StateSnapshot:
        """Async twin of :meth:`get_state`."""
        run = self._state_run(config)
        saver = run.saver
        assert saver is not None
        if run.wants_latest():
            cached = self._cache.peek(run.cache_key)
            if cached is not None:
                latest = await saver.apeek_latest(run.saver_config())
                if latest is not None and latest[0] == cached.checkpoint_id and not latest[1]:
                    run.load_cached(cached)
                    return _snapshot(run)
        found = await saver.aget_tuple(run.saver_config())
        run.load_tuple(found)
        return _snapshot(run) if found is not None else _empty_snapshot(run)

    def get_state_history(
        self,
        config: Any,
        *,
        filter: dict[str, Any] | None = None,
        before: Any = None,
        limit: int | None = None,
    ) -> Iterator[StateSnapshot]:
        """The thread's checkpoints as snapshots, newest first."""
        probe = self._state_run(config)
        assert probe.saver is not None
        for found in probe.saver.list(
            probe.saver_config(), filter=filter, before=before, limit=limit
        ):
            run = self._state_run(config)
            run.load_tuple(found)
            yield _snapshot(run)

    async def aget_state_history(
        self,
        config: Any,
        *,
        filter: dict[str, Any] | None = None,
        before: Any = None,
        limit: int | None = None,
    ) -> AsyncIterator[StateSnapshot]:
        """Async twin of :meth:`get_state_history`."""
        probe = self._state_run(config)
        assert probe.saver is not None
        async for found in probe.saver.alist(
            probe.saver_config(), filter=filter, before=before, limit=limit
        ):
            run = self._state_run(config)
            run.load_tuple(found)
            yield _snapshot(run)

    def update_state(self, config: Any, values: Any, as_node: str | None = None) -> Any:
        """Write ``values`` as if node ``as_node`` had returned them; return the new checkpoint's config.

        The nodes that follow ``as_node`` run on the next invoke (with ``None`` as input).
        """
        from threadloom._engine._drivers import _load_sync, _save_sync

        run = self._state_run(config)
        _load_sync(run)
        _require_checkpoint(run)
        _save_sync(run, _update(run, values, as_node))
        self._cache.put(run.cache_key, run.thread_state())
        return run.checkpoint_config

    async def aupdate_state(self, config: Any, values: Any, as_node: str | None = None) -> Any:
        """Async twin of :meth:`update_state`."""
        from threadloom._engine._drivers import _load_async, _save_async

        run = self._state_run(config)
        await _load_async(run)
        _require_checkpoint(run)
        await _save_async(run, _update(run, values, as_node))
        self._cache.put(run.cache_key, run.thread_state())
        return run.checkpoint_config


def _require_checkpoint(run: Run) -> None:
    """An update of a checkpoint the thread does not have changes nothing (it would start the thread over)."""
    if not run.wants_latest() and run.checkpoint_id is None:
        wanted = run.configurable.get("checkpoint_id")
        raise CheckpointNotFoundError(
            f"thread {run.thread_id!r} has no checkpoint {wanted!r} (namespace {run.ns!r}); "
            "nothing was changed. Pass a config from get_state_history(), or omit checkpoint_id "
            "to update the latest state."
        )


def _parse_modes(stream_mode: Any, debug: bool | None) -> tuple[frozenset[str], bool]:
    if stream_mode is None:
        stream_mode = "updates"
    if isinstance(stream_mode, str):
        modes, multi = [stream_mode], False
    else:
        modes, multi = list(stream_mode), True
    for mode in modes:
        if mode not in _ALL_MODES:
            raise ValueError(f"unknown stream_mode {mode!r}; use one of {sorted(_ALL_MODES)}")
    if debug:
        modes.append("debug")
        multi = multi or len(set(modes)) > 1
    return frozenset(modes), multi


def _format(event: Event, multi: bool, subgraphs: bool) -> Any:
    ns, mode, payload = event
    if subgraphs:
        return (ns, mode, payload) if multi else (ns, payload)
    return (mode, payload) if multi else payload


def _add_handler(callbacks: Any, handler: Any) -> Any:
    if callbacks is None:
        return [handler]
    if isinstance(callbacks, list):
        return [*callbacks, handler]
    manager = callbacks.copy()
    manager.add_handler(handler, inherit=True)
    return manager


def _subgraph_states(run: Run, task: Task) -> StateSnapshot | None:
    """The snapshot of the subgraph a pending task runs, read from its checkpoint namespace."""
    subgraph = task.node.subgraph
    if subgraph is None or run.saver is None:
        return None
    segment = task.name if subgraph.checkpointer is True else f"{task.name}:{task.id}"
    ns = f"{run.ns}|{segment}" if run.ns else segment
    child = Run(
        subgraph,
        {"configurable": {"thread_id": run.thread_id, "checkpoint_ns": ns}},
        modes=frozenset(),
        sink=_noop_sink,
    )
    child.saver = run.saver
    found = run.saver.get_tuple(child.saver_config())
    if found is None:
        return None
    child.load_tuple(found)
    return _snapshot(child, _subgraph_states)


def _snapshot(run: Run, subgraphs: Any = None) -> StateSnapshot:
    tasks = run.next_tasks(dry=True)
    by_task: dict[str, list[tuple[str, Any]]] = {}
    for tid, channel, value in run.pending_writes:
        by_task.setdefault(tid, []).append((channel, value))
    snapshot_tasks = []
    interrupts: list[Interrupt] = []
    for task in tasks:
        writes = by_task.get(task.id, [])
        task_interrupts = tuple(i for c, v in writes if c == INTERRUPT for i in v)
        interrupts.extend(task_interrupts)
        error = next((v for c, v in writes if c == ERROR), None)
        result = None
        if writes and not task_interrupts and error is None:
            result = {c: v for c, v in writes if c in run.spec.writable_keys} or None
        snapshot_tasks.append(
            PregelTask(
                id=task.id,
                name=task.name,
                path=task.path,
                error=Exception(error) if isinstance(error, str) else error,
                interrupts=task_interrupts,
                state=subgraphs(run, task) if subgraphs is not None else None,
                result=result,
            )
        )
    return StateSnapshot(
        values=run.read_state(),
        next=tuple(t.name for t in tasks),
        config=run.checkpoint_config or {},  # type: ignore[arg-type]
        metadata=run.metadata,
        created_at=run.created_at,
        parent_config=run.parent_config,  # type: ignore[arg-type]
        tasks=tuple(snapshot_tasks),
        interrupts=tuple(interrupts),
    )


def _empty_snapshot(run: Run) -> StateSnapshot:
    return StateSnapshot(
        values={},
        next=(),
        config=run.saver_config(),  # type: ignore[arg-type]
        metadata=None,
        created_at=None,
        parent_config=None,
    )


def _update(run: Run, values: Any, as_node: str | None) -> list[Any]:
    spec = run.spec
    if as_node is None:
        as_node = _last_writer(run)
    if as_node == START:
        node = spec.start
    elif as_node in spec.nodes:
        node = spec.nodes[as_node]
    else:
        raise InvalidUpdateError(
            f"update_state(as_node={as_node!r}): no such node; known nodes: {sorted(spec.nodes)}"
        )
    triggers = tuple(t for t in node.triggers if run.channels[t].is_available())
    task = Task(run, node, NULL_TASK_ID, ("update", node.name), triggers, None)
    branches = run.process_output(task, values)
    if branches:
        task.writes.extend(run.eval_branches(task, branches, task.writes))
    run.pending_writes = []
    run.apply_writes([task])
    run.step += 1
    return run.checkpoint_ops("update")


def _last_writer(run: Run) -> str:
    """The node an update is attributed to when ``as_node`` is not given: the last one that ran."""
    spec = run.spec
    if not run.versions:
        return START
    if len(spec.nodes) == 1:
        return next(iter(spec.nodes))
    names = sorted(n for n in run.seen if n in spec.nodes)
    if not names:
        return START
    if len(names) > 1:
        raise InvalidUpdateError(
            f"update_state cannot tell which node the update is from ({', '.join(names)} ran "
            "last); pass as_node="
        )
    return names[0]
