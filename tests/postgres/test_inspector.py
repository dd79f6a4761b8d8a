"""``threadloom inspect`` on PostgreSQL: the same pages as on a SQLite file."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytest.importorskip("jinja2")

sys.path.append(str(Path(__file__).parents[1] / "inspector"))  # after tests/server: see its conftest

from _world import ASK_THREAD, CHAT_THREAD, XSS_SCRIPT, build_graphs, seed
from starlette.testclient import TestClient

from threadloom.checkpoint.postgres import PostgresSaver
from threadloom.cli import build_parser
from threadloom.cli._inspect import open_inspector
from threadloom.inspector import Backends
from threadloom.store.postgres import PostgresStore


def test_inspect_a_postgres_database(pg_dsn: str) -> None:
    with (
        PostgresStore.from_conn_string(pg_dsn) as store,
        PostgresSaver.from_conn_string(pg_dsn) as saver,
    ):
        store.setup()
        saver.setup()
        seed(Backends(checkpointer=saver, store=store, graphs=build_graphs(saver, store)))
    args = build_parser().parse_args(["inspect", pg_dsn])
    with open_inspector(args) as app, TestClient(app) as client:
        threads = client.get("/threads").text
        assert CHAT_THREAD in threads and ASK_THREAD in threads
        assert "remember that I like tea" in client.get(f"/threads/{CHAT_THREAD}").text
        assert "how many?" in client.get(f"/threads/{ASK_THREAD}").text
        by_meta = client.get("/threads?metadata=user%3Dbob").text
        assert CHAT_THREAD in by_meta and ASK_THREAD not in by_meta
        tree = client.get("/memories?ns=memories").text
        assert 'class="count">3<' in tree and 'class="count">1<' in tree
        item = client.get("/memories/item?ns=memories.bob&key=xss").text
        assert "&lt;script&gt;" in item and XSS_SCRIPT not in item
