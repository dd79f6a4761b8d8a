"""The command never takes over another application's database, nor writes to a damaged one."""

from __future__ import annotations

import hashlib
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

from threadloom.checkpoint.sqlite import SqliteSaver
from threadloom.store.base import PutOp
from threadloom.store.sqlite import SqliteStore


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _other_apps_db(path: Path) -> Path:
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)")
        conn.executemany("INSERT INTO t (name) VALUES (?)", [("a",), ("b",)])
        conn.commit()
    return path


def _tables(path: Path) -> list[str]:
    with closing(sqlite3.connect(path)) as conn:
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        return [name for (name,) in rows]


def test_demo_refuses_another_applications_database(isolated_env: Path, run_cli: Any) -> None:
    """`threadloom demo --db other.db` on a file with a table `t`: non-zero exit, a one-line
    message naming the file, the table and the opt-in flag, and the file unchanged."""
    path = _other_apps_db(isolated_env / "other.db")
    before = digest(path)
    result = run_cli(["demo", "--db", str(path)])
    assert result.returncode == 1, result.stdout
    assert "Traceback" not in result.stderr
    message = result.stderr.strip()
    assert message.startswith("threadloom: error:") and len(message.splitlines()) == 1
    assert str(path) in message and "'t'" in message and "--allow-foreign-tables" in message
    assert digest(path) == before
    assert _tables(path) == ["t"]


def test_chat_refuses_another_applications_database(isolated_env: Path, run_cli: Any) -> None:
    """`threadloom chat` applies the same rule."""
    path = _other_apps_db(isolated_env / "other.db")
    before = digest(path)
    result = run_cli(["chat", "--db", str(path), "--user", "u"], stdin="hello\n/quit\n")
    assert result.returncode == 1
    assert "not threadloom's" in result.stderr and str(path) in result.stderr
    assert digest(path) == before


def test_demo_shares_a_database_when_told_to(isolated_env: Path, run_cli: Any) -> None:
    """--allow-foreign-tables runs the demo in the shared file and leaves `t` intact."""
    path = _other_apps_db(isolated_env / "other.db")
    result = run_cli(["demo", "--db", str(path), "--allow-foreign-tables"])
    assert result.returncode == 0, result.stderr
    with closing(sqlite3.connect(path)) as conn:
        assert conn.execute("SELECT name FROM t ORDER BY id").fetchall() == [("a",), ("b",)]
    assert "store_items" in _tables(path)


def test_demo_reports_a_damaged_database_and_writes_nothing(
    isolated_env: Path, run_cli: Any
) -> None:
    """A threadloom file with a corrupt page: non-zero exit, a message naming the file,
    and the file unchanged (the damage is found before anything is written)."""
    path = isolated_env / "damaged.db"
    with SqliteStore.from_conn_string(path) as store:
        store.batch([PutOp(("memories", "x"), f"k{i}", {"data": "y" * 300}) for i in range(100)])
    with SqliteSaver.from_conn_string(path):
        pass
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        (root,) = conn.execute(
            "SELECT rootpage FROM sqlite_master WHERE name = 'store_items'"
        ).fetchone()
        (page_size,) = conn.execute("PRAGMA page_size").fetchone()
    with open(path, "r+b") as handle:
        handle.seek((root - 1) * page_size)
        handle.write(bytes([0xA5]) * page_size)
    before = digest(path)
    result = run_cli(["demo", "--db", str(path)])
    assert result.returncode == 1, result.stdout
    assert "Traceback" not in result.stderr
    assert str(path) in result.stderr and "damaged" in result.stderr
    assert digest(path) == before
