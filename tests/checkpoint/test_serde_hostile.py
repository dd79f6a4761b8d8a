"""Corrupt and hostile stored data: every saver's load path returns a result or raises SerializationError.

The data is rewritten in the saver's real storage (the in-memory dicts, the
SQLite file), as an attacker with write access would leave it. Postgres runs
the same cases in tests/postgres/test_serde_hostile.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hostile import (
    CONFIG,
    THREAD,
    MemoryRows,
    Mutation,
    Rows,
    loads_or_refuses,
    mutations,
    seed,
    sqlite_rows,
)
from hypothesis import HealthCheck, given, settings

from threadloom.checkpoint.base import BaseCheckpointSaver
from threadloom.checkpoint.memory import InMemorySaver
from threadloom.checkpoint.sqlite import SqliteSaver
from threadloom.errors import SerializationError

CASES: dict[str, tuple[str, bytes]] = {
    # what was seen instead of a SerializationError, and the stored bytes that caused it
    "recursion-100k-deep": ("channel data", b"[" * 100_000 + b'{"__tl": "set", "v": []}' + b"]" * 100_000),
    "overflow-timedelta": ("channel data", b'{"__tl": "td", "v": [10000000000, 0, 0]}'),
    "class-name-an-int": ("channel data", b'{"__tl": "dc", "c": 5, "v": {}}'),
    "dataclass-payload-a-list": ("channel data", b'{"__tl": "dc", "c": "threadloom.checkpoint.base:DeltaValue", "v": [1]}'),
    "pydantic-base-model": ("channel data", b'{"__tl": "pyd", "c": "pydantic.main:BaseModel", "v": {}}'),
    "dict-on-slotted-class": ("channel data", b'{"__tl": "obj", "c": "threadloom.types:Send", "v": {"__dict__": {"node": "x"}}}'),
    "message-with-junk-fields": ("channel messages", b'[{"__tl": "lc", "c": "AIMessage", "v": {"junk": 1}}]'),
    "header-a-list": ("header", b"[1, 2]"),
    "header-without-channel-versions": ("header", b'{"v": 1, "id": "x", "ts": "", "versions_seen": {}}'),
    "metadata-a-list": ("metadata", b"[]"),
    "write-not-json": ("write data", b"\x80\x81"),
}


@pytest.fixture(params=["memory", "sqlite"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[BaseCheckpointSaver, Rows]]:
    if request.param == "memory":
        saver = InMemorySaver()
        yield saver, MemoryRows(saver)
        return
    path = str(tmp_path / "threads.db")
    with SqliteSaver.from_conn_string(path) as sqlite_saver:
        sqlite_saver.setup()
        yield sqlite_saver, sqlite_rows(path)


def corrupt(rows: Rows, kind: str, data: bytes) -> None:
    """Replace every stored payload of ``kind`` (``channel data``, ``header``, ...) by ``data``."""
    matches = [p for p in rows.payloads() if p.kind == kind]
    assert matches, f"nothing stored as {kind}"
    for payload in matches:
        rows.replace(payload, "json", data)


@pytest.mark.parametrize("case", list(CASES))
def test_each_seen_fault_is_a_serialization_error_naming_where(backend: tuple[BaseCheckpointSaver, Rows], case: str) -> None:
    """Each corrupt row once seen raising another error now raises SerializationError naming thread, checkpoint and part."""
    saver, rows = backend
    seed(saver)
    kind, data = CASES[case]
    corrupt(rows, kind, data)
    with pytest.raises(SerializationError) as caught:
        saver.get_tuple(CONFIG)
    message = str(caught.value)
    assert repr(THREAD) in message and "checkpoint '" in message
    where = kind.split(" ")
    if where[0] == "channel":
        assert f"channel {where[1]!r}" in message
    elif where[0] == "write":
        assert f"to channel {where[1]!r}" in message
    else:
        assert where[0] in message


def test_a_message_with_junk_fields_fails_at_load_not_later(backend: tuple[BaseCheckpointSaver, Rows]) -> None:
    """A stored AIMessage whose fields are junk is refused when loaded, so get_state never hands it out."""
    saver, rows = backend
    graph = seed(saver)
    corrupt(rows, "channel messages", CASES["message-with-junk-fields"][1])
    with pytest.raises(SerializationError, match="channel 'messages'"):
        graph.get_state(CONFIG)


def test_a_sound_thread_loads(backend: tuple[BaseCheckpointSaver, Rows]) -> None:
    """The seeded thread itself loads on every path (the cases above corrupt a sound thread)."""
    saver, _ = backend
    graph = seed(saver)
    assert loads_or_refuses(saver) is None
    assert len(graph.get_state(CONFIG).values["messages"]) == 4


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(mutation=mutations)
def test_mutated_blobs_load_or_raise_serialization_error(backend: tuple[BaseCheckpointSaver, Rows], mutation: Mutation) -> None:
    """Property: whatever a stored payload is mutated into, loading gives a result or a SerializationError."""
    saver, rows = backend
    if saver.get_tuple(CONFIG) is None:
        seed(saver)
    old, type_tag, new = mutation.apply(rows.payloads())
    rows.replace(old, type_tag, new)
    try:
        loads_or_refuses(saver)
    finally:
        rows.replace(type(old)(old.kind, type_tag, new), old.type_tag, old.data)
