"""The checkpointer logic both PostgreSQL savers share; each adds only how it runs a plan.

Concurrency rule (many hosts on one thread): the rule every saver follows,
written once in :mod:`threadloom.checkpoint._common`. Here, writers of one
thread are serialized by a PostgreSQL advisory lock, so the check and the
write are atomic, and "when" is the server's clock.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal, TypeVar

from langchain_core.runnables import RunnableConfig

from threadloom._postgres import Plan, migrate
from threadloom.checkpoint._common import (
    PutGuard,
    SaverOps,
    checkpoint_config,
    encode_metadata,
    encode_writes,
    list_scope,
    thread_key,
    writes_address,
)
from threadloom.checkpoint.base import (
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    TaskWrites,
    encode_channels,
    encode_checkpoint,
    get_thread_address,
)
from threadloom.checkpoint.postgres._plans import (
    MIGRATIONS,
    delete_plan,
    metadata_json,
    peek_plan,
    prune_plan,
    put_plan,
    put_writes_plan,
    read_plan,
    release_turn_plan,
    vkey,
)

__all__ = ["PostgresSaverCore"]

T = TypeVar("T")

class PostgresSaverCore(SaverOps):
    """Every checkpointer operation, as a plan; subclasses define :meth:`_run` and :meth:`_arun`.

    ``put`` and ``aput`` raise :class:`~threadloom.errors.CheckpointConflictError`
    as :mod:`threadloom.checkpoint._common` says.
    """

    def __init__(self, *, serde: Any = None, turn_timeout: float = 120.0) -> None:
        super().__init__(serde=serde, turn_timeout=turn_timeout)

    # --- how plans run (the subclass decides) ---

    def _run(self, plan: Plan[T]) -> T:
        raise NotImplementedError

    async def _arun(self, plan: Plan[T]) -> T:
        raise NotImplementedError

    def _call(self, op: Callable[..., Any], *args: Any) -> Any:
        return self._run(op(*args))

    async def _acall(self, op: Callable[..., Any], *args: Any) -> Any:
        return await self._arun(op(*args))

    # --- plans with their bookkeeping ---

    def _setup_plan(self) -> Plan[int]:
        return migrate("checkpoints", MIGRATIONS)

    def _get_tuple_op(self, config: RunnableConfig) -> Plan[CheckpointTuple | None]:
        thread_id, ns, checkpoint_id = get_thread_address(config)
        found = yield from read_plan(
            self.serde,
            get_next_version=self.get_next_version,
            thread_id=thread_id,
            ns=ns,
            checkpoint_id=checkpoint_id,
            limit=1,
        )
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
            get_next_version=self.get_next_version,
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
        return found

    def _put_op(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
        guard: PutGuard,
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
            encode_metadata(self.serde, meta),
            metadata_json(self.serde, meta),
            blobs,
            versions,
            guard,
        )
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

    def _put_step_op(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
        guard: PutGuard,
        task_writes: list[TaskWrites],
    ) -> Plan[RunnableConfig]:
        # One plan, one transaction: a put the concurrency rule refuses stores no writes.
        stored = yield from self._put_op(config, checkpoint, metadata, new_versions, guard)
        for task_id, task_path, writes in task_writes:
            yield from self._put_writes_op(config, writes, task_id, task_path)
        return stored

    def _release_turn_op(self, thread_id: str, ns: str, checkpoint_id: str, writer: str) -> Plan[None]:
        return release_turn_plan(thread_id, ns, checkpoint_id, writer)

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
        ids = [thread_key(t) for t in thread_ids]
        if strategy == "keep_latest":
            return prune_plan(ids)
        if strategy == "delete":
            return delete_plan(ids)
        raise ValueError(f"Unknown prune strategy {strategy!r}: use 'keep_latest' or 'delete'")
