"""The conformance cases of the rule that two writers never both extend one thread.

Mixed into :class:`threadloom.testing.checkpoint.CheckpointerConformance`; the
rule itself is described in :mod:`threadloom.checkpoint._common`. A *writer*
is a thread (sync methods) or an asyncio task (async methods): each of them
reads the head, computes a step and puts it. Savers shared by several
processes also run :class:`SharedConcurrencyCases`, which races writers in
other processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import multiprocessing
import random
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, TypeVar

import pytest
from langchain_core.runnables import RunnableConfig

from threadloom.checkpoint._common import SaverOps
from threadloom.checkpoint.base import INTERRUPT, CheckpointTuple, DeltaValue
from threadloom.errors import CheckpointConflictError, ConnectionLostError, DatabaseError
from threadloom.testing._saver_driver import SaverDriver, make_checkpoint, thread

__all__ = ["ConcurrencyCases", "SaverOpener", "SharedConcurrencyCases", "items_at_head", "run_turns"]

T = TypeVar("T")

#: What a backend's ``saver_opener`` fixture returns: a picklable callable that opens
#: another saver on the same storage, as a (sync or async) context manager.
SaverOpener = Callable[[], Any]


def items_at_head(found: CheckpointTuple | None, channel: str = "items") -> list[Any]:
    """A list channel of a checkpoint (``items`` by default); savers join delta chains."""
    assert found is not None
    return list(found.checkpoint["channel_values"].get(channel, []))


async def _turn(api: SaverDriver, thread_id: str, item: Any, pause: Callable[[], Awaitable[None]] | None) -> RunnableConfig:
    """One turn: read the head, append ``item`` as a delta, put the new checkpoint."""
    latest = await api.get_tuple(thread(thread_id))
    config = latest.config if latest else thread(thread_id)
    old = latest.checkpoint["channel_versions"].get("items") if latest else None
    new = api.next_version(old)
    value: Any = DeltaValue(old, ([item],)) if old is not None else [item]
    if pause is not None:
        await pause()  # let another writer move the head in between
    return await api.put(config, make_checkpoint({"items": value}, {"items": new}), {"source": "loop", "step": 0}, {"items": new})


async def run_turns(
    api: SaverDriver, thread_id: str, name: str, turns: int, pause: Callable[[], Awaitable[None]] | None = None
) -> int:
    """``turns`` turns, each retried on :class:`CheckpointConflictError` until it lands; returns the conflicts."""
    conflicts = 0
    for n in range(turns):
        while True:
            try:
                await _turn(api, thread_id, f"{name}-{n}", pause)
                break
            except CheckpointConflictError:
                conflicts += 1
    return conflicts


class _Writer:
    """One asyncio task that runs the calls handed to it, in order: one writer, as the rule sees it."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[tuple[Callable[[], Awaitable[Any]], asyncio.Future[Any]]] = asyncio.Queue()
        self._task = asyncio.create_task(self._serve())

    async def _serve(self) -> None:
        while True:
            call, done = await self._queue.get()
            try:
                done.set_result(await call())
            except BaseException as error:  # handed back to the caller
                done.set_exception(error)

    async def __call__(self, call: Callable[[], Awaitable[T]]) -> T:
        done: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        await self._queue.put((call, done))
        return await done

    def close(self) -> None:
        self._task.cancel()


@contextlib.asynccontextmanager
async def _two_writers() -> AsyncIterator[tuple[_Writer, _Writer]]:
    a, b = _Writer(), _Writer()
    try:
        yield a, b
    finally:
        a.close()
        b.close()


async def _assert_one_line(api: SaverDriver, thread_id: str, expected_items: list[str]) -> None:
    """The thread holds every item once, and its history is one line (each parent is the previous one)."""
    assert sorted(items_at_head(await api.get_tuple(thread(thread_id)))) == sorted(expected_items)
    history = await api.list(thread(thread_id))
    assert len(history) == len(expected_items)
    for newer, older in itertools.pairwise(history):
        assert newer.parent_config is not None
        assert newer.parent_config["configurable"]["checkpoint_id"] == older.checkpoint["id"]


def _put_step(api: SaverDriver, config: RunnableConfig, source: str, values: dict[str, Any]) -> Awaitable[RunnableConfig]:
    versions = {k: api.next_version(None) for k in values}
    return api.put(config, make_checkpoint(values, versions), {"source": source, "step": 0}, versions)


async def _a_opens_a_turn(api: SaverDriver, a: _Writer, b: _Writer) -> RunnableConfig:
    """Writer ``a`` starts a turn on thread "t" (an open input checkpoint); ``b`` then reads the thread."""
    await a(lambda: api.get_tuple(thread("t")))
    opened = await a(lambda: _put_step(api, thread("t"), "input", {"items": ["q"], "branch:to:model": None}))
    await b(lambda: api.get_tuple(thread("t")))
    return opened


@contextlib.contextmanager
def _out_of_reach(saver: Any, op_name: str, *, after: bool = False) -> Iterator[None]:
    """The saver's ``op_name`` fails as it does when the database cannot be reached.

    Without ``after``: before the operation runs (``DatabaseError``, nothing done: a server
    restart, a lost connection, a full disk). With ``after``: once it ran and committed, the
    answer is lost (``ConnectionLostError``, ``committed=None``: the connection dropped
    during COMMIT). Only savers built on :class:`SaverOps` can be made to fail this way.
    """
    if not isinstance(saver, SaverOps):
        pytest.skip("the fault is injected into SaverOps operations; this saver has none")
    real_call, real_acall = saver._call, saver._acall

    def fault() -> DatabaseError:
        if after:
            return ConnectionLostError("(injected) connection lost during COMMIT", committed=None)
        return DatabaseError("(injected) the database cannot be reached")

    def call(op: Callable[..., Any], *args: Any) -> Any:
        if getattr(op, "__name__", None) != op_name:
            return real_call(op, *args)
        if after:
            real_call(op, *args)
        raise fault()

    async def acall(op: Callable[..., Any], *args: Any) -> Any:
        if getattr(op, "__name__", None) != op_name:
            return await real_acall(op, *args)
        if after:
            await real_acall(op, *args)
        raise fault()

    saver._call, saver._acall = call, acall  # type: ignore[method-assign]
    try:
        yield
    finally:
        del saver._call, saver._acall  # the class's own methods again


class ConcurrencyCases:
    """Two writers on one thread: the second to put on a stale head is refused; nothing is lost."""

    async def test_a_put_on_a_stale_head_is_refused_and_writes_nothing(self, api: SaverDriver) -> None:
        """Two writers read the same head; the second to put gets CheckpointConflictError and writes
        nothing; its retry (read again, put again) lands."""
        await run_turns(api, "t", "first", 1)
        async with _two_writers() as (a, b):
            head_a = await a(lambda: api.get_tuple(thread("t")))
            head_b = await b(lambda: api.get_tuple(thread("t")))
            assert head_a is not None and head_b is not None
            v = head_a.checkpoint["channel_versions"]["items"]
            ours = make_checkpoint({"items": DeltaValue(v, (["a"],))}, {"items": api.next_version(v)})
            await a(lambda: api.put(head_a.config, ours))
            stale = make_checkpoint({"items": DeltaValue(v, (["b"],))}, {"items": api.next_version(v)})
            with pytest.raises(CheckpointConflictError, match="moved on"):
                await b(lambda: api.put(head_b.config, stale))
            assert await api.get_tuple({"configurable": {**thread("t")["configurable"], "checkpoint_id": stale["id"]}}) is None
            assert len(await api.list(thread("t"))) == 2
            await b(lambda: run_turns(api, "t", "b", 1))
        assert items_at_head(await api.get_tuple(thread("t"))) == ["first-0", "a", "b-0"]

    async def test_two_first_turns_on_a_new_thread_conflict(self, api: SaverDriver) -> None:
        """Two writers that both found the thread empty cannot both put its first checkpoint."""
        async with _two_writers() as (a, b):
            assert await a(lambda: api.get_tuple(thread("new"))) is None
            assert await b(lambda: api.get_tuple(thread("new"))) is None
            v = api.next_version(None)
            await a(lambda: api.put(thread("new"), make_checkpoint({"items": ["a"]}, {"items": v})))
            with pytest.raises(CheckpointConflictError):
                await b(lambda: api.put(thread("new"), make_checkpoint({"items": ["b"]}, {"items": v})))
        assert items_at_head(await api.get_tuple(thread("new"))) == ["a"]

    async def test_a_checkpoint_read_by_id_may_be_forked(self, api: SaverDriver) -> None:
        """Putting on an older checkpoint read by its id (time travel) branches instead of conflicting."""
        await run_turns(api, "t", "m", 3)
        history = await api.list(thread("t"))
        first = await api.get_tuple(history[-1].config)
        assert first is not None
        v = first.checkpoint["channel_versions"]["items"]
        forked = await api.put(first.config, make_checkpoint({"items": ["fork"]}, {"items": api.next_version(v)}))
        assert items_at_head(await api.get_tuple(thread("t"))) == ["fork"]
        assert (await api.peek_latest(thread("t"))) == (forked["configurable"]["checkpoint_id"], False)
        await run_turns(api, "t", "after", 1)  # the branch goes on as the thread's line
        assert items_at_head(await api.get_tuple(thread("t"))) == ["fork", "after-0"]

    async def test_a_new_turn_waits_for_another_writers_open_turn(self, api: SaverDriver) -> None:
        """While writer A's turn still has nodes to run, B's new turn conflicts without writing;
        once A's turn ends, B's turn goes through."""
        async with _two_writers() as (a, b):
            opened = await _a_opens_a_turn(api, a, b)
            with pytest.raises(CheckpointConflictError, match="middle of a turn"):
                await b(lambda: _put_step(api, opened, "input", {"items": ["other"]}))
            assert len(await api.list(thread("t"))) == 1
            closed = await a(lambda: _put_step(api, opened, "loop", {"items": ["q", "answer"]}))
            await b(lambda: api.get_tuple(thread("t")))
            await b(lambda: _put_step(api, closed, "input", {"items": ["other"]}))
        assert len(await api.list(thread("t"))) == 3

    async def test_a_turn_stopped_at_an_interrupt_does_not_hold_the_thread(self, api: SaverDriver) -> None:
        """A turn waiting at an interrupt (an interrupt write on its open checkpoint) lets another
        writer start a new turn."""
        async with _two_writers() as (a, b):
            opened = await _a_opens_a_turn(api, a, b)
            await a(lambda: api.put_writes(opened, [(INTERRUPT, ["approve?"])], "task-ask"))
            await b(lambda: _put_step(api, opened, "input", {"items": ["new question"]}))
        assert items_at_head(await api.get_tuple(thread("t"))) == ["new question"]

    async def test_a_released_turn_does_not_hold_the_thread(self, api: SaverDriver) -> None:
        """A run that stopped mid-turn releases its turn: another writer may start one. Releasing
        someone else's turn does nothing."""
        async with _two_writers() as (a, b):
            opened = await _a_opens_a_turn(api, a, b)
            await b(lambda: api.release_turn(opened))  # not b's turn: no effect
            with pytest.raises(CheckpointConflictError, match="middle of a turn"):
                await b(lambda: _put_step(api, opened, "input", {"items": ["other"]}))
            await a(lambda: api.release_turn(opened))
            await b(lambda: _put_step(api, opened, "input", {"items": ["other"]}))
        assert items_at_head(await api.get_tuple(thread("t"))) == ["other"]

    async def test_a_turn_whose_release_failed_is_released_by_the_next_call(self, api: SaverDriver) -> None:
        """A run stopped mid-turn but its release failed (the database was out of reach). While
        it stays out of reach the turn still holds the thread; the saver's first call once it is
        back performs the release, so another writer's turn goes through at once (not after
        turn_timeout). Another writer's open turn is never released by it."""
        async with _two_writers() as (a, b):
            opened = await _a_opens_a_turn(api, a, b)
            with _out_of_reach(api.saver, "_release_turn_op"):
                with pytest.raises(DatabaseError, match="cannot be reached"):
                    await a(lambda: api.release_turn(opened))
                with pytest.raises(CheckpointConflictError, match="middle of a turn"):
                    await b(lambda: _put_step(api, opened, "input", {"items": ["other"]}))
            await b(lambda: api.get_tuple(thread("t")))
            other = await b(lambda: _put_step(api, opened, "input", {"items": ["other"], "branch:to:model": None}))
            await a(lambda: api.get_tuple(thread("t")))
            with pytest.raises(CheckpointConflictError, match="middle of a turn"):
                await a(lambda: _put_step(api, other, "input", {"items": ["a again"]}))
        assert items_at_head(await api.get_tuple(thread("t"))) == ["other"]

    async def test_a_turn_put_whose_outcome_is_unknown_does_not_hold_the_thread(self, api: SaverDriver) -> None:
        """A writer's put of its turn's input checkpoint was stored, but the answer was lost
        (ConnectionLostError, committed=None), so its run stopped without knowing what it
        stored. The saver's next call releases that checkpoint: another writer's turn goes
        through at once."""
        async with _two_writers() as (a, b):
            await a(lambda: api.get_tuple(thread("t")))
            with _out_of_reach(api.saver, "_put_op", after=True), pytest.raises(ConnectionLostError) as lost:
                await a(lambda: _put_step(api, thread("t"), "input", {"items": ["q"], "branch:to:model": None}))
            assert lost.value.committed is None
            head = await b(lambda: api.get_tuple(thread("t")))
            assert items_at_head(head) == ["q"]  # it was stored
            assert head is not None
            await b(lambda: _put_step(api, head.config, "input", {"items": ["other"]}))
        assert items_at_head(await api.get_tuple(thread("t"))) == ["other"]

    async def test_concurrent_writers_lose_no_turn(self, api: SaverDriver, flavour: str) -> None:
        """Four writers (OS threads for the sync methods, tasks for the async ones) take ten turns
        each on one thread at once, retrying on conflict: every turn lands once, in one line."""
        writers, turns = 4, 10
        if flavour == "sync":

            def work(name: str) -> None:
                rng = random.Random(name)

                async def pause() -> None:
                    await asyncio.sleep(rng.uniform(0, 0.002))

                asyncio.run(run_turns(api, "shared", name, turns, pause))

            workers = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(writers)]
            for w in workers:
                w.start()
            for w in workers:
                w.join()
        else:

            async def pause() -> None:
                await asyncio.sleep(0)

            await asyncio.gather(*(run_turns(api, "shared", f"w{i}", turns, pause) for i in range(writers)))
        await _assert_one_line(api, "shared", [f"w{i}-{n}" for i in range(writers) for n in range(turns)])


def _process_writer(opener: SaverOpener, flavour: str, name: str, turns: int, start: Any) -> None:
    """Body of a writer process: open another saver on the same storage and take turns."""
    rng = random.Random(name)

    async def pause() -> None:
        await asyncio.sleep(rng.uniform(0, 0.003))

    async def take_turns(saver: Any) -> None:
        start.wait(60)  # every writer is ready (a barrier): the turns overlap
        await run_turns(SaverDriver(saver, flavour), "shared", name, turns, pause)

    async def main() -> None:
        manager = opener()
        if hasattr(manager, "__aenter__"):
            async with manager as saver:
                await take_turns(saver)
        else:
            with manager as saver:
                await take_turns(saver)

    asyncio.run(main())


class SharedConcurrencyCases:
    """For savers that several processes share (a file, a server): define a ``saver_opener`` fixture."""

    async def test_writers_in_other_processes_lose_no_turn(
        self, api: SaverDriver, flavour: str, saver_opener: SaverOpener
    ) -> None:
        """Two processes take turns on one thread at once through their own savers, retrying on
        conflict: every turn lands once, in one line."""
        processes, turns = 2, 12
        spawn = multiprocessing.get_context("spawn")  # no connection of this process leaks into the children
        start = spawn.Barrier(processes)
        children = [
            spawn.Process(target=_process_writer, args=(saver_opener, flavour, f"p{i}", turns, start))
            for i in range(processes)
        ]
        for child in children:
            child.start()
        for child in children:
            await asyncio.to_thread(child.join, 120)
        assert [c.exitcode for c in children] == [0] * processes
        await _assert_one_line(api, "shared", [f"p{i}-{n}" for i in range(processes) for n in range(turns)])

