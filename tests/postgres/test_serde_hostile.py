"""Corrupt and hostile rows in PostgreSQL: PostgresSaver's load path gives a result or a SerializationError.

The same cases as tests/checkpoint/test_serde_hostile.py, rewritten in the saver's real tables.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings

from threadloom.checkpoint.postgres import PostgresSaver
from threadloom.errors import SerializationError

sys.path.insert(0, str(Path(__file__).parents[1] / "checkpoint"))  # the shared hostile.py
from hostile import (
    CONFIG,
    POSTGRES_COLUMNS,
    THREAD,
    Mutation,
    SqlRows,
    loads_or_refuses,
    mutations,
    seed,
)

CASES = {
    "recursion-100k-deep": ("channel data", b"[" * 100_000 + b'{"__tl": "set", "v": []}' + b"]" * 100_000),
    "overflow-timedelta": ("channel data", b'{"__tl": "td", "v": [10000000000, 0, 0]}'),
    "class-name-an-int": ("channel data", b'{"__tl": "dc", "c": 5, "v": {}}'),
    "message-with-junk-fields": ("channel messages", b'[{"__tl": "lc", "c": "AIMessage", "v": {"junk": 1}}]'),
    "header-a-list": ("header", b"[1, 2]"),
    "metadata-a-list": ("metadata", b"[]"),
    "write-not-json": ("write data", b"\x80\x81"),
}


@pytest.fixture
def backend(pg_dsn: str) -> Iterator[tuple[PostgresSaver, SqlRows]]:
    with psycopg.connect(pg_dsn, autocommit=True) as conn, psycopg.connect(pg_dsn, autocommit=True) as other:
        saver = PostgresSaver(conn)
        saver.setup()

        def execute(sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
            cursor = other.execute(sql, params)
            return cursor.fetchall() if cursor.description else []

        yield saver, SqlRows(execute, POSTGRES_COLUMNS, "%s")


@pytest.mark.parametrize("case", list(CASES))
def test_each_seen_fault_is_a_serialization_error_naming_where(backend: tuple[PostgresSaver, SqlRows], case: str) -> None:
    """A corrupt row raises SerializationError naming the thread, the checkpoint and the part."""
    saver, rows = backend
    seed(saver)
    kind, data = CASES[case]
    for payload in [p for p in rows.payloads() if p.kind == kind]:
        rows.replace(payload, "json", data)
    with pytest.raises(SerializationError) as caught:
        saver.get_tuple(CONFIG)
    assert repr(THREAD) in str(caught.value) and kind.split(" ")[-1] in str(caught.value)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(mutation=mutations)
def test_mutated_blobs_load_or_raise_serialization_error(backend: tuple[PostgresSaver, SqlRows], mutation: Mutation) -> None:
    """Property: whatever a stored row is mutated into, loading gives a result or a SerializationError."""
    saver, rows = backend
    if saver.get_tuple(CONFIG) is None:
        seed(saver)
    old, type_tag, new = mutation.apply(rows.payloads())
    rows.replace(old, type_tag, new)
    try:
        loads_or_refuses(saver)
    finally:
        rows.replace(type(old)(old.kind, type_tag, new), old.type_tag, old.data)
