"""``AsyncBatchedBaseStore``: concurrent async calls gathered into one ``abatch``."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable
from typing import Any

import pytest

from threadloom.errors import InvalidNamespaceError
from threadloom.store.base import GetOp, Op, PutOp, Result, SearchOp
from threadloom.store.base.batch import AsyncBatchedBaseStore
from threadloom.store.memory import InMemoryStore


class Recording(AsyncBatchedBaseStore):
    """Executes on an in-memory store and records each batch it is given."""

    def __init__(self, fail: BaseException | None = None) -> None:
        super().__init__()
        self.backend = InMemoryStore()
        self.batches: list[list[Op]] = []
        self.fail = fail

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        ops = list(ops)
        self.batches.append(ops)
        if self.fail is not None:
            raise self.fail
        return await self.backend.abatch(ops)


async def test_calls_made_in_one_turn_share_one_batch_in_order() -> None:
    store = Recording()
    await asyncio.gather(*(store.aput(("docs",), str(i), {"n": i}) for i in range(5)))
    assert len(store.batches) == 1
    assert [op.key for op in store.batches[0]] == ["0", "1", "2", "3", "4"]
    got = await asyncio.gather(store.aget(("docs",), "3"), store.asearch(("docs",), limit=2))
    assert got[0] is not None and got[0].value == {"n": 3}
    assert len(got[1]) == 2
    assert len(store.batches) == 2


async def test_repeated_reads_run_once_but_never_across_a_write() -> None:
    store = Recording()
    await store.aput(("docs",), "a", {"v": 1})
    store.batches.clear()
    first, second, _, third = await asyncio.gather(
        store.aget(("docs",), "a"),
        store.aget(("docs",), "a"),
        store.aput(("docs",), "a", {"v": 2}),
        store.aget(("docs",), "a"),
    )
    assert [type(op) for op in store.batches[0]] == [GetOp, PutOp, GetOp]
    assert first is not None and second is not None and third is not None
    assert (first.value, second.value, third.value) == ({"v": 1}, {"v": 1}, {"v": 2})


async def test_two_puts_to_one_address_run_as_the_last_unless_a_read_is_between() -> None:
    store = Recording()
    await asyncio.gather(store.aput(("docs",), "a", {"v": 1}), store.aput(("docs",), "a", {"v": 2}))
    assert store.batches[-1] == [PutOp(("docs",), "a", {"v": 2})]
    _, seen, _ = await asyncio.gather(
        store.aput(("docs",), "a", {"v": 3}),
        store.aget(("docs",), "a"),
        store.aput(("docs",), "a", {"v": 4}),
    )
    assert len(store.batches[-1]) == 3
    assert seen is not None and seen.value == {"v": 3}
    final = await store.aget(("docs",), "a")
    assert final is not None and final.value == {"v": 4}


async def test_identical_searches_with_filters_are_deduplicated() -> None:
    store = Recording()
    await store.aput(("docs",), "a", {"kind": "x"})
    store.batches.clear()
    results = await asyncio.gather(
        *(store.asearch(("docs",), filter={"kind": "x"}) for _ in range(3))
    )
    assert [type(op) for op in store.batches[0]] == [SearchOp]
    assert [[item.key for item in found] for found in results] == [["a"]] * 3


async def test_a_bad_call_fails_alone() -> None:
    """Arguments are checked when each call is made: the other calls of the turn run."""
    store = Recording()
    good = asyncio.ensure_future(store.aput(("docs",), "ok", {"v": 1}))
    with pytest.raises(InvalidNamespaceError):
        await store.aput(("",), "bad", {"v": 1})
    await good
    assert await store.aget(("docs",), "ok") is not None


async def test_a_failing_batch_fails_each_of_its_calls() -> None:
    store = Recording(fail=ConnectionError("server gone"))
    outcomes = await asyncio.gather(
        store.aget(("docs",), "a"), store.aput(("docs",), "b", {"v": 1}), return_exceptions=True
    )
    assert [type(o) for o in outcomes] == [ConnectionError, ConnectionError]


async def test_a_cancelled_caller_leaves_the_others_their_results() -> None:
    store = Recording()
    await store.aput(("docs",), "a", {"v": 1})
    cancelled = asyncio.ensure_future(store.aget(("docs",), "a"))
    kept = asyncio.ensure_future(store.aget(("docs",), "a"))
    await asyncio.sleep(0)
    cancelled.cancel()
    item = await kept
    assert item is not None and item.value == {"v": 1}
    assert cancelled.cancelled()


async def test_sync_methods_work_from_another_thread_and_refuse_the_loop_thread() -> None:
    store = Recording()
    await store.aput(("docs",), "a", {"v": 1})
    found: list[Any] = []
    worker = threading.Thread(target=lambda: found.append(store.get(("docs",), "a")))
    worker.start()
    while worker.is_alive():
        await asyncio.sleep(0.01)
    assert found[0] is not None and found[0].value == {"v": 1}
    with pytest.raises(RuntimeError, match="cannot run inside its event loop"):
        store.get(("docs",), "a")


def test_it_must_be_created_inside_a_running_loop() -> None:
    with pytest.raises(RuntimeError, match="inside a running event loop"):
        Recording()


def test_it_refuses_a_call_from_another_event_loop() -> None:
    async def make() -> Recording:
        return Recording()

    store = asyncio.run(make())
    with pytest.raises(RuntimeError, match="belongs to the event loop"):
        asyncio.run(store.aget(("docs",), "a"))
