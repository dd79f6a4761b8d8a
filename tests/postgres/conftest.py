"""One PostgreSQL server per test session; each test gets its own empty schema on it."""

from __future__ import annotations

import secrets
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest

from threadloom.testing.postgres import PostgresServer, postgres_fixture

# Host processes of the many-hosts tests import their code (_hosts.py) by module name; spawned
# children inherit sys.path, and the importlib import mode does not add test folders to it.
sys.path.insert(0, str(Path(__file__).parent))

postgres_server = postgres_fixture(scope="session")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test in this folder needs the server: mark it so it can be selected or skipped."""
    for item in items:
        if "tests/postgres/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.postgres)


@pytest.fixture
def pg_dsn(postgres_server: PostgresServer) -> Iterator[str]:
    """A DSN whose search_path is a fresh schema (creating one is much faster than a database)."""
    schema = f"t_{secrets.token_hex(5)}"
    with psycopg.connect(postgres_server.dsn, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    yield postgres_server.dsn + "?options=" + quote(f"-csearch_path={schema},public")
    with psycopg.connect(postgres_server.dsn, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
