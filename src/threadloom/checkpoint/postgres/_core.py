"""The checkpointer logic both PostgreSQL savers share; each adds only how it runs a plan.

Concurrency rule (many hosts on one thread). A saver remembers, per thread and
namespace, the checkpoint it last saw as the thread's head (read as the latest
by ``get_tuple``/``peek_latest``, or written by its own ``put``). A ``put``
whose parent is that head must still extend the thread's latest checkpoint; if
another writer put a checkpoint in between, the put raises
:class:`~threadloom.errors.CheckpointConflictError`, writes nothing, and the
caller re-reads the thread and retries the turn. Writers of one thread are
serialized by a PostgreSQL advisory lock, so the check and the write are
atomic. A put on a checkpoint chosen explicitly (an older one: time travel, a
fork) is not checked: branches are allowed.

Turns are atomic with respect to other hosts: a turn's puts after the first
never conflict with a *new* turn, because a new turn (its ``input``
checkpoint) may not start on a checkpoint that another host wrote in the
middle of its own turn (an "open" checkpoint: more nodes of that turn are
still to run) within the last ``turn_timeout`` seconds. Such a put raises
:class:`~threadloom.errors.CheckpointConflictError` before writing anything,
so the caller simply retries the whole turn a moment later. A host that died
mid-turn blocks others for at most ``turn_timeout``.
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any, Literal, TypeVar

from langchain_core.runnables import RunnableConfig

from threadloom._postgres import Plan, migrate
from threadloom.checkpoint._common import (
    SaverOps,
    checkpoint_config,
    encode_writes,
    list_scope,
    writes_address,
)
from threadloom.checkpoint.base import (
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    encode_channels,
    encode_checkpoint,
    get_thread_address,
)
from threadloom.checkpoint.postgres._plans import (
    MIGRATIONS,
    NOT_TRACKED,
    delete_plan,
    metadata_json,
    peek_plan,
    prune_plan,
    put_plan,
    put_writes_plan,
    read_plan,
    vkey,
)

__all__ = ["PostgresSaverCore"]

T = TypeVar("T")

_MAX_TRACKED_THREADS = 10_000


def _turn_is_open(checkpoint: Checkpoint, metadata: dict[str, Any]) -> bool:
    """Whether nodes still run after this checkpoint within the same turn.

    An input checkpoint always precedes the nodes it triggers; a later one is
    open when its step left a value in a ``branch:to:<node>`` channel (the
    trigger naming LangGraph-compatible graphs use; a node consumes its trigger
    when it runs, so a finished turn holds none).
    """
    if metadata.get("source") == "input":
        return True
    return any(str(c).startswith("branch:to:") for c in checkpoint["channel_values"])


class PostgresSaverCore(SaverOps):
    """Every checkpointer operation, as a plan; subclasses define :meth:`_run` and :meth:`_arun`.

    ``put`` and ``aput`` raise :class:`~threadloom.errors.CheckpointConflictError`
    as the module docstring says.
    """

    def __init__(self, *, serde: Any = None, turn_timeout: float = 120.0) -> None:
        super().__init__(serde=serde)
        self.turn_timeout = turn_timeout
        self._writer = uuid.uuid4().hex
        self._heads: OrderedDict[tuple[str, str], str | None] = OrderedDict()
        self._heads_lock = threading.Lock()

    # --- how plans run (the subclass decides) ---

    def _run(self, plan: Plan[T]) -> T:
        raise NotImplementedError

    async def _arun(self, plan: Plan[T]) -> T:
        raise NotImplementedError

    def _call(self, op: Callable[..., Any], *args: Any) -> Any:
        return self._run(op(*args))

    async def _acall(self, op: Callable[..., Any], *args: Any) -> Any:
        return await self._arun(op(*args))

    # --- head tracking for the concurrency rule ---

    def _seen_head(self, thread_id: str, ns: str, checkpoint_id: str | None) -> None:
        with self._heads_lock:
            self._heads[(thread_id, ns)] = checkpoint_id
            self._heads.move_to_end((thread_id, ns))
            while len(self._heads) > _MAX_TRACKED_THREADS:
                self._heads.popitem(last=False)

    def _expected(self, thread_id: str, ns: str) -> Any:
        with self._heads_lock:
            return self._heads.get((thread_id, ns), NOT_TRACKED)

    # --- plans with their bookkeeping ---

    def _setup_plan(self) -> Plan[int]:
        return migrate("checkpoints", MIGRATIONS)

    def _get_tuple_op(self, config: RunnableConfig) -> Plan[CheckpointTuple | None]:
        thread_id, ns, checkpoint_id = get_thread_address(config)
        found = yield from read_plan(
            self.serde, thread_id=thread_id, ns=ns, checkpoint_id=checkpoint_id, limit=1
        )
        if checkpoint_id is None:
            self._seen_head(thread_id, ns, found[0].checkpoint["id"] if found else None)
        return found[0] if found else None

    def _list_op(
        self,
        config: RunnableConfig | None,
        filter: dict[str, Any] | None,
        before: RunnableConfig | None,
        limit: int | None,
    ) -> Plan[list[CheckpointTuple]]:
        if limit is not None and limit <= 0:
            return []
        scope = list_scope(config, before)
        found = yield from read_plan(
            self.serde,
            thread_id=scope.thread_id,
            ns=scope.ns,
            checkpoint_id=scope.checkpoint_id,
            filter=filter,
            before=scope.before_id,
            limit=limit,
        )
        return found

    def _peek_latest_op(self, config: RunnableConfig) -> Plan[tuple[str, bool] | None]:
        thread_id, ns, _ = get_thread_address(config)
        found = yield from peek_plan(thread_id, ns)
        self._seen_head(thread_id, ns, found[0] if found else None)
        return found

    def _put_op(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> Plan[RunnableConfig]:
        thread_id, ns, parent_id = get_thread_address(config)
        # Serialize everything first: a value that cannot be encoded writes nothing.
        blobs = encode_channels(self.serde, checkpoint, new_versions)
        header = encode_checkpoint(self.serde, checkpoint)
        meta = dict(metadata)
        versions = {channel: vkey(v) for channel, v in checkpoint["channel_versions"].items()}
        yield from put_plan(
            thread_id,
            ns,
            parent_id,
            checkpoint["id"],
            header,
            self.serde.dumps_typed(meta),
            metadata_json(self.serde, meta),
            blobs,
            versions,
            self._expected(thread_id, ns),
            writer=self._writer,
            open_turn=_turn_is_open(checkpoint, meta),
            starts_turn=meta.get("source") == "input",
            turn_timeout=self.turn_timeout,
        )
        self._seen_head(thread_id, ns, checkpoint["id"])
        return checkpoint_config(thread_id, ns, checkpoint["id"])

    def _put_writes_op(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str,
    ) -> Plan[None]:
        thread_id, ns, checkpoint_id = writes_address(config)
        rows = encode_writes(self.serde, writes)
        return put_writes_plan(thread_id, ns, checkpoint_id, task_id, task_path, rows)

    def _delete_thread_op(self, thread_id: str) -> Plan[None]:
        return delete_plan([str(thread_id)])

    # --- what only PostgreSQL offers (the rest of the API comes from SaverOps) ---

    def setup(self) -> None:
        """Create or upgrade the tables; idempotent and safe when many hosts call it."""
        self._run(self._setup_plan())

    async def asetup(self) -> None:
        """Async twin of :meth:`setup`."""
        await self._arun(self._setup_plan())

    def prune(
        self,
        thread_ids: Sequence[str],
        *,
        strategy: Literal["keep_latest", "delete"] = "keep_latest",
    ) -> None:
        """Drop old checkpoints: keep each namespace's latest (with what it reads), or delete all."""
        self._run(self._prune_plan(thread_ids, strategy))

    async def aprune(
        self,
        thread_ids: Sequence[str],
        *,
        strategy: Literal["keep_latest", "delete"] = "keep_latest",
    ) -> None:
        """Async twin of :meth:`prune`."""
        await self._arun(self._prune_plan(thread_ids, strategy))

    @staticmethod
    def _prune_plan(thread_ids: Sequence[str], strategy: str) -> Plan[None]:
        if isinstance(thread_ids, str):
            raise TypeError("prune() takes a list of thread ids, not one string")
        ids = [str(t) for t in thread_ids]
        if strategy == "keep_latest":
            return prune_plan(ids)
        if strategy == "delete":
            return delete_plan(ids)
        raise ValueError(f"Unknown prune strategy {strategy!r}: use 'keep_latest' or 'delete'")
