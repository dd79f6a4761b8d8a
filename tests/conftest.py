"""Shared test configuration. Backend-specific fixtures live next to their tests."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from threadloom.checkpoint.memory import InMemorySaver
from threadloom.checkpoint.sqlite import SqliteSaver
from threadloom.testing.graph import FLAVOURS, GraphClient
from threadloom.testing.postgres import PostgresServer, postgres_fixture

# Tests never reach a model hub: everything they use ships in installed packages.
os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(params=FLAVOURS)
def client(request: pytest.FixtureRequest) -> GraphClient:
    """The graph API in one flavour: sync (``invoke``/``stream``/...) or async (``ainvoke``/...)."""
    return GraphClient(request.param)


@pytest.fixture(params=["memory", "sqlite"])
def saver(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """A checkpointer for tests that take ``saver``: in memory, and on a real SQLite file."""
    if request.param == "memory":
        yield InMemorySaver()
        return
    with SqliteSaver.from_conn_string(str(tmp_path / "threads.db")) as found:
        yield found


# One PostgreSQL server per session, shared by tests/postgres and tests/server.
postgres_server = postgres_fixture(scope="session")


@pytest.fixture
def pg_dsn(postgres_server: PostgresServer) -> Iterator[str]:
    """A DSN whose search_path is a fresh schema (creating one is much faster than a database)."""
    import psycopg

    schema = f"t_{secrets.token_hex(5)}"
    with psycopg.connect(postgres_server.dsn, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    yield postgres_server.dsn + "?options=" + quote(f"-csearch_path={schema},public")
    with psycopg.connect(postgres_server.dsn, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
