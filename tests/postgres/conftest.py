"""One PostgreSQL server per test session; each test gets its own empty schema on it."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from threadloom.testing.postgres import (
    PgBouncer,
    PostgresServer,
    find_pgbouncer,
    start_pgbouncer,
)

# Host processes of the many-hosts tests import their code (_hosts.py) by module name; spawned
# children inherit sys.path, and the importlib import mode does not add test folders to it.
sys.path.insert(0, str(Path(__file__).parent))

# ``postgres_server`` and ``pg_dsn`` live in tests/conftest.py: tests/server uses them too.


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test in this folder needs the server: mark it so it can be selected or skipped."""
    for item in items:
        if "tests/postgres/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.postgres)


#: The database the PgBouncer tests use; its default search_path names one schema, which
#: each test empties (PgBouncer refuses the ``options`` startup parameter that pg_dsn uses).
BOUNCER_DB = "threadloom_bouncer"
BOUNCER_SCHEMA = "t_bouncer"


@pytest.fixture(scope="session")
def pgbouncer(postgres_server: PostgresServer) -> Iterator[PgBouncer]:
    """PgBouncer in transaction mode in front of the session's server.

    Without PgBouncer installed the tests that need it are skipped, except under CI
    (``CI`` set), where they fail: a missing install must not hide them.
    """
    if find_pgbouncer() is None:
        message = "PgBouncer is not installed (Debian/Ubuntu: apt-get install pgbouncer)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    dsn = postgres_server.create_database(BOUNCER_DB)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"ALTER DATABASE {BOUNCER_DB} SET search_path = {BOUNCER_SCHEMA}, public")
    with start_pgbouncer(postgres_server) as bouncer:
        yield bouncer


@pytest.fixture
def bouncer_dsn(postgres_server: PostgresServer, pgbouncer: PgBouncer) -> str:
    """A DSN through PgBouncer (transaction mode) to an empty schema."""
    with psycopg.connect(postgres_server.dsn_for(BOUNCER_DB), autocommit=True) as conn:
        conn.execute("SET lock_timeout = '10s'")
        conn.execute(f"DROP SCHEMA IF EXISTS {BOUNCER_SCHEMA} CASCADE")
        conn.execute(f"CREATE SCHEMA {BOUNCER_SCHEMA}")
    return pgbouncer.dsn_for(BOUNCER_DB)
