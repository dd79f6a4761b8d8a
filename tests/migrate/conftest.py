"""A PostgreSQL server for the migration tests, started only when a test asks for it."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from urllib.parse import quote

import psycopg
import pytest

from threadloom.testing.postgres import PostgresServer, postgres_fixture

postgres_server = postgres_fixture(scope="session")


@pytest.fixture
def pg_schema(postgres_server: PostgresServer) -> Iterator[Callable[[], str]]:
    """Make DSNs whose search_path is a fresh schema (one for the source, one for the target)."""
    made: list[str] = []

    def make() -> str:
        schema = f"m_{secrets.token_hex(5)}"
        with psycopg.connect(postgres_server.dsn, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
        made.append(schema)
        return postgres_server.dsn + "?options=" + quote(f"-csearch_path={schema},public")

    yield make
    with psycopg.connect(postgres_server.dsn, autocommit=True) as conn:
        for schema in made:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
