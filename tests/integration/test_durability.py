"""Writers SIGKILLed mid-write lose nothing they acknowledged and leave nothing half-written.

Sixty writers (three at a time on one SQLite file, see ``_durable.py``) are
killed, most of them while a write transaction is open (they report it).
Afterwards the file must hold every acknowledged store batch and chat turn,
every batch whole or not at all, a keyword index and vectors that match the
items exactly, lane threads whose delta-chained messages hold every turn in
order, and a shared thread on which two writers at once lost no turn.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from threadloom.checkpoint.sqlite import SqliteSaver
from threadloom.store.sqlite import SqliteStore

WORKER = Path(__file__).with_name("_durable.py")
KILLS = 60
AT_ONCE = 3  # writers running, and killed, together on the same file
#: Share of kills aimed at an open write transaction; the others land anywhere.
AIMED = 0.75
#: What a write transaction writes: a store batch, a checkpoint, a task's pending writes.
KINDS = (b"s", b"c", b"w")


def _load_worker() -> ModuleType:
    spec = importlib.util.spec_from_file_location("_durable_writers", WORKER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


W = _load_worker()


@dataclass
class Acks:
    """What one writer acknowledged (returned from) before it was killed."""

    batches: int = 0
    lane_turns: list[tuple[str, int, str]] = field(default_factory=list)  # lane, turn, checkpoint
    shared_turns: list[str] = field(default_factory=list)
    conflicts: int = 0


def read_acks(path: Path) -> Acks:
    acks = Acks()
    lines = path.read_text().splitlines() if path.exists() else []
    for line in lines:
        words = line.split()
        if words[0] == "put":
            assert int(words[1]) == acks.batches + 1, lines
            acks.batches = int(words[1])
        elif words[0] == "lane":
            acks.lane_turns.append((words[1], int(words[2]), words[3]))
        elif words[0] == "shared":
            acks.shared_turns.append(words[1])
        elif words[0] == "conflict":
            acks.conflicts += 1
    return acks


def wait_until(condition: Any, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.002)


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def aim_at_transaction(report: int, kind: bytes, seconds: float) -> None:
    """Return once the writer reports an open write transaction of ``kind`` (or after ``seconds``)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        state = os.pread(report, 2, 0)
        if state[:1] in (b"I", b"C") and state[1:] == kind:
            return
        time.sleep(0.0002)


def run_and_kill(path: Path, rng: random.Random) -> dict[str, bytes]:
    """Start and SIGKILL ``KILLS`` writers; returns, per writer, where its kill landed."""
    zygote = subprocess.Popen(
        [sys.executable, str(WORKER), "zygote", str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "OPENBLAS_NUM_THREADS": "1"},
    )
    assert zygote.stdin is not None and zygote.stdout is not None
    landed: dict[str, bytes] = {}
    try:
        while len(landed) < KILLS:
            wave = [(f"w{len(landed) + slot}", slot) for slot in range(AT_ONCE)]
            pids = []
            for name, slot in wave:
                zygote.stdin.write(f"{name} {slot}\n")
                zygote.stdin.flush()
                pids.append(int(zygote.stdout.readline()))
            for name, _ in wave:
                acks = Path(f"{path}.{name}.acks")
                wait_until(
                    lambda acks=acks: acks.exists() and "ready" in acks.read_text(),
                    30,
                    f"writer {name} never started",
                )
            for (name, _), pid in zip(wave, pids, strict=True):
                time.sleep(rng.uniform(0.0, 0.1))
                report = os.open(f"{path}.{name}.txn", os.O_RDONLY)
                try:
                    if rng.random() < AIMED:
                        aim_at_transaction(report, rng.choice(KINDS), 1.0)
                    with contextlib.suppress(ProcessLookupError):  # it failed: see its .error
                        os.kill(pid, signal.SIGKILL)
                    # Gone (reaped by the zygote): it wrote its last report and holds no lock.
                    wait_until(lambda pid=pid: gone(pid), 10, f"writer {name} outlived SIGKILL")
                    landed[name] = os.pread(report, 2, 0)
                finally:
                    os.close(report)
    finally:
        zygote.stdin.close()
        zygote.wait(timeout=30)
        zygote.stdout.close()
    return landed


# --- the store ---------------------------------------------------------------------------


def check_batches(store: SqliteStore, name: str, acked: int) -> tuple[int, list[str], list[str]]:
    """Each batch of ``name`` is whole or absent, and the committed ones are 1..B, B >= acked.

    Returns B, the keys present and the keys that must be absent.
    """
    items = {i.key: i for i in store.search(("durable", name), limit=100_000)}
    whole: dict[int, set[int]] = {}
    for key in items:
        found = re.fullmatch(rf"{name}-(\d+)-(\d+)", key)
        if found:
            whole.setdefault(int(found[1]), set()).add(int(found[2]))
    committed = max(whole, default=0)
    # All or nothing: no batch stored in part, and none skipped.
    for number, parts in whole.items():
        assert parts == set(range(W.batch_size(number))), (name, number, parts)
    assert set(whole) == set(range(1, committed + 1)), (name, sorted(whole))
    # Nothing acknowledged is lost; at most the one batch in flight committed unacknowledged.
    assert committed in (acked, acked + 1), (name, acked, committed)
    scratch = {key for key in items if re.fullmatch(rf"{name}-s\d+", key)}
    assert scratch == ({f"{name}-s{committed}"} if committed else set()), (name, scratch)
    latest = items.get(f"{name}-latest")
    if committed:
        assert latest is not None and latest.value["batch"] == committed, (name, latest)
    absent = W.batch_keys(name, committed + 1) + [f"{name}-s{n}" for n in range(1, committed)]
    return committed, sorted(items), absent


def check_keyword_index(conn: sqlite3.Connection) -> None:
    """The FTS5 index matches its rows, and there is exactly one keyword row per item."""
    assert conn.execute("SELECT value FROM store_meta WHERE name = 'keyword_index'").fetchone() == (1,)
    conn.execute("INSERT INTO store_fts (store_fts) VALUES ('integrity-check')")  # raises if not
    orphans = conn.execute(
        "SELECT t.prefix, t.key FROM store_texts t LEFT JOIN store_items i ON i.id = t.item_id "
        "WHERE i.id IS NULL OR i.prefix != t.prefix OR i.key != t.key"
    ).fetchall()
    assert orphans == []
    rows_per_item = conn.execute(
        "SELECT i.key, count(t.id) FROM store_items i LEFT JOIN store_texts t ON t.item_id = i.id "
        "GROUP BY i.id HAVING count(t.id) != 1"
    ).fetchall()
    assert rows_per_item == []
    vectorless = conn.execute(
        "SELECT count(*) FROM store_items i WHERE NOT EXISTS "
        "(SELECT 1 FROM store_vectors v WHERE v.item_id = i.id)"
    ).fetchone()[0]
    stray_vectors = conn.execute(
        "SELECT count(*) FROM store_vectors v WHERE NOT EXISTS "
        "(SELECT 1 FROM store_items i WHERE i.id = v.item_id)"
    ).fetchone()[0]
    assert (vectorless, stray_vectors) == (0, 0)


def keyword_hits(store: SqliteStore, name: str, text: str) -> list[str]:
    return [h.key for h in store.search(("durable", name), query=text, mode="keyword", limit=10)]


# --- the checkpoints ---------------------------------------------------------------------


def check_lane(messages: list[Any], lane: str, acked: list[int]) -> int:
    """The lane holds turns 1..T in order, all whole but maybe the last; T >= every acked turn."""
    ids = [str(m.id) for m in messages]
    assert ids, f"{lane} lost its messages"
    turns = sum(i.endswith("-h") for i in ids)
    whole = [i for turn in range(1, turns) for i in W.lane_turn_ids(lane, turn)]
    last = W.lane_turn_ids(lane, turns)
    # The turn in flight at the last kill may lack its answer (or its review).
    assert ids[: len(whole)] == whole, (lane, ids[-6:])
    assert ids[len(whole) :] == last[: len(ids) - len(whole)], (lane, ids[-6:])
    complete = turns if ids[-1] == last[-1] else turns - 1
    assert max(acked, default=0) <= complete, (lane, max(acked), ids[-6:])
    for message in messages:
        if message.id.endswith("-a"):
            # The answer saw the whole history when it ran, whichever process ran it.
            human = ids.index(message.id[:-2] + "-h")
            assert message.content == f"answer {message.id[:-2]} after {human + 1}", message
        elif message.id.endswith("-r"):
            assert message.content == "review ok", message
    return turns


def check_shared(messages: list[Any], acked: list[str]) -> None:
    """Every acknowledged shared turn is there, answered; each writer's turns are in order."""
    ids = [str(m.id) for m in messages]
    assert len(ids) == len(set(ids))
    position = {message_id: i for i, message_id in enumerate(ids)}
    missing = [turn for turn in acked if turn + "-h" not in position or turn + "-a" not in position]
    assert missing == [], f"{len(missing)} acknowledged turns lost on the shared thread: {missing[:5]}"
    for turn in {i[:-2] for i in ids if i.endswith("-a")}:
        assert position[turn + "-h"] < position[turn + "-a"]
    humans: dict[str, list[int]] = {}
    for message_id in ids:
        if message_id.endswith("-h"):
            writer, number = message_id[:-2].rsplit("-", 1)
            humans.setdefault(writer, []).append(int(number))
    assert all(numbers == sorted(numbers) for numbers in humans.values()), humans


def check_pending_writes(conn: sqlite3.Connection) -> int:
    """Each ``reply`` task's writes are stored whole (both of its channels) or not at all."""
    tasks: dict[tuple[str, ...], set[str]] = {}
    for *task, channel in conn.execute(
        "SELECT thread_id, checkpoint_ns, checkpoint_id, task_id, channel FROM checkpoint_writes "
        "WHERE task_path LIKE '%|reply'"
    ):
        if not channel.startswith("__") and not channel.startswith("branch:"):
            tasks.setdefault(tuple(task), set()).add(channel)
    assert [c for c in tasks.values() if c != {"messages", "answered"}] == []
    return len(tasks)


def check_store(path: Path, names: list[str], acks: dict[str, Acks], rng: random.Random) -> int:
    """Batches whole, keyword index and vectors matching the items; returns how many
    unacknowledged batches had committed."""
    committed_unacked = 0
    with SqliteStore(path, index=W.index()) as store:
        present: dict[str, list[str]] = {}
        for name in names:
            committed, present[name], absent = check_batches(store, name, acks[name].batches)
            committed_unacked += committed > acks[name].batches
            # The keyword index agrees with the items: every item found by its own word,
            # no hit for a key that is absent (uncommitted, deleted) or a text overwritten.
            for key in present[name]:
                text = W.latest_text(name, committed) if key.endswith("-latest") else W.word(key)
                assert keyword_hits(store, name, text)[:1] == [key], key
            for key in absent:
                assert keyword_hits(store, name, W.word(key)) == [], key
            for number in range(1, committed):
                assert keyword_hits(store, name, W.latest_text(name, number).split()[1]) == []
        # Vectors were committed with their items: a semantic search finds them. The
        # 64-bucket hashing embedder gives many keys the same vector (score 1.0 ties), so
        # the search reads the writer's whole namespace rather than a top 10.
        sample = [(name, key) for name in names for key in present[name] if "-latest" not in key]
        for name, key in rng.sample(sample, 25):
            hits = store.search(("durable", name), query=W.note(key), limit=100_000)
            assert key in [h.key for h in hits if h.score > 0.999]
    with contextlib.closing(sqlite3.connect(path)) as conn:
        check_keyword_index(conn)
    return committed_unacked


def check_lanes(
    conn: sqlite3.Connection, graph: Any, lanes: dict[str, list[tuple[int, str]]], rng: random.Random
) -> None:
    """Each lane holds every acknowledged turn in order, and its checkpoints load as its prefixes."""
    assert sorted(lanes) == [f"lane{slot}" for slot in range(AT_ONCE)]
    for lane, acked in lanes.items():
        final = graph.get_state(W.thread_config(lane)).values["messages"]
        turns = check_lane(final, lane, [turn for turn, _ in acked])
        # Each writer of the lane went on from the last turn acknowledged before it.
        assert [turn for turn, _ in acked] == sorted({turn for turn, _ in acked}), lane
        # Each acknowledged checkpoint was stored and holds the history up to its turn,
        # and any stored one (unacknowledged, mid-turn) loads as a prefix of the final one.
        stored = [
            checkpoint_id
            for (checkpoint_id,) in conn.execute(
                "SELECT checkpoint_id FROM checkpoint_snapshots WHERE thread_id = ?", (lane,)
            )
        ]
        assert {checkpoint_id for _, checkpoint_id in acked} <= set(stored)
        picks = rng.sample(acked, min(10, len(acked)))
        picks += [(0, checkpoint_id) for checkpoint_id in rng.sample(stored, 10)]
        for turn, checkpoint_id in picks:
            config = {"configurable": {"thread_id": lane, "checkpoint_id": checkpoint_id}}
            messages = graph.get_state(config).values.get("messages", [])
            assert [m.id for m in messages] == [m.id for m in final[: len(messages)]]
            if turn:
                assert messages[-1].id == W.lane_turn_ids(lane, turn)[-1], (lane, turn)
        print(f"{lane}: {turns} turns, {len(stored)} checkpoints")
    # The lanes' messages were stored as delta chains with periodic full snapshots.
    kinds = dict(
        conn.execute(
            "SELECT kind, count(*) FROM checkpoint_blobs WHERE channel = 'messages' "
            "AND thread_id LIKE 'lane%' GROUP BY kind"
        ).fetchall()
    )
    print(f"lanes' message blobs: {kinds}")
    assert kinds.get("delta", 0) >= 100 and kinds.get("full", 0) >= 3 * AT_ONCE, kinds


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_acknowledged_writes_survive_sigkill_whole(tmp_path: Path) -> None:
    """Writers killed inside and outside write transactions lose nothing acknowledged and leave no half-write."""
    path = tmp_path / "durable.db"
    rng = random.Random(2024)
    landed = run_and_kill(path, rng)
    names = sorted(landed, key=lambda name: int(name[1:]))  # in the order they ran
    errors = [p.read_text() for p in tmp_path.glob("*.error")]
    assert errors == []
    acks = {name: read_acks(Path(f"{path}.{name}.acks")) for name in names}

    # The kills landed where the durability claim is at stake: inside write transactions
    # of the store and the checkpointer, as the writers themselves reported.
    where = Counter(report[:1] for report in landed.values())
    inside = Counter(report[1:] for report in landed.values() if report[:1] in (b"I", b"C"))
    print(f"kills: {dict(where)}; inside, by what they write: {dict(inside)}")
    assert where[b"I"] + where[b"C"] >= KILLS // 2, where
    assert all(inside[kind] >= 3 for kind in KINDS), inside
    acked_keys = sum(W.batch_size(n) for a in acks.values() for n in range(1, a.batches + 1))
    assert acked_keys > 2 * KILLS  # the kills landed while writes were flowing

    with contextlib.closing(sqlite3.connect(path)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    print(f"unacknowledged batches that committed: {check_store(path, names, acks, rng)}")

    lanes: dict[str, list[tuple[int, str]]] = {}
    for name in names:
        for lane, turn, checkpoint_id in acks[name].lane_turns:
            lanes.setdefault(lane, []).append((turn, checkpoint_id))
    with SqliteSaver.from_conn_string(str(path)) as saver, contextlib.closing(sqlite3.connect(path)) as conn:
        graph = W.chat_graph().compile(checkpointer=saver)
        check_lanes(conn, graph, lanes, rng)
        assert check_pending_writes(conn) >= 3  # review turns left pending writes to check

        # Two writers at once on one thread: conflicts happened, were retried, lost nothing.
        shared = graph.get_state(W.thread_config(W.SHARED)).values["messages"]
        check_shared(shared, [turn for name in names for turn in acks[name].shared_turns])
        acked_shared = sum(len(a.shared_turns) for a in acks.values())
        conflicts = sum(a.conflicts for a in acks.values())
        print(f"shared: {acked_shared} acknowledged turns, {conflicts} conflicts retried")
        assert acked_shared >= KILLS // 2 and conflicts >= 1
