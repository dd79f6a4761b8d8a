"""Hostile and corrupt stored data for the savers' load paths (shared by the memory, SQLite and Postgres tests).

A :class:`Rows` adapter reads and rewrites a saver's stored payloads in its real
storage (the in-memory dicts, the SQLite file, the PostgreSQL tables): the load
path under test then reads exactly what an attacker with write access left there.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from typing import Annotated, Any, Protocol, TypedDict

from hypothesis import strategies as st
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.runnables import RunnableConfig

from threadloom.checkpoint.base import BaseCheckpointSaver
from threadloom.checkpoint.memory import InMemorySaver
from threadloom.errors import SerializationError
from threadloom.graph import START, StateGraph
from threadloom.graph.message import add_messages
from threadloom.testing.checkpoint import rich_value

THREAD = "victim"
CONFIG: RunnableConfig = {"configurable": {"thread_id": THREAD}}


@dataclass(frozen=True)
class Payload:
    """One stored (type, data) pair and what it is: header, metadata, channel <name> or write <channel>."""

    kind: str
    type_tag: str
    data: bytes


class Rows(Protocol):
    """A saver's stored payloads, read and rewritten in place."""

    def payloads(self) -> list[Payload]: ...

    def replace(self, old: Payload, type_tag: str, data: bytes) -> None: ...


class MemoryRows:
    """InMemorySaver: its dicts are its storage."""

    def __init__(self, saver: InMemorySaver) -> None:
        self.saver = saver

    def _spaces(self) -> list[Any]:
        return [space for spaces in self.saver._threads.values() for space in spaces.values()]

    def payloads(self) -> list[Payload]:
        found = []
        for space in self._spaces():
            for saved in space.checkpoints.values():
                found += [Payload("header", *saved.header), Payload("metadata", *saved.metadata)]
            for (channel, _), blob in space.blobs.items():
                if blob.kind != "empty":
                    found.append(Payload(f"channel {channel}", blob.type_tag, blob.data))
            for stored in space.writes.values():
                found += [Payload(f"write {ch}", t, d) for ch, t, d, _ in stored.values()]
        return found

    def replace(self, old: Payload, type_tag: str, data: bytes) -> None:
        for space in self._spaces():
            for saved in space.checkpoints.values():
                if old.kind == "header" and saved.header == (old.type_tag, old.data):
                    saved.header = (type_tag, data)
                if old.kind == "metadata" and saved.metadata == (old.type_tag, old.data):
                    saved.metadata = (type_tag, data)
            for key, blob in space.blobs.items():
                if old.kind == f"channel {key[0]}" and (blob.type_tag, blob.data) == (old.type_tag, old.data):
                    space.blobs[key] = blob._replace(type_tag=type_tag, data=data)
            for stored in space.writes.values():
                for key, (ch, t, d, path) in stored.items():
                    if old.kind == f"write {ch}" and (t, d) == (old.type_tag, old.data):
                        stored[key] = (ch, type_tag, data, path)


# (table, type column, data column, what) of the SQL savers' payloads.
SQLITE_COLUMNS = [
    ("checkpoint_snapshots", "type", "checkpoint", "'header'"),
    ("checkpoint_snapshots", "metadata_type", "metadata", "'metadata'"),
    ("checkpoint_blobs", "type", "data", "'channel ' || channel"),
    ("checkpoint_writes", "type", "data", "'write ' || channel"),
]
POSTGRES_COLUMNS = [
    ("threadloom_checkpoints", "type", "checkpoint", "'header'"),
    ("threadloom_checkpoints", "metadata_type", "metadata", "'metadata'"),
    ("threadloom_checkpoint_blobs", "type", "blob", "'channel ' || channel"),
    ("threadloom_checkpoint_writes", "type", "blob", "'write ' || channel"),
]


class SqlRows:
    """A SQL saver's tables, through a DB-API connection (``?`` or ``%s`` placeholders)."""

    def __init__(self, execute: Callable[[str, tuple[Any, ...]], list[tuple[Any, ...]]], columns: list[tuple[str, str, str, str]], mark: str) -> None:
        self.execute, self.columns, self.mark = execute, columns, mark

    def payloads(self) -> list[Payload]:
        found = []
        for table, type_col, data_col, what in self.columns:
            for kind, t, d in self.execute(f"SELECT {what}, {type_col}, {data_col} FROM {table}", ()):
                if t:
                    found.append(Payload(kind, t, d.encode() if isinstance(d, str) else bytes(d)))
        return found

    def replace(self, old: Payload, type_tag: str, data: bytes) -> None:
        m = self.mark
        for table, type_col, data_col, what in self.columns:
            cast = "CAST({} AS BLOB)" if m == "?" else "{}"
            self.execute(
                f"UPDATE {table} SET {type_col} = {m}, {data_col} = {m} "
                f"WHERE {what} = {m} AND {type_col} = {m} AND {cast.format(data_col)} = {m}",
                (type_tag, data, old.kind, old.type_tag, old.data),
            )


def sqlite_rows(path: str) -> SqlRows:
    """Rows of the SQLite file at ``path`` (a connection of its own, like another process)."""

    def execute(sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        with closing(sqlite3.connect(path)) as conn, conn:  # closed, and committed
            return conn.execute(sql, params).fetchall()

    return SqlRows(execute, SQLITE_COLUMNS, "?")


# --- a thread worth corrupting ----------------------------------------------------


class State(TypedDict, total=False):
    """A chat whose ``data`` channel holds every type the serializer promises."""

    messages: Annotated[list[Any], add_messages]
    data: Any


def state_graph(saver: BaseCheckpointSaver) -> Any:
    def reply(state: State) -> dict[str, Any]:
        return {"messages": [AIMessage(f"seen {len(state['messages'])}", id=f"a{len(state['messages'])}")]}

    builder = StateGraph(State)
    builder.add_node("reply", reply)
    builder.add_edge(START, "reply")
    return builder.compile(checkpointer=saver)


def seed(saver: BaseCheckpointSaver) -> Any:
    """Two turns on :data:`THREAD` (delta-chained messages, rich values) and a pending write; returns the graph."""
    graph = state_graph(saver)
    graph.invoke({"messages": [HumanMessage("hi", id="h1")], "data": rich_value()}, CONFIG)
    graph.invoke({"messages": [HumanMessage("again", id="h2")]}, CONFIG)
    head = saver.get_tuple(CONFIG)
    assert head is not None
    saver.put_writes(head.config, [("data", rich_value()), ("messages", [HumanMessage("x", id="h3")])], "task-1")
    return graph


def load_all(saver: BaseCheckpointSaver) -> None:
    """Every load path of a saver: the head, one checkpoint by id, and the whole list."""
    head = saver.get_tuple(CONFIG)
    if head is not None:
        saver.get_tuple(head.config)
    list(saver.list(CONFIG))
    list(saver.list(None, filter={"source": "loop"}))


def loads_or_refuses(saver: BaseCheckpointSaver) -> SerializationError | None:
    """Load everything; only success or a SerializationError is acceptable (anything else propagates)."""
    try:
        load_all(saver)
    except SerializationError as e:
        return e
    return None


# --- hostile values ----------------------------------------------------------------

TAGS = ["tuple", "set", "fset", "dict", "int", "float", "b", "ba", "dt", "date", "time", "td", "uuid", "dec",
        "lc", "enum", "nt", "dc", "pyd", "reg", "obj", "const", "nope"]
CLASS_NAMES = [
    "threadloom.types:Send", "threadloom.types:Interrupt", "threadloom.types:Command",
    "threadloom.checkpoint.base:DeltaChain", "threadloom.checkpoint.base:DeltaValue",
    "threadloom.channels.base:MISSING", "threadloom.testing.checkpoint:Colour",
    "threadloom.testing.checkpoint:Point", "threadloom.testing.checkpoint:Span",
    "threadloom.testing.checkpoint:Profile", "pydantic.main:BaseModel", "AIMessage", "HumanMessage",
    "ToolMessage", "threadloom.cli.__main__:x", "os:system", "builtins:object", "enum:Enum",
    "collections:OrderedDict", "threadloom:cli", "", ":", 7,
]
_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**63), max_value=2**63 - 1), st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12), st.sampled_from(["nan", "inf", "2026-01-01T00:00:00", "Europe/Paris", "../../etc/passwd",
                                           "9" * 5000, "1e999999", "ff" * 16, "AAAA", "content", "type", "__dict__"]),
)


def _tagged(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.builds(
        lambda tag, c, v, extra: {"__tl": tag, "c": c, "v": v, **extra},
        st.sampled_from(TAGS), st.sampled_from(CLASS_NAMES), children,
        st.dictionaries(st.sampled_from(["x", "p", "s", "tz", "fold", "t"]), children, max_size=2),
    )


json_values = st.recursive(
    _scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.sampled_from(["content", "type", "id", "node", "arg", "x", "v", "__dict__", "channel_versions"]) | st.text(max_size=5), children, max_size=4),
        _tagged(children),
    ),
    max_leaves=12,
)


def _replace_at(tree: Any, path: list[int], new: Any) -> Any:
    """``tree`` with the node reached by following ``path`` (indices into children) set to ``new``."""
    if not path or not isinstance(tree, (dict, list)) or not tree:
        return new
    keys = list(tree) if isinstance(tree, dict) else list(range(len(tree)))
    key = keys[path[0] % len(keys)]
    tree[key] = _replace_at(tree[key], path[1:], new)
    return tree


@dataclass(frozen=True)
class Mutation:
    """How to mutate a stored payload, drawn independently of what is stored (hypothesis replays it)."""

    which: int
    how: str
    path: tuple[int, ...]
    value: Any
    at: int
    inserted: bytes
    removed: int
    depth: int
    type_tag: str

    def apply(self, payloads: list[Payload]) -> tuple[Payload, str, bytes]:
        """A stored payload (chosen by ``which``) and the hostile ``(type, data)`` to put in its place."""
        old = sorted(payloads, key=lambda p: (p.kind, p.data))[self.which % len(payloads)]
        type_tag, data = old.type_tag, old.data
        if self.how == "json":
            tree = _replace_at(json.loads(data), list(self.path), self.value)
            data = json.dumps(tree).encode()
        elif self.how == "bytes":
            at = self.at % max(len(data), 1)
            data = data[:at] + self.inserted + data[at + self.removed :]
        elif self.how == "deep":
            data = b"[" * self.depth + json.dumps(self.value).encode() + b"]" * self.depth
        else:
            type_tag = self.type_tag
        return old, type_tag, data


mutations = st.builds(
    Mutation,
    which=st.integers(0, 10_000),
    how=st.sampled_from(["json", "json", "json", "bytes", "deep", "type"]),
    path=st.lists(st.integers(0, 50), max_size=6).map(tuple),
    value=json_values,
    at=st.integers(0, 1_000_000),
    inserted=st.binary(max_size=4),
    removed=st.integers(0, 3),
    depth=st.sampled_from([255, 1025, 100_000]),
    type_tag=st.sampled_from(["", "pickle", "json+aesgcm", "msgpack", "null"]),
)
