"""PostgresSaver: a messages chain that lost a stored row is an error, never a shorter history."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from langchain_core.messages import AIMessage

from threadloom.checkpoint.postgres import PostgresSaver
from threadloom.errors import SerializationError
from threadloom.graph import START, MessagesState, StateGraph

CONFIG: dict[str, Any] = {"configurable": {"thread_id": "chat"}}


def chat_graph(saver: Any) -> Any:
    """A one-node chat graph (a fresh one reads the thread from the saver, not from its own cache)."""
    builder = StateGraph(MessagesState)
    builder.add_node("reply", lambda state: {"messages": [AIMessage(f"a{len(state['messages'])}")]})
    builder.add_edge(START, "reply")
    return builder.compile(checkpointer=saver)


@pytest.fixture
def chat(pg_dsn: str) -> Iterator[tuple[PostgresSaver, list[tuple[str, str, str | None]]]]:
    """Three turns on thread "chat"; yields the saver and the head's messages rows, newest first."""
    with PostgresSaver.from_conn_string(pg_dsn) as saver:
        saver.setup()
        graph = chat_graph(saver)
        for i in range(3):
            graph.invoke({"messages": [("user", f"q{i}")]}, CONFIG)
        head = saver.get_tuple(CONFIG)
        assert head is not None
        with psycopg.connect(pg_dsn) as conn:
            rows = {
                row[0]: row
                for row in conn.execute(
                    "SELECT version, kind, base_version FROM threadloom_checkpoint_blobs "
                    "WHERE thread_id = 'chat' AND channel = 'messages'"
                )
            }
        chain = [rows[repr(float(head.checkpoint["channel_versions"]["messages"]))]]
        while chain[-1][1] == "delta":
            chain.append(rows[chain[-1][2]])
        assert len(chain) >= 3 and chain[-1][1] == "full", chain
        yield saver, chain


def execute(pg_dsn: str, sql: str, version: str) -> None:
    with psycopg.connect(pg_dsn) as conn:
        assert conn.execute(sql, (version,)).rowcount == 1


def check_reads_fail(saver: PostgresSaver) -> None:
    latest = saver.peek_latest(CONFIG)
    assert latest is not None
    for read in (
        lambda: chat_graph(saver).get_state(CONFIG),
        lambda: saver.get_tuple(CONFIG),
        lambda: list(saver.list(CONFIG)),
    ):
        with pytest.raises(SerializationError) as caught:
            read()
        text = str(caught.value)
        assert "'chat'" in text and latest[0] in text and "'messages'" in text and "not stored" in text, text


@pytest.mark.parametrize("which", ["snapshot", "middle delta"])
def test_missing_row_of_the_chain_raises(
    chat: tuple[PostgresSaver, list[tuple[str, str, str | None]]], pg_dsn: str, which: str
) -> None:
    """Deleting the base snapshot or a delta under the head: SerializationError naming where."""
    saver, chain = chat
    victim = chain[-1] if which == "snapshot" else chain[1]
    execute(pg_dsn, "DELETE FROM threadloom_checkpoint_blobs WHERE thread_id = 'chat' AND channel = 'messages' AND version = %s", victim[0])
    check_reads_fail(saver)


def test_delta_linked_to_an_unknown_base_raises(
    chat: tuple[PostgresSaver, list[tuple[str, str, str | None]]], pg_dsn: str
) -> None:
    """A delta whose base_version names no stored row is an error too."""
    saver, chain = chat
    execute(
        pg_dsn,
        "UPDATE threadloom_checkpoint_blobs SET base_version = '0.123' "
        "WHERE thread_id = 'chat' AND channel = 'messages' AND version = %s",
        chain[0][0],
    )
    check_reads_fail(saver)


def test_intact_chain_reads_every_message(chat: tuple[PostgresSaver, list[tuple[str, str, str | None]]]) -> None:
    """The control: nothing removed, six messages at the head and nine checkpoints listed."""
    saver, _ = chat
    state = chat_graph(saver).get_state(CONFIG)
    assert [m.content for m in state.values["messages"]] == ["q0", "a1", "q1", "a3", "q2", "a5"]
    assert len(list(saver.list(CONFIG))) == 9  # three turns: input, START, reply
