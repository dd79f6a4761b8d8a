"""PostgresSaver beyond the shared suite: the many-writers rule, retention and a pruning soak."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from threadloom.checkpoint.base import DeltaValue
from threadloom.checkpoint.postgres import PostgresSaver
from threadloom.checkpoint.postgres.aio import AsyncPostgresSaver
from threadloom.errors import CheckpointConflictError, CheckpointNotFoundError
from threadloom.graph import START, MessagesState, StateGraph
from threadloom.testing._checkpoint_races import items_at_head
from threadloom.testing.checkpoint import make_checkpoint


def thread(thread_id: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}}


@pytest.fixture
def savers(pg_dsn: str) -> Iterator[tuple[PostgresSaver, PostgresSaver]]:
    """Two savers on separate connections: two hosts sharing one database."""
    with PostgresSaver.from_conn_string(pg_dsn) as a, PostgresSaver.from_conn_string(pg_dsn) as b:
        a.setup()
        yield a, b


def turn(saver: PostgresSaver, thread_id: str, text: str) -> Any:
    """One turn: read the latest state, append a message as a delta, put the new checkpoint."""
    latest = saver.get_tuple(thread(thread_id))
    config = latest.config if latest else thread(thread_id)
    old = latest.checkpoint["channel_versions"].get("messages") if latest else None
    version = saver.get_next_version(old)
    value: Any = DeltaValue(old, ([text],)) if old is not None else [text]
    return saver.put(
        config,
        make_checkpoint({"messages": value}, {"messages": version}),
        {"source": "loop", "step": 0},
        {"messages": version},
    )


def messages(saver: PostgresSaver, thread_id: str) -> list[str]:
    return items_at_head(saver.get_tuple(thread(thread_id)), "messages")


def test_a_stale_turn_raises_conflict_and_writes_nothing(
    savers: tuple[PostgresSaver, PostgresSaver],
) -> None:
    """Two hosts read the same head; the second to put gets CheckpointConflictError and can retry."""
    a, b = savers
    turn(a, "t", "hello")
    head_a, head_b = a.get_tuple(thread("t")), b.get_tuple(thread("t"))
    assert head_a is not None and head_b is not None
    version = a.get_next_version(head_a.checkpoint["channel_versions"]["messages"])
    a.put(
        head_a.config,
        make_checkpoint(
            {
                "messages": DeltaValue(
                    head_a.checkpoint["channel_versions"]["messages"], (["from a"],)
                )
            },
            {"messages": version},
        ),
        {"source": "loop", "step": 1},
        {"messages": version},
    )
    stale = make_checkpoint({"messages": ["from b"]}, {"messages": 99.0})
    with pytest.raises(CheckpointConflictError, match="moved on") as conflict:
        b.put(head_b.config, stale, {"source": "loop", "step": 1}, {"messages": 99.0})
    assert conflict.value.thread_id == "t"
    assert conflict.value.expected == head_b.checkpoint["id"]
    assert conflict.value.latest not in (None, head_b.checkpoint["id"])
    assert (
        b.get_tuple({"configurable": {**thread("t")["configurable"], "checkpoint_id": stale["id"]}})
        is None
    )
    turn(b, "t", "from b")  # the retry re-reads the head and succeeds
    assert messages(a, "t") == ["hello", "from a", "from b"]


def test_an_explicit_older_checkpoint_may_be_forked(
    savers: tuple[PostgresSaver, PostgresSaver],
) -> None:
    """Putting on a checkpoint chosen by id (time travel) branches instead of conflicting."""
    a, _ = savers
    first = turn(a, "t", "one")
    turn(a, "t", "two")
    old = a.get_tuple(first)
    assert old is not None
    version = a.get_next_version(old.checkpoint["channel_versions"]["messages"])
    a.put(
        first,
        make_checkpoint({"messages": ["fork"]}, {"messages": version}),
        {"source": "fork", "step": 1},
        {"messages": version},
    )
    assert messages(a, "t") == ["fork"]


def test_hosts_taking_turns_at_once_lose_nothing(pg_dsn: str) -> None:
    """Four hosts appending to one thread concurrently, retrying on conflict, keep every message once, in one line."""
    per_host, hosts = 15, 4
    conflicts: list[int] = []

    def host(name: str) -> None:
        with PostgresSaver.from_conn_string(pg_dsn) as saver:
            for n in range(per_host):
                while True:
                    try:
                        turn(saver, "shared", f"{name}-{n}")
                        break
                    except CheckpointConflictError:
                        conflicts.append(1)

    with PostgresSaver.from_conn_string(pg_dsn) as saver:
        saver.setup()
        workers = [threading.Thread(target=host, args=(f"h{i}",)) for i in range(hosts)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        got = messages(saver, "shared")
        history = list(saver.list(thread("shared")))
    assert sorted(got) == sorted(f"h{i}-{n}" for i in range(hosts) for n in range(per_host))
    assert len(history) == hosts * per_host
    # One line: each checkpoint's parent is the one before it.
    for newer, older in itertools.pairwise(history):
        assert newer.parent_config is not None
        assert newer.parent_config["configurable"]["checkpoint_id"] == older.checkpoint["id"]


def test_prune_keep_latest_keeps_a_readable_latest_state(pg_dsn: str) -> None:
    """After pruning, only the latest checkpoint remains and it still reads its whole delta chain."""
    with PostgresSaver.from_conn_string(pg_dsn) as saver:
        saver.setup()
        for n in range(6):
            turn(saver, "t", f"m{n}")
            turn(saver, "other", f"o{n}")
        saver.put_writes(saver.get_tuple(thread("t")).config, [("messages", ["pending"])], "task-1")  # type: ignore[union-attr]
        saver.prune(["t"])
        assert len(list(saver.list(thread("t")))) == 1
        assert messages(saver, "t") == [f"m{n}" for n in range(6)]
        latest = saver.get_tuple(thread("t"))
        assert latest is not None and latest.pending_writes == [("task-1", "messages", ["pending"])]
        assert len(list(saver.list(thread("other")))) == 6  # other threads untouched
        turn(saver, "t", "after")
        assert messages(saver, "t")[-1] == "after"
        saver.prune(["t"], strategy="delete")
        assert saver.get_tuple(thread("t")) is None
        with pytest.raises(ValueError, match="strategy"):
            saver.prune(["t"], strategy="newest")  # type: ignore[arg-type]


def test_delete_thread_removes_rows_from_every_table(pg_dsn: str) -> None:
    """delete_thread leaves no checkpoint, blob or write of the thread behind."""
    with PostgresSaver.from_conn_string(pg_dsn) as saver:
        saver.setup()
        config = turn(saver, "gone", "x")
        saver.put_writes(config, [("messages", ["w"])], "task")
        turn(saver, "kept", "y")
        saver.delete_thread("gone")
    with psycopg.connect(pg_dsn) as conn:
        for table in ("checkpoints", "checkpoint_blobs", "checkpoint_writes"):
            row = conn.execute(
                f"SELECT count(*) FROM threadloom_{table} WHERE thread_id = 'gone'"
            ).fetchone()
            assert row == (0,), table


def test_peek_latest_reads_no_values(pg_dsn: str) -> None:
    """peek_latest answers from the checkpoint index alone, with the pending-writes flag."""
    with PostgresSaver.from_conn_string(pg_dsn) as saver:
        saver.setup()
        config = turn(saver, "t", "x")
        assert saver.peek_latest(thread("t")) == (config["configurable"]["checkpoint_id"], False)
        saver.put_writes(config, [("messages", ["w"])], "task")
        assert saver.peek_latest(thread("t")) == (config["configurable"]["checkpoint_id"], True)


@pytest.mark.slow
def test_soak_10k_turns_with_pruning_keeps_tables_bounded(pg_dsn: str) -> None:
    """10,000 turns over 20 threads, pruned every 250 turns, with a full snapshot every 25 turns:
    row counts stay bounded and every thread still reads its full history."""
    threads, turns, snapshot_every, prune_every = 20, 10_000, 25, 250
    sizes: list[tuple[int, int]] = []
    started = time.perf_counter()
    with (
        PostgresSaver.from_conn_string(pg_dsn) as saver,
        psycopg.connect(pg_dsn, autocommit=True) as conn,
    ):
        saver.setup()
        heads: dict[str, tuple[Any, Any, list[str]]] = {}
        for n in range(turns):
            tid = f"t{n % threads}"
            config, version, history = heads.get(tid, (thread(tid), None, []))
            history = [*history, f"m{n}"]
            new = saver.get_next_version(version)
            full = version is None or (n // threads) % snapshot_every == 0
            value: Any = list(history) if full else DeltaValue(version, ([f"m{n}"],))
            config = saver.put(
                config,
                make_checkpoint({"messages": value}, {"messages": new}),
                {"source": "loop", "step": n},
                {"messages": new},
            )
            heads[tid] = (config, new, history)
            if (n + 1) % prune_every == 0:
                saver.prune([f"t{i}" for i in range(threads)])
                row = conn.execute(
                    "SELECT (SELECT count(*) FROM threadloom_checkpoints), (SELECT count(*) FROM threadloom_checkpoint_blobs)"
                ).fetchone()
                assert row is not None
                sizes.append((int(row[0]), int(row[1])))
        for tid, (_, _, history) in heads.items():
            assert messages(saver, tid) == history
    elapsed = time.perf_counter() - started
    print(
        f"soak: {turns} turns in {elapsed:.1f}s ({turns / elapsed:.0f} turns/s); rows after prunes {sizes[-1]}"
    )
    assert max(c for c, _ in sizes) == threads  # one checkpoint per thread after each prune
    # Blobs kept: at most the chain back to the last snapshot, per thread.
    assert max(b for _, b in sizes) <= threads * (snapshot_every + 1)


def put_step(saver: PostgresSaver, config: Any, source: str, values: dict[str, Any]) -> Any:
    """Put a checkpoint of one step with the given source (input or loop) and channel values."""
    versions = {k: saver.get_next_version(None) for k in values}
    checkpoint = make_checkpoint(values, versions)
    return saver.put(config, checkpoint, {"source": source, "step": 0}, versions)  # type: ignore[typeddict-item]


def test_a_new_turn_waits_for_another_hosts_open_turn(pg_dsn: str) -> None:
    """While host A's turn still has nodes to run, host B's new turn conflicts without writing;
    once A's turn ends, B's turn goes through."""
    with PostgresSaver.from_conn_string(pg_dsn) as a, PostgresSaver.from_conn_string(pg_dsn) as b:
        a.setup()
        a.get_tuple(thread("t"))
        opened = put_step(a, thread("t"), "input", {"messages": ["q"], "branch:to:model": None})
        b.get_tuple(thread("t"))
        with pytest.raises(CheckpointConflictError, match="middle of a turn"):
            put_step(b, opened, "input", {"messages": ["other"]})
        assert len(list(b.list(thread("t")))) == 1
        closed = put_step(a, opened, "loop", {"messages": ["q", "answer"]})
        b.get_tuple(thread("t"))
        put_step(b, closed, "input", {"messages": ["other"]})
        assert len(list(b.list(thread("t")))) == 3


def test_an_abandoned_open_turn_blocks_only_until_turn_timeout(pg_dsn: str) -> None:
    """A host that died mid-turn holds the thread for turn_timeout seconds at most."""
    with (
        PostgresSaver.from_conn_string(pg_dsn) as a,
        PostgresSaver.from_conn_string(pg_dsn, turn_timeout=0.3) as b,
    ):
        a.setup()
        opened = put_step(a, thread("t"), "input", {"messages": ["q"], "branch:to:model": None})
        b.get_tuple(thread("t"))
        with pytest.raises(CheckpointConflictError):
            put_step(b, opened, "input", {"messages": ["other"]})
        time.sleep(0.4)
        put_step(b, opened, "input", {"messages": ["other"]})


async def test_update_state_of_an_unknown_checkpoint_raises_and_changes_nothing(pg_dsn: str) -> None:
    """On PostgreSQL too (sync and async savers), update_state naming a checkpoint the thread lacks
    raises CheckpointNotFoundError and writes nothing; get_state of it is an empty snapshot."""
    builder = StateGraph(MessagesState)
    builder.add_node("echo", lambda state: {"messages": [("assistant", "ok")]})
    builder.add_edge(START, "echo")
    unknown = {"configurable": {"thread_id": "t", "checkpoint_id": "no-such-checkpoint"}}
    with PostgresSaver.from_conn_string(pg_dsn) as saver:
        saver.setup()
        graph = builder.compile(checkpointer=saver)
        graph.invoke({"messages": [("user", "hi")]}, thread("t"))
        with pytest.raises(CheckpointNotFoundError, match="no-such-checkpoint"):
            graph.update_state(unknown, {"messages": [("user", "lost?")]})
        assert graph.get_state(unknown).values == {}
    async with AsyncPostgresSaver.from_conn_string(pg_dsn) as asaver:
        graph = builder.compile(checkpointer=asaver)
        with pytest.raises(CheckpointNotFoundError):
            await graph.aupdate_state(unknown, {"messages": [("user", "lost?")]})
        assert [m.content for m in (await graph.aget_state(thread("t"))).values["messages"]] == ["hi", "ok"]
        assert len([s async for s in graph.aget_state_history(thread("t"))]) == 3  # input, START, reply


def test_a_saver_works_inside_a_pipeline_of_its_connection(pg_dsn: str) -> None:
    """PostgresSaver(conn, pipe=conn.pipeline()), as LangGraph's: what it writes in the pipeline
    reads back at once (a read syncs it)."""
    with PostgresSaver.from_conn_string(pg_dsn) as saver:
        saver.setup()
    with psycopg.connect(pg_dsn, autocommit=True) as conn, conn.pipeline() as pipe:
        saver = PostgresSaver(conn, pipe=pipe)
        first = saver.put(thread("piped"), make_checkpoint({"n": 1}, {"n": 1}), {"step": 0}, {"n": 1})
        got = saver.get_tuple(first)
        assert got is not None and got.checkpoint["channel_values"] == {"n": 1}
        assert [t.metadata["step"] for t in saver.list(thread("piped"))] == [0]
        second = saver.put(first, make_checkpoint({"n": 2}, {"n": 2}), {"step": 1}, {"n": 2})
        assert saver.get_tuple(thread("piped")).config == second  # type: ignore[union-attr]
    with PostgresSaver.from_conn_string(pg_dsn) as other:
        assert [t.metadata["step"] for t in other.list(thread("piped"))] == [1, 0]


async def test_an_async_saver_works_inside_a_pipeline_of_its_connection(pg_dsn: str) -> None:
    """AsyncPostgresSaver(conn, pipe=conn.pipeline()), as LangGraph's."""
    conn = await psycopg.AsyncConnection.connect(pg_dsn, autocommit=True)
    async with conn, conn.pipeline() as pipe:
        saver = AsyncPostgresSaver(conn, pipe=pipe)
        await saver.setup()
        config = await saver.aput(thread("apiped"), make_checkpoint({"n": 1}, {"n": 1}), {}, {"n": 1})
        got = await saver.aget_tuple(config)
        assert got is not None and got.checkpoint["channel_values"] == {"n": 1}
