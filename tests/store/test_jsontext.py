"""Stored JSON is read with orjson when installed: the answers must be json.loads's, exactly.

Values and errors alike, for what the store writes and for text a damaged or hostile
file holds; and through the real SQLite store, the integers orjson alone would turn
into floats come back whole.
"""

from __future__ import annotations

import json
import math
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from threadloom.store import _jsontext
from threadloom.store._jsontext import loads
from threadloom.store.sqlite import SqliteStore

orjson = pytest.importorskip("orjson")

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**200), max_value=2**200)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=30,
)


def same(text: str) -> None:
    """``loads(text)`` is ``json.loads(text)``: equal value and types, or the same error."""
    try:
        expected: Any = ("value", repr(json.loads(text)))
    except (ValueError, RecursionError) as exc:
        expected = ("error", type(exc), str(exc))
    try:
        got: Any = ("value", repr(loads(text)))
    except (ValueError, RecursionError) as exc:
        got = ("error", type(exc), str(exc))
    assert got == expected, text


def test_orjson_is_used_when_installed() -> None:
    assert loads is not json.loads
    assert _jsontext._orjson is orjson


@settings(max_examples=300, deadline=None)
@given(JSON_VALUES)
def test_what_the_store_writes_reads_back_as_json_reads_it(value: Any) -> None:
    same(json.dumps({"v": value}, separators=(",", ":"), ensure_ascii=False))
    same(json.dumps({"v": value}))


@pytest.mark.parametrize(
    "text",
    [
        '{"n": 123456789012345678901234567890}',  # beyond 64 bits: orjson gives a float
        '{"n": -9223372036854775809}',
        '{"n": 18446744073709551615}',
        '{"n": 9223372036854775807, "m": -9223372036854775808}',
        '{"s": "1234567890123456789012345"}',
        '{"f": 0.1234567890123456789012}',
        '{"v": NaN}',  # JSON has no NaN; json.loads accepts it, orjson does not
        '{"v": Infinity}',
        '{"v": 1e400}',
        '{"v": "\\ud800"}',  # a lone surrogate
        '{"v": "\\udc00x"}',
        "not json",
        '{"v": 1',
        "",
        "[1, 2]",
        '"x"',
        '{"a": 1, "a": 2}',
        "[" * 2000 + "]" * 2000,  # deeper than orjson reads
        '{"e": "\\u00e9", "z": "\\u0000"}',
    ],
)
def test_hostile_or_odd_text_gets_json_loads_answer(text: str) -> None:
    same(text)


def test_a_damaged_value_is_the_same_typed_error() -> None:
    with pytest.raises(json.JSONDecodeError):
        loads('{"v": ')


def test_big_integers_round_trip_through_the_sqlite_store(tmp_path: Path) -> None:
    value = {"big": 2**100, "low": -(2**63) - 1, "max": 2**64 - 1, "f": 0.1, "s": "é"}
    path = tmp_path / "store.db"
    with SqliteStore.from_conn_string(str(path)) as store:
        store.setup()
        store.put(("u",), "k", value)
        got = store.get(("u",), "k")
        assert got is not None and got.value == value
        assert type(got.value["big"]) is int and type(got.value["low"]) is int
        assert [i.value for i in store.search(("u",))] == [value]


def test_a_tampered_row_reads_as_json_reads_it(tmp_path: Path) -> None:
    """A value written behind the store's back: what json.loads would give, or its error."""
    path = tmp_path / "store.db"
    with SqliteStore.from_conn_string(str(path)) as store:
        store.setup()
        store.put(("u",), "k", {"v": 1})
    for text, expected in [('{"v": NaN}', "nan"), ('{"v": 1e400}', "inf")]:
        with sqlite3.connect(path) as conn:
            conn.execute("UPDATE store_items SET value = ? WHERE key = 'k'", (text,))
        conn.close()
        with SqliteStore.from_conn_string(str(path)) as store:
            item = store.get(("u",), "k")
            assert item is not None and math.isnan(item.value["v"]) == (expected == "nan")
            assert str(item.value["v"]) == expected
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE store_items SET value = ? WHERE key = 'k'", ("not json",))
    conn.close()
    with SqliteStore.from_conn_string(str(path)) as store:
        with pytest.raises(json.JSONDecodeError):
            store.get(("u",), "k")
        with pytest.raises(json.JSONDecodeError):
            store.search(("u",))
