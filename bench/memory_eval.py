"""The memory layer on conversations where facts change: duplicates, supersession, cost.

Data: from a seed, offline, ``--users`` users each talk for ``--sessions``
sessions of ``--turns`` turns. A turn states a new fact about one of five
slots (city, job, pet, drink, hobby), restates a known one (often in other
words), changes one (the user moves city, changes job, ...), or is small talk.

Model: :class:`threadloom.testing.memory.ScriptedMemoryModel`, deterministic.
For each turn it emits what a decent but imperfect model would: an insert for
a new fact; for a restated fact an insert in other words half the time (a
model that did not check), nothing otherwise; for a changed fact an update of
the old memory when the old fact is among the memories the manager showed
it (found by the manager's search) with probability ``--update-rate``, else
a plain insert of the new fact. Store: the local embedder (all-MiniLM-L6-v2).

Measured per configuration (dedup off, exact only, or a similarity threshold):

- duplicates per 100 turns: memories beyond one per (user, slot) at the end;
- wrong merges: dedup updates that replaced a fact about one slot with
  another slot's (a threshold set too low);
- superseded share: of the changes, the share where the old value is in the
  memory's history (not current) and the new one is the top search result
  for the slot's question;
- model calls per turn: the manager called every turn, and the
  ``ReflectionExecutor`` (debounced: one call per quiet session);
- latency added per turn, excluding the model: ``manager.invoke`` wall time
  minus the time spent inside the model call (search, dedup, embedding,
  history and the batch write), median and p95.

Run::

    .venv/bin/python bench/memory_eval.py                   # the table, InMemoryStore
    .venv/bin/python bench/memory_eval.py --backend sqlite  # on a SQLite file
    .venv/bin/python bench/memory_eval.py --embedder hashing --thresholds 0.85  # no model cost
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langchain_core.messages import BaseMessage

from threadloom.embeddings import init_embeddings
from threadloom.memory import (
    DedupConfig,
    create_memory_store_manager,
    get_history,
    history_namespace,
    search_memories,
)
from threadloom.memory.reflection import ReflectionExecutor
from threadloom.store.base import BaseStore, IndexConfig
from threadloom.store.memory import InMemoryStore
from threadloom.store.sqlite import SqliteStore
from threadloom.testing.embeddings import HashingEmbed
from threadloom.testing.memory import ScriptedMemoryModel, existing_memories

SLOTS: dict[str, dict[str, Any]] = {
    "city": {
        "values": ["Paris", "Berlin", "Lisbon", "Oslo", "Madrid", "Vienna"],
        "say": ["User lives in {v}", "The user lives in {v}", "User's home city is {v}"],
        "ask": "Where does the user live?",
    },
    "job": {
        "values": ["baker", "nurse", "pilot", "teacher", "plumber", "lawyer"],
        "say": ["User works as a {v}", "The user works as a {v}", "User is a {v} by trade"],
        "ask": "What is the user's job?",
    },
    "pet": {
        "values": ["Rex", "Milo", "Luna", "Bella", "Coco", "Max"],
        "say": ["User has a dog named {v}", "User's dog is called {v}", "The user's dog is {v}"],
        "ask": "What is the name of the user's dog?",
    },
    "drink": {
        "values": ["green tea", "espresso", "cocoa", "lemonade", "chai", "mate"],
        "say": ["User's favourite drink is {v}", "User likes to drink {v}", "User loves {v}"],
        "ask": "What does the user like to drink?",
    },
    "hobby": {
        "values": ["chess", "climbing", "painting", "running", "pottery", "sailing"],
        "say": [
            "User's hobby is {v}",
            "User enjoys {v} as a hobby",
            "In free time the user does {v}",
        ],
        "ask": "What is the user's hobby?",
    },
}


@dataclass
class Turn:
    kind: str  # "new", "repeat", "change", "chat"
    slot: str | None = None
    old: str | None = None
    new: str | None = None
    text: str = "How are you?"


def conversation(rng: random.Random, sessions: int, turns: int) -> list[list[Turn]]:
    """One user's sessions: facts appear, recur in other words, and change."""
    known: dict[str, str] = {}
    out: list[list[Turn]] = []
    for _ in range(sessions):
        session: list[Turn] = []
        for _ in range(turns):
            roll = rng.random()
            unknown = [s for s in SLOTS if s not in known]
            if unknown and (roll < 0.35 or not known):
                slot = rng.choice(unknown)
                value = rng.choice(SLOTS[slot]["values"])
                known[slot] = value
                session.append(Turn("new", slot, None, value, f"My {slot} is {value}."))
            elif known and roll < 0.6:
                slot = rng.choice(sorted(known))
                session.append(
                    Turn("repeat", slot, None, known[slot], f"As I said, {known[slot]}.")
                )
            elif known and roll < 0.85:
                slot = rng.choice(sorted(known))
                value = rng.choice([v for v in SLOTS[slot]["values"] if v != known[slot]])
                session.append(
                    Turn("change", slot, known[slot], value, f"News: {slot} is now {value}.")
                )
                known[slot] = value
            else:
                session.append(Turn("chat"))
        out.append(session)
    return out


class ScriptedUser:
    """Builds the scripted model's answer for each turn from the prompt it is shown."""

    def __init__(self, update_rate: float) -> None:
        # Reseeded every turn, so each configuration sees the same model decisions.
        self.rng = random.Random()
        self.update_rate = update_rate
        self.pending: list[Turn] = []

    def answer(self, messages: list[BaseMessage]) -> dict[str, Any]:
        shown = existing_memories(messages)
        ops: list[dict[str, Any]] = []
        for t in self.pending:
            if t.kind == "chat" or t.slot is None or t.new is None:
                continue
            say = self.rng.choice(SLOTS[t.slot]["say"]).format(v=t.new)
            if t.kind == "new":
                ops.append({"action": "insert", "content": say})
            elif t.kind == "repeat":
                if self.rng.random() < 0.5:
                    ops.append({"action": "insert", "content": say})
            else:
                old_key = next((k for k, text in shown.items() if t.old and t.old in text), None)
                if old_key is not None and self.rng.random() < self.update_rate:
                    ops.append({"action": "update", "id": old_key, "content": say})
                else:
                    ops.append({"action": "insert", "content": say})
        self.pending = []
        return {"operations": ops}


@dataclass
class Result:
    label: str
    turns: int = 0
    duplicates: int = 0
    wrong_merges: int = 0
    changes: int = 0
    superseded: int = 0
    model_calls: int = 0
    overhead_ms: list[float] = field(default_factory=list)


class TimedModel(ScriptedMemoryModel):
    """The scripted model, timing the structured-output calls (to subtract them)."""

    spent: float = 0.0

    def with_structured_output(self, schema: Any, **kwargs: Any) -> Any:
        inner = super().with_structured_output(schema, **kwargs)
        model = self

        class Timed:
            def invoke(self, messages: Any, config: Any = None) -> Any:
                start = time.perf_counter()
                try:
                    return inner.invoke(messages, config)
                finally:
                    model.spent += time.perf_counter() - start

        return Timed()


@contextmanager
def open_store(backend: str, index: IndexConfig) -> Iterator[BaseStore]:
    if backend == "memory":
        yield InMemoryStore(index=index)
        return
    with tempfile.TemporaryDirectory() as folder:
        store = SqliteStore(Path(folder) / "eval.db", index=index)
        store.setup()
        try:
            yield store
        finally:
            store.close()


def run(args: argparse.Namespace, label: str, dedup: DedupConfig, embed: Any) -> Result:
    rng = random.Random(args.seed)
    result = Result(label)
    index: IndexConfig = {"embed": embed, "dims": 384, "fields": ["content"]}
    with open_store(args.backend, index) as store:
        for user in range(args.users):
            user_id = f"u{user}"
            config = {"configurable": {"user_id": user_id, "thread_id": f"{user_id}-t"}}
            scripted = ScriptedUser(args.update_rate)
            model = TimedModel(script=[], then_nothing=True)
            model.script = [scripted.answer] * (args.sessions * args.turns)
            manager = create_memory_store_manager(model, store=store, dedup=dedup)
            turns = [t for session in conversation(rng, args.sessions, args.turns) for t in session]
            for n, turn in enumerate(turns):
                scripted.pending = [turn]
                scripted.rng.seed(f"{args.seed}-{user_id}-{n}")
                model.spent = 0.0
                start = time.perf_counter()
                manager.invoke([("user", turn.text)], config)
                elapsed = time.perf_counter() - start
                result.overhead_ms.append((elapsed - model.spent) * 1000)
                result.turns += 1
                if turn.kind == "change":
                    result.changes += 1
                    result.superseded += superseded(store, ("memories", user_id), turn)
            result.model_calls += model.structured_calls
            result.duplicates += duplicates(store, ("memories", user_id))
            result.wrong_merges += wrong_merges(store, ("memories", user_id))
    return result


def superseded(store: BaseStore, namespace: tuple[str, ...], turn: Turn) -> int:
    """1 when the new value is the top answer and the old one lives on only in history."""
    assert turn.slot and turn.old and turn.new
    top = search_memories(store, namespace, query=SLOTS[turn.slot]["ask"], limit=1)
    if not top or turn.new not in str(top[0].value["content"]):
        return 0
    current = store.search(namespace, limit=1000)
    if any(turn.old in str(item.value["content"]) for item in current):
        return 0
    history = get_history(store, namespace, top[0].key)
    return int(any(turn.old in str(v.value["content"]) for v in history))


def slot_of(text: str) -> str | None:
    return next(
        (slot for slot, spec in SLOTS.items() if any(v in text for v in spec["values"])), None
    )


def duplicates(store: BaseStore, namespace: tuple[str, ...]) -> int:
    per_slot: dict[str, int] = {}
    for item in store.search(namespace, limit=1000):
        slot = slot_of(str(item.value["content"]))
        if slot is not None:
            per_slot[slot] = per_slot.get(slot, 0) + 1
    return sum(count - 1 for count in per_slot.values())


def wrong_merges(store: BaseStore, namespace: tuple[str, ...]) -> int:
    """Dedup updates that replaced a fact about one slot with a fact about another."""
    merged = store.search(history_namespace(namespace), filter={"reason": "dedup"}, limit=1000)
    return sum(
        slot_of(str(item.value["content"])) != slot_of(str(item.value["replaced_by"]["content"]))
        for item in merged
    )


def reflection_calls(args: argparse.Namespace, embed: Any) -> float:
    """Model calls per turn when a debounced ReflectionExecutor runs the manager per session."""
    rng = random.Random(args.seed)
    index: IndexConfig = {"embed": embed, "dims": 384, "fields": ["content"]}
    model = ScriptedMemoryModel(script=[], then_nothing=True)
    manager = create_memory_store_manager(model)
    turns = 0
    with (
        open_store(args.backend, index) as store,
        ReflectionExecutor(manager, store=store, delay=0.2, poll_interval=0.05) as executor,
    ):
        for user in range(min(args.users, 3)):
            config = {"configurable": {"user_id": f"u{user}", "thread_id": f"u{user}-t"}}
            history: list[tuple[str, str]] = []
            for session in conversation(rng, args.sessions, args.turns):
                for turn in session:
                    history.append(("user", turn.text))
                    executor.submit({"messages": history}, config)
                    turns += 1
                executor.wait_idle(timeout=30)  # the session goes quiet
    return model.structured_calls / turns


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--sessions", type=int, default=5)
    parser.add_argument("--turns", type=int, default=4)
    parser.add_argument("--update-rate", type=float, default=0.7)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--backend", choices=["memory", "sqlite"], default="memory")
    parser.add_argument("--thresholds", default="0.7,0.8,0.85,0.9,0.95")
    parser.add_argument(
        "--embedder",
        choices=["local", "hashing"],
        default="local",
        help="'hashing' (a bag-of-words stand-in) shows the overhead without the embedding model",
    )
    args = parser.parse_args()
    embed = init_embeddings("local") if args.embedder == "local" else HashingEmbed(384)
    configs: list[tuple[str, DedupConfig]] = [
        ("dedup off", DedupConfig(enabled=False)),
        ("exact only", DedupConfig(threshold=None)),
    ] + [(f"threshold {t}", DedupConfig(threshold=float(t))) for t in args.thresholds.split(",")]
    print(
        f"backend={args.backend} users={args.users} sessions={args.sessions} "
        f"turns/session={args.turns} update-rate={args.update_rate} seed={args.seed}\n"
    )
    print("| dedup | dup/100 turns | wrong merges | superseded | model calls/turn | ms p50 | p95 |")
    print("|---|---|---|---|---|---|---|")
    for label, dedup in configs:
        r = run(args, label, dedup, embed)
        q = statistics.quantiles(r.overhead_ms, n=20)
        print(
            f"| {label} | {100 * r.duplicates / r.turns:.1f} | {r.wrong_merges} | "
            f"{r.superseded}/{r.changes} ({100 * r.superseded / max(r.changes, 1):.0f}%) | "
            f"{r.model_calls / r.turns:.2f} | {statistics.median(r.overhead_ms):.1f} | {q[18]:.1f} |"
        )
    print(
        f"\nReflectionExecutor (debounced per session): "
        f"{reflection_calls(args, embed):.2f} model calls/turn"
    )


if __name__ == "__main__":
    main()
