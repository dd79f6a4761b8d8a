"""A write that returned survives SIGKILL of its process: checked with 50+ real kills."""

from __future__ import annotations

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
KILLS = 51
AT_ONCE = 3  # writers killed together, on the same file


def start(path: Path, name: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, WORKER, "durable", str(path), name],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_acknowledged_puts_and_checkpoints_survive_sigkill(tmp_path: Path) -> None:
    """Writers killed at random moments lose nothing they acknowledged, and the file stays intact."""
    path = tmp_path / "durable.db"
    rng = random.Random(2024)
    acked_keys: dict[str, str] = {}  # key -> writer name
    acked_checkpoints: list[tuple[str, str]] = []
    kills = 0
    wave = 0
    while kills < KILLS:
        wave += 1
        writers = [start(path, f"w{wave}x{i}") for i in range(AT_ONCE)]
        # Wait until each writer runs (the first wave races on creating the schema),
        # then kill each at a random moment in the middle of its writes.
        for writer in writers:
            assert writer.stdout is not None
            line = writer.stdout.readline()
            assert line == "ready\n", (line, writer.stderr.read() if writer.stderr else "")
        deadline = time.monotonic()
        for writer in writers:
            deadline += rng.uniform(0.0, 0.15)
            time.sleep(max(0.0, deadline - time.monotonic()))
            writer.send_signal(signal.SIGKILL)
        for writer in writers:
            out, err = writer.communicate(timeout=30)
            assert writer.returncode == -signal.SIGKILL, err
            assert "locked" not in err and "Traceback" not in err, err
            for line in out.splitlines():
                words = line.split()
                if words[:1] == ["put"]:
                    for key in words[1:]:
                        acked_keys[key] = key.split("-")[0]
                elif words[:1] == ["cp"]:
                    acked_checkpoints.append((words[1], words[2]))
            kills += 1

    assert len(acked_keys) > KILLS  # the kills landed while writes were flowing
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    index = {"dims": 16, "embed": HashingEmbed(16), "fields": ["text"]}
    with SqliteStore(path, index=index) as store:  # type: ignore[arg-type]
        missing = [k for k, name in acked_keys.items() if store.get(("durable", name), k) is None]
        assert missing == []
        # Vectors were committed with their items: a semantic search finds them.
        for key in rng.sample(sorted(acked_keys), 20):
            hits = store.search(("durable", acked_keys[key]), query=f"note {key}", limit=1)
            assert hits and hits[0].key == key
    with SqliteSaver.from_conn_string(str(path)) as saver:
        for thread, checkpoint_id in acked_checkpoints:
            config = {"configurable": {"thread_id": thread, "checkpoint_ns": "", "checkpoint_id": checkpoint_id}}
            saved = saver.get_tuple(config)  # type: ignore[arg-type]
            assert saved is not None, (thread, checkpoint_id)
            assert saved.checkpoint["channel_values"] == {"count": int(checkpoint_id)}
