"""The superstep loop, written once as a script of requests that a driver carries out.

A run is the generator :func:`script`: load the thread, apply the input, then
per step plan the tasks, have them executed, save pending writes if a task
failed or paused, apply all writes together, save a checkpoint and stream.
Whatever needs I/O is yielded as a request, so the sync and async drivers
(``_drivers``) are loops that only perform requests:

- :class:`SaverCall`: call a checkpointer method (``put``, ``get_tuple``, ...);
  the sync driver calls it, the async one awaits its ``a``-prefixed twin, and
  the result is sent back into the script.
- a list of tasks: execute them concurrently (threads, or asyncio tasks); each
  records its own outcome.
- :data:`FLUSH`: hand the stream parts produced so far to the caller.

:func:`load` and :func:`save` are scripts of saver calls on their own, reused by
``get_state`` and ``update_state``.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, TypeVar

from threadloom._engine._constants import INTERRUPT, NULL_TASK_ID, START
from threadloom._engine._context import Task
from threadloom._engine._events import (
    EVENT_MODES,
    checkpoint_event,
    emit_event,
    task_event,
    task_result_event,
)
from threadloom._engine._results import fresh_state, resolve_branch
from threadloom._engine._run import Op, Run
from threadloom.channels.base import MISSING
from threadloom.checkpoint.base import accepts_task_path
from threadloom.errors import GraphDrained, GraphInterrupt, ParentCommand
from threadloom.types import Command

__all__ = [
    "FLUSH",
    "Request",
    "SaverCall",
    "Script",
    "abandon",
    "branch_script",
    "load",
    "save",
    "script",
]

T = TypeVar("T")


class SaverCall:
    """Call ``saver.<method>(*args)`` (or await ``saver.a<method>(*args)``); send back the result.

    Any object with such async twins serves: a branch path (a ``NodeFunc``) is called
    with ``call`` in a sync run and awaited with ``acall`` in an async one."""

    __slots__ = ("args", "method", "saver")

    def __init__(self, saver: Any, method: str, args: tuple[Any, ...]) -> None:
        self.saver = saver
        self.method = method
        self.args = args


class _Flush:
    __slots__ = ()

    def __repr__(self) -> str:
        return "FLUSH"


FLUSH = _Flush()
"""Hand the buffered stream parts to the caller now."""

Request = SaverCall | list[Task] | _Flush
Script = Generator[Request, Any, T]


def load(run: Run, *, peek: bool = False) -> Script[None]:
    """Load the run's thread: kept channels if the saver shows they are current, else its checkpoint.

    ``peek`` leaves the kept channels in the cache (a read of the state); a run
    takes them out so that two concurrent runs never share channels.
    """
    saver = run.saver
    if saver is None:
        run.load_fresh()
        return
    mapped = run.checkpoint_map.pop(run.ns, None) if run.checkpoint_map else None
    if mapped is not None and run.parent is not None:
        # The root time-travels to this subgraph's checkpoint: load exactly that one.
        config = run.saver_config()
        config["configurable"]["checkpoint_id"] = mapped
        run.load_tuple((yield SaverCall(saver, "get_tuple", (config,))))
        run.mapped = run.checkpoint_id is not None
        return
    replay = run.replay
    if replay is not None and run.parent is not None and replay.first_visit(run.ns):
        # A replay of the root: the subgraph's state from before the replayed checkpoint.
        run.load_tuple((yield SaverCall(replay.reader(saver), "get_tuple", (run.saver_config(),))))
        run.replay_input = True
        return
    if run.wants_latest():
        cache = run.graph._cache
        cached = cache.peek(run.cache_key) if peek else cache.take(run.cache_key)
        if cached is not None:
            latest = yield SaverCall(saver, "peek_latest", (run.saver_config(),))
            if latest is not None and latest[0] == cached.checkpoint_id and not latest[1]:
                run.load_cached(cached)
                return
    run.load_tuple((yield SaverCall(saver, "get_tuple", (run.saver_config(),))))


def save(run: Run, ops: list[Op]) -> Script[None]:
    """Perform the checkpointer operations a :class:`Run` method returned."""
    saver = run.saver
    for method, args in ops:
        if method == "put_writes" and len(args) == 4 and not accepts_task_path(saver.put_writes):
            args = args[:3]  # a saver written for an older LangGraph: no task_path
        result = yield SaverCall(saver, method, args)
        if method in ("put", "put_step"):
            run.on_saved(result)


def abandon(run: Run, tasks: list[Task]) -> Script[None]:
    """A run stopped inside a step (cancelled, or its stream closed): save what it did.

    The checkpoints ``durability="exit"`` kept back are saved, and the writes of
    the step's finished tasks become pending writes, so that the next call on the
    thread runs only the tasks that did not finish (as LangGraph does).
    """
    if run.saver is None:
        return
    if run.deferred is not None:
        yield from save(run, run.release())
    ops = run.failure_ops([t for t in tasks if _settled(t)])
    if ops:
        yield from save(run, ops)


def _settled(task: Task) -> bool:
    """Whether the step has an outcome for ``task``: not one cancelled before it had one,
    nor one whose subgraph drained (those have nothing to save and run again next call)."""
    if isinstance(task.error, GraphDrained):
        return False
    return task.finished or task.error is not None or task.paused or task.result is not MISSING


def _drain(run: Run, reason: str | None) -> Script[None]:
    """Stop before the step: save what ``durability="exit"`` held back, then raise."""
    if run.deferred is not None:
        yield from save(run, run.release())
    yield FLUSH
    raise GraphDrained(reason or "shutdown")


def branch_script(run: Run, task: Task, branches: Any) -> Script[list[tuple[str, Any]]]:
    """The writes of the conditional edges after ``task`` (outside a task's own run: the
    input step, update_state), each decided on the state after ``task``'s writes; a path
    function is awaited in an async run, so an async one works there."""
    if task.config is None:
        task.config = run.task_config(task)
    out: list[tuple[str, Any]] = []
    for branch in branches:
        state = fresh_state(run, task, task.writes, branch)
        result = yield SaverCall(branch.path, "call", (task, state))
        out.extend(resolve_branch(run, branch.source, branch, result))
    return out


def script(run: Run, value: Any) -> Script[None]:
    """Drive ``run`` from its input to its end, an interrupt or an error."""
    if run.saver is None:
        run.load_fresh()  # the common case needs no request
    else:
        yield from load(run)
    exit_only = run.durability == "exit"
    run.start_counting()
    if _resumes_named_checkpoint(run, value):
        head = {"configurable": {"thread_id": run.thread_id, "checkpoint_ns": run.ns}}
        latest = yield SaverCall(run.saver, "peek_latest", (head,))
        if latest is None or latest[0] != run.checkpoint_id:
            # The thread moved past it: its step was completed once, so the writes saved
            # there are a record, not work to reuse; its tasks run again and their
            # interrupts wait again, as in LangGraph.
            run.pending_writes = [
                w for w in run.pending_writes if w[0] == NULL_TASK_ID or w[1] == INTERRUPT
            ]
    ops = run.apply_input(value)
    if exit_only:
        run.keep_back(ops)
    elif ops:
        yield from save(run, ops)
    if run.modes & EVENT_MODES and run.saver is not None and run.checkpoint_id is not None:
        # The checkpoint the run starts from: its input's, or the one it resumes.
        emit_event(run, checkpoint_event(run))
    if run.modes:  # without a stream mode nothing is emitted (the hot path skips the request)
        yield FLUSH
    while True:
        if run.out_of_steps():  # checked before planning, as LangGraph does
            if exit_only:
                yield from save(run, run.release())  # the run stops here: save what it did
            raise run.recursion_error()
        tasks = run.next_tasks()
        if not tasks:
            break
        start = run.start_due
        if start is not None:  # the conditional edges from START choose the first nodes
            run.start_due = None
            start.writes.extend((yield from branch_script(run, start, run.spec.start.branches)))
        if run.should_interrupt_before(tasks):
            yield from _stop_static(run)
            return
        control = run.control
        if control is not None and control.drain_requested and tasks[0].name != START:
            yield from _drain(run, control.drain_reason)
        todo = [t for t in tasks if t.result is MISSING]  # the others reuse saved writes
        if todo:
            if len(todo) < len(tasks) and "updates" in run.modes:
                _emit_replayed(run, [t for t in tasks if t.result is not MISSING])
            if run.modes & EVENT_MODES:  # every task of the step is announced before any runs
                for task in todo:
                    emit_event(run, task_event(task))
                yield FLUSH
            yield todo
        # A resume value answers the step it resumes; a later step's interrupt() waits again.
        run.null_resume = MISSING
        if run.deferred is not None and _stops(run, tasks):
            yield from save(run, run.release())  # pending writes need their checkpoint saved
        ops, error = _outcome(run, tasks)
        if ops:
            yield from save(run, ops)
        if error is not None or run.interrupted:
            yield FLUSH
            if error is not None:
                raise error
            return
        run.apply_writes(tasks)
        run.step += 1
        ops = run.checkpoint_ops("loop", None if exit_only else tasks)
        if exit_only:
            run.keep_back(ops)
        elif ops:
            yield from save(run, ops)
        shown = tasks if tasks[0].name != START else tasks[1:]  # START is hidden, as in LangGraph
        run.emit_updates(shown)
        if run.modes & EVENT_MODES:
            for task in shown:
                if task.id not in run.streamed:  # else streamed when it finished
                    emit_event(run, task_result_event(task, run.step))
        run.emit_values()
        if run.modes & EVENT_MODES and run.saver is not None:
            emit_event(run, checkpoint_event(run))
        if run.modes:
            yield FLUSH
        if run.should_interrupt_after(tasks):
            yield from _stop_static(run)
            return
    if run.deferred is not None:
        if run.parent is None or ":" not in run.ns:
            yield from save(run, run.release())
        else:
            # durability="exit": a subgraph call that completes leaves nothing to resume
            # (a checkpointer=True one, whose namespace has no task id, keeps its state).
            run.deferred = None
    run.done = True
    _keep(run)


def _resumes_named_checkpoint(run: Run, value: Any) -> bool:
    """Whether ``value`` is a ``Command(resume=...)`` for the checkpoint the config names."""
    return (
        run.parent is None
        and run.saver is not None
        and isinstance(value, Command)
        and value.resume is not None
        and run.checkpoint_id is not None
        and not run.wants_latest()
    )


def _emit_replayed(run: Run, done: list[Task]) -> None:
    """Stream the updates of the tasks a resumed step reuses from saved writes before the
    others run, as LangGraph does (they finished first)."""
    shown = [t for t in done if t.name != START]
    run.emit_updates(shown)
    run.streamed.update(t.id for t in shown)


def _outcome(run: Run, tasks: list[Task]) -> tuple[list[Op], BaseException | None]:
    """After the tasks ran: the pending writes to save, and the error to raise if any."""
    errors = [t.error for t in tasks if t.error is not None]
    interrupted = [t for t in tasks if t.paused]
    parent_command = run.parent_command
    if not errors and not interrupted and parent_command is None:
        return [], None
    if parent_command is not None and not errors:
        return [], ParentCommand(parent_command)
    ops = run.failure_ops([t for t in tasks if _settled(t)])
    if run.modes & EVENT_MODES:
        for task in tasks:
            if task.name != START and task.id not in run.streamed:
                emit_event(run, task_result_event(task, run.step + 1))
    if errors:
        return ops, errors[0]
    run.interrupts = [i for t in interrupted for i in t.interrupts]
    run.interrupted = True
    run.emit_stopped(tasks)
    if run.parent is not None:
        return ops, GraphInterrupt(run.interrupts)
    finished = [t for t in tasks if not t.paused and t.writes]
    if finished:
        # The output (and a last "values" part) shows what finished, as LangGraph's does;
        # the saved checkpoint is unchanged: those writes stay pending until the resume.
        run.apply_writes(finished)
        run.emit_values()
    return ops, None


def _stops(run: Run, tasks: list[Task]) -> bool:
    """Whether the run stops after this step (an error, an interrupt, a parent command)."""
    return run.parent_command is not None or any(t.error is not None or t.paused for t in tasks)


def _stop_static(run: Run) -> Script[None]:
    """Stop at a static ``interrupt_before``/``interrupt_after``; a subgraph tells its parent."""
    if run.deferred is not None:
        yield from save(run, run.release())
    run.interrupted = True
    run.interrupts = []
    if run.parent is None:  # a subgraph's stop is reported by its parent's task, as in LangGraph
        run.emit_stopped([])
    yield FLUSH
    if run.parent is not None:
        raise GraphInterrupt([])


def _keep(run: Run) -> None:
    """Keep the thread's channels for its next turn (not for one-off subgraph namespaces)."""
    if run.saver is None or run.checkpoint_id is None:
        return
    if run.parent is None or run.graph.checkpointer is True:
        run.graph._cache.put(run.cache_key, run.thread_state())
