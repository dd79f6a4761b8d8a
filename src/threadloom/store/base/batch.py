"""``AsyncBatchedBaseStore``: an async backend whose concurrent calls share one ``abatch``.

A backend that talks to a server pays a round trip per call. Subclass
:class:`AsyncBatchedBaseStore` and implement only :meth:`~BaseStore.abatch`:
the async conveniences (``aget``, ``aput``, ``asearch``, ...) called during one
turn of the event loop, for instance under ``asyncio.gather``, are gathered
into one ``abatch`` call, in the order they were made. The sync methods run the
async ones on the store's event loop from another thread.

Example::

    import asyncio
    from threadloom.store.base.batch import AsyncBatchedBaseStore
    from threadloom.store.memory import InMemoryStore

    class Remote(AsyncBatchedBaseStore):
        def __init__(self) -> None:
            super().__init__()
            self.backend = InMemoryStore()  # stands in for a server
            self.calls = 0

        async def abatch(self, ops):
            self.calls += 1
            return await self.backend.abatch(ops)

    async def main() -> None:
        store = Remote()
        await asyncio.gather(*(store.aput(("docs",), str(i), {"n": i}) for i in range(3)))
        assert store.calls == 1
        assert (await store.aget(("docs",), "2")).value == {"n": 2}

    asyncio.run(main())
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from threadloom.store._ops import GetOp, ListNamespacesOp, Op, PutOp, Result, SearchOp
from threadloom.store._validate import validate_ops
from threadloom.store.base._store import BaseStore

__all__ = ["AsyncBatchedBaseStore"]

_READS = (GetOp, SearchOp, ListNamespacesOp)


class AsyncBatchedBaseStore(BaseStore):
    """Base of an async store whose concurrent calls are executed together.

    Create it inside a running event loop: it belongs to that loop. Each
    operation is validated when it is made, so a bad argument fails only its
    own call; an error of ``abatch`` itself fails every call of that batch.
    Identical reads between two writes run once, and of two puts to one address
    with no read between them only the second runs; nothing else is merged or
    reordered.
    """

    __slots__ = ("_flushing", "_loop", "_queued")

    def __init__(self) -> None:
        try:
            self._loop = asyncio.get_running_loop()
        except RuntimeError:
            raise RuntimeError(
                f"{type(self).__name__} must be created inside a running event loop "
                "(it batches the calls made on that loop)"
            ) from None
        self._queued: list[tuple[asyncio.Future[Result], Op]] = []
        self._flushing: set[asyncio.Task[None]] = set()  # strong references until done

    async def _arun(self, op: Op) -> Result:
        if asyncio.get_running_loop() is not self._loop:
            raise RuntimeError(
                f"{type(self).__name__} belongs to the event loop it was created in; "
                "create one store per event loop"
            )
        (checked,) = validate_ops([op])
        future: asyncio.Future[Result] = self._loop.create_future()
        self._queued.append((future, checked))
        if len(self._queued) == 1:  # the first call of this turn: flush once the turn is over
            self._loop.call_soon(self._flush)
        return await future

    def _flush(self) -> None:
        queued, self._queued = self._queued, []
        live = [(future, op) for future, op in queued if not future.done()]
        if live:
            task = self._loop.create_task(self._execute(live))
            self._flushing.add(task)
            task.add_done_callback(self._flushing.discard)

    async def _execute(self, queued: list[tuple[asyncio.Future[Result], Op]]) -> None:
        positions, ops = _merged([op for _, op in queued])
        try:
            results = await self.abatch(ops)
        except Exception as exc:
            for future, _ in queued:
                if not future.done():
                    future.set_exception(exc)
            return
        for (future, _), position in zip(queued, positions, strict=True):
            if not future.done():  # its caller may have been cancelled meanwhile
                future.set_result(results[position])

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        """Run :meth:`abatch` on the store's event loop, from a thread other than the loop's."""
        ops = list(ops)
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            raise RuntimeError(
                f"{type(self).__name__}'s sync methods cannot run inside its event loop "
                "(they would wait for it forever); use the async ones (aget, aput, asearch, ...)"
            )
        if self._loop.is_closed() or not self._loop.is_running():
            raise RuntimeError(
                f"{type(self).__name__}'s sync methods need its event loop running in another thread"
            )
        return asyncio.run_coroutine_threadsafe(self.abatch(ops), self._loop).result()


def _merged(ops: list[Op]) -> tuple[list[int], list[Op]]:
    """The ops to run, and for each op given the position of the op whose result it gets.

    A read repeating one made since the last write is dropped (it gets that one's
    result); a put to an address that a put since the last read wrote replaces
    that put. Nothing moves across a read or a write that could see the difference.
    """
    unique: list[Op] = []
    positions: list[int] = []
    reads: list[tuple[Op, int]] = []  # since the last write
    puts: dict[tuple[tuple[str, ...], str], int] = {}  # since the last read
    for op in ops:
        if isinstance(op, _READS):
            same = next((at for seen, at in reads if seen == op), None)
            if same is not None:
                positions.append(same)
                continue
            reads.append((op, len(unique)))
            puts = {}
        elif type(op) is PutOp:
            reads = []
            address = (op.namespace, op.key)
            earlier = puts.get(address)
            if earlier is not None:
                unique[earlier] = op
                positions.append(earlier)
                continue
            puts[address] = len(unique)
        else:
            reads, puts = [], {}
        positions.append(len(unique))
        unique.append(op)
    return positions, unique
