"""Values written by LangGraph's serializer are read back without running code the data names."""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import enum
import ipaddress
import pathlib
import pickle
import sqlite3
import sys
import uuid
from collections import deque
from contextlib import closing
from pathlib import Path
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

import numpy as np
import ormsgpack
import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from pydantic import BaseModel

from threadloom.errors import MigrationError, PersistenceError
from threadloom.migrate import migrate
from threadloom.migrate._decode import decode_value
from threadloom.types import Interrupt, Send


def _langgraph_bytes(value: Any) -> tuple[str, bytes]:
    from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

    return JsonPlusSerializer().dumps_typed(value)


class Colour(enum.Enum):
    RED = "red"


@dataclasses.dataclass
class Point:
    x: int
    y: int


class Pair(NamedTuple):
    left: int
    right: str


class Profile(BaseModel):
    name: str
    tags: list[str]


@pytest.mark.parametrize(
    "value",
    [
        uuid.UUID("12345678-1234-5678-1234-567812345678"),
        dt.datetime(2024, 5, 6, 7, 8, 9, 10, tzinfo=dt.timezone.utc),
        dt.datetime(2024, 5, 6, 7, 8, 9, tzinfo=ZoneInfo("Europe/Lisbon")),
        dt.date(2024, 5, 6),
        dt.time(7, 8, 9, 10),
        dt.timedelta(days=2, seconds=3, microseconds=4),
        decimal.Decimal("1.10"),
        {1, 2, 3},
        frozenset({"a"}),
        deque([1, 2]),
        ipaddress.IPv4Address("10.0.0.1"),
        ZoneInfo("Europe/Lisbon"),
        [HumanMessage("hi", id="1"), AIMessage("yo", id="2"), ToolMessage("r", tool_call_id="c")],
        {"nested": [1, 2.5, None, True, "s", b"raw"]},
    ],
    ids=repr,
)
def test_known_types_come_back_equal(value: Any) -> None:
    """Standard-library values and LangChain messages are rebuilt as the same objects."""
    kind, data = _langgraph_bytes(value)
    assert decode_value(kind, data, "row") == value


def test_langgraph_types_become_threadloom_types() -> None:
    """LangGraph's ``Send`` and ``Interrupt`` come back as threadloom's."""
    from langgraph.types import Interrupt as LgInterrupt
    from langgraph.types import Send as LgSend

    kind, data = _langgraph_bytes([LgSend("node", {"x": 1}), LgInterrupt(value="v", id="abc")])
    assert decode_value(kind, data, "row") == [Send("node", {"x": 1}), Interrupt("v", "abc")]


def test_other_classes_are_kept_as_plain_data() -> None:
    """A class of the user's program is not rebuilt: its fields are kept as a dict (enums: value)."""
    value = {
        "point": Point(1, 2),
        "pair": Pair(3, "x"),
        "profile": Profile(name="Ann", tags=["a"]),
        "colour": Colour.RED,
        "path": pathlib.Path("/a/b"),
        "array": np.arange(6, dtype=np.float32).reshape(2, 3),
    }
    decoded = decode_value(*_langgraph_bytes(value), "row")
    assert decoded["point"] == {"x": 1, "y": 2}
    assert decoded["pair"] == {"left": 3, "right": "x"}
    assert decoded["profile"] == {"name": "Ann", "tags": ["a"]}
    assert decoded["colour"] == "red"
    assert decoded["path"] == pathlib.PurePosixPath("/a/b")
    assert np.array_equal(decoded["array"], value["array"])


def test_a_stored_module_name_is_never_imported_nor_called() -> None:
    """An extension naming any module and function yields plain data; nothing is imported or run."""
    assert "this" not in sys.modules
    for code in (0, 1, 2, 3, 5):
        args: Any = ["this", "anything", {"a": 1}, "method"]
        if code == 1:
            args[2] = ["x"]
        data = ormsgpack.packb(ormsgpack.Ext(code, ormsgpack.packb(args)))
        decode_value("msgpack", data, "row")
    call = ormsgpack.packb(ormsgpack.Ext(0, ormsgpack.packb(["os", "system", "exit 3"])))
    assert decode_value("msgpack", call, "row") == "exit 3"
    assert "this" not in sys.modules


def test_object_arrays_are_refused() -> None:
    """A numpy array of Python objects would need pickle: refused with a typed error."""
    meta = ormsgpack.packb(["|O", [1], "C", b"\x00" * 8])
    data = ormsgpack.packb(ormsgpack.Ext(6, meta))
    with pytest.raises(MigrationError, match="dtype"):
        decode_value("msgpack", data, "checkpoints row t/x")


def test_json_and_bytes_types() -> None:
    """The ``json``, ``bytes`` and ``null`` types LangGraph also writes."""
    lc = {
        "lc": 1,
        "type": "constructor",
        "id": ["langchain", "schema", "messages", "HumanMessage"],
        "kwargs": {"content": "hi", "id": "1"},
    }
    assert decode_value("json", b'{"a": [1]}', "row") == {"a": [1]}
    assert decode_value("json", json_bytes(lc), "row") == HumanMessage("hi", id="1")
    assert decode_value("bytes", b"\x00\x01", "row") == b"\x00\x01"
    assert decode_value("null", b"", "row") is None


def json_bytes(value: Any) -> bytes:
    import json

    return json.dumps(value).encode()


class _Boom:
    """Unpickling this creates the marker file: proof that a row was unpickled."""

    marker: Path

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.touch, (self.marker,))


@pytest.fixture
def pickled_source(tmp_path: Path) -> tuple[Path, Path]:
    """A LangGraph SQLite file one of whose pending writes is a pickle that would create a file."""
    sys.path.insert(0, str(Path(__file__).parent))
    from _apps import langgraph_sqlite

    path, marker = tmp_path / "langgraph.db", tmp_path / "unpickled"
    with langgraph_sqlite(path) as (_graph, _store, conn):
        boom = _Boom()
        boom.marker = marker
        head = conn.execute(
            "SELECT checkpoint_id FROM writes WHERE thread_id = 't-paused' AND channel = ?",
            ("__interrupt__",),
        ).fetchone()[0]
        conn.execute(
            "UPDATE writes SET type = 'pickle', value = ? WHERE checkpoint_id = ? AND channel = ?",
            (pickle.dumps(boom), head, "__interrupt__"),
        )
        conn.commit()
    return path, marker


def test_pickled_row_is_refused_by_name_and_never_unpickled(
    pickled_source: tuple[Path, Path], tmp_path: Path
) -> None:
    """The default: a typed error naming the row; the pickle's code never runs."""
    path, marker = pickled_source
    with pytest.raises(MigrationError, match=r"writes row t-paused/.*pickled") as caught:
        migrate(str(path), str(tmp_path / "threadloom.db"))
    assert isinstance(caught.value, PersistenceError) and isinstance(caught.value, ValueError)
    assert caught.value.pickle and caught.value.row is not None
    assert not marker.exists()


def test_pickled_rows_can_be_skipped_and_counted(
    pickled_source: tuple[Path, Path], tmp_path: Path
) -> None:
    """``skip_pickle=True`` leaves that checkpoint out, counts it, and migrates the rest."""
    path, marker = pickled_source
    with closing(sqlite3.connect(path)) as conn, conn:
        total = conn.execute("SELECT count(*) FROM checkpoints").fetchone()[0]
    conn.close()
    report = migrate(str(path), str(tmp_path / "threadloom.db"), skip_pickle=True)
    assert report.skipped_pickle == 1
    assert report.checkpoints == total - 1
    assert not marker.exists()
