"""Connection faults: server-side terminated sessions and server restarts are survived.

Every class (both savers, both stores) on every connection source: the next
call after a fault reconnects by itself; a write cut off mid-transaction raises
ConnectionLostError and leaves nothing behind; a connection the caller gave
cannot be replaced, and the error says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import operator
import random
import secrets
import threading
import time
from collections.abc import Iterator
from typing import Annotated, Any, TypedDict

import psycopg
import pytest
from _clients import CLASSES, CONFIG, INDEX, open_client
from _proxy import relay
from psycopg import sql

from threadloom.errors import ConnectionLostError, DatabaseError
from threadloom.graph import START, StateGraph
from threadloom.store.base import PutOp
from threadloom.store.postgres import PostgresStore
from threadloom.testing.postgres import PgBouncer, PostgresServer, start_pgbouncer, start_postgres


@pytest.fixture(params=["direct", "pgbouncer"])
def base_dsn(request: pytest.FixtureRequest) -> str:
    """An empty schema, reached directly or through PgBouncer in transaction mode."""
    return str(request.getfixturevalue("pg_dsn" if request.param == "direct" else "bouncer_dsn"))


@pytest.fixture
def victim() -> str:
    """An application name that marks this test's sessions for termination."""
    return f"victim_{secrets.token_hex(4)}"


@pytest.fixture
def victim_dsn(base_dsn: str, victim: str) -> str:
    """The test's DSN, with the victim's application name."""
    joiner = "&" if "?" in base_dsn else "?"
    return f"{base_dsn}{joiner}application_name={victim}"


def terminate(server: PostgresServer, victim: str, *, waiting: bool = False) -> int:
    """End the victim's server sessions (only those waiting on a lock, if asked); how many."""
    where = " AND wait_event_type = 'Lock'" if waiting else ""
    with psycopg.connect(server.dsn, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity "
            f"WHERE application_name = %s{where}",
            (victim,),
        ).fetchall()
    return len(rows)


@pytest.mark.parametrize("source", ["dsn", "pool", "userpool"])
@pytest.mark.parametrize("name", CLASSES)
async def test_the_call_after_terminated_sessions_reconnects_by_itself(
    name: str, source: str, victim_dsn: str, victim: str, postgres_server: PostgresServer
) -> None:
    """pg_terminate_backend on every session: the next write and read just work."""
    async with open_client(name, source, victim_dsn) as client:
        await client.write(1)
        assert terminate(postgres_server, victim) >= 1
        await client.write(2)
        assert terminate(postgres_server, victim) >= 1
        assert await client.read() == [1, 2]


@pytest.mark.parametrize("source", ["dsn", "pool", "userpool"])
@pytest.mark.parametrize("name", CLASSES)
async def test_the_call_after_connections_cut_without_a_word_reconnects_by_itself(
    name: str, source: str, pg_dsn: str, postgres_server: PostgresServer
) -> None:
    """Sockets closed under the client, as by a firewall or a failed SSL session: no error."""
    with relay(postgres_server.host, postgres_server.port) as proxy:
        dsn = pg_dsn.replace(f":{postgres_server.port}/", f":{proxy.port}/", 1)
        async with open_client(name, source, dsn) as client:
            await client.write(1)
            assert proxy.cut() >= 2
            await client.write(2)
            assert proxy.cut() >= 2
            assert await client.read() == [1, 2]


@pytest.mark.parametrize("name", CLASSES)
async def test_a_dead_connection_the_caller_gave_raises_a_typed_error(
    name: str, pg_dsn: str, victim: str, postgres_server: PostgresServer
) -> None:
    """threadloom cannot reopen the caller's connection: ConnectionLostError says so.

    (Behind PgBouncer the caller's connection outlives the server session, so only a
    direct connection dies this way.)
    """
    async with open_client(name, "given", f"{pg_dsn}&application_name={victim}") as client:
        await client.write(1)
        assert terminate(postgres_server, victim) == 1
        with pytest.raises(ConnectionLostError, match="cannot replace a connection") as info:
            await client.write(2)
        assert isinstance(info.value, DatabaseError)
        assert info.value.committed is False
        with pytest.raises(ConnectionLostError, match="cannot replace a connection"):
            await client.read()
    async with open_client(name, "dsn", pg_dsn) as fresh:
        assert await fresh.read() == [1]


def _blocker_sql(name: str) -> str:
    """A lock another session holds so that the client's next write waits mid-transaction.

    A store's put writes the item row first and then its vectors (several statements); a
    saver's put takes the thread's advisory lock once its transaction began.
    """
    if name.endswith("Store"):
        return "LOCK TABLE threadloom_store_vectors IN ACCESS EXCLUSIVE MODE"
    return "SELECT pg_advisory_xact_lock(hashtext('threadloom:' || 'faults'))"


async def _run_write(client: Any, name: str, i: int) -> Any:
    """Start ``client.write(i)`` without blocking this loop (sync classes run in a thread)."""
    if name.startswith("Async"):
        return asyncio.ensure_future(client.write(i))
    return asyncio.ensure_future(asyncio.to_thread(asyncio.run, client.write(i)))


def _wait_for_lock_wait(server: PostgresServer, victim: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    with psycopg.connect(server.dsn, autocommit=True) as conn:
        while time.monotonic() < deadline:
            found = conn.execute(
                "SELECT 1 FROM pg_stat_activity WHERE application_name = %s "
                "AND wait_event_type = 'Lock'",
                (victim,),
            ).fetchone()
            if found:
                return
            time.sleep(0.02)
    raise AssertionError("the client's write never waited on the lock")


@pytest.mark.parametrize("source", ["dsn", "pool", "userpool"])
@pytest.mark.parametrize("name", CLASSES)
async def test_a_write_cut_off_mid_transaction_raises_and_writes_nothing(
    name: str,
    source: str,
    victim_dsn: str,
    victim: str,
    base_dsn: str,
    postgres_server: PostgresServer,
) -> None:
    """The session dies while its write transaction waits: a typed error, no half-write."""
    async with open_client(name, source, victim_dsn) as client:
        await client.write(1)
        with psycopg.connect(base_dsn) as blocker:  # a transaction: the lock lasts until rollback
            blocker.execute(_blocker_sql(name))
            write = await _run_write(client, name, 2)
            await asyncio.to_thread(_wait_for_lock_wait, postgres_server, victim)
            assert terminate(postgres_server, victim, waiting=True) == 1
            blocker.rollback()
        with pytest.raises(ConnectionLostError, match="nothing was written") as info:
            await write
        assert info.value.committed is False
        assert await client.read() == [1]
        await client.write(3)
        assert await client.read() == [1, 3]


#: A deferred trigger that makes COMMIT wait for advisory lock 4242 (held by the test).
_WAIT_AT_COMMIT = (
    "CREATE FUNCTION wait_at_commit() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN PERFORM pg_advisory_xact_lock(4242); RETURN NULL; END $$",
    "CREATE CONSTRAINT TRIGGER wait_at_commit AFTER INSERT OR UPDATE ON threadloom_store "
    "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION wait_at_commit()",
)


@pytest.mark.parametrize("cut", ["socket", "session"])
@pytest.mark.parametrize("name", ["PostgresStore", "AsyncPostgresStore"])
async def test_a_connection_lost_during_commit_says_the_outcome_is_unknown(
    name: str, cut: str, pg_dsn: str, victim: str, postgres_server: PostgresServer
) -> None:
    """Lost while COMMIT runs: committed is None, and indeed the write may have landed.

    A socket cut while the server works on COMMIT lets the commit finish (the server
    learns of the cut only when it replies); a terminated session rolls it back.
    """
    port = f":{postgres_server.port}/"
    with relay(postgres_server.host, postgres_server.port) as proxy:
        dsn = pg_dsn.replace(port, f":{proxy.port}/", 1) + f"&application_name={victim}"
        async with open_client(name, "dsn", dsn) as client:
            await client.write(1)
            with psycopg.connect(pg_dsn, autocommit=True) as admin:
                for statement in _WAIT_AT_COMMIT:
                    admin.execute(statement)
                admin.execute("SELECT pg_advisory_lock(4242)")
                write = await _run_write(client, name, 2)
                await asyncio.to_thread(_wait_for_lock_wait, postgres_server, victim)
                if cut == "socket":
                    assert proxy.cut() >= 2
                else:
                    assert terminate(postgres_server, victim, waiting=True) == 1
                with pytest.raises(ConnectionLostError, match="may or may not be stored") as info:
                    await write
                assert info.value.committed is None
                admin.execute("SELECT pg_advisory_unlock(4242)")
                expected = [1, 2] if cut == "socket" else [1]
                deadline = time.monotonic() + 10
                while await client.read() != expected and time.monotonic() < deadline:
                    await asyncio.sleep(0.05)
                assert await client.read() == expected
                admin.execute("DROP TRIGGER wait_at_commit ON threadloom_store")
            await client.write(3)
            assert await client.read() == [*expected, 3]


def test_batches_under_repeated_kills_are_all_or_nothing(
    victim_dsn: str, victim: str, postgres_server: PostgresServer
) -> None:
    """Sessions killed at random during many batch writes: each batch is whole or absent."""
    size, batches = 4, 60
    outcomes: dict[int, str] = {}
    stop = threading.Event()
    kills = 0

    def killer() -> None:
        nonlocal kills
        rng = random.Random(7)
        while not stop.is_set():
            time.sleep(rng.uniform(0.002, 0.03))
            kills += terminate(postgres_server, victim)

    with PostgresStore.from_conn_string(victim_dsn, index=INDEX) as store:
        store.setup()
        thread = threading.Thread(target=killer)
        thread.start()
        try:
            for b in range(batches):
                ops = [
                    PutOp(("batch", str(b)), f"k{j}", {"text": f"batch {b} item {j}"})
                    for j in range(size)
                ]
                try:
                    store.batch(ops)
                    outcomes[b] = "ok"
                except ConnectionLostError as error:
                    outcomes[b] = "unknown" if error.committed is None else "rolled back"
        finally:
            stop.set()
            thread.join()
        assert kills > 0
        for b, outcome in outcomes.items():
            found = len(store.search(("batch", str(b)), limit=100))
            assert found in (0, size), f"batch {b} half-written: {found} of {size}"
            if outcome == "ok":
                assert found == size, f"batch {b} was acknowledged but is missing"
            elif outcome == "rolled back":
                assert found == 0, f"batch {b} was reported rolled back but is stored"
        assert list(outcomes.values()).count("ok") > 0


# --- server restarts ----------------------------------------------------------------


@pytest.fixture(scope="module")
def restartable() -> Iterator[PostgresServer]:
    """A server of this module's own, since its tests stop and restart it.

    It allows prepared transactions: a lock held by one survives a restart.
    """
    with start_postgres(settings={"max_prepared_transactions": "8"}) as server:
        yield server


@pytest.fixture
def restart_dsn(restartable: PostgresServer) -> Iterator[str]:
    name = f"db_{random.getrandbits(40):x}"
    dsn = restartable.create_database(name)
    yield dsn
    restartable.launch()  # a failed test may have left it stopped
    restartable.drop_database(name)


@pytest.mark.parametrize("source", ["dsn", "pool", "userpool"])
@pytest.mark.parametrize("name", CLASSES)
async def test_the_call_after_a_server_restart_reconnects_by_itself(
    name: str, source: str, restart_dsn: str, restartable: PostgresServer
) -> None:
    """A restart cuts off every session; the next call works without an error."""
    async with open_client(name, source, restart_dsn) as client:
        await client.write(1)
        await asyncio.to_thread(restartable.restart)
        await client.write(2)
        assert await client.read() == [1, 2]


@pytest.mark.parametrize("name", CLASSES)
async def test_calls_while_the_server_is_down_fail_typed_then_recover(
    name: str, restart_dsn: str, restartable: PostgresServer
) -> None:
    """While the server is down a call raises DatabaseError; once it is back, calls work."""
    async with open_client(name, "dsn", restart_dsn) as client:
        await client.write(1)
        await asyncio.to_thread(restartable.shutdown)
        with pytest.raises(DatabaseError, match="unreachable"):
            await client.write(2)
        await asyncio.to_thread(restartable.launch)
        await client.write(3)
        assert await client.read() == [1, 3]


@pytest.mark.parametrize("name", CLASSES)
async def test_behind_pgbouncer_a_server_restart_spares_the_callers_connection(
    name: str, restart_dsn: str, restartable: PostgresServer, pgbouncer: PgBouncer
) -> None:
    """PgBouncer keeps the caller's connection across the restart; the next call just works."""
    database = restart_dsn.rsplit("/", 1)[1]
    with start_pgbouncer(restartable) as bouncer:
        async with open_client(name, "given", bouncer.dsn_for(database)) as client:
            await client.write(1)
            await asyncio.to_thread(restartable.restart)
            await client.write(2)
            assert await client.read() == [1, 2]


@contextlib.contextmanager
def _prepared_lock(dsn: str, name: str, gid: str) -> Iterator[None]:
    """The lock of :func:`_blocker_sql`, held by a prepared transaction until the block ends.

    A prepared transaction belongs to no session: a server shutdown cannot end it and
    free its lock, and it is still there (with its lock) when the server is back.
    """
    with psycopg.connect(dsn) as blocker:
        blocker.execute(_blocker_sql(name))
        blocker.execute(sql.SQL("PREPARE TRANSACTION {}").format(sql.Literal(gid)))
    try:
        yield
    finally:
        with psycopg.connect(dsn, autocommit=True) as admin:
            admin.execute(sql.SQL("ROLLBACK PREPARED {}").format(sql.Literal(gid)))


@pytest.mark.parametrize("name", CLASSES)
async def test_a_restart_during_a_write_raises_typed_and_writes_nothing(
    name: str, restart_dsn: str, restartable: PostgresServer, victim: str
) -> None:
    """The server restarts while a write transaction waits on a lock: a typed error saying
    nothing was written, nothing was written, then calls work.

    The lock is held by a prepared transaction, not by a live session. A fast shutdown
    ends sessions in no set order: had the holder been a session, it could end first
    and free the lock, and the waiting write would run on before its own session ended:
    commit, or be cut during COMMIT (``committed=None``), or (a saver) store its turn's
    input checkpoint and be cut at its next put. Each of those answers is true, but none
    is the case under test, and which one came depended on the machine's load. A
    prepared transaction outlives the shutdown and the restart, so the write can never
    take the lock: the one outcome is a write cut off before it wrote anything. The
    prepared transaction is rolled back once the server is back.
    """
    dsn = f"{restart_dsn}?application_name={victim}"
    async with open_client(name, "dsn", dsn) as client:
        await client.write(1)
        with _prepared_lock(restart_dsn, name, f"blocker_{victim}"):
            write = await _run_write(client, name, 2)
            try:
                await asyncio.to_thread(_wait_for_lock_wait, restartable, victim)
                await asyncio.to_thread(restartable.restart)
                with pytest.raises(ConnectionLostError, match="nothing was written") as info:
                    await write
                assert info.value.committed is False
            finally:
                await asyncio.to_thread(restartable.launch)  # for the rollback, if a step failed
                await asyncio.gather(write, return_exceptions=True)
        assert await client.read() == [1]
        await client.write(3)
        assert await client.read() == [1, 3]


class _Numbers(TypedDict):
    n: Annotated[list[int], operator.add]


@pytest.mark.parametrize("name", ["PostgresSaver", "AsyncPostgresSaver"])
async def test_a_turn_cut_off_by_a_lost_server_does_not_hold_the_thread(
    name: str, restart_dsn: str, restartable: PostgresServer
) -> None:
    """The server goes down between a turn's input checkpoint and its next put: the run
    fails, and so does the release of its turn (the server is still down). Once the
    server is back, the saver's next call releases the turn first, so another caller's
    turn goes through at once instead of being refused for turn_timeout (120 s)."""
    cut: list[int] = []

    def node(state: _Numbers) -> dict[str, Any]:
        if state["n"][-1] == 2:
            restartable.shutdown()  # the input checkpoint of turn 2 is stored, its turn open
            cut.append(2)
        return {"n": [-state["n"][-1]]}

    builder = StateGraph(_Numbers)
    builder.add_node("node", node)
    builder.add_edge(START, "node")
    is_async = name.startswith("Async")
    async with open_client(name, "dsn", restart_dsn) as client:
        graph = builder.compile(checkpointer=client.target)

        async def invoke(i: int) -> Any:
            if is_async:
                return await graph.ainvoke({"n": [i]}, CONFIG)
            return graph.invoke({"n": [i]}, CONFIG)

        await invoke(1)
        try:
            # Another caller: another task (async), another OS thread (sync).
            turn = asyncio.ensure_future(invoke(2) if is_async else asyncio.to_thread(asyncio.run, invoke(2)))
            # The message depends on how far the shutdown got ("unreachable", "closed").
            with pytest.raises(DatabaseError):
                await turn
            assert cut == [2]
        finally:
            await asyncio.to_thread(restartable.launch)
        head = await client.target.aget_tuple(CONFIG) if is_async else client.target.get_tuple(CONFIG)
        assert head is not None
        # Turn 2 stopped mid-way: its input is stored, its node's step is not.
        assert head.checkpoint["channel_values"]["n"] == [1, -1, 2]
        assert "branch:to:node" in head.checkpoint["channel_values"]
        result = await invoke(3)  # not CheckpointConflictError ("in the middle of a turn")
        assert result["n"] == [1, -1, 2, 3, -3]
