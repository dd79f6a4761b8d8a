"""A messages history whose stored chain lost a row is an error, never a shorter history.

Each case runs a real chat graph for three turns, removes or damages one stored
row of the ``messages`` chain (the full snapshot at its base, a delta in the
middle, or a delta's link to its base) and reads the thread back with
``get_state``, ``get_tuple`` and ``list``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage

from threadloom.checkpoint.base import ChainCache, DeltaChain, StoredBlob, decode_channels
from threadloom.checkpoint.memory import InMemorySaver
from threadloom.checkpoint.serde.jsonplus import JsonPlusSerializer
from threadloom.checkpoint.sqlite import SqliteSaver
from threadloom.errors import SerializationError
from threadloom.graph import START, MessagesState, StateGraph

CONFIG: dict[str, Any] = {"configurable": {"thread_id": "chat"}}


def chat_graph(saver: Any) -> Any:
    """A one-node chat graph (a fresh one reads the thread from the saver, not from its own cache)."""
    builder = StateGraph(MessagesState)
    builder.add_node("reply", lambda state: {"messages": [AIMessage(f"a{len(state['messages'])}")]})
    builder.add_edge(START, "reply")
    return builder.compile(checkpointer=saver)


def chat(saver: Any) -> Any:
    """Three turns of a one-node chat graph: six messages, stored as a snapshot plus deltas."""
    graph = chat_graph(saver)
    for i in range(3):
        graph.invoke({"messages": [("user", f"q{i}")]}, CONFIG)
    assert len(graph.get_state(CONFIG).values["messages"]) == 6
    return graph


def check_reads_fail(graph: Any, saver: Any, head_id: str) -> None:
    """Every read of the head raises SerializationError naming the thread, checkpoint and channel."""
    for read in (
        lambda: chat_graph(saver).get_state(CONFIG),
        lambda: saver.get_tuple(CONFIG),
        lambda: list(saver.list(CONFIG)),
    ):
        with pytest.raises(SerializationError) as caught:
            read()
        text = str(caught.value)
        assert "'chat'" in text and head_id in text and "'messages'" in text, text
        assert "not stored" in text, text


# --- SQLite ---


@pytest.fixture
def sqlite_chat(tmp_path: Path) -> Iterator[tuple[Any, SqliteSaver, Path]]:
    path = tmp_path / "chat.db"
    with SqliteSaver.from_conn_string(str(path)) as saver:
        yield chat(saver), saver, path


def sqlite_chain(saver: SqliteSaver, path: Path) -> list[tuple[str, str, str | None]]:
    """``(version, kind, base_version)`` of the messages rows the head reads, newest first."""
    head = saver.get_tuple(CONFIG)
    assert head is not None
    conn = sqlite3.connect(path)
    rows = {
        row[0]: row
        for row in conn.execute("SELECT version, kind, base_version FROM checkpoint_blobs WHERE channel = 'messages'")
    }
    conn.close()
    chain = [rows[repr(head.checkpoint["channel_versions"]["messages"])]]
    while chain[-1][1] == "delta":
        chain.append(rows[chain[-1][2]])  # type: ignore[index]
    return chain


def sqlite_exec(path: Path, sql: str, params: tuple[Any, ...]) -> None:
    conn = sqlite3.connect(path)
    with conn:
        assert conn.execute(sql, params).rowcount == 1
    conn.close()


@pytest.mark.parametrize("which", ["snapshot", "middle delta"])
def test_sqlite_missing_row_of_the_chain_raises(sqlite_chat: tuple[Any, SqliteSaver, Path], which: str) -> None:
    """Deleting the base snapshot or a delta under the head: SerializationError, not fewer messages."""
    graph, saver, path = sqlite_chat
    chain = sqlite_chain(saver, path)
    assert len(chain) >= 3 and chain[-1][1] == "full", chain  # head delta, >=1 delta, snapshot
    victim = chain[-1] if which == "snapshot" else chain[1]
    sqlite_exec(path, "DELETE FROM checkpoint_blobs WHERE channel = 'messages' AND version = ?", (victim[0],))
    check_reads_fail(graph, saver, head_id(saver))


def head_id(saver: Any) -> str:
    latest = saver.peek_latest(CONFIG)
    assert latest is not None
    return str(latest[0])


def test_sqlite_delta_linked_to_an_unknown_base_raises(sqlite_chat: tuple[Any, SqliteSaver, Path]) -> None:
    """A delta whose base_version names no stored row (a damaged link) is an error too."""
    graph, saver, path = sqlite_chat
    head = sqlite_chain(saver, path)[0]
    sqlite_exec(path, "UPDATE checkpoint_blobs SET base_version = '0.123' WHERE channel = 'messages' AND version = ?", (head[0],))
    check_reads_fail(graph, saver, head_id(saver))


def test_sqlite_intact_chain_still_reads_everything(sqlite_chat: tuple[Any, SqliteSaver, Path]) -> None:
    """The control: nothing removed, all six messages and every checkpoint listed."""
    graph, saver, _ = sqlite_chat
    assert [m.content for m in graph.get_state(CONFIG).values["messages"]] == ["q0", "a1", "q1", "a3", "q2", "a5"]
    assert len(list(saver.list(CONFIG))) == 9  # three turns: input, START, reply


# --- memory ---


def memory_blobs(saver: InMemorySaver) -> dict[tuple[str, Any], StoredBlob]:
    return saver._threads["chat"][""].blobs


def memory_head_chain(saver: InMemorySaver) -> list[Any]:
    """The messages versions the head reads, newest first."""
    blobs = memory_blobs(saver)
    head = saver.get_tuple(CONFIG)
    assert head is not None
    versions = [head.checkpoint["channel_versions"]["messages"]]
    while blobs[("messages", versions[-1])].kind == "delta":
        versions.append(blobs[("messages", versions[-1])].base_version)
    return versions


@pytest.mark.parametrize("which", ["snapshot", "middle delta"])
def test_memory_missing_blob_of_the_chain_raises(which: str) -> None:
    """InMemorySaver follows the same rule when a stored blob is gone."""
    saver = InMemorySaver()
    graph = chat(saver)
    chain = memory_head_chain(saver)
    assert len(chain) >= 3, chain
    del memory_blobs(saver)[("messages", chain[-1] if which == "snapshot" else chain[1])]
    check_reads_fail(graph, saver, head_id(saver))


def test_memory_delta_linked_to_an_unknown_base_raises() -> None:
    saver = InMemorySaver()
    graph = chat(saver)
    blobs = memory_blobs(saver)
    top = memory_head_chain(saver)[0]
    blobs[("messages", top)] = blobs[("messages", top)]._replace(base_version=0.123)
    check_reads_fail(graph, saver, head_id(saver))


# --- the shared decoder ---


def fetcher(rows: dict[int, StoredBlob]) -> Callable[[str, Any], StoredBlob | None]:
    return lambda channel, version: rows.get(version)


def blob(kind: str, base: int | None, value: Any) -> StoredBlob:
    type_tag, data = JsonPlusSerializer().dumps_typed(value)
    return StoredBlob(kind, base, type_tag, data)  # type: ignore[arg-type]


def test_a_delta_on_an_empty_version_is_not_broken() -> None:
    """A base stored as "empty" (the channel had no value) is a chain start, not a gap."""
    rows = {1: StoredBlob("empty", None, "", b""), 2: blob("delta", 1, [["x"]])}
    got = decode_channels(JsonPlusSerializer(), {"m": 2}, fetcher(rows))
    assert got == {"m": ["x"]}
    assert got["m"].chain == DeltaChain(None, (["x"],), 1, False)


def test_the_list_cache_gives_the_same_chains_as_fresh_reads() -> None:
    """Reading newest first with a ChainCache equals reading each version on its own."""
    serde = JsonPlusSerializer()
    rows = {1: blob("full", None, ["a"])}
    for v in range(2, 30):
        rows[v] = blob("delta", v - 1, [[str(v)]])
    rows[30] = blob("full", None, ["reset"])
    rows[31] = blob("delta", 30, [["after"]])
    cache = ChainCache()
    for v in sorted(rows, reverse=True):
        fresh = decode_channels(serde, {"m": v}, fetcher(rows))
        cached = decode_channels(serde, {"m": v}, fetcher(rows), cache)
        assert cached == fresh
        assert getattr(cached["m"], "chain", None) == getattr(fresh["m"], "chain", None)
    with pytest.raises(SerializationError, match="not stored"):
        decode_channels(serde, {"m": 29}, fetcher({k: r for k, r in rows.items() if k != 14}))
