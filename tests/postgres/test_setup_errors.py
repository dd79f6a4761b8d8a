"""Bad connections and bad schemas give clear, typed errors and change nothing."""

from __future__ import annotations

import secrets
import socket
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from threadloom.checkpoint.postgres import PostgresSaver
from threadloom.errors import (
    DatabaseError,
    IndexConfigMismatchError,
    InvalidStoreInputError,
    SchemaVersionError,
)
from threadloom.store.postgres import PostgresStore
from threadloom.testing.postgres import PostgresServer


def embed4(texts: list[str]) -> list[list[float]]:
    return [[1.0, float(len(t)), 0.5, 0.25] for t in texts]


def embed8(texts: list[str]) -> list[list[float]]:
    return [[1.0, float(len(t)), 0, 0, 0, 0, 0, 1.0] for t in texts]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_unreachable_server_is_a_database_error() -> None:
    """Nothing listening on the port: DatabaseError says the server is unreachable."""
    dsn = f"postgresql://postgres:secret-pw@127.0.0.1:{free_port()}/postgres"
    with (
        pytest.raises(DatabaseError, match="unreachable") as caught,
        PostgresStore.from_conn_string(dsn),
    ):
        pass
    assert "secret-pw" not in str(caught.value)


def test_wrong_password_is_a_database_error(postgres_server: PostgresServer) -> None:
    """A refused password is named as such, and the password is not echoed."""
    dsn = postgres_server.dsn_for("postgres", password="not-the-password")
    with (
        pytest.raises(DatabaseError, match="password was refused") as caught,
        PostgresSaver.from_conn_string(dsn),
    ):
        pass
    assert "not-the-password" not in str(caught.value)


def test_missing_database_is_a_database_error(postgres_server: PostgresServer) -> None:
    """Connecting to a database that does not exist says so."""
    with (
        pytest.raises(DatabaseError, match="database does not exist"),
        PostgresSaver.from_conn_string(postgres_server.dsn_for("no_such_db"), pool_size=2),
    ):
        pass


def test_using_a_store_before_setup_says_to_call_setup(pg_dsn: str) -> None:
    """Without setup() the tables are missing; the error says what to do."""
    with (
        PostgresStore.from_conn_string(pg_dsn) as store,
        pytest.raises(DatabaseError, match=r"setup\(\)"),
    ):
        store.get(("a",), "k")


@pytest.fixture
def bare_database(postgres_server: PostgresServer) -> Iterator[str]:
    """A database without pgvector, and a login role that may not create extensions."""
    name, role = f"bare_{secrets.token_hex(4)}", f"app_{secrets.token_hex(4)}"
    postgres_server.create_database(name, extensions=False)
    with psycopg.connect(postgres_server.dsn_for(name), autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN PASSWORD 'app-pw'")
        conn.execute(f"GRANT ALL ON SCHEMA public TO {role}")
    yield postgres_server.dsn_for(name, user=role, password="app-pw")
    postgres_server.drop_database(name)
    with psycopg.connect(postgres_server.dsn, autocommit=True) as conn:
        conn.execute(f"DROP ROLE {role}")


def test_missing_pgvector_fails_setup_with_advice(bare_database: str) -> None:
    """An indexed store on a database without pgvector fails at setup() naming the fix."""
    with (
        PostgresStore.from_conn_string(bare_database, index={"dims": 4, "embed": embed4}) as store,
        pytest.raises(DatabaseError, match="CREATE EXTENSION vector"),
    ):
        store.setup()


def test_a_store_without_index_needs_no_pgvector(bare_database: str) -> None:
    """pgvector is needed only for semantic search: a plain store works without it."""
    with PostgresStore.from_conn_string(bare_database) as store:
        store.setup()
        store.put(("a",), "k", {"v": 1})
        item = store.get(("a",), "k")
    assert item is not None and item.value == {"v": 1}


def test_dims_mismatch_fails_setup_and_keeps_data(pg_dsn: str) -> None:
    """Opening 4-dim vectors with dims=8 raises IndexConfigMismatchError at setup; data stays."""
    with PostgresStore.from_conn_string(pg_dsn, index={"dims": 4, "embed": embed4}) as store:
        store.setup()
        store.put(("a",), "k", {"text": "hello"})
    with (
        PostgresStore.from_conn_string(pg_dsn, index={"dims": 8, "embed": embed8}) as other,
        pytest.raises(IndexConfigMismatchError, match=r"vector\(4\)"),
    ):
        other.setup()
        # Used anyway without setup(): the put fails as a mismatch and writes nothing.
        with pytest.raises(IndexConfigMismatchError):
            other.put(("a",), "k2", {"text": "hi"})
        assert other.get(("a",), "k2") is None
    with PostgresStore.from_conn_string(pg_dsn, index={"dims": 4, "embed": embed4}) as store:
        assert [i.key for i in store.search(("a",), query="hello")] == ["k"]


def test_vector_type_mismatch_fails_setup(pg_dsn: str) -> None:
    """A halfvec index over a vector column is a mismatch too."""
    with PostgresStore.from_conn_string(pg_dsn, index={"dims": 4, "embed": embed4}) as store:
        store.setup()
    index: Any = {"dims": 4, "embed": embed4, "ann_index_config": {"vector_type": "halfvec"}}
    with (
        PostgresStore.from_conn_string(pg_dsn, index=index) as other,
        pytest.raises(IndexConfigMismatchError, match="halfvec"),
    ):
        other.setup()


@pytest.mark.parametrize(
    ("ann", "message"),
    [
        ({"m": 1}, r"'m'\] must be an integer in 2\.\.100, got 1"),
        ({"m": 101}, r"'m'\] must be an integer in 2\.\.100, got 101"),
        ({"m": True}, r"'m'\] must be an integer"),
        ({"m": "16"}, r"'m'\] must be an integer"),
        ({"ef_construction": 3}, r"'ef_construction'\] must be an integer in 4\.\.1000"),
        ({"m": 40, "ef_construction": 64}, r"at least 2 \* m = 80 \(pgvector's rule\), got 64"),
        ({"ef_search": 0}, r"'ef_search'\] must be an integer in 1\.\.1000"),
        ({"ef_search": 1001}, r"'ef_search'\] must be an integer in 1\.\.1000"),
        ({"kind": "ivfflat"}, r"kind='hnsw'"),
        ({"lists": 100}, r"got \{'lists': 100\}"),
    ],
)
def test_bad_ann_index_config_is_refused_before_any_ddl(
    pg_dsn: str, ann: dict[str, Any], message: str
) -> None:
    """Each bad HNSW parameter is a ValueError naming it, raised before a table exists."""
    index: Any = {"dims": 4, "embed": embed4, "ann_index_config": ann}
    with (
        pytest.raises(InvalidStoreInputError, match=message) as caught,
        PostgresStore.from_conn_string(pg_dsn, index=index) as store,
    ):
        store.setup()
    assert isinstance(caught.value, ValueError)
    with psycopg.connect(pg_dsn) as conn:
        assert conn.execute("SELECT to_regclass('threadloom_store')").fetchone() == (None,)


def test_newer_schema_is_refused_and_untouched(pg_dsn: str) -> None:
    """A database recorded at a newer schema version raises SchemaVersionError and is not changed."""
    with PostgresSaver.from_conn_string(pg_dsn) as saver:
        saver.setup()
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(
            "UPDATE threadloom_migrations SET version = 99 WHERE component = 'checkpoints'"
        )
    with (
        PostgresSaver.from_conn_string(pg_dsn) as saver,
        pytest.raises(SchemaVersionError, match="newer threadloom") as info,
    ):
        saver.setup()
    assert info.value.found == 99 and info.value.component == "checkpoints"
    assert info.value.known is not None and info.value.known < 99
    with psycopg.connect(pg_dsn) as conn:
        row = conn.execute(
            "SELECT version FROM threadloom_migrations WHERE component = 'checkpoints'"
        ).fetchone()
    assert row == (99,)


def test_setup_is_idempotent_and_records_versions(pg_dsn: str) -> None:
    """setup() twice is harmless and records one version per component."""
    with PostgresStore.from_conn_string(pg_dsn, index={"dims": 4, "embed": embed4}) as store:
        store.setup()
        store.setup()
    with PostgresSaver.from_conn_string(pg_dsn) as saver:
        saver.setup()
        saver.setup()
    with psycopg.connect(pg_dsn) as conn:
        rows = conn.execute(
            "SELECT component, version FROM threadloom_migrations ORDER BY component"
        ).fetchall()
    assert [r[0] for r in rows] == ["checkpoints", "store", "store_vectors"]
    assert all(r[1] >= 1 for r in rows)


def test_import_without_psycopg_names_the_extra() -> None:
    """Importing the Postgres backends without psycopg raises ImportError naming threadloom[postgres]."""
    code = (
        "import sys; sys.modules['psycopg'] = None\n"
        "try:\n    import threadloom.store.postgres\n"
        "except ImportError as e:\n    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "threadloom[postgres]" in out.stdout
