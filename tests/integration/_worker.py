"""Worker processes for the durability and concurrency tests (run as a script).

``_worker.py durable PATH NAME``: puts and checkpoints forever, printing one
line per acknowledged (returned) write, until it is killed.

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
from threadloom.store.base import PutOp
from threadloom.store.sqlite import SqliteStore
from threadloom.testing.embeddings import HashingEmbed

DIMS = 16
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
    return saver.put(config, checkpoint(number), {"source": "loop", "step": number}, {"count": number + 1})  # type: ignore[arg-type]


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def durable(path: str, name: str) -> None:
    store = SqliteStore(path, index=index())
    store.setup()
    saver = SqliteSaver(Database.open(path))
    saver.setup()
    say("ready")
    parent = None
    number = 0
    while True:
        number += 1
        keys = [f"{name}-{number}-{j}" for j in range(1 + number % 3)]
        store.batch([PutOp(("durable", name), key, {"text": f"note {key}", "n": number}) for key in keys])
        say("put " + " ".join(keys))
        parent = save_checkpoint(saver, name, number, parent)
        say(f"cp {name} {number:08d}")


def busy(path: str, name: str, threads: int, rounds: int) -> None:
    store = SqliteStore(path, index=index())
    store.setup()
    saver = SqliteSaver(Database.open(path))
    saver.setup()
    errors: list[str] = []

    def work(t: int) -> None:
        parent = None
        try:
            for n in range(rounds):
                key = f"{name}-t{t}-n{n}"
                store.put((WORKERS_NS, name), key, {"text": f"beacon {key}", "n": n})
                mine = store.search((WORKERS_NS, name), query=f"beacon {key}", limit=1)
                if not mine or mine[0].key != key:
                    errors.append(f"own write {key} not found: {mine}")
                # Whatever another process has committed (seen by a plain SQL read) must
                # also be found by a semantic search through this process's vector index.
                newest = store.search((WORKERS_NS,), limit=5)
                for item in newest:
                    hits = store.search(item.namespace, query=item.value["text"], limit=1)
                    if not hits or hits[0].key != item.key:
                        errors.append(f"committed {item.key} missing from semantic search: {hits}")
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
    say("done" if not errors else "failed")


if __name__ == "__main__":
    mode, path, name, *rest = sys.argv[1:]
    if mode == "durable":
        durable(path, name)
    else:
        busy(path, name, int(rest[0]), int(rest[1]))
