"""The conformance suites through PgBouncer in transaction mode, and what such a pooler breaks.

Behind a transaction-mode pooler each transaction may run on another server
session: server-side prepared statements, session settings, session advisory
locks and temporary tables do not carry over. The suites run here on the
caller's own connections (psycopg's defaults, which prepare statements after
five runs) and on pools opened by ``from_conn_string``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import psycopg
import pytest
import test_checkpoint
import test_store

from threadloom.checkpoint.postgres import PostgresSaver
from threadloom.store.postgres import PostgresStore
from threadloom.testing.checkpoint import CheckpointerConformance
from threadloom.testing.embeddings import HashingEmbed
from threadloom.testing.postgres import PostgresServer, start_pgbouncer
from threadloom.testing.store import SearchModeConformance, StoreConformance


class _ThroughPgBouncer:
    """Mixed into a backend's suite: its ``pg_dsn`` leads through PgBouncer."""

    @pytest.fixture
    def pg_dsn(self, bouncer_dsn: str) -> str:
        return bouncer_dsn


class TestPostgresStoreThroughPgBouncer(_ThroughPgBouncer, test_store.TestPostgresStore):
    """The sync store on one connection, through PgBouncer."""


class TestAsyncPostgresStoreThroughPgBouncer(_ThroughPgBouncer, test_store.TestAsyncPostgresStore):
    """The async store on one async connection, through PgBouncer."""


class TestPostgresSaverThroughPgBouncer(_ThroughPgBouncer, test_checkpoint.TestPostgresSaver):
    """The sync saver on one connection, through PgBouncer."""


class TestAsyncPostgresSaverThroughPgBouncer(
    _ThroughPgBouncer, test_checkpoint.TestAsyncPostgresSaver
):
    """The async saver on one async connection, through PgBouncer."""


class TestPooledPostgresStoreThroughPgBouncer(StoreConformance, SearchModeConformance):
    """The sync store on a pool of its own (``from_conn_string``), through PgBouncer."""

    @pytest.fixture
    def make_store(self, bouncer_dsn: str) -> Iterator[Callable[..., Any]]:
        with ExitStack() as stack:

            def make(index: Any = None, ttl: Any = None) -> PostgresStore:
                opened = PostgresStore.from_conn_string(
                    bouncer_dsn, index=index, ttl=ttl, pool_size=3
                )
                store = stack.enter_context(opened)
                store.setup()
                return store

            yield make


class TestPooledPostgresSaverThroughPgBouncer(CheckpointerConformance):
    """The sync saver on a pool of its own (``from_conn_string``), through PgBouncer."""

    @pytest.fixture
    def saver(self, bouncer_dsn: str) -> Iterator[PostgresSaver]:
        with PostgresSaver.from_conn_string(bouncer_dsn, pool_size=3) as saver:
            saver.setup()
            yield saver


def test_the_test_dsn_options_are_refused_by_pgbouncer(
    pgbouncer: object, pg_dsn: str, bouncer_dsn: str
) -> None:
    """Why the PgBouncer tests set the schema per database: the ``options`` parameter fails."""
    assert "options=" in pg_dsn and "options=" not in bouncer_dsn
    query = pg_dsn.split("?", 1)[1]
    with pytest.raises(psycopg.OperationalError, match="unsupported startup parameter"):
        psycopg.connect(f"{bouncer_dsn}?{query}").close()


def test_searches_leave_no_session_settings_behind_on_a_pooler(
    postgres_server: PostgresServer, bouncer_dsn: str
) -> None:
    """With one server session shared by every client, another client sees pgvector's defaults.

    A search sets pgvector's search breadth; on a direct connection once per session, but
    behind a transaction pooler only inside its own transaction, or the value would leak
    to whichever client gets that server session next.
    """
    database = bouncer_dsn.rsplit("/", 1)[1]
    index = {"dims": 8, "embed": HashingEmbed(8), "ann_index_config": {"ef_search": 123}}
    with (
        start_pgbouncer(postgres_server, settings={"default_pool_size": "1"}) as single,
        PostgresStore.from_conn_string(single.dsn_for(database), index=index) as store,
    ):
        store.setup()
        store.put(("docs",), "a", {"text": "apples and pears"})
        assert [h.key for h in store.search(("docs",), query="apples")] == ["a"]
        assert [h.key for h in store.search(("docs",), query="pears")] == ["a"]
        with psycopg.connect(single.dsn_for(database), autocommit=True) as other:
            (breadth,) = other.execute(
                "SELECT current_setting('hnsw.ef_search', true)"
            ).fetchone() or (None,)
            (scan,) = other.execute(
                "SELECT current_setting('hnsw.iterative_scan', true)"
            ).fetchone() or (None,)
    assert breadth in (None, "", "40"), breadth
    assert scan in (None, "", "off"), scan
