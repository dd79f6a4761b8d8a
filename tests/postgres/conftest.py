"""One PostgreSQL server per test session; each test gets a fresh database on it."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest

from threadloom.testing.postgres import PostgresServer, postgres_fixture

pytestmark = pytest.mark.postgres

postgres_server = postgres_fixture(scope="session")


@pytest.fixture
def pg_dsn(postgres_server: PostgresServer) -> Iterator[str]:
    """A DSN for an empty database (with vector and pg_trgm) that is dropped after the test."""
    name = f"t_{secrets.token_hex(5)}"
    dsn = postgres_server.create_database(name)
    yield dsn
    postgres_server.drop_database(name)
