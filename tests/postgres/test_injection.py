"""Hostile strings in labels, keys and filters are data: stored and matched literally, never run."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from threadloom.store.postgres import PostgresStore

HOSTILE = [
    "x'; DROP TABLE threadloom_store; --",
    'x"); DELETE FROM threadloom_store; --',
    "%",
    "_",
    "a%b_c\\",
    "$1",
    "%(p0)s",
    "{}",
    "/",
    "' OR '1'='1",
]


def embed(texts: list[str]) -> list[list[float]]:
    return [[1.0, float(len(t) % 7), float(sum(map(ord, t)) % 11), 1.0] for t in texts]


@pytest.fixture
def store(pg_dsn: str) -> Iterator[PostgresStore]:
    with PostgresStore.from_conn_string(pg_dsn, index={"dims": 4, "embed": embed}) as store:
        store.setup()
        yield store


def tables_intact(pg_dsn: str) -> bool:
    with psycopg.connect(pg_dsn) as conn:
        row = conn.execute("SELECT to_regclass('threadloom_store') IS NOT NULL").fetchone()
    return bool(row and row[0])


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_label_and_key_round_trip(store: PostgresStore, pg_dsn: str, text: str) -> None:
    """A label and key full of SQL and pattern characters are stored and read back exactly."""
    store.put(("users", text), text, {"note": text})
    store.put(("users", "plain"), "k", {"note": "plain"})
    item = store.get(("users", text), text)
    assert item is not None and item.value == {"note": text} and item.namespace == ("users", text)
    assert [i.key for i in store.search(("users", text))] == [text]
    assert ("users", text) in store.list_namespaces(prefix=("users", text))
    assert store.delete_namespace(("users", text)) == 1
    assert [i.key for i in store.search(("users",))] == ["k"]
    assert tables_intact(pg_dsn)


def test_pattern_characters_in_a_prefix_match_only_themselves(store: PostgresStore) -> None:
    """A prefix of '%' or '_' does not act as a wildcard."""
    store.put(("a_c",), "1", {})
    store.put(("abc",), "2", {})
    store.put(("a%",), "3", {})
    assert [i.key for i in store.search(("a_c",))] == ["1"]
    assert [i.key for i in store.search(("a%",))] == ["3"]
    assert store.list_namespaces(prefix=("a_c",)) == [("a_c",)]


# A filter key starting with "$" is an operator and "." splits a path: both by design.
FIELD_NAMES = [t for t in HOSTILE if not t.startswith("$") and "." not in t]


@pytest.mark.parametrize("text", FIELD_NAMES)
def test_hostile_filter_keys_and_values_match_literally(
    store: PostgresStore, pg_dsn: str, text: str
) -> None:
    """Filter paths and operands are parameters: they match the literal field and value only."""
    store.put(("n",), "hit", {text: text, "n": 1})
    store.put(("n",), "miss", {"other": text, "n": 2})
    assert [i.key for i in store.search(("n",), filter={text: text})] == ["hit"]
    assert [i.key for i in store.search(("n",), filter={text: {"$exists": True}})] == ["hit"]
    assert [i.key for i in store.search(("n",), filter={"other": {"$gte": text}})] == ["miss"]
    assert [i.key for i in store.search(("n",), filter={"other": {"$in": [text]}})] == ["miss"]
    assert [i.key for i in store.search(("n",), query=text, filter={text: text})] == ["hit"]
    assert store.search(("n",), filter={text: text + "x"}) == []
    assert tables_intact(pg_dsn)
