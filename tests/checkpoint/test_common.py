"""The saver rules written once in ``threadloom.checkpoint._common``."""

from __future__ import annotations

import asyncio
import threading

import pytest
from langchain_core.runnables import RunnableConfig

from threadloom.checkpoint._common import (
    NOT_TRACKED,
    Head,
    HeadTracker,
    ListScope,
    PutGuard,
    SaverOps,
    checkpoint_config,
    encode_writes,
    list_scope,
    stored_tuple,
    take,
    turn_is_open,
    writes_address,
)
from threadloom.checkpoint.base import ERROR, INTERRUPT, CheckpointTuple
from threadloom.checkpoint.memory import InMemorySaver
from threadloom.checkpoint.serde import JsonPlusSerializer
from threadloom.checkpoint.sqlite import SqliteSaver
from threadloom.errors import CheckpointConflictError, MissingThreadIdError
from threadloom.testing.checkpoint import make_checkpoint, thread


def test_stored_tuple_has_a_parent_config_only_when_there_is_a_parent() -> None:
    """A root checkpoint has no parent config; a child's addresses its parent in the same namespace."""
    checkpoint = make_checkpoint({}, {})
    root = stored_tuple("t", "ns", "2", None, checkpoint, {"step": 0}, [])
    child = stored_tuple("t", "ns", "2", "1", checkpoint, {"step": 0}, [("task", "a", 1)])
    assert root.config == checkpoint_config("t", "ns", "2")
    assert root.parent_config is None
    assert child.parent_config == {"configurable": {"thread_id": "t", "checkpoint_ns": "ns", "checkpoint_id": "1"}}
    assert child.pending_writes == [("task", "a", 1)]


def test_list_scope_reads_optional_filters_and_before() -> None:
    """list() narrows only by what the config names; thread ids are compared as strings."""
    assert list_scope(None, None) == ListScope(None, None, None, None)
    config = {"configurable": {"thread_id": 7, "checkpoint_ns": "", "checkpoint_id": "5"}}
    before = {"configurable": {"checkpoint_id": "9"}}
    assert list_scope(config, before) == ListScope("7", "", "5", "9")  # type: ignore[arg-type]


def test_take_filters_on_metadata_then_stops_at_limit() -> None:
    """take() keeps matching items in order and stops after ``limit``; a limit of 0 or less yields nothing."""
    items = [
        CheckpointTuple(checkpoint_config("t", "", str(i)), make_checkpoint({}, {}), {"step": i % 2})
        for i in range(6)
    ]
    assert [i.metadata["step"] for i in take(items, {"step": 1}, 2)] == [1, 1]
    assert len(list(take(items, None, None))) == 6
    assert list(take(items, None, 0)) == []


def test_writes_address_needs_a_checkpoint_id() -> None:
    """put_writes needs the checkpoint its writes belong to, and a thread id."""
    assert writes_address(checkpoint_config("t", "", "1")) == ("t", "", "1")
    with pytest.raises(ValueError, match="checkpoint_id"):
        writes_address(thread("t"))
    with pytest.raises(MissingThreadIdError):
        writes_address({"configurable": {}})


def test_encode_writes_numbers_special_channels_by_their_fixed_index() -> None:
    """Ordinary writes keep their position; special channels take their WRITES_IDX_MAP index."""
    encoded = encode_writes(JsonPlusSerializer(), [("a", 1), (ERROR, "boom"), (INTERRUPT, "x"), ("b", 2)])
    assert [(idx, channel) for idx, channel, _, _ in encoded] == [(0, "a"), (-1, ERROR), (-3, INTERRUPT), (3, "b")]


def _record_threads(saver: SaverOps) -> list[threading.Thread]:
    """Wrap the saver's get-tuple operation to record the thread each call runs it on."""
    seen: list[threading.Thread] = []
    original = saver._get_tuple_op

    def get_tuple(config: RunnableConfig) -> CheckpointTuple | None:
        seen.append(threading.current_thread())
        result: CheckpointTuple | None = original(config)
        return result

    saver._get_tuple_op = get_tuple  # instance-level spy
    return seen


def test_async_twins_of_the_in_memory_saver_run_inline() -> None:
    """InMemorySaver's async methods run on the calling thread (there is no I/O to hand off)."""
    saver = InMemorySaver()
    seen = _record_threads(saver)
    asyncio.run(saver.aget_tuple(thread("t")))
    assert seen == [threading.main_thread()]


def test_async_twins_of_the_sqlite_saver_run_in_a_worker_thread() -> None:
    """SqliteSaver's async methods run its sync code off the event loop's thread."""
    with SqliteSaver.from_conn_string(":memory:") as saver:
        seen = _record_threads(saver)
        asyncio.run(saver.aget_tuple(thread("t")))
        assert seen and seen[0] is not threading.main_thread()


def _guard(expect: object, *, starts_turn: bool = False, writer: str = "me") -> PutGuard:
    return PutGuard(expect_latest=expect, writer=writer, open_turn=False, starts_turn=starts_turn, turn_timeout=10.0)


def test_put_guard_refuses_only_a_put_on_a_head_that_moved() -> None:
    """A tracked put must extend the latest checkpoint (or re-put itself); an untracked one is a fork."""
    head = Head("2", "other", False, 0.0, False)
    with pytest.raises(CheckpointConflictError, match="moved on"):
        _guard("1").check("t", "1", "3", head)
    _guard("1").check("t", "1", "2", head)  # the same checkpoint put again (a retried call)
    _guard("2").check("t", "2", "3", head)
    assert not _guard(NOT_TRACKED).needs_head("1")
    assert not _guard("2").needs_head("1")  # parent is not the head the writer saw: a fork
    with pytest.raises(CheckpointConflictError):
        _guard(None).check("t", None, "3", head)  # both writers found the thread empty


def test_put_guard_lets_a_new_turn_in_unless_another_writer_is_mid_turn() -> None:
    """A new turn waits only for another writer's open, recent, unpaused turn."""
    new_turn = _guard(NOT_TRACKED, starts_turn=True)
    assert new_turn.needs_head("1")
    with pytest.raises(CheckpointConflictError, match="middle of a turn"):
        new_turn.check("t", "1", "3", Head("1", "other", True, 1.0, False))
    new_turn.check("t", "1", "3", Head("1", "me", True, 1.0, False))  # its own turn
    new_turn.check("t", "1", "3", Head("1", "other", True, 11.0, False))  # older than turn_timeout
    new_turn.check("t", "1", "3", Head("1", "other", True, 1.0, True))  # stopped at an interrupt/error
    new_turn.check("t", "1", "3", Head("1", "other", False, 1.0, False))  # finished
    new_turn.check("t", None, "3", None)


def test_turn_is_open_only_while_nodes_of_a_run_remain() -> None:
    """Input checkpoints open a turn; a scheduled node keeps it open; updates and forks never do."""
    scheduled = make_checkpoint({"branch:to:model": None, "messages": []}, {})
    done = make_checkpoint({"messages": []}, {})
    assert turn_is_open(done, {"source": "input"})
    assert turn_is_open(scheduled, {"source": "loop"})
    assert not turn_is_open(done, {"source": "loop"})
    assert not turn_is_open(scheduled, {"source": "update"})
    assert not turn_is_open(scheduled, {"source": "fork"})


def test_the_head_tracker_keeps_one_head_per_thread_and_task() -> None:
    """Each asyncio task (and OS thread) has its own view of a thread's head."""
    tracker = HeadTracker()
    tracker.seen("t", "", "1")

    async def other_task() -> object:
        return tracker.expected("t", "")

    async def main() -> tuple[object, object]:
        tracker.seen("t", "", "2")
        return tracker.expected("t", ""), await asyncio.create_task(other_task())

    assert asyncio.run(main()) == ("2", NOT_TRACKED)
    assert tracker.expected("t", "") == "1"
    tracker.forget("t", "")
    assert tracker.expected("t", "") is NOT_TRACKED
