"""SQLite plumbing shared by the SQLite checkpointer and the SQLite store.

Private: the public entry points are ``threadloom.checkpoint.sqlite`` and
``threadloom.store.sqlite``. What this module promises them:

* :func:`connect` opens a path (or ``":memory:"``) after checking it, so a
  missing or read-only directory and a file that is not SQLite give a
  :class:`~threadloom.errors.DatabaseError` naming the path, and a foreign file
  is never written to (its header is read before SQLite opens it). A file
  this process already has open through a :class:`Database` is not read
  again: closing any descriptor of a file drops all of the process's POSIX
  locks on it, SQLite's included, which lets another process delete the WAL
  under a live connection. Code in the same process should not read open
  database files with plain file I/O either.
* Every connection runs in WAL mode with ``synchronous=NORMAL``. In WAL mode
  a committed transaction is in the WAL file before ``COMMIT`` returns, so it
  survives the writing *process* being killed (SIGKILL included); only an
  operating-system crash or power loss can drop the last few transactions.
  That is the durability the library promises; pass ``synchronous="FULL"`` to
  :func:`connect` for power-loss durability at the cost of an fsync per commit.
* "database is locked" / "busy" never reaches a caller: SQLite's
  ``busy_timeout`` waits first, and :meth:`Database.read` / :meth:`Database.write`
  retry the whole unit of work with backoff for up to ``busy_deadline`` seconds,
  after which a :class:`~threadloom.errors.DatabaseError` says so.
* Writes run in ``BEGIN IMMEDIATE`` transactions, so a writer takes the write
  lock up front and never fails half-way through on a lock upgrade.
* :func:`migrate` applies a component's migrations (a list: position =
  version) and records the version in the ``threadloom_migrations`` table.
* Another application's database is not taken over: a file (or a caller's
  connection) holding tables that are not threadloom's (:func:`foreign_tables`)
  is refused with :class:`~threadloom.errors.ForeignDatabaseError` naming the
  file and the tables, before anything is written (WAL mode included),
  unless the caller passes ``allow_foreign_tables=True``.
* SQLite's faults of the file itself (disk full, corrupt pages, I/O errors,
  a read-only file) surface as :class:`~threadloom.errors.DatabaseError`
  naming the file; the transaction that met one is rolled back, so nothing of
  it is kept. :func:`verify` reads every page (``PRAGMA quick_check``).

Thread safety: a :class:`Database` owns one connection and one re-entrant
lock; every read and write holds the lock, so one ``Database`` may be shared by
any number of threads (they take turns; SQLite admits one writer at a time
anyway). Processes coordinate through SQLite's own file locks.

Example::

    from threadloom._sqlite import Database, migrate

    db = Database.open(":memory:")
    migrate(db, "demo", ["CREATE TABLE t (x INTEGER)"])
    db.write(lambda conn: conn.execute("INSERT INTO t VALUES (1)"))
    assert db.read(lambda conn: conn.execute("SELECT x FROM t").fetchall()) == [(1,)]
    db.close()
"""

from __future__ import annotations

import os
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Literal, TypeVar

from threadloom.errors import (
    DatabaseError,
    ForeignDatabaseError,
    InvalidConnectionError,
    SchemaVersionError,
)

__all__ = [
    "MIGRATIONS_TABLE",
    "THREADLOOM_TABLES",
    "Database",
    "Migration",
    "Synchronous",
    "check_foreign_tables",
    "configure",
    "connect",
    "file_error",
    "foreign_tables",
    "is_busy_error",
    "migrate",
    "schema_version",
    "verify",
]

T = TypeVar("T")

#: The first 16 bytes of every SQLite database file.
SQLITE_HEADER = b"SQLite format 3\x00"
#: Where :func:`migrate` records each component's schema version.
MIGRATIONS_TABLE = "threadloom_migrations"
#: Milliseconds SQLite itself waits on a lock before reporting "busy".
BUSY_TIMEOUT_MS = 5_000
#: Seconds :class:`Database` keeps retrying a busy unit of work before giving up.
BUSY_DEADLINE_S = 60.0

#: Every table threadloom's SQLite components create: the checkpointer's, the store's
#: (its FTS5 keyword index and that index's shadow tables included) and the migrations
#: table. A new component adds its tables here (a test checks this list against a file
#: set up by every component).
THREADLOOM_TABLES = frozenset(
    {
        MIGRATIONS_TABLE,
        "checkpoint_blobs",
        "checkpoint_snapshots",
        "checkpoint_writes",
        "store_fts",
        "store_fts_config",
        "store_fts_data",
        "store_fts_docsize",
        "store_fts_idx",
        "store_items",
        "store_meta",
        "store_removals",
        "store_texts",
        "store_vectors",
    }
)
#: SQLite's primary result codes that describe the file, not the statement:
#: PERM, READONLY, IOERR, CORRUPT, FULL, CANTOPEN, NOLFS, NOTADB.
_FILE_FAULTS = frozenset({3, 8, 10, 11, 13, 14, 22, 26})
_FULL, _CORRUPT, _NOTADB = 13, 11, 26
#: Table names a newer threadloom may add to a file it set up (see :func:`foreign_tables`).
_OWN_PREFIXES = ("threadloom_", "store_", "checkpoint_")

#: A migration is SQL (one or more statements) or a function of the connection.
Migration = str | Callable[[sqlite3.Connection], None]
Synchronous = Literal["NORMAL", "FULL"]


def is_busy_error(exc: BaseException) -> bool:
    """Whether ``exc`` is SQLite's "database is locked"/"busy" (worth a retry)."""
    if not isinstance(exc, sqlite3.OperationalError):
        return False
    message = str(exc).lower()
    return "locked" in message or "busy" in message


# Files this process has open through a Database, by (device, inode), with a count.
# POSIX drops ALL of a process's locks on a file when ANY descriptor of it is
# closed, so reading the header of a file SQLite already has open here would
# silently release that connection's locks (a classic way to corrupt SQLite).
_open_files: dict[tuple[int, int], int] = {}
_open_files_lock = threading.Lock()


def file_error(label: str, exc: sqlite3.Error) -> DatabaseError | None:
    """A :class:`DatabaseError` naming the file for SQLite's faults of the file itself
    (disk full, corruption, I/O, permissions), or ``None`` for any other error."""
    code = getattr(exc, "sqlite_errorcode", None)
    if not isinstance(code, int) or (code & 0xFF) not in _FILE_FAULTS:
        return None
    code &= 0xFF
    if code == _FULL:
        why = (
            "it is full (no space left on the disk, or the file reached its "
            "max_page_count); the write was rolled back and nothing of it was kept"
        )
    elif code in (_CORRUPT, _NOTADB):
        why = (
            "the file is damaged (corrupt pages); restore it from a backup, or move it "
            "aside and start a new one"
        )
    else:
        why = "the file cannot be read or written"
    return DatabaseError(f"Database {label!r}: {why} (SQLite: {exc}).")


def foreign_tables(conn: sqlite3.Connection) -> list[str]:
    """The tables and views in ``conn``'s main database that are not threadloom's, sorted.

    In a file threadloom never set up (no migrations table) every table is
    someone else's, even one named like ours. In a file it did set up, names
    starting with ``threadloom_``, ``store_`` or ``checkpoint_`` count as ours
    too: a newer threadloom may have added them, and :func:`migrate` then
    reports the newer schema (:class:`SchemaVersionError`) instead.
    """
    rows = conn.execute(
        "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') ORDER BY name"
    ).fetchall()
    names = [name for (name,) in rows if not name.startswith("sqlite_")]
    if MIGRATIONS_TABLE not in names:
        return names
    return [
        name
        for name in names
        if name not in THREADLOOM_TABLES and not name.startswith(_OWN_PREFIXES)
    ]


def check_foreign_tables(conn: sqlite3.Connection, label: str) -> None:
    """Raise :class:`ForeignDatabaseError` if ``conn`` holds another application's tables.

    Runs before threadloom writes anything, WAL mode included. Damage that
    reading the schema meets is a :class:`DatabaseError` naming the file.
    """
    try:
        found = _retry(lambda: foreign_tables(conn), BUSY_DEADLINE_S)
    except sqlite3.DatabaseError as exc:
        raise (
            file_error(label, exc) or DatabaseError(f"Cannot use database {label!r}: {exc}")
        ) from exc
    if not found:
        return
    shown = ", ".join(repr(name) for name in found[:10])
    if len(found) > 10:
        shown += f" and {len(found) - 10} more"
    raise ForeignDatabaseError(
        f"Database {label!r} holds tables that are not threadloom's ({shown}); it was left "
        "untouched. Use a file of its own, or pass allow_foreign_tables=True "
        "(--allow-foreign-tables on the command line) to share this one on purpose."
    )


def _file_id(path: str | Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def _register(file_id: tuple[int, int] | None, delta: int) -> None:
    if file_id is None:
        return
    with _open_files_lock:
        count = _open_files.get(file_id, 0) + delta
        if count > 0:
            _open_files[file_id] = count
        else:
            _open_files.pop(file_id, None)


def _check_path(path: Path) -> None:
    """Refuse a path SQLite could not use, before anything touches the disk."""
    directory = path.parent
    if not directory.exists():
        raise DatabaseError(
            f"Cannot open database {str(path)!r}: directory {str(directory)!r} does not exist."
        )
    if not directory.is_dir():
        raise DatabaseError(
            f"Cannot open database {str(path)!r}: {str(directory)!r} is not a directory."
        )
    if path.is_dir():
        raise DatabaseError(f"Cannot open database {str(path)!r}: it is a directory, not a file.")
    # WAL mode keeps "-wal" and "-shm" files next to the database, so the
    # directory must be writable even when the database file already exists.
    if not os.access(directory, os.W_OK | os.X_OK):
        raise DatabaseError(
            f"Cannot open database {str(path)!r}: directory {str(directory)!r} is not writable."
        )
    if path.exists():
        if not os.access(path, os.R_OK | os.W_OK):
            raise DatabaseError(
                f"Cannot open database {str(path)!r}: the file is not readable and writable."
            )
        with _open_files_lock:
            if _file_id(path) in _open_files:
                return  # SQLite has it open here already: it is a database (see above)
        try:
            with open(path, "rb") as handle:
                header = handle.read(len(SQLITE_HEADER))
        except OSError as exc:
            raise DatabaseError(f"Cannot open database {str(path)!r}: {exc}") from exc
        # An empty file is a valid, empty SQLite database.
        if header and header != SQLITE_HEADER:
            raise DatabaseError(
                f"Cannot open database {str(path)!r}: the file is not a SQLite database "
                "(it was left untouched)."
            )


def configure(
    conn: sqlite3.Connection, *, synchronous: Synchronous = "NORMAL", label: str = ""
) -> None:
    """Put a connection in the mode threadloom relies on (WAL, busy timeout, autocommit).

    Used for connections threadloom opens and for ones a caller hands in.
    ``isolation_level`` becomes ``None``: threadloom issues ``BEGIN`` itself.
    """
    conn.isolation_level = None
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    try:
        mode = _retry(
            lambda: conn.execute("PRAGMA journal_mode = WAL").fetchone()[0], BUSY_DEADLINE_S
        )
    except sqlite3.DatabaseError as exc:
        raise (
            file_error(label, exc) or DatabaseError(f"Cannot use database {label!r}: {exc}")
        ) from exc
    if str(mode).lower() not in ("wal", "memory"):
        raise DatabaseError(
            f"Cannot use database {label!r}: WAL mode refused (journal mode {mode!r})."
        )
    conn.execute(f"PRAGMA synchronous = {synchronous}")
    conn.execute("PRAGMA foreign_keys = ON")


def connect(
    path: str | os.PathLike[str],
    *,
    synchronous: Synchronous = "NORMAL",
    allow_foreign_tables: bool = False,
) -> sqlite3.Connection:
    """Open ``path`` (or ``":memory:"``) as a configured connection usable from any thread.

    Raises :class:`DatabaseError` naming the path when the directory is missing
    or read-only, or the file is not SQLite, and :class:`ForeignDatabaseError`
    when it holds tables that are not threadloom's (unless
    ``allow_foreign_tables``); such a file is left untouched.
    """
    if synchronous not in ("NORMAL", "FULL"):
        raise ValueError(f"synchronous must be 'NORMAL' or 'FULL', got {synchronous!r}")
    label = os.fspath(path)
    if label != ":memory:":
        _check_path(Path(label).expanduser().absolute())
        label = str(Path(label).expanduser().absolute())
    try:
        # check_same_thread=False: a Database serializes access with its lock.
        conn = sqlite3.connect(label, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
    except sqlite3.Error as exc:
        raise DatabaseError(f"Cannot open database {label!r}: {exc}") from exc
    try:
        if not allow_foreign_tables:
            check_foreign_tables(conn, label)
        configure(conn, synchronous=synchronous, label=label)
    except sqlite3.DatabaseError as exc:
        conn.close()
        # e.g. a file that gained a foreign header after the check, or a corrupt one.
        raise DatabaseError(f"Cannot use database {label!r}: {exc}") from exc
    except BaseException:
        conn.close()
        raise
    return conn


def _retry(work: Callable[[], T], deadline_s: float) -> T:
    """Run ``work``, retrying with jittered backoff while SQLite reports busy."""
    give_up = time.monotonic() + deadline_s
    delay = 0.001
    while True:
        try:
            return work()
        except sqlite3.OperationalError as exc:
            if not is_busy_error(exc):
                raise
            if time.monotonic() >= give_up:
                raise DatabaseError(
                    f"The database stayed locked by another connection for {deadline_s:.0f} s: {exc}"
                ) from exc
        time.sleep(delay * (0.5 + random.random()))
        delay = min(delay * 2, 0.1)


class Database:
    """One SQLite connection, a lock, and retried read and write units of work.

    ``read(fn)`` runs ``fn(conn)`` in one read transaction (a consistent
    snapshot); ``write(fn)`` runs it in ``BEGIN IMMEDIATE`` ... ``COMMIT``. On
    "busy" the transaction is rolled back and ``fn`` runs again, so ``fn`` must
    not have effects outside the database (or they must be repeatable).
    """

    def __init__(
        self,
        conn: sqlite3.Connection,
        *,
        path: str = ":memory:",
        owns_connection: bool = False,
        busy_deadline: float = BUSY_DEADLINE_S,
    ) -> None:
        self.conn = conn
        self.path = path
        self.owns_connection = owns_connection
        self.busy_deadline = busy_deadline
        self.lock = threading.RLock()
        # Nesting of read()/write() calls under the lock: inner calls join the outer transaction.
        self._depth = 0
        self.closed = False
        self._file_id: tuple[int, int] | None = None
        if path != ":memory:":
            self._file_id = _file_id(path)
            _register(self._file_id, +1)

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        *,
        synchronous: Synchronous = "NORMAL",
        allow_foreign_tables: bool = False,
    ) -> Database:
        """Open ``path`` with :func:`connect`; the ``Database`` owns (and closes) the connection."""
        conn = connect(path, synchronous=synchronous, allow_foreign_tables=allow_foreign_tables)
        label = os.fspath(path)
        if label != ":memory:":
            label = str(Path(label).expanduser().absolute())
        return cls(conn, path=label, owns_connection=True)

    @classmethod
    def adopt(
        cls,
        conn: Database | sqlite3.Connection | str | os.PathLike[str],
        *,
        synchronous: Synchronous = "NORMAL",
        allow_foreign_tables: bool = False,
    ) -> Database:
        """What a backend's constructor was given, as a ``Database``: a path is opened.

        A ``Database`` is returned as it is (its tables were checked when it was opened).
        """
        if isinstance(conn, Database):
            return conn
        if isinstance(conn, sqlite3.Connection):
            return cls.wrap(conn, allow_foreign_tables=allow_foreign_tables)
        if isinstance(conn, (str, os.PathLike)):
            return cls.open(
                conn, synchronous=synchronous, allow_foreign_tables=allow_foreign_tables
            )
        raise InvalidConnectionError(
            "Expected a sqlite3.Connection, a file path or ':memory:', "
            f"got {type(conn).__name__}: {conn!r:.80}"
        )

    @classmethod
    def wrap(cls, conn: sqlite3.Connection, *, allow_foreign_tables: bool = False) -> Database:
        """Adopt a caller's connection (configured for WAL and autocommit; not closed by us)."""
        row = conn.execute("PRAGMA database_list").fetchone()
        path = row[2] if row and row[2] else ":memory:"
        if not allow_foreign_tables:
            check_foreign_tables(conn, path)
        configure(conn, label=path)
        return cls(conn, path=path, owns_connection=False)

    def _run(self, fn: Callable[[sqlite3.Connection], T], begin: str) -> T:
        with self.lock:
            if self.closed:
                raise DatabaseError(f"Database {self.path!r} is closed.")
            if self._depth:
                return fn(self.conn)

            def attempt() -> T:
                self.conn.execute(begin)
                self._depth += 1
                try:
                    result = fn(self.conn)
                    self.conn.execute("COMMIT")
                    return result
                except BaseException:
                    if self.conn.in_transaction:
                        self.conn.execute("ROLLBACK")
                    raise
                finally:
                    self._depth -= 1

            try:
                return _retry(attempt, self.busy_deadline)
            except sqlite3.DatabaseError as exc:
                fault = file_error(self.path, exc)
                if fault is None:
                    raise
                raise fault from exc

    def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn(conn)`` in a read transaction, retried while busy."""
        return self._run(fn, "BEGIN")

    def write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn(conn)`` in a write transaction (``BEGIN IMMEDIATE``), retried while busy."""
        return self._run(fn, "BEGIN IMMEDIATE")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction as a ``with`` block; only taking the lock is retried.

        Prefer :meth:`write` (it retries the whole body); use this when the
        body cannot be wrapped in a function.
        """
        with self.lock:
            if self._depth:
                yield self.conn
                return
            _retry(lambda: self.conn.execute("BEGIN IMMEDIATE"), self.busy_deadline)
            self._depth += 1
            try:
                yield self.conn
                self.conn.execute("COMMIT")
            except BaseException as exc:
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                fault = file_error(self.path, exc) if isinstance(exc, sqlite3.Error) else None
                if fault is not None:
                    raise fault from exc
                raise
            finally:
                self._depth -= 1

    def data_version(self) -> int:
        """SQLite's ``PRAGMA data_version``: changes when *another* connection commits."""
        with self.lock:
            return int(
                _retry(
                    lambda: self.conn.execute("PRAGMA data_version").fetchone()[0],
                    self.busy_deadline,
                )
            )

    def close(self) -> None:
        """Close the connection if this ``Database`` opened it; later calls raise."""
        with self.lock:
            if self.closed:
                return
            self.closed = True
            _register(self._file_id, -1)
            if self.owns_connection:
                self.conn.close()


def verify(db: Database) -> None:
    """Read every page of ``db``'s file (``PRAGMA quick_check``); a damaged one is a
    :class:`DatabaseError` naming the file. Takes time in proportion to the file's size."""

    def check(conn: sqlite3.Connection) -> list[str]:
        return [str(row[0]) for row in conn.execute("PRAGMA quick_check(5)").fetchall()]

    problems = db.read(check)
    if problems != ["ok"]:
        raise DatabaseError(
            f"Database {db.path!r}: the file is damaged (corrupt pages); restore it from a "
            f"backup, or move it aside and start a new one (SQLite: {'; '.join(problems)})."
        )


# --- migrations ---------------------------------------------------------------


def _statements(script: str) -> list[str]:
    """Split SQL text into complete statements (``executescript`` would commit)."""
    statements: list[str] = []
    buffer = ""
    for piece in script.split(";"):
        buffer += piece + ";"
        if sqlite3.complete_statement(buffer):
            if buffer.strip(" \t\r\n;"):
                statements.append(buffer.strip())
            buffer = ""
    if buffer.strip(" \t\r\n;"):
        statements.append(buffer.strip())
    return statements


def _recorded_version(conn: sqlite3.Connection, component: str) -> int:
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (MIGRATIONS_TABLE,)
    ).fetchone()
    if not exists:
        return 0
    row = conn.execute(
        f"SELECT version FROM {MIGRATIONS_TABLE} WHERE component = ?", (component,)
    ).fetchone()
    return int(row[0]) if row else 0


def schema_version(db: Database, component: str) -> int:
    """The schema version recorded for ``component`` (0 when never set up). Writes nothing."""
    return db.read(lambda conn: _recorded_version(conn, component))


def _newer_error(db: Database, component: str, found: int, known: int) -> SchemaVersionError:
    return SchemaVersionError(
        f"Database {db.path!r} holds {component!r} schema version {found}, but this threadloom "
        f"knows versions up to {known}; upgrade threadloom to use it. The file was left untouched.",
        found=found,
        known=known,
        component=component,
    )


def migrate(db: Database, component: str, migrations: Sequence[Migration]) -> int:
    """Bring ``component``'s schema up to ``len(migrations)``; returns the version.

    Idempotent and safe to run from several processes at once: the version is
    checked again under the write lock. Raises :class:`SchemaVersionError`,
    writing nothing, when the file's version is newer than ``len(migrations)``.
    """
    target = len(migrations)
    # Fast path without the write lock: already current (or too new).
    current = schema_version(db, component)
    if current > target:
        raise _newer_error(db, component, current, target)
    if current == target:
        return current

    def apply(conn: sqlite3.Connection) -> int:
        version = _recorded_version(conn, component)
        if version > target:
            raise _newer_error(db, component, version, target)
        if version == target:
            return version
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} ("
            "component TEXT PRIMARY KEY, version INTEGER NOT NULL, applied_at REAL NOT NULL)"
        )
        for migration in migrations[version:]:
            if callable(migration):
                migration(conn)
            else:
                for statement in _statements(migration):
                    conn.execute(statement)
        conn.execute(
            f"INSERT INTO {MIGRATIONS_TABLE} (component, version, applied_at) VALUES (?, ?, ?) "
            "ON CONFLICT(component) DO UPDATE SET version = excluded.version, "
            "applied_at = excluded.applied_at",
            (component, target, time.time()),
        )
        return target

    return db.write(apply)
