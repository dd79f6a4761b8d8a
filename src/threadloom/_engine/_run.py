"""One run of a compiled graph: its channels, the step counter and the rules of a superstep.

The superstep script (``_superstep``) calls these methods; everything that
touches the checkpointer is returned as an operation, which the script hands
to the sync or async driver to perform.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from threadloom._engine import _results
from threadloom._engine._checkpoint import seen_after, task_id, triggered_anew, write_channels
from threadloom._engine._constants import (
    ERROR,
    INTERRUPT,
    MISSING,
    NO_WRITES,
    NULL_TASK_ID,
    PULL,
    PUSH,
    RESUME,
    START,
    TASKS,
)
from threadloom._engine._context import Task
from threadloom._engine._output import RunOutput
from threadloom._engine._saving import Op, RunSaving
from threadloom._engine._spec import BranchSpec, NodeSpec
from threadloom._engine._subgraphs import ReplayState, recast, task_namespace
from threadloom._engine._task_setup import RunTaskSetup
from threadloom.channels.base import BaseChannel
from threadloom.errors import (
    AmbiguousResumeError,
    EmptyInputError,
    GraphBuildError,
    GraphRecursionError,
    InvalidResumeError,
    InvalidUpdateError,
    MissingThreadIdError,
)
from threadloom.managed._values import managed_value
from threadloom.types import Command, Interrupt

if TYPE_CHECKING:
    from threadloom._engine._pregel import CompiledGraph
    from threadloom.checkpoint.base import CheckpointTuple

__all__ = ["Op", "Run"]

_DEFAULT_RECURSION_LIMIT = 25
_SPECIAL_WRITES = frozenset({INTERRUPT, ERROR, RESUME})


class Run(RunOutput, RunSaving, RunTaskSetup):
    """The mutable state of one invocation (or one subgraph call inside a task)."""

    def __init__(
        self,
        graph: CompiledGraph,
        config: dict[str, Any],
        *,
        modes: frozenset[str],
        sink: Callable[[tuple[str, ...], str, Any], None],
        context: Any = None,
        parent: Task | None = None,
        interrupt_before: Any = None,
        interrupt_after: Any = None,
    ) -> None:
        spec = graph.spec
        self.graph = graph
        self.spec = spec
        self.parent = parent
        self.modes = modes
        self.sink = sink
        self.context = context
        configurable = config.get("configurable") or {}
        self.configurable = configurable
        self.saver: Any
        self.store: Any
        self.ns: str
        if parent is not None:
            prun = parent.run
            own = graph.checkpointer
            # True: the parent's saver, under a namespace kept across calls; False: none.
            self.saver = None if own is False else prun.saver if own in (None, True) else own
            self.store = graph.store if graph.store is not None else prun.store
            if context is None:
                self.context = prun.context
            if graph.checkpointer is True:  # one namespace per node path, kept across calls
                self.ns = recast(f"{prun.ns}|{parent.name}" if prun.ns else parent.name)
                segment = parent.name
            else:
                self.ns = task_namespace(prun.ns, parent.name, parent.id)
                segment = f"{parent.name}:{parent.id}"
            calls = parent.subgraph_calls
            parent.subgraph_calls = calls + 1
            self.ns_path: tuple[str, ...] = (*prun.ns_path, segment)
            if calls:  # a second subgraph called by the same task: a namespace of its own
                self.ns = f"{self.ns}|{calls}"
                self.ns_path = (*self.ns_path, str(calls))
            self.replay: ReplayState | None = prun.replay
            self.checkpoint_map: dict[str, Any] | None = prun.checkpoint_map
        else:
            checkpointer = graph.checkpointer
            self.saver = checkpointer if checkpointer not in (None, False, True) else None
            self.store = graph.store
            self.ns = configurable.get("checkpoint_ns", "")
            self.ns_path = ()
            self.replay = None
            self.checkpoint_map = None
            """Checkpoint ids per subgraph namespace, when the root time-travels to a subgraph's."""
        self.thread_id = configurable.get("thread_id")
        if isinstance(self.thread_id, uuid.UUID):  # accepted as LangGraph does: saved as its text
            self.thread_id = str(self.thread_id)
        if self.saver is not None and self.thread_id is None:
            raise MissingThreadIdError(
                "this graph has a checkpointer, so every call needs a thread: pass "
                'config={"configurable": {"thread_id": "..."}}'
            )
        self.recursion_limit = int(config.get("recursion_limit", _DEFAULT_RECURSION_LIMIT))
        self.config = config
        self.output_keys: str | tuple[str, ...] = spec.output_keys
        self.interrupt_before = (
            spec.interrupt_before if interrupt_before is None else _names(interrupt_before)
        )
        self.interrupt_after = (
            spec.interrupt_after if interrupt_after is None else _names(interrupt_after)
        )
        if interrupt_before is not None or interrupt_after is not None:
            for name in self.interrupt_before | self.interrupt_after:
                if name != "*" and name not in spec.nodes:
                    raise GraphBuildError(f"interrupt on unknown node '{name}'")
        # Per-thread state.
        self.channels: dict[str, BaseChannel] = {}
        self.versions: dict[str, Any] = {}
        # Nodes that ran in the last step -> the trigger versions they consumed. Triggers
        # are consumed when their node runs, so this is a record (it also tells update_state
        # which node wrote last), not what decides the next step.
        self.seen: dict[str, dict[str, Any]] = {}
        self.max_version: Any = 0
        self.step = -2  # the input of a new thread is step -1
        self.checkpoint_id: str | None = None
        self.checkpoint_id_seed = ""
        """Stands in for the checkpoint id in task ids when there is no saver (see _task_id)."""
        self.checkpoint_config: dict[str, Any] | None = None
        self.parent_config: dict[str, Any] | None = None
        self.metadata: dict[str, Any] = {}
        self.created_at = ""
        self.pending_writes: list[tuple[str, str, Any]] = []
        self.null_writes: list[tuple[str, Any]] = []
        """Writes of a resuming ``Command``'s update/goto, applied before the step resumes."""
        self.carried: set[str] = set()
        """Channels the null writes changed: saved with the next step's checkpoint."""
        self.updated: set[str] | None = None
        # Progress of this run.
        self.stop = 0
        """The last step this run may plan (see :meth:`start_counting`)."""
        self.skip_interrupt_before = False
        self.mapped = False
        """This subgraph run loaded the checkpoint the root's ``checkpoint_map`` names."""
        self.replay_input = False
        """A subgraph loaded as of a replayed checkpoint takes its input afresh."""
        self.done = False
        self.interrupts: list[Interrupt] = []
        self.interrupted = False
        self.null_resume: Any = MISSING
        self.resume_map: dict[str, Any] = {}
        self.parent_command: Command[Any] | None = None
        # Functional-API task calls of the current step (see _calls).
        self.calls: list[Task] = []
        self.start_due: Task | None = None  # START's task while its branches are still due
        self.call_counts: dict[str, int] = {}
        self._runtime: Any = None
        self._base_task_config: dict[str, Any] | None = None
        self.callbacks: Any = None
        self.callbacks_handler: Any = None
        self.traced = False
        """Report to LangChain callbacks: the graph and each node as chain runs (``_tracing``)."""
        self.trace: Any = None
        """The graph's callback run manager while a traced run runs."""
        self.subgraphs = False
        self._saved_delta: list[str] = []
        self.cache: Any = (
            graph.cache if graph.cache is not None or parent is None else parent.run.cache
        )
        self.cached_tasks: set[str] = set()
        self.saved_tasks: set[str] = set()  # durability="sync": writes saved as each finished
        self.streamed: set[str] = set()  # this step's tasks whose update is already streamed
        self.node_errors: dict[str, BaseException] = {}
        """Exceptions of nodes whose error handler runs next (see ``_handlers``)."""
        """Tasks of this run whose writes came from the cache."""
        self.durability = "async"
        self.control: Any = parent.run.control if parent is not None else None
        """``"exit"`` keeps checkpoints back until the run stops; ``"sync"``/``"async"`` save each step."""
        # durability="exit": checkpoints are kept back and one is saved when the run stops.
        self.deferred: list[Op] | None = None
        self._unsaved: set[str] = set()
        self._extra_metadata: dict[str, Any] | None = None
        self.writer: Callable[[Any], None] = self._write_custom if "custom" in modes else _ignore

    # --- loading ------------------------------------------------------------

    @property
    def cache_key(self) -> tuple[str, str]:
        """Key of this thread in the graph's channel cache."""
        return (str(self.thread_id), self.ns)

    def saver_config(self) -> dict[str, Any]:
        """The config the saver reads this run's checkpoint from."""
        conf: dict[str, Any] = {"thread_id": self.thread_id, "checkpoint_ns": self.ns}
        wanted = self.configurable.get("checkpoint_id") if self.parent is None else None
        if wanted:
            conf["checkpoint_id"] = wanted
        return {"configurable": conf}

    def wants_latest(self) -> bool:
        """Whether the run starts from the thread's latest checkpoint (not time travel)."""
        return self.parent is not None or not self.configurable.get("checkpoint_id")

    def load_tuple(self, found: CheckpointTuple | None) -> None:
        """Continue from a checkpoint read from the saver (or start fresh on ``None``)."""
        if found is None:
            self.load_fresh()
            return
        checkpoint = found.checkpoint
        values = checkpoint["channel_values"]
        channels: dict[str, BaseChannel] = {}
        for key, proto in self.spec.channels.items():
            value = values.get(key, MISSING)
            channels[key] = proto.new() if value is MISSING else proto.from_checkpoint(value)
        versions = dict(checkpoint["channel_versions"])
        for key in self.spec.delta_keys:
            channel: Any = channels[key]
            if key in versions:
                channel.mark_saved(versions[key])
            else:
                channel.track_delta = True
        self.channels = channels
        self.versions = versions
        self.max_version = max(versions.values(), default=0)
        self.seen = {k: dict(v) for k, v in checkpoint["versions_seen"].items()}
        self.step = int(found.metadata.get("step", -1))
        self.checkpoint_id = checkpoint["id"]
        self.checkpoint_config = dict(found.config)
        parent_config: Any = found.parent_config
        self.parent_config = parent_config
        self.metadata = dict(found.metadata)
        self.created_at = checkpoint["ts"]
        self.pending_writes = list(found.pending_writes or ())
        null = [(c, v) for tid, c, v in self.pending_writes if tid == NULL_TASK_ID]
        if null:
            self.null_writes = null
            self._apply_null(null)

    # --- input ----------------------------------------------------------------

    def apply_input(self, value: Any) -> list[Op]:
        """Write the input (or record a resume) and return the checkpoint to save."""
        if isinstance(value, _ChildInput):
            value = self._child_resume(value)
        if isinstance(value, Command):
            return self._apply_command_input(value)
        if value is None:
            if self.checkpoint_id is None and not self._has_state():
                raise EmptyInputError(
                    "the graph was invoked with None and there is no checkpoint to resume from"
                )
            self.skip_interrupt_before = True
            ops = self._fork() if self.time_travels() else []
            self.emit_resumed()
            return ops
        self.pending_writes = []
        updates = self._input_updates(value)
        start = self.spec.start
        task = Task(self, start, NULL_TASK_ID, (START,), (), None)
        dropped = self._dropped_tasks()
        if self.spec.start_step:
            # The input checkpoint holds only the input; START applies it in step 0.
            task.writes = [(START, dict(updates))]
            self.apply_writes([*dropped, task])
            self.step += 1
            return self.checkpoint_ops("input")
        task.writes = [*updates, *start.edge_writes]
        if start.branches:
            task.writes.extend(self.eval_branches(task, start.branches))
        self.apply_writes([*dropped, task])
        self.step += 1
        ops = self.checkpoint_ops("input")
        self.emit_values()
        return ops

    def _dropped_tasks(self) -> list[Task]:
        """The tasks a thread still had to run when new input comes: dropped (what triggered
        them counts as seen), so the run starts from the input alone, as in LangGraph."""
        return [] if self.checkpoint_id is None else self.next_tasks(dry=True)

    def time_travels(self) -> bool:
        """Whether this run continues from a past checkpoint that the config names (a replay)."""
        if self.checkpoint_id is None:
            return False
        return self.mapped or not self.wants_latest()

    def _fork(self) -> list[Op]:
        """Replay from a past checkpoint: its tasks run again, on a new branch of the thread.

        As in LangGraph, saved writes and answers of the checkpoint's tasks are not
        reused (they run again and interrupt again); a checkpoint the run made
        itself (a loop or input one) is first copied as a ``"fork"`` checkpoint, so
        the thread's head moves to the new branch; an update's or fork's
        checkpoint already is a branch of its own.
        """
        self.pending_writes = [w for w in self.pending_writes if w[0] == NULL_TASK_ID]
        if self.metadata.get("source") in ("update", "fork"):
            # Subgraphs start from their state before the checkpoint this one branched from.
            if self.parent is None:
                parent = (self.parent_config or {}).get("configurable") or {}
                self.replay = ReplayState(parent.get("checkpoint_id") or self.checkpoint_id or "")
            return []
        if self.parent is None:
            self.replay = ReplayState(self.checkpoint_id or "")
        self.step += 1
        carried, self.carried = self.carried, set()
        self.updated = carried  # the fork stores only what the null writes changed
        ops = self.checkpoint_ops("fork")
        self.updated = None  # plan every node, as after a load
        return ops

    def _child_resume(self, value: _ChildInput) -> Any:
        """A subgraph left at an interrupt resumes with its parent's resume value."""
        parent = self.parent
        if parent is None or self.checkpoint_id is None or self.replay_input:
            return value.value
        # Stopped by a static interrupt, a failure or an update: continue if work is left
        # (the parent's resume value answers the next interrupt, as in LangGraph).
        if not any(w[1] == INTERRUPT for w in self.pending_writes) and not self.next_tasks(
            dry=True
        ):
            return value.value
        prun = parent.run
        if prun.resume_map:
            self.resume_map = prun.resume_map
        else:
            self.null_resume = prun.take_resume(parent)
        return None

    def _has_state(self) -> bool:
        return any(ch.is_available() for ch in self.channels.values()) and bool(self.versions)

    def _input_updates(self, value: Any) -> list[tuple[str, Any]]:
        spec = self.spec
        if spec.input_coerce is not None:
            value = spec.input_coerce(value)
        if not isinstance(value, dict):
            raise InvalidUpdateError(
                f"graph input must be a dict of state keys (or None to resume), got {type(value).__name__}"
            )
        keys = spec.input_keys
        return [(k, v) for k, v in value.items() if k in keys]

    def _apply_command_input(self, command: Command[Any]) -> list[Op]:
        ops: list[Op] = []
        if command.resume is not None:
            known = self._pending_interrupt_ids()
            if not known and (self.checkpoint_id is None or not self.next_tasks(dry=True)):
                # (A thread stopped at a static breakpoint continues, as in LangGraph.)
                raise InvalidResumeError(
                    f"Command(resume=...) was sent to thread '{self.thread_id}', "
                    "which has no pending interrupt",
                    thread_id=self.thread_id,
                )
            resume = command.resume
            if isinstance(resume, dict) and resume and set(resume) <= set(known):
                self.resume_map = dict(resume)
            elif len(known) > 1:
                raise AmbiguousResumeError(
                    "When there are multiple pending interrupts, you must specify the "
                    f"interrupt id when resuming: Command(resume={{id: value}}) with ids {known}",
                    thread_id=self.thread_id,
                )
            else:
                self.null_resume = resume
            self.skip_interrupt_before = True
            if command.update is not None or command.goto:
                self._apply_null_writes(command)
            self.emit_resumed()
            return ops
        if (command.update is not None or command.goto) and self._stopped_at_breakpoint():
            # The thread waits at a static breakpoint: the command joins its step (LangGraph).
            self.skip_interrupt_before = True
            self._apply_null_writes(command)
            self.emit_resumed()
            return ops
        if command.update is not None or command.goto:
            # The command replaces the entry edges: only its goto runs next.
            start = dataclasses.replace(self.spec.start, edge_writes=(), branches=())
            task = Task(self, start, NULL_TASK_ID, (START,), (), None)
            self.process_output(task, Command(update=command.update, goto=command.goto))
            self.pending_writes = []
            self.apply_writes([task])
            self.step += 1
            ops = self.checkpoint_ops("input")
            self.emit_values()
        else:
            raise EmptyInputError("Command input needs resume=, update= or goto=")
        return ops

    def _stopped_at_breakpoint(self) -> bool:
        """Whether the thread stopped before work it still has (an ``interrupt_before`` or
        ``interrupt_after``), with no interrupt waiting for an answer."""
        return (
            self.checkpoint_id is not None
            and not any(w[1] == INTERRUPT for w in self.pending_writes)
            and bool(self.next_tasks(dry=True))
        )

    def _pending_interrupt_ids(self) -> list[str]:
        """Ids of the interrupts still waiting: those of tasks that have not finished since."""
        finished = {tid for tid, c, _ in self.pending_writes if c not in _SPECIAL_WRITES}
        return [
            i.id
            for tid, c, v in self.pending_writes
            if c == INTERRUPT and tid not in finished
            for i in v
            if isinstance(i, Interrupt)
        ]

    def _apply_null_writes(self, command: Command[Any]) -> None:
        """Apply a resuming command's update/goto to the channels, without a new checkpoint.

        The interrupted step resumes from the same checkpoint (its task and interrupt ids
        stay valid); the writes are saved with the step's pending writes, under the null
        task, and join the channels of the step's checkpoint.
        """
        start = dataclasses.replace(self.spec.start, edge_writes=(), branches=())
        task = Task(self, start, NULL_TASK_ID, (START,), (), None)
        self.process_output(task, Command(update=command.update, goto=command.goto))
        self.null_writes.extend(task.writes)
        self._apply_null(task.writes)

    def _apply_null(self, writes: list[tuple[str, Any]]) -> None:
        """Write ``writes`` into the channels; the next step's checkpoint saves what changed."""
        seen = self.seen
        task = Task(self, self.spec.start, NULL_TASK_ID, (START,), (), None)
        task.writes = writes
        self.apply_writes([task])
        self.seen = seen
        self.carried |= self.updated or set()
        self.updated = None  # plan every node: the interrupted tasks still wait

    def take_resume(self, task: Task) -> Any:
        """The resume value for the next interrupt of ``task``, consumed once."""
        if self.resume_map:
            interrupt_id = _interrupt_id(task, len(task.resume))
            return self.resume_map.pop(interrupt_id, MISSING)
        value = self.null_resume
        self.null_resume = MISSING
        return value

    # --- planning -------------------------------------------------------------

    def next_tasks(self, *, dry: bool = False) -> list[Task]:
        """The tasks of the next superstep, in the order their writes apply."""
        spec = self.spec
        channels = self.channels
        step = self.step + 1
        tasks: list[Task] = []
        if spec.start_step and channels[START].is_available():
            pull: tuple[str, Any] = (PULL, START)
            start = Task(self, spec.start, self._task_id(step, START, pull), pull, (START,), None)
            start.input = channels[START].get()
            tasks.append(start)
        sends = channels.get(TASKS)
        if sends is not None and sends.is_available():
            for i, packet in enumerate(sends.get()):
                node = spec.nodes[packet.node]
                timeout = getattr(packet, "timeout", None)
                if timeout is not None:
                    node = dataclasses.replace(node, timeout=timeout)
                # The id hashes (PUSH, i); the path ends with False, as LangGraph's: not a call.
                task_id = self._task_id(step, node.name, (PUSH, i))
                tasks.append(Task(self, node, task_id, (PUSH, i, False), (), packet.arg))
        if self.updated is None:
            candidates: Any = spec.nodes
        else:
            names: set[str] = set()
            index = spec.trigger_index
            for channel in self.updated:
                found = index.get(channel)
                if found:
                    names.update(found)
            names.update(spec.deferred)
            candidates = sorted(names, key=spec.node_order.__getitem__) if len(names) > 1 else names
        deferred: list[Task] = []
        sticky, seen, versions, anew = spec.sticky_nodes, self.seen, self.versions, triggered_anew
        for name in candidates:
            node = spec.nodes[name]
            triggered = [t for t in node.triggers if channels[t].is_available()]
            if not triggered or (name in sticky and not anew(seen.get(name), versions, triggered)):
                continue
            path = (PULL, name)
            task = Task(
                self,
                node,
                self._task_id(step, name, path),
                path,
                tuple(triggered),
                self.read_input(node),
            )
            (deferred if node.defer else tasks).append(task)
        if not tasks:
            tasks = deferred
        if not dry and tasks:
            if self.calls or self.call_counts:
                self.calls = []
                self.call_counts = {}
            if self.streamed:
                self.streamed.clear()
            self._attach_pending(tasks)
            if tasks[0].name == START and tasks[0].result is MISSING:
                self._run_start(tasks[0])
        return tasks

    def _run_start(self, task: Task) -> None:
        """START's writes: the input's state keys, its edges and what its branches choose."""
        start = self.spec.start
        task.writes = [*task.input.items(), *start.edge_writes]
        if start.branches:
            self.start_due = task  # the step script evaluates them (awaited when async)
        task.result = dict(task.input)

    def _task_id(self, step: int, name: str, path: tuple[Any, ...]) -> str:
        # A uuid-shaped id even without a saver, as LangGraph's: it shows in
        # subgraph namespaces, stream payloads and error notes. Without a saver a
        # per-run seed stands in for the checkpoint id, so two runs differ as there.
        if self.checkpoint_id is None and self.saver is None:
            self.checkpoint_id_seed = self.checkpoint_id_seed or str(uuid.uuid4())
            return task_id(self.checkpoint_id_seed, self.ns, step, name, path)
        return task_id(self.checkpoint_id or "", self.ns, step, name, path)

    def read_input(self, node: NodeSpec) -> Any:
        """The state a node sees: its input keys, coerced to its input type."""
        channels = self.channels
        state = {}
        for key in node.input_keys:
            channel = channels[key]
            if channel.is_available():
                state[key] = channel.get()
        if node.managed:
            step = self.step + 1  # the step these tasks run in
            for key, manager in node.managed:
                state[key] = managed_value(manager, step, self.stop)
        coerce = node.input_coerce
        return coerce(state) if coerce is not None else state

    def read_state(self, keys: tuple[str, ...] | None = None) -> dict[str, Any]:
        """Current values of ``keys`` (the state keys by default) that hold a value."""
        channels = self.channels
        out = {}
        for key in self.spec.state_keys if keys is None else keys:
            channel = channels[key]
            if channel.is_available():
                out[key] = channel.get()
        return out

    def _attach_pending(self, tasks: list[Task]) -> None:
        """Reuse the saved writes of tasks that finished before the step was interrupted."""
        if not self.pending_writes:
            return
        by_task: dict[str, list[tuple[str, Any]]] = {}
        for tid, channel, value in self.pending_writes:
            by_task.setdefault(tid, []).append((channel, value))
        for task in tasks:
            writes = by_task.get(task.id)
            if not writes:
                continue
            channels = {c for c, _ in writes}
            if RESUME in channels:
                for c, v in writes:
                    if c == RESUME:
                        task.resume = list(v)
            done = [(c, v) for c, v in writes if c not in _SPECIAL_WRITES]
            if not done and channels & {INTERRUPT, ERROR}:
                continue  # must run again
            # A task that finished after its interrupt was answered keeps its writes
            # (the interrupt record stays beside them, as LangGraph's savers keep it).
            task.writes = [w for w in done if w[0] != NO_WRITES]
            task.result = _updates_of(task.writes, self.spec.writable_keys)
            self.cached_tasks.add(task.id)  # streamed as a replayed result

    def should_interrupt_before(self, tasks: list[Task]) -> bool:
        """Whether a static ``interrupt_before`` stops the run before ``tasks`` run."""
        if self.skip_interrupt_before:
            self.skip_interrupt_before = False
            return False
        names = self.interrupt_before
        return bool(names) and any(
            t.name in names or ("*" in names and t.name != START) for t in tasks
        )

    def should_interrupt_after(self, tasks: list[Task]) -> bool:
        """Whether a static ``interrupt_after`` stops the run after ``tasks`` ran."""
        names = self.interrupt_after
        return bool(names) and any(
            t.name in names or ("*" in names and t.name != START) for t in tasks
        )

    def start_counting(self) -> None:
        """Fix the last step this run may plan: ``recursion_limit`` steps after its input checkpoint."""
        self.stop = self.step + self.recursion_limit + 2

    def out_of_steps(self) -> bool:
        """Whether the next step is past the recursion limit (checked before it is planned)."""
        return self.step + 1 > self.stop

    def recursion_error(self) -> GraphRecursionError:
        """The error a run past its recursion limit raises."""
        return GraphRecursionError(
            f"recursion limit of {self.recursion_limit} reached without hitting a stop "
            "condition; raise it with config={'recursion_limit': n}",
            limit=self.recursion_limit,
        )

    # --- task results (see _results) -------------------------------------------

    def process_output(self, task: Task, value: Any) -> list[BranchSpec]:
        """Turn a node's return value into writes; return the branches still to evaluate."""
        return _results.process_output(self, task, value)

    def fresh_state(self, task: Task, writes: list[tuple[str, Any]]) -> Any:
        """The state as ``task`` sees it after its own writes: what a branch decides on."""
        return _results.fresh_state(self, task, writes)

    def resolve_branch(self, source: str, branch: BranchSpec, result: Any) -> list[tuple[str, Any]]:
        """Writes that schedule what a branch's path function returned."""
        return _results.resolve_branch(self, source, branch, result)

    def eval_branches(
        self, task: Task, branches: tuple[BranchSpec, ...] | list[BranchSpec]
    ) -> list[tuple[str, Any]]:
        """Evaluate sync branches right away (the input step of a graph without a START step)."""
        from threadloom._engine._drivers import complete_sync
        from threadloom._engine._superstep import branch_script

        return complete_sync(branch_script(self, task, branches))

    # --- applying a step ------------------------------------------------------

    def next_version(self) -> Any:
        """The version every channel updated in this step gets."""
        saver = self.saver
        if saver is not None and type(saver).get_next_version is not _BASE_NEXT_VERSION:
            version = saver.get_next_version(self.max_version or None, None)
        else:
            current = self.max_version
            version = (
                current + 1 if isinstance(current, int) else int(str(current).split(".")[0]) + 1
            )
        self.max_version = version
        return version

    def apply_writes(self, tasks: list[Task]) -> None:
        """Apply the writes of a finished step, in task order, and bump versions."""
        channels = self.channels
        versions = self.versions
        version = self.next_version()
        updated: set[str] = set()
        if self.saver is not None:
            self.seen = seen_after(self.seen, tasks, versions, version, self.spec.sticky_nodes)
        pushed = False
        for task in tasks:
            for trigger in task.triggers:
                if channels[trigger].consume():
                    versions[trigger] = version
                    updated.add(trigger)
            if task.path and task.path[0] == PUSH:
                pushed = True
        if pushed and channels[TASKS].consume():
            versions[TASKS] = version
            updated.add(TASKS)
        written, changed = write_channels(channels, tasks)
        for key in changed:
            versions[key] = version
        updated |= changed
        for key in self.spec.ephemeral_keys:
            if key not in written and channels[key].update(()):
                versions[key] = version
                updated.add(key)
        if self.carried:
            updated |= self.carried
            self.carried = set()
        self.updated = updated


class _ChildInput:
    """The input of a subgraph called from a parent task (see :meth:`Run.apply_input`)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


def _ignore(_: Any) -> None:
    return None


def _names(value: Any) -> frozenset[str]:
    if value in (None, ()):
        return frozenset()
    if isinstance(value, str):
        return frozenset([value])
    return frozenset(value)


def _interrupt_id(task: Task, index: int) -> str:
    import hashlib

    return hashlib.md5(f"{task.id}:{index}".encode(), usedforsecurity=False).hexdigest()


def _updates_of(writes: list[tuple[str, Any]], keys: frozenset[str]) -> dict[str, Any] | None:
    out = {k: v for k, v in writes if k in keys}
    return out or None


def _base_next_version() -> Any:
    from threadloom.checkpoint.base import BaseCheckpointSaver

    return BaseCheckpointSaver.get_next_version


_BASE_NEXT_VERSION = _base_next_version()
