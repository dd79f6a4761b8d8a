"""PostgreSQL plumbing shared by the Postgres store and checkpointer.

Backend logic is written once, as *plans*: generators that yield
:class:`Query` objects and receive each one's :class:`Result`. A sync driver
(:func:`run`) and an async driver (:func:`arun`) execute the same plan, so the
sync and async classes differ only in how they hold a connection.

Also here: opening connections with errors that say what is wrong
(unreachable server, wrong password, missing database); connection sources
(:class:`Conn`, :class:`AsyncConn`) that survive dropped connections (a run
whose connection is found dead on its first statement resumes on a new one; a
connection lost later raises :class:`~threadloom.errors.ConnectionLostError`);
what a transaction-mode pooler such as PgBouncer needs (no server-side
prepared statements, settings only inside a transaction); and the migrations
runner (a list of SQL steps per component, position = version, recorded in
the ``threadloom_migrations`` table).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import weakref
from collections.abc import AsyncIterator, Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from threadloom.errors import ConnectionLostError, DatabaseError, SchemaVersionError

try:
    import psycopg
    from psycopg import sql
    from psycopg.rows import tuple_row
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImportError(
        "The PostgreSQL backends need psycopg: pip install 'threadloom[postgres]'"
    ) from error

try:
    from psycopg_pool import AsyncConnectionPool, ConnectionPool
except ImportError:  # pragma: no cover - the pool is optional
    ConnectionPool = None  # type: ignore[assignment,misc]
    AsyncConnectionPool = None  # type: ignore[assignment,misc]

__all__ = [
    "AsyncConn",
    "AsyncOwnedConnection",
    "Conn",
    "Migration",
    "OwnedConnection",
    "Plan",
    "PlanRun",
    "Query",
    "Result",
    "aconnect",
    "aopen_connection",
    "arun",
    "connect",
    "migrate",
    "open_connection",
    "run",
]

T = TypeVar("T")

SQL = str | sql.SQL | sql.Composed


@dataclass(frozen=True)
class Query:
    """One statement of a plan; ``many`` runs it once per parameter set."""

    sql: SQL
    params: Any = None
    many: bool = False
    #: Server settings the statement needs, as ``(name, value)`` pairs (e.g. pgvector's
    #: ``hnsw.ef_search``). The driver applies them: ``SET LOCAL`` inside a transaction; on
    #: an autocommit read, session-wide and only when the connection does not hold them yet.
    settings: tuple[tuple[str, str], ...] = ()
    #: With ``copy`` set, ``sql`` is a ``COPY ... FROM STDIN`` and these bytes are its data.
    copy: bytes | None = None


@dataclass
class Result:
    """What a plan receives back: the rows (if the statement returns any) and the row count."""

    rows: list[tuple[Any, ...]] = field(default_factory=list)
    rowcount: int = 0


Plan = Generator[Query, Result, T]


#: Settings each connection holds at session level (set by the drivers on autocommit reads).
#: Keyed weakly by connection, so a closed or replaced connection (e.g. a pool refill) starts
#: over with nothing recorded.
_SESSION_SETTINGS: weakref.WeakKeyDictionary[Any, dict[str, str]] = weakref.WeakKeyDictionary()


def _settings_query(
    query: Query, conn: Any, in_transaction: bool
) -> tuple[Query | None, dict[str, str] | None]:
    """The statement that gives ``conn`` what ``query`` needs, and what to record once it ran.

    Inside a transaction the values are local to it (the old per-statement cost). On an
    autocommit read they are set for the session, once per connection and value: later
    searches then cost one round trip. A session value set outside any transaction cannot be
    undone by a rollback, so the record stays true unless the caller changes these settings
    on its own connection (``RESET ALL``, ``DISCARD ALL``); even then results stay correct,
    only the search breadth falls back to the server's default.
    """
    if not query.settings:
        return None, None
    if in_transaction:
        missing = dict(query.settings)
        local = "true"
    else:
        held = _SESSION_SETTINGS.get(conn, {})
        missing = {k: v for k, v in query.settings if held.get(k) != v}
        local = "false"
        if not missing:
            return None, None
    calls = ", ".join(f"set_config(%s, %s, {local})" for _ in missing)
    params = [x for pair in missing.items() for x in pair]
    return Query("SELECT " + calls, params), (None if in_transaction else missing)


def _remember_settings(conn: Any, done: dict[str, str] | None) -> None:
    if done:
        _SESSION_SETTINGS.setdefault(conn, {}).update(done)


def _can_skip_transaction(conn: Any, read_only: bool) -> bool:
    """Reads run statement by statement when the connection is idle in autocommit mode.

    Under READ COMMITTED every statement takes its own snapshot anyway, so BEGIN and
    COMMIT around a read would only cost two round trips.
    """
    return (
        read_only
        and conn.autocommit
        and conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    )


#: Whether a connection's session is shared with other clients: true behind a pooler in
#: transaction mode (PgBouncer), where each transaction may run on another server session.
_SHARED_SESSION: weakref.WeakKeyDictionary[Any, bool] = weakref.WeakKeyDictionary()

_SERVER_PID = "SELECT pg_backend_pid()"


def _shares_session(conn: Any, server_pid: int) -> bool:
    """A pooler answers the startup with its own process id, not the server session's."""
    shared = int(conn.info.backend_pid) != int(server_pid)
    _SHARED_SESSION[conn] = shared
    return shared


def _is_lost(conn: Any) -> bool:
    """Whether ``conn`` can no longer talk to the server (the socket dropped or the server left)."""
    return bool(conn.closed or conn.broken)


class PlanRun:
    """A plan on its way through a driver, with what a retry after a lost connection needs.

    ``pending`` is the statement that has not run yet (a dead connection fails on its first
    statement, so the plan can resume there on a new one); ``started`` turns true once any
    statement of this run succeeded, after which a lost connection is no longer retried;
    ``committing`` is true while COMMIT is in flight, when the outcome is unknown.
    """

    __slots__ = ("committing", "pending", "plan", "started")

    def __init__(self, plan: Plan[Any]) -> None:
        self.plan = plan
        self.pending: Query | None = None
        self.started = False
        self.committing = False


@contextlib.contextmanager
def _no_prepare(conn: Any) -> Iterator[None]:
    """No server-side prepared statements: a transaction-mode pooler cannot keep them.

    Connections threadloom opens never prepare; one the caller gives may, so the setting is
    switched off while a plan runs on it and put back after.
    """
    saved = conn.prepare_threshold
    conn.prepare_threshold = None
    try:
        yield
    finally:
        conn.prepare_threshold = saved


def run(plan: Plan[T], conn: psycopg.Connection[Any], *, read_only: bool = False) -> T:
    """Execute ``plan`` on ``conn`` inside one transaction.

    With ``read_only=True`` (the plan only reads, or its writes stand alone) and an idle
    autocommit connection, the statements run without BEGIN/COMMIT.
    """
    return run_once(PlanRun(plan), conn, read_only=read_only)


def run_once(state: PlanRun, conn: psycopg.Connection[Any], *, read_only: bool = False) -> Any:
    """One attempt at ``state``'s plan on ``conn`` (see :func:`run`)."""
    with _no_prepare(conn):
        if _can_skip_transaction(conn, read_only):
            with conn.cursor(row_factory=tuple_row) as cur:
                return _drive(state, cur, conn, in_transaction=False)
        with conn.transaction():
            state.started = True  # BEGIN went through: the connection was alive
            with conn.cursor(row_factory=tuple_row) as cur:
                value = _drive(state, cur, conn, in_transaction=True)
            state.committing = True
        state.committing = False
        return value


def _statements(
    query: Query, conn: Any, in_transaction: bool
) -> tuple[list[Query], list[Query], dict[str, str] | None]:
    """What runs before and after ``query`` for its settings, and what to record once it ran.

    On a shared session (a transaction-mode pooler) an autocommit statement with settings
    gets its own short transaction, so the settings reach the server session that runs it.
    """
    if query.settings and not in_transaction and _SHARED_SESSION.get(conn):
        prelude, _ = _settings_query(query, conn, in_transaction=True)
        assert prelude is not None
        return [Query("BEGIN"), prelude], [Query("COMMIT")], None
    prelude, record = _settings_query(query, conn, in_transaction)
    return ([prelude] if prelude is not None else []), [], record


def _needs_pid(query: Query, conn: Any, in_transaction: bool) -> bool:
    return bool(query.settings) and not in_transaction and conn not in _SHARED_SESSION


def _opened_here(conn: Any, in_transaction: bool) -> bool:
    """Whether a failed statement left open the short transaction :func:`_statements` began."""
    return not in_transaction and conn.info.transaction_status in (
        psycopg.pq.TransactionStatus.INTRANS,
        psycopg.pq.TransactionStatus.INERROR,
    )


def _rows(cur: Any, conn: Any) -> list[Any]:
    """The rows a statement returned. In a pipeline the caller opened (LangGraph's ``pipe=``)
    results arrive on a sync: fetching forces it, where ``description`` is not known yet."""
    if cur.description is not None:
        return cast("list[Any]", cur.fetchall())
    if conn.info.pipeline_status == psycopg.pq.PipelineStatus.OFF:
        return []
    try:
        return cast("list[Any]", cur.fetchall())
    except psycopg.ProgrammingError:  # the statement returns no rows
        return []


async def _arows(cur: Any, conn: Any) -> list[Any]:
    """Async twin of :func:`_rows`."""
    if cur.description is not None:
        return cast("list[Any]", await cur.fetchall())
    if conn.info.pipeline_status == psycopg.pq.PipelineStatus.OFF:
        return []
    try:
        return cast("list[Any]", await cur.fetchall())
    except psycopg.ProgrammingError:
        return []


def _drive(state: PlanRun, cur: Any, conn: Any, *, in_transaction: bool) -> Any:
    plan = state.plan
    try:
        query = state.pending if state.pending is not None else next(plan)
        while True:
            state.pending = query
            try:
                if _needs_pid(query, conn, in_transaction):
                    cur.execute(_SERVER_PID)
                    _shares_session(conn, cur.fetchone()[0])
                before, after, record = _statements(query, conn, in_transaction)
                for extra in before:
                    cur.execute(extra.sql, extra.params)
                if query.copy is not None:
                    with cur.copy(query.sql) as copy:
                        copy.write(query.copy)
                elif query.many:
                    cur.executemany(query.sql, query.params)
                else:
                    cur.execute(query.sql, query.params)
                result = Result(_rows(cur, conn), cur.rowcount)
                for extra in after:
                    cur.execute(extra.sql, extra.params)
                _remember_settings(conn, record)
            except psycopg.Error as error:
                if _is_lost(conn):
                    raise  # the run's owner decides: resume on a new connection, or report
                if _opened_here(conn, in_transaction):
                    cur.execute("ROLLBACK")
                # The plan may turn a database error into one of ours.
                state.started = True
                query = plan.throw(error)
                continue
            state.started = True
            state.pending = None
            query = plan.send(result)
    except StopIteration as done:
        return done.value


async def arun(plan: Plan[T], conn: psycopg.AsyncConnection[Any], *, read_only: bool = False) -> T:
    """Async twin of :func:`run`."""
    return await arun_once(PlanRun(plan), conn, read_only=read_only)


async def arun_once(
    state: PlanRun, conn: psycopg.AsyncConnection[Any], *, read_only: bool = False
) -> Any:
    """Async twin of :func:`run_once`."""
    with _no_prepare(conn):
        if _can_skip_transaction(conn, read_only):
            async with conn.cursor(row_factory=tuple_row) as cur:
                return await _adrive(state, cur, conn, in_transaction=False)
        async with conn.transaction():
            state.started = True
            async with conn.cursor(row_factory=tuple_row) as cur:
                value = await _adrive(state, cur, conn, in_transaction=True)
            state.committing = True
        state.committing = False
        return value


async def _adrive(state: PlanRun, cur: Any, conn: Any, *, in_transaction: bool) -> Any:
    plan = state.plan
    try:
        query = state.pending if state.pending is not None else next(plan)
        while True:
            state.pending = query
            try:
                if _needs_pid(query, conn, in_transaction):
                    await cur.execute(_SERVER_PID)
                    _shares_session(conn, (await cur.fetchone())[0])
                before, after, record = _statements(query, conn, in_transaction)
                for extra in before:
                    await cur.execute(extra.sql, extra.params)
                if query.copy is not None:
                    async with cur.copy(query.sql) as copy:
                        await copy.write(query.copy)
                elif query.many:
                    await cur.executemany(query.sql, query.params)
                else:
                    await cur.execute(query.sql, query.params)
                result = Result(await _arows(cur, conn), cur.rowcount)
                for extra in after:
                    await cur.execute(extra.sql, extra.params)
                _remember_settings(conn, record)
            except psycopg.Error as error:
                if _is_lost(conn):
                    raise
                if _opened_here(conn, in_transaction):
                    await cur.execute("ROLLBACK")
                state.started = True
                query = plan.throw(error)
                continue
            state.started = True
            state.pending = None
            query = plan.send(result)
    except StopIteration as done:
        return done.value


# --- connections ------------------------------------------------------------------


def _describe_target(conninfo: str) -> str:
    """``user@host:port/dbname`` for messages; never the password."""
    try:
        info = psycopg.conninfo.conninfo_to_dict(conninfo)
    except psycopg.ProgrammingError:
        return "the server (the connection string could not be parsed)"
    host = info.get("host") or "localhost"
    port = info.get("port") or "5432"
    return f"{info.get('user') or '(default user)'}@{host}:{port}/{info.get('dbname') or '(default db)'}"


def explain_connect_error(error: Exception, conninfo: str) -> DatabaseError:
    """A :class:`DatabaseError` saying in plain words why connecting failed."""
    target = _describe_target(conninfo)
    text = str(error)
    if "password authentication failed" in text or "no password supplied" in text:
        why = "the password was refused (check the user and password in the connection string)"
    elif "does not exist" in text and "database" in text:
        why = "the database does not exist (create it first)"
    elif "does not exist" in text and "role" in text:
        why = "the user (role) does not exist"
    elif any(s in text for s in ("Connection refused", "could not connect", "timeout", "No route")):
        why = "the server is unreachable (is it running, and are host and port right?)"
    elif "could not translate host name" in text:
        why = "the host name does not resolve"
    else:
        why = "the connection failed"
    first_line = text.strip().splitlines()[-1] if text.strip() else type(error).__name__
    return DatabaseError(
        f"Cannot connect to PostgreSQL at {target}: {why}. Server said: {first_line}"
    )


_CONNECT_KWARGS: dict[str, Any] = {"autocommit": True, "prepare_threshold": None}


def connect_kwargs() -> dict[str, Any]:
    """Connection options every threadloom connection uses (plans open their own transactions)."""
    return dict(_CONNECT_KWARGS)


def open_pool(conninfo: str, *, max_size: int, timeout: float = 10.0) -> Any:
    """An open ``ConnectionPool``; waits for the first connection so errors surface here."""
    if ConnectionPool is None:  # pragma: no cover - depends on the environment
        raise ImportError(
            "A connection pool needs psycopg-pool: pip install 'threadloom[postgres]'"
        )
    connect(conninfo).close()  # a clear error now, rather than a pool timeout later
    pool = ConnectionPool(
        conninfo, min_size=1, max_size=max_size, kwargs=connect_kwargs(), open=True
    )
    pool.wait(timeout)
    return pool


async def aopen_pool(conninfo: str, *, max_size: int, timeout: float = 10.0) -> Any:
    """Async twin of :func:`open_pool`."""
    if AsyncConnectionPool is None:  # pragma: no cover - depends on the environment
        raise ImportError(
            "A connection pool needs psycopg-pool: pip install 'threadloom[postgres]'"
        )
    await (await aconnect(conninfo)).close()
    pool = AsyncConnectionPool(
        conninfo, min_size=1, max_size=max_size, kwargs=connect_kwargs(), open=False
    )
    await pool.open(wait=True, timeout=timeout)
    return pool


def connect(conninfo: str, *, connect_timeout: int = 10) -> psycopg.Connection[Any]:
    """Open a connection in autocommit mode (plans open their own transactions)."""
    try:
        return psycopg.connect(conninfo, connect_timeout=connect_timeout, **_CONNECT_KWARGS)
    except psycopg.OperationalError as error:
        raise explain_connect_error(error, conninfo) from None


async def aconnect(conninfo: str, *, connect_timeout: int = 10) -> psycopg.AsyncConnection[Any]:
    """Async twin of :func:`connect`."""
    try:
        return await psycopg.AsyncConnection.connect(
            conninfo, connect_timeout=connect_timeout, **_CONNECT_KWARGS
        )
    except psycopg.OperationalError as error:
        raise explain_connect_error(error, conninfo) from None


class OwnedConnection:
    """A connection threadloom opened from a connection string, so it may open it again.

    After the server dropped it (a restart, ``pg_terminate_backend``, a network or SSL
    failure), :meth:`current` opens a new one.
    """

    def __init__(self, conninfo: str, conn: psycopg.Connection[Any]) -> None:
        self.conninfo = conninfo
        self.conn = conn

    def current(self) -> psycopg.Connection[Any]:
        """The live connection, reconnecting first when the last one was lost."""
        if self.conn.closed:
            self.conn.close()
            self.conn = connect(self.conninfo)
        return self.conn

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> OwnedConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncOwnedConnection:
    """Async twin of :class:`OwnedConnection`."""

    def __init__(self, conninfo: str, conn: psycopg.AsyncConnection[Any]) -> None:
        self.conninfo = conninfo
        self.conn = conn

    async def current(self) -> psycopg.AsyncConnection[Any]:
        """The live connection, reconnecting first when the last one was lost."""
        if self.conn.closed:
            await self.conn.close()
            self.conn = await aconnect(self.conninfo)
        return self.conn

    async def close(self) -> None:
        await self.conn.close()

    async def __aenter__(self) -> AsyncOwnedConnection:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


def open_connection(conninfo: str) -> OwnedConnection:
    """A connection for ``from_conn_string``: opened now (errors surface here), reopened when lost."""
    return OwnedConnection(conninfo, connect(conninfo))


async def aopen_connection(conninfo: str) -> AsyncOwnedConnection:
    """Async twin of :func:`open_connection`."""
    return AsyncOwnedConnection(conninfo, await aconnect(conninfo))


#: Attempts after a lost connection, by kind of source: a connection the caller gave cannot be
#: replaced; an owned one is reopened once; a pool may hand out several dead connections after
#: a server restart, so it is checked and asked again.
_RETRIES = {"given": 0, "owned": 1, "pool": 2}

_CANNOT_REPLACE = (
    " threadloom cannot replace a connection it did not open: open a new one, or give a "
    "connection string (from_conn_string) or a pool, which reconnect by themselves."
)


def _source_kind(source: Any, connection: type, owned: type, pool: Any) -> str:
    if isinstance(source, connection):
        return "given"
    if isinstance(source, owned):
        return "owned"
    if pool is not None and isinstance(source, pool):
        return "pool"
    raise TypeError(
        f"Expected a {connection.__module__}.{connection.__name__} or a psycopg_pool "
        f"{'ConnectionPool' if owned is OwnedConnection else 'AsyncConnectionPool'}, "
        f"got {type(source).__name__}; use from_conn_string() for a connection string"
    )


def _lost_error(
    state: PlanRun, kind: str, error: Exception, *, read_only: bool
) -> ConnectionLostError:
    """What a caller learns when the connection dropped and the call could not be retried."""
    said = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    after = _CANNOT_REPLACE if kind == "given" else " The next call reconnects."
    if state.committing:
        return ConnectionLostError(
            f"The connection to PostgreSQL was lost while committing ({said}): the write may "
            "or may not be stored; read it back before repeating it." + after,
            committed=None,
        )
    if not state.started and kind == "given":
        what = "The psycopg connection given to threadloom is closed or was dropped by the server"
    elif read_only:
        what = "The connection to PostgreSQL was lost during a read"
    else:
        what = (
            "The connection to PostgreSQL was lost before the write committed: its "
            "transaction was rolled back and nothing was written"
        )
    return ConnectionLostError(f"{what} ({said})." + after, committed=False)


def _may_retry(state: PlanRun, kind: str, attempt: int) -> bool:
    """Retry only a run none of whose statements went through: it cannot have written."""
    return not state.started and attempt < _RETRIES[kind]


class Conn:
    """A connection source for sync code: one connection (used under a lock), one that
    threadloom opened (reopened when lost), or a pool."""

    def __init__(self, source: Any) -> None:
        self.kind = _source_kind(source, psycopg.Connection, OwnedConnection, ConnectionPool)
        self._lock: threading.Lock | None = None if self.kind == "pool" else threading.Lock()
        self.source = source

    @contextlib.contextmanager
    def get(self) -> Iterator[psycopg.Connection[Any]]:
        """A connection for one plan, exclusive while it runs."""
        if self._lock is None:
            with self.source.connection() as conn:
                yield conn
            return
        with self._lock:
            yield self.source.current() if self.kind == "owned" else self.source

    def run(self, plan: Plan[T], *, read_only: bool = False) -> T:
        """Run ``plan`` in one transaction on a connection from this source.

        ``read_only=True`` lets an autocommit connection skip BEGIN/COMMIT (see :func:`run`).
        A connection found dead on the first statement is replaced and the plan runs there;
        one lost later raises :class:`~threadloom.errors.ConnectionLostError`.
        """
        state = PlanRun(plan)
        attempt = 0
        while True:
            try:
                with self.get() as conn:
                    try:
                        return run_once(state, conn, read_only=read_only)
                    except Exception as error:
                        # psycopg may also fail outside its error classes when the socket
                        # drops mid-COPY; the connection's state is what counts.
                        if not _is_lost(conn):
                            raise
                        lost = error
            except psycopg.Error as error:
                ours = translate_error(error)
                if ours is error:
                    raise
                raise ours from error
            if not _may_retry(state, self.kind, attempt):
                raise _lost_error(state, self.kind, lost, read_only=read_only) from lost
            attempt += 1
            if self.kind == "pool":
                self.source.check()  # drop the pool's other dead connections at once


class AsyncConn:
    """Async twin of :class:`Conn`."""

    def __init__(self, source: Any) -> None:
        self.kind = _source_kind(
            source, psycopg.AsyncConnection, AsyncOwnedConnection, AsyncConnectionPool
        )
        self._lock: asyncio.Lock | None = None if self.kind == "pool" else asyncio.Lock()
        self.source = source

    @contextlib.asynccontextmanager
    async def get(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        """Async twin of :meth:`Conn.get`."""
        if self._lock is None:
            async with self.source.connection() as conn:
                yield conn
            return
        async with self._lock:
            yield await self.source.current() if self.kind == "owned" else self.source

    async def run(self, plan: Plan[T], *, read_only: bool = False) -> T:
        """Async twin of :meth:`Conn.run`."""
        state = PlanRun(plan)
        attempt = 0
        while True:
            try:
                async with self.get() as conn:
                    try:
                        return await arun_once(state, conn, read_only=read_only)
                    except Exception as error:
                        # psycopg may also fail outside its error classes when the socket
                        # drops mid-COPY; the connection's state is what counts.
                        if not _is_lost(conn):
                            raise
                        lost = error
            except psycopg.Error as error:
                ours = translate_error(error)
                if ours is error:
                    raise
                raise ours from error
            if not _may_retry(state, self.kind, attempt):
                raise _lost_error(state, self.kind, lost, read_only=read_only) from lost
            attempt += 1
            if self.kind == "pool":
                await self.source.check()


def translate_error(error: psycopg.Error) -> Exception:
    """Our error for a database failure that no plan handled; others pass through."""
    if isinstance(error, psycopg.errors.UndefinedTable):
        return DatabaseError(
            f"threadloom's tables are missing in this database ({str(error).strip()}); "
            "call setup() once before first use"
        )
    if isinstance(error, psycopg.OperationalError):
        return DatabaseError(f"PostgreSQL connection failed: {str(error).strip()}")
    return error


# --- migrations --------------------------------------------------------------------

Migration = str | Callable[[], Sequence[SQL]]
"""One schema step: SQL text, or a function returning statements (for config-dependent DDL)."""

_LEDGER = """
CREATE TABLE IF NOT EXISTS threadloom_migrations (
    component text PRIMARY KEY,
    version integer NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
)"""


def migrate(component: str, migrations: Sequence[Migration]) -> Plan[int]:
    """Bring ``component``'s schema to ``len(migrations)``; returns the version before.

    Idempotent and safe when several hosts call it at once (an advisory lock
    serializes them). A database recorded at a newer version than this code
    knows raises :class:`SchemaVersionError` and is left untouched.
    """
    # Serialize concurrent setup() calls from many hosts for this component.
    yield Query("SELECT pg_advisory_xact_lock(hashtext('threadloom_migrations'))")
    yield Query(_LEDGER)
    found = yield Query(
        "SELECT version FROM threadloom_migrations WHERE component = %s", (component,)
    )
    current = found.rows[0][0] if found.rows else 0
    if current > len(migrations):
        raise SchemaVersionError(
            f"The {component!r} tables are at schema version {current}, but this threadloom "
            f"knows only up to {len(migrations)}: the database was written by a newer "
            "threadloom. Upgrade threadloom; nothing was changed.",
            found=current,
            known=len(migrations),
            component=component,
        )
    for step in migrations[current:]:
        statements = [step] if isinstance(step, str) else list(step())
        for statement in statements:
            yield Query(statement)
    if current < len(migrations):
        yield Query(
            "INSERT INTO threadloom_migrations (component, version) VALUES (%s, %s) "
            "ON CONFLICT (component) DO UPDATE SET version = EXCLUDED.version, updated_at = now()",
            (component, len(migrations)),
        )
    return int(current)


def require_extension(name: str, purpose: str) -> Plan[None]:
    """Make sure extension ``name`` exists, creating it if allowed; a clear error if not."""
    found = yield Query("SELECT 1 FROM pg_extension WHERE extname = %s", (name,))
    if found.rows:
        return
    available = yield Query("SELECT 1 FROM pg_available_extensions WHERE name = %s", (name,))
    if not available.rows:
        raise DatabaseError(
            f"The PostgreSQL server has no {name!r} extension, which {purpose} needs: "
            f"install pgvector on the server (e.g. the postgresql-NN-pgvector package), "
            f"then run CREATE EXTENSION {name};"
        )
    try:
        yield Query(sql.SQL("CREATE EXTENSION IF NOT EXISTS {}").format(sql.Identifier(name)))
    except psycopg.Error as error:
        raise DatabaseError(
            f"The {name!r} extension is not enabled in this database and this user may not "
            f"enable it ({error.__class__.__name__}: {str(error).strip()}); {purpose} needs it: "
            f"ask an administrator to run CREATE EXTENSION {name}; in the database."
        ) from None
