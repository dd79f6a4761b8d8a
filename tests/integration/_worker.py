"""Worker processes for the concurrency test (run as a script); the durability test's are in ``_durable.py``.

``_worker.py busy PATH NAME THREADS ROUNDS``: threads that put, search and
checkpoint on a shared store and saver, checking on the way that a semantic
search sees what other processes have committed; prints ``done`` or errors.
"""

from __future__ import annotations

import sys
import threading
import traceback
from typing import Any

from threadloom._sqlite import Database
from threadloom.checkpoint.sqlite import SqliteSaver
from threadloom.store.sqlite import SqliteStore
from threadloom.testing.embeddings import HashingEmbed

DIMS = 64
WORKERS_NS = "shared"


def index() -> Any:
    return {"dims": DIMS, "embed": HashingEmbed(DIMS), "fields": ["text"]}


def checkpoint(number: int) -> dict[str, Any]:
    return {
        "v": 1,
        "id": f"{number:08d}",
        "ts": "2026-01-01T00:00:00+00:00",
        "channel_values": {"count": number},
        "channel_versions": {"count": number + 1},
        "versions_seen": {},
        "updated_channels": ["count"],
    }


def save_checkpoint(saver: SqliteSaver, thread: str, number: int, parent: Any) -> Any:
    config = parent or {"configurable": {"thread_id": thread, "checkpoint_ns": ""}}
    return saver.put(
        config, checkpoint(number), {"source": "loop", "step": number}, {"count": number + 1}
    )  # type: ignore[arg-type]


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def note(key: str) -> str:
    """The text stored under ``key``: one word of its own, so searches have no ties."""
    return f"note {key.replace('-', 'q')}"


def exact(hits: list[Any]) -> list[str]:
    """Keys of the hits whose vector equals the query's (hashing may tie a few)."""
    return [hit.key for hit in hits if hit.score > 0.999]


def busy(path: str, name: str, threads: int, rounds: int) -> None:
    store = SqliteStore(path, index=index())
    store.setup()
    saver = SqliteSaver(Database.open(path))
    saver.setup()
    errors: list[str] = []
    others_seen = [0]

    def work(t: int) -> None:
        parent = None
        try:
            for n in range(rounds):
                key = f"{name}-t{t}-n{n}"
                store.put((WORKERS_NS, name), key, {"text": note(key), "n": n})
                mine = store.search((WORKERS_NS, name), query=note(key), limit=10)
                if key not in exact(mine):
                    errors.append(f"own write {key} not found: {mine}")
                # Whatever another process has committed (seen by a plain SQL read) must
                # also be found by a semantic search through this process's vector index.
                newest = store.search((WORKERS_NS,), limit=5)
                for item in newest:
                    hits = store.search(item.namespace, query=item.value["text"], limit=10)
                    if item.key not in exact(hits):
                        errors.append(f"committed {item.key} missing from semantic search: {hits}")
                    others_seen[0] += item.namespace[1] != name
                parent = save_checkpoint(saver, f"{name}-t{t}", n, parent)
        except Exception:
            errors.append(traceback.format_exc())

    pool = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    for error in errors:
        say("ERROR " + error.replace("\n", " | "))
    say(f"done {others_seen[0]}" if not errors else "failed")


if __name__ == "__main__":
    _mode, path, *rest = sys.argv[1:]  # the mode is "busy"
    busy(path, rest[0], int(rest[1]), int(rest[2]))
