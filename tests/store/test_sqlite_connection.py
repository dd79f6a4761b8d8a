"""The shared SQLite plumbing: opening files safely, retries, migrations."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import threading
from pathlib import Path

import pytest

from threadloom._sqlite import Database, connect, migrate, schema_version
from threadloom.errors import DatabaseError, InvalidConnectionError, SchemaVersionError


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_opens_a_new_file_in_wal_mode(tmp_path: Path) -> None:
    """A new database file is created in WAL mode with synchronous=NORMAL."""
    conn = connect(tmp_path / "new.db")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    conn.close()


def test_memory_database_opens() -> None:
    """An in-memory database opens without touching the disk."""
    db = Database.open(":memory:")
    assert db.read(lambda c: c.execute("SELECT 1").fetchone()[0]) == 1
    db.close()


def test_missing_directory_is_a_database_error_naming_the_path(tmp_path: Path) -> None:
    """A path in a directory that does not exist raises DatabaseError naming it."""
    path = tmp_path / "nowhere" / "x.db"
    with pytest.raises(DatabaseError, match="does not exist") as info:
        connect(path)
    assert str(path) in str(info.value)
    assert not path.parent.exists()


def test_directory_as_database_path_is_refused(tmp_path: Path) -> None:
    """A path that is a directory raises DatabaseError."""
    with pytest.raises(DatabaseError, match="is a directory"):
        connect(tmp_path)


def test_read_only_directory_is_a_database_error(tmp_path: Path) -> None:
    """A path in a directory the process cannot write raises DatabaseError (checked as an unprivileged user)."""
    base = Path(tempfile.mkdtemp(prefix="tl-ro-"))
    try:
        base.chmod(0o755)
        ro = base / "ro"
        ro.mkdir()
        ro.chmod(0o555)
        code = textwrap.dedent(
            f"""
            import os
            from threadloom._sqlite import connect
            from threadloom.errors import DatabaseError
            if os.geteuid() == 0:
                os.setuid(65534)  # root writes anywhere; check as an ordinary user
            try:
                connect({str(ro / "x.db")!r})
            except DatabaseError as exc:
                print("DatabaseError:", exc)
            """
        )
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
        )
        assert "DatabaseError:" in out.stdout, out.stderr
        assert "not writable" in out.stdout and str(ro) in out.stdout
        assert list(ro.iterdir()) == []
    finally:
        (base / "ro").chmod(0o755)
        for child in sorted(base.rglob("*"), reverse=True):
            child.rmdir() if child.is_dir() else child.unlink()
        base.rmdir()


def test_a_file_that_is_not_sqlite_is_refused_and_left_untouched(tmp_path: Path) -> None:
    """A non-SQLite file raises DatabaseError and its bytes do not change."""
    path = tmp_path / "notes.db"
    path.write_bytes(b"these are my notes, not a database\n" * 100)
    before = digest(path)
    with pytest.raises(DatabaseError, match="not a SQLite database"):
        connect(path)
    assert digest(path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.db"]


def test_an_empty_file_is_a_valid_new_database(tmp_path: Path) -> None:
    """An existing empty file is accepted, as SQLite does."""
    path = tmp_path / "empty.db"
    path.touch()
    db = Database.open(path)
    migrate(db, "demo", ["CREATE TABLE t (x)"])
    db.close()
    assert path.read_bytes().startswith(b"SQLite format 3\x00")


def test_write_rolls_back_when_the_work_fails() -> None:
    """A write whose function raises leaves nothing behind."""
    db = Database.open(":memory:")
    migrate(db, "demo", ["CREATE TABLE t (x INTEGER)"])

    def fail(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO t VALUES (1)")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        db.write(fail)
    assert db.read(lambda c: c.execute("SELECT count(*) FROM t").fetchone()[0]) == 0
    db.close()


def test_busy_database_is_retried_not_reported(tmp_path: Path) -> None:
    """A write blocked by another connection's long transaction waits and succeeds."""
    path = tmp_path / "busy.db"
    db = Database.open(path)
    migrate(db, "demo", ["CREATE TABLE t (x INTEGER)"])
    other = sqlite3.connect(path, isolation_level=None, timeout=0, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO t VALUES (1)")
    # Make SQLite give up fast: the retry loop must cover the wait.
    db.conn.execute("PRAGMA busy_timeout = 10")
    releaser = threading.Timer(0.5, lambda: other.execute("COMMIT"))
    releaser.start()
    db.write(lambda c: c.execute("INSERT INTO t VALUES (2)"))
    releaser.join()
    assert db.read(lambda c: [r[0] for r in c.execute("SELECT x FROM t ORDER BY x")]) == [1, 2]
    other.close()
    db.close()


def test_a_lock_held_past_the_deadline_is_a_database_error(tmp_path: Path) -> None:
    """When the lock never frees, the caller gets DatabaseError, not sqlite3's error."""
    path = tmp_path / "stuck.db"
    db = Database.open(path)
    migrate(db, "demo", ["CREATE TABLE t (x INTEGER)"])
    db.busy_deadline = 0.3
    db.conn.execute("PRAGMA busy_timeout = 10")
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    with pytest.raises(DatabaseError, match="locked"):
        db.write(lambda c: c.execute("INSERT INTO t VALUES (2)"))
    other.execute("ROLLBACK")
    other.close()
    db.close()


def test_migrations_run_once_and_record_the_version(tmp_path: Path) -> None:
    """migrate() applies each migration once; running it again is a no-op."""
    calls: list[int] = []

    def second(conn: sqlite3.Connection) -> None:
        calls.append(1)
        conn.execute("INSERT INTO t VALUES (42)")

    migrations = ["CREATE TABLE t (x INTEGER); CREATE INDEX t_x ON t (x);", second]
    db = Database.open(tmp_path / "m.db")
    assert migrate(db, "demo", migrations) == 2
    assert migrate(db, "demo", migrations) == 2
    assert calls == [1]
    assert schema_version(db, "demo") == 2
    assert schema_version(db, "other") == 0
    db.close()


def test_new_migrations_apply_on_top_of_old_ones(tmp_path: Path) -> None:
    """Adding a migration to the list upgrades an existing file."""
    path = tmp_path / "m.db"
    db = Database.open(path)
    migrate(db, "demo", ["CREATE TABLE t (x INTEGER)"])
    db.close()
    # The demo component's table is not one of threadloom's: opening its file again is an opt-in.
    db = Database.open(path, allow_foreign_tables=True)
    assert migrate(db, "demo", ["CREATE TABLE t (x INTEGER)", "ALTER TABLE t ADD COLUMN y"]) == 2
    db.write(lambda c: c.execute("INSERT INTO t (x, y) VALUES (1, 2)"))
    db.close()


def test_a_failing_migration_leaves_the_schema_unchanged(tmp_path: Path) -> None:
    """A migration that fails rolls back all of the run, version included."""
    db = Database.open(tmp_path / "m.db")
    with pytest.raises(sqlite3.OperationalError):
        migrate(db, "demo", ["CREATE TABLE t (x)", "THIS IS NOT SQL"])
    assert schema_version(db, "demo") == 0
    tables = db.read(
        lambda c: c.execute("SELECT name FROM sqlite_master WHERE name='t'").fetchall()
    )
    assert tables == []
    db.close()


def test_a_newer_schema_is_refused_and_the_file_left_untouched(tmp_path: Path) -> None:
    """A file whose recorded version is newer than the code raises SchemaVersionError and is not modified."""
    path = tmp_path / "future.db"
    db = Database.open(path)
    migrate(db, "demo", ["CREATE TABLE t (x)", "CREATE TABLE u (y)", "CREATE TABLE v (z)"])
    db.close()
    before = digest(path)
    db = Database.open(path, allow_foreign_tables=True)  # the demo tables are not threadloom's
    with pytest.raises(SchemaVersionError, match="version 3") as info:
        migrate(db, "demo", ["CREATE TABLE t (x)"])
    assert str(path) in str(info.value)
    assert (info.value.found, info.value.known, info.value.component) == (3, 1, "demo")
    db.close()
    assert digest(path) == before


def test_concurrent_setup_from_many_threads_applies_once(tmp_path: Path) -> None:
    """Several connections running migrate() at once apply each migration once."""
    path = tmp_path / "race.db"
    Database.open(path).close()
    migrations = ["CREATE TABLE t (x)", "INSERT INTO t VALUES (1)"]
    errors: list[BaseException] = []

    def run() -> None:
        try:
            # Threads that start late find the demo component's table, not one of threadloom's.
            db = Database.open(path, allow_foreign_tables=True)
            migrate(db, "demo", migrations)
            db.close()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    db = Database.open(path, allow_foreign_tables=True)
    assert db.read(lambda c: c.execute("SELECT count(*) FROM t").fetchone()[0]) == 1
    db.close()


def test_one_database_is_shared_safely_by_threads(tmp_path: Path) -> None:
    """Many threads writing through one Database lose nothing."""
    db = Database.open(tmp_path / "threads.db")
    migrate(db, "demo", ["CREATE TABLE t (x INTEGER)"])

    def work(n: int) -> None:
        for i in range(50):
            db.write(lambda c, i=i: c.execute("INSERT INTO t VALUES (?)", (n * 1000 + i,)))

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert db.read(lambda c: c.execute("SELECT count(DISTINCT x) FROM t").fetchone()[0]) == 400
    db.close()


def test_wrapped_connection_is_configured_and_not_closed() -> None:
    """Database.wrap puts a caller's connection in WAL/autocommit and leaves closing to the caller."""
    conn = sqlite3.connect(":memory:", check_same_thread=False)
    db = Database.wrap(conn)
    assert conn.isolation_level is None
    db.close()
    assert conn.execute("SELECT 1").fetchone()[0] == 1
    conn.close()


def test_env_has_no_stray_files(tmp_path: Path) -> None:
    """Opening and closing leaves only the database file (the WAL is checkpointed away)."""
    path = tmp_path / "clean.db"
    db = Database.open(path)
    migrate(db, "demo", ["CREATE TABLE t (x)"])
    db.close()
    assert sorted(os.listdir(tmp_path)) == ["clean.db"]


def test_opening_a_file_twice_in_one_process_keeps_the_first_connections_locks(
    tmp_path: Path,
) -> None:
    """A second open of a file in this process does not drop the first's POSIX locks (which would let another process delete the WAL under it)."""
    path = tmp_path / "twice.db"
    first = Database.open(path)
    migrate(first, "demo", ["CREATE TABLE t (x INTEGER)"])
    first.write(lambda c: c.execute("INSERT INTO t VALUES (1)"))
    # Checks the path again while `first` is open (the demo table is not threadloom's).
    second = Database.open(path, allow_foreign_tables=True)
    # Another process opens, writes and closes: it must see that it is not the last
    # connection (our shared lock), so it must not checkpoint and delete the WAL.
    code = (
        "import sqlite3, sys; c = sqlite3.connect(sys.argv[1], isolation_level=None); "
        "c.execute('INSERT INTO t VALUES (2)'); c.close()"
    )
    subprocess.run([sys.executable, "-c", code, str(path)], check=True, timeout=60)
    assert Path(f"{path}-wal").exists()
    first.write(lambda c: c.execute("INSERT INTO t VALUES (3)"))
    second.close()
    first.close()
    check = sqlite3.connect(path)
    assert [r[0] for r in check.execute("SELECT x FROM t ORDER BY x")] == [1, 2, 3]
    assert check.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    check.close()


@pytest.mark.parametrize("backend", ["store", "saver"])
def test_a_constructor_given_no_connection_or_path_is_a_type_error(backend: str) -> None:
    """SqliteStore(42) and SqliteSaver(42) name what they got instead of failing deep inside."""
    from threadloom.checkpoint.sqlite import SqliteSaver
    from threadloom.store.sqlite import SqliteStore

    cls = SqliteStore if backend == "store" else SqliteSaver
    with pytest.raises(InvalidConnectionError, match="int"):
        cls(42)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        cls(42)  # type: ignore[arg-type]


def test_adopt_returns_a_database_unchanged(tmp_path: Path) -> None:
    """A Database handed to a backend is used as is, not re-wrapped."""
    db = Database.open(tmp_path / "a.db")
    try:
        assert Database.adopt(db) is db
    finally:
        db.close()
