"""`threadloom migrate` on the command line: the installed console script, in a subprocess."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _apps import langgraph_sqlite

from threadloom.checkpoint.sqlite import SqliteSaver
from threadloom.store.sqlite import SqliteStore


def _run(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).with_name("threadloom")
    env = {**os.environ, "HOME": str(home), "XDG_DATA_HOME": str(home / "xdg")}
    env.pop("THREADLOOM_DB", None)
    return subprocess.run(
        [str(script), "migrate", *args], capture_output=True, text=True, env=env, timeout=120
    )


def test_cli_migrates_with_progress_and_continues(tmp_path: Path) -> None:
    """Progress per batch on stderr, a summary on stdout; a second run has nothing left to do."""
    source, target = tmp_path / "langgraph.db", tmp_path / "threadloom.db"
    with langgraph_sqlite(source) as (_graph, _store, conn):
        total = conn.execute("SELECT count(*) FROM checkpoints").fetchone()[0]
    done = _run(str(source), "--db", str(target), "--batch-size", "4", home=tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"migrated {total} checkpoints" in done.stdout
    assert "5 store items" in done.stdout
    assert "Traceback" not in done.stderr
    with SqliteSaver.from_conn_string(str(target)) as saver:
        assert len(list(saver.list(None))) == total
    with SqliteStore.from_conn_string(str(target)) as store:
        assert len(store.search(("memories",), limit=50)) == 4
    again = _run(str(source), "--db", str(target), home=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "migrated 0 checkpoints (0 pending writes) and 0 store items" in again.stdout
    assert "continued an earlier run" in again.stdout


def test_cli_names_a_pickled_row_in_one_line(tmp_path: Path) -> None:
    """A refused row: exit 1, one line naming the row, no traceback."""
    source = tmp_path / "langgraph.db"
    with langgraph_sqlite(source) as (_graph, _store, conn):
        conn.execute("UPDATE writes SET type = 'pickle', value = ?", (pickle.dumps(1),))
        conn.commit()
    failed = _run(str(source), "--db", str(tmp_path / "t.db"), home=tmp_path)
    assert failed.returncode == 1
    lines = [line for line in failed.stderr.splitlines() if line.startswith("threadloom: error")]
    assert len(lines) == 1 and "writes row t-done/" in lines[0] and "pickled" in lines[0]
    assert "Traceback" not in failed.stderr
    skipped = _run(str(source), "--db", str(tmp_path / "u.db"), "--skip-pickle", home=tmp_path)
    assert skipped.returncode == 0, skipped.stderr
    assert "left out" in skipped.stderr


def test_cli_missing_source_is_one_line(tmp_path: Path) -> None:
    """A source path that does not exist: exit 1 and a message naming it."""
    failed = _run(str(tmp_path / "nope.db"), "--db", str(tmp_path / "t.db"), home=tmp_path)
    assert failed.returncode == 1
    assert "nope.db" in failed.stderr and "does not exist" in failed.stderr
    assert not (tmp_path / "t.db").exists()


def test_progress_shows_one_bar_per_part() -> None:
    """Checkpoints, then items: each part gets its own bar, fed with running totals."""
    import io

    from threadloom.cli._migrate import _progress

    stream = io.StringIO()
    show, finish = _progress(stream=stream, enabled=True)
    show("checkpoints", 4, 8)
    show("checkpoints", 8, 8)
    show("items", 5, 5)
    finish()
    shown = stream.getvalue()
    assert "migrating checkpoints" in shown and "8/8" in shown
    assert "migrating items" in shown and "5/5" in shown
