"""What a run saves and keeps: the ``Run`` methods that build checkpoints and pending writes.

Kept apart from :mod:`threadloom._engine._run` (the rules of a step);
:class:`~threadloom._engine._run.Run` inherits these. Each method returns the
saver calls as operations for the driver to perform.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from threadloom._engine._checkpoint import ThreadState, new_checkpoint_id, now_iso
from threadloom._engine._constants import (
    ERROR,
    INTERRUPT,
    MISSING,
    NO_WRITES,
    NULL_TASK_ID,
    RESUME,
    RETURN,
    TASKS,
)
from threadloom.checkpoint.base import get_checkpoint_metadata
from threadloom.checkpoint.base._core import FORMAT_VERSION
from threadloom.types import Send

if TYPE_CHECKING:
    from threadloom._engine._context import Task
    from threadloom._engine._spec import GraphSpec
    from threadloom.channels.base import BaseChannel

__all__ = ["Op", "RunSaving"]

Op = tuple[str, tuple[Any, ...]]
"""A checkpointer call for the driver: ``("put", args)`` or ``("put_writes", args)``."""

class RunSaving:
    """Checkpoints, pending writes and kept channels of a run (mixed into ``Run``, which sets
    these attributes)."""

    saver: Any
    spec: GraphSpec
    parent: Task | None
    config: dict[str, Any]
    configurable: dict[str, Any]
    thread_id: Any
    ns: str
    step: int
    channels: dict[str, BaseChannel]
    versions: dict[str, Any]
    seen: dict[str, dict[str, Any]]
    updated: set[str] | None
    checkpoint_id: str | None
    checkpoint_config: dict[str, Any] | None
    max_version: Any
    parent_config: dict[str, Any] | None
    metadata: dict[str, Any]
    created_at: str
    pending_writes: list[tuple[str, str, Any]]
    null_writes: list[tuple[str, Any]]
    deferred: list[Op] | None
    calls: list[Task]
    _saved_delta: list[str]
    _unsaved: set[str]
    _extra_metadata: dict[str, Any] | None
    cached_tasks: set[str]
    saved_tasks: set[str]
    durability: str

    def load_fresh(self) -> None:
        """Start a thread that has no checkpoint."""
        self.channels = self.spec.new_channels()
        if self.saver is not None:
            for key in self.spec.delta_keys:
                self.channels[key].track_delta = True  # type: ignore[attr-defined]

    def load_cached(self, state: ThreadState) -> None:
        """Continue from channels kept in memory after the previous run."""
        self.channels = state.channels
        self.versions = state.versions
        self.seen = state.seen
        self.step = state.step
        self.max_version = state.max_version
        self.checkpoint_id = state.checkpoint_id
        self.checkpoint_config = state.config
        self.parent_config = state.parent_config
        self.metadata = state.metadata
        self.created_at = state.created_at

    def thread_state(self) -> ThreadState:
        """What the cache keeps of this run once it has ended cleanly."""
        assert self.checkpoint_id is not None
        return ThreadState(
            checkpoint_id=self.checkpoint_id,
            config=self.checkpoint_config,
            parent_config=self.parent_config,
            metadata=self.metadata,
            created_at=self.created_at,
            channels=self.channels,
            versions=self.versions,
            seen=self.seen,
            step=self.step,
            max_version=self.max_version,
        )

    def checkpoint_ops(self, source: str, tasks: list[Task] | None = None) -> list[Op]:
        """The ``put`` of the checkpoint for the current state (nothing without a saver).

        With the ``tasks`` of the step that made this state, their writes are stored
        against the checkpoint the step started from, in the same saver call
        (``put_step``): the thread's history shows what each task wrote.
        """
        saver = self.saver
        if saver is None:
            return []
        updated = self.updated or set()
        # Savers store only the channels in new_versions; the others keep their stored version.
        values: dict[str, Any] = {}
        delta_keys = self.spec.delta_keys
        channels = self.channels
        for key in updated:
            channel = channels[key]
            if key in delta_keys:
                values[key] = channel.checkpoint_delta()  # type: ignore[attr-defined]
                continue
            value = channel.checkpoint()
            if value is not MISSING:
                values[key] = value
        checkpoint_id = new_checkpoint_id()
        ts = now_iso()
        checkpoint = {
            # Format 4: savers never look for LangGraph's older pending sends (needs_sends).
            "v": FORMAT_VERSION,
            "id": checkpoint_id,
            "ts": ts,
            "channel_values": values,
            "channel_versions": dict(self.versions),
            "versions_seen": self.seen,
            "updated_channels": sorted(updated),
        }
        parents: dict[str, Any] = {}
        if self.parent is not None:
            prun = self.parent.run
            if prun.checkpoint_id:  # every graph above, at the time (LangGraph's checkpoint_map)
                parents = {**prun.metadata.get("parents", {}), prun.ns: prun.checkpoint_id}
        elif self.ns:  # a subgraph updated through its config keeps its parents
            parents = dict(self.metadata.get("parents") or {})
        metadata = {"source": source, "step": self.step, "parents": parents}
        for key, value in self._metadata_extra().items():
            metadata.setdefault(key, value)
        conf: dict[str, Any] = {"thread_id": self.thread_id, "checkpoint_ns": self.ns}
        if self.checkpoint_id is not None:
            conf["checkpoint_id"] = self.checkpoint_id
        new_versions = {k: self.versions[k] for k in updated if k in self.versions}
        self.parent_config = self.checkpoint_config
        self.checkpoint_id = checkpoint_id
        self.metadata = metadata
        self.created_at = ts
        self.pending_writes = []
        self.null_writes = []
        self._saved_delta = [k for k in delta_keys if k in updated]
        args = ({"configurable": conf}, checkpoint, metadata, new_versions)
        task_writes = self._step_writes(tasks) if tasks and conf.get("checkpoint_id") else None
        if task_writes:
            return [("put_step", (*args, task_writes))]
        return [("put", args)]

    def _kept(self, writes: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
        """``writes`` as saved: those to untracked channels are never stored."""
        untracked = self.spec.untracked_keys
        if not untracked:
            return list(writes)
        return [
            (c, without_untracked(v, untracked) if c == TASKS else v)
            for c, v in writes
            if c not in untracked
        ]

    def _step_writes(self, tasks: list[Task]) -> list[tuple[str, str, list[tuple[str, Any]]]]:
        """What each task of a completed step wrote, as LangGraph records it: a task that
        wrote nothing gets a ``NO_WRITES`` marker (it finished), a resumed one its answers.
        Writes saved before (a resumed step's finished tasks) and cached results are left out."""
        skip = self.cached_tasks | self.saved_tasks if self.saved_tasks else self.cached_tasks
        self.saved_tasks = set()
        out = []
        for task in tasks:
            if task.id in skip:
                continue
            writes = self._kept(task.writes) or [(NO_WRITES, None)]
            if task.resume:
                writes.append((RESUME, list(task.resume)))
            out.append((task.id, _path_str(task.path), writes))
        for call in self.calls:
            if call.id in skip:
                continue
            out.append((call.id, _path_str(call.path), self._call_writes(call)))
        return out

    def call_ops(self, call: Task) -> list[Op]:
        """Under ``durability="sync"``, a ``@task`` call's result, saved as soon as the call
        returns (a crash later in its step does not run it again)."""
        if self.durability != "sync" or self.saver is None or self.checkpoint_config is None:
            return []
        self.saved_tasks.add(call.id)
        writes = self._call_writes(call)
        return [("put_writes", (self.checkpoint_config, writes, call.id, _path_str(call.path)))]

    @staticmethod
    def _call_writes(call: Task) -> list[tuple[str, Any]]:
        writes: list[tuple[str, Any]] = [(RETURN, call.result)]
        if call.resume:
            writes.append((RESUME, list(call.resume)))
        return writes

    def keep_back(self, ops: list[Op]) -> None:
        """Hold a step's checkpoint instead of saving it (``durability="exit"``)."""
        if not ops:
            return
        self._unsaved |= self.updated or set()
        if self.deferred is None:
            self.deferred = ops  # its config's parent is the thread's saved head
        else:
            self.deferred = [(ops[0][0], (self.deferred[0][1][0], *ops[0][1][1:]))]
        self._saved_delta = []

    def release(self) -> list[Op]:
        """The one checkpoint to save for the steps held back: the current state, full values."""
        deferred = self.deferred
        if deferred is None:
            return []
        self.deferred = None
        config, checkpoint, metadata, _ = deferred[0][1]
        keys, self._unsaved = self._unsaved, set()
        values = {}
        for key in keys:
            value = self.channels[key].checkpoint()
            if value is not MISSING:
                values[key] = value
        checkpoint = {**checkpoint, "channel_values": values, "updated_channels": sorted(keys)}
        new_versions = {k: self.versions[k] for k in keys if k in self.versions}
        self._saved_delta = [k for k in self.spec.delta_keys if k in keys]
        return [("put", (config, checkpoint, metadata, new_versions))]

    def _metadata_extra(self) -> dict[str, Any]:
        """Caller metadata and plain ``configurable`` values, kept on each checkpoint for filtering."""
        extra = self._extra_metadata
        if extra is None:
            caller = {"metadata": self.config.get("metadata") or {}, "configurable": self.configurable}
            extra = get_checkpoint_metadata(caller, {})  # type: ignore[arg-type]
            self._extra_metadata = extra
        return extra

    def on_saved(self, config: dict[str, Any]) -> None:
        """Record the config the saver returned for the checkpoint just stored."""
        self.checkpoint_config = config
        for key in self._saved_delta:
            self.channels[key].mark_saved(self.versions[key])  # type: ignore[attr-defined]
        self._saved_delta = []

    def finished_ops(self, task: Task) -> list[Op]:
        """Under ``durability="sync"``, the writes of a task of a step with several, saved
        as soon as it finishes (a crash later in the step does not run it again)."""
        if self.durability != "sync" or self.saver is None or self.checkpoint_config is None:
            return []
        if task.id in self.cached_tasks or not task.finished:
            return []
        self.saved_tasks.add(task.id)
        writes = self._outcome_writes(task)
        return [("put_writes", (self.checkpoint_config, writes, task.id, _path_str(task.path)))]

    def _outcome_writes(self, task: Task) -> list[tuple[str, Any]]:
        """What a task's outcome saves as pending writes: its error, its interrupt, or its writes."""
        if task.error is not None:
            return [(ERROR, repr(task.error))]
        if task.paused:
            writes = [(INTERRUPT, list(task.interrupts))]
            if task.resume:
                writes.insert(0, (RESUME, list(task.resume)))
            return writes
        writes = self._kept(task.writes) or [(NO_WRITES, None)]
        if task.resume:
            writes.append((RESUME, list(task.resume)))
        return writes

    def failure_ops(self, tasks: list[Task]) -> list[Op]:
        """Pending writes to save when a step did not complete (a failure or an interrupt)."""
        if self.saver is None or self.checkpoint_config is None:
            return []
        config = self.checkpoint_config
        ops: list[Op] = []
        if self.null_writes:
            ops.append(("put_writes", (config, list(self.null_writes), NULL_TASK_ID, "")))
        for task in tasks:
            writes = self._outcome_writes(task)
            ops.append(("put_writes", (config, writes, task.id, _path_str(task.path))))
        for call in self.calls:
            if call.id in self.saved_tasks:
                continue
            writes = [(RESUME, list(call.resume))] if call.resume else []
            if not call.paused:
                writes.append((RETURN, call.result))
            if writes:
                ops.append(("put_writes", (config, writes, call.id, _path_str(call.path))))
        self.calls = []
        return ops


def without_untracked(packet: Any, keys: frozenset[str]) -> Any:
    """A ``Send`` whose state holds untracked keys, rebuilt without them; other values as they are.

    A node that fans out with ``Send("worker", state)`` hands the worker live
    values, but what is saved (to resume later) must not hold them.
    """
    if not isinstance(packet, Send) or not isinstance(packet.arg, dict):
        return packet
    if not any(k in packet.arg for k in keys):
        return packet
    arg = {k: v for k, v in packet.arg.items() if k not in keys}
    return Send(packet.node, arg, timeout=packet.timeout)


def _path_str(path: tuple[Any, ...]) -> str:
    return "|".join(map(str, path))
