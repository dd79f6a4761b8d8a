"""A write that returned survives SIGKILL of its process: checked with 50+ real kills."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from threadloom.checkpoint.sqlite import SqliteSaver
from threadloom.store.sqlite import SqliteStore
from threadloom.testing.embeddings import HashingEmbed

WORKER = str(Path(__file__).with_name("_worker.py"))
KILLS = 60
AT_ONCE = 3  # writers running, and killed, together on the same file


def read_acks(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_acknowledged_puts_and_checkpoints_survive_sigkill(tmp_path: Path) -> None:
    """Writers killed at random moments lose nothing they acknowledged, and the file stays intact."""
    path = tmp_path / "durable.db"
    rng = random.Random(2024)
    zygote = subprocess.Popen(
        [sys.executable, WORKER, "zygote", str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "OPENBLAS_NUM_THREADS": "1"},
    )
    assert zygote.stdin is not None and zygote.stdout is not None
    acked_keys: dict[str, str] = {}  # key -> writer name
    acked_checkpoints: list[tuple[str, str]] = []
    names: list[str] = []
    try:
        while len(names) < KILLS:
            wave = [f"w{len(names) + i}" for i in range(AT_ONCE)]
            pids = []
            for name in wave:
                zygote.stdin.write(name + "\n")
                zygote.stdin.flush()
                pids.append(int(zygote.stdout.readline()))
            # Let each writer get going (the first wave races to create the schema),
            # then kill each at a random moment in the middle of its writes.
            for name in wave:
                deadline = time.monotonic() + 30
                while "ready" not in read_acks(Path(f"{path}.{name}.acks")):
                    assert time.monotonic() < deadline, f"writer {name} never started"
                    time.sleep(0.005)
            for pid in pids:
                time.sleep(rng.uniform(0.0, 0.12))
                os.kill(pid, signal.SIGKILL)
            names.extend(wave)
    finally:
        zygote.stdin.close()
        zygote.wait(timeout=30)
        zygote.stdout.close()
    time.sleep(0.2)  # the last writers are gone (killed processes release their locks)

    for name in names:
        for line in read_acks(Path(f"{path}.{name}.acks")):
            words = line.split()
            if words[:1] == ["put"]:
                for key in words[1:]:
                    acked_keys[key] = name
            elif words[:1] == ["cp"]:
                acked_checkpoints.append((words[1], words[2]))
    assert len(acked_keys) > 2 * KILLS  # the kills landed while writes were flowing

    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    index = {"dims": 64, "embed": HashingEmbed(64), "fields": ["text"]}
    with SqliteStore(path, index=index) as store:  # type: ignore[arg-type]
        missing = [k for k, name in acked_keys.items() if store.get(("durable", name), k) is None]
        assert missing == []
        # Vectors were committed with their items: a semantic search finds them. The
        # 64-bucket hashing embedder gives many keys the same vector (score 1.0 ties), so
        # the search reads the writer's whole namespace rather than a top 10.
        for key in rng.sample(sorted(acked_keys), 25):
            text = f"note {key.replace('-', 'q')}"
            hits = store.search(("durable", acked_keys[key]), query=text, limit=100_000)
            assert key in [h.key for h in hits if h.score > 0.999]
    with SqliteSaver.from_conn_string(str(path)) as saver:
        for thread, checkpoint_id in acked_checkpoints:
            config = {
                "configurable": {
                    "thread_id": thread,
                    "checkpoint_ns": "",
                    "checkpoint_id": checkpoint_id,
                }
            }
            saved = saver.get_tuple(config)  # type: ignore[arg-type]
            assert saved is not None, (thread, checkpoint_id)
            assert saved.checkpoint["channel_values"] == {"count": int(checkpoint_id)}
