"""What a saver returns is the plain state, however the messages channel is stored.

The engine stores ``messages`` as a snapshot plus deltas; ``get_tuple``, ``get``
and ``list`` still show the whole list of messages (as LangGraph's savers do),
and a graph that reads the thread back keeps bounding its delta chain.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, RemoveMessage

from threadloom.channels.messages import MIN_DEPTH_BOUND, MIN_REPLAY_BOUND
from threadloom.checkpoint._replay import REMOVE_ALL_MESSAGES, join_chain
from threadloom.checkpoint.base import DeltaChain, StoredBlob, decode_channels
from threadloom.checkpoint.memory import InMemorySaver
from threadloom.checkpoint.serde.jsonplus import JsonPlusSerializer
from threadloom.checkpoint.sqlite import SqliteSaver
from threadloom.errors import SerializationError
from threadloom.graph import START, MessagesState, StateGraph

CONFIG: dict[str, Any] = {"configurable": {"thread_id": "chat"}}


def reply(state: MessagesState) -> dict[str, Any]:
    return {
        "messages": [AIMessage(f"answer {len(state['messages'])}", id=f"a{len(state['messages'])}")]
    }


def chat_graph(saver: Any) -> Any:
    """A fresh graph reads the thread from the saver, not from a cache of its own."""
    builder = StateGraph(MessagesState)
    builder.add_node("reply", reply)
    builder.add_edge(START, "reply")
    return builder.compile(checkpointer=saver)


@pytest.fixture(params=["memory", "sqlite"])
def saver(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    if request.param == "memory":
        yield InMemorySaver()
        return
    with SqliteSaver.from_conn_string(str(tmp_path / "chat.db")) as opened:
        yield opened


def turn(saver: Any, i: int) -> None:
    chat_graph(saver).invoke({"messages": [HumanMessage(f"q{i}", id=f"h{i}")]}, CONFIG)


def test_get_tuple_get_and_list_show_the_whole_message_list(saver: Any) -> None:
    for i in range(4):
        turn(saver, i)
    expected = chat_graph(saver).get_state(CONFIG).values["messages"]
    assert len(expected) == 8
    found = saver.get_tuple(CONFIG)
    assert found is not None
    assert found.checkpoint["channel_values"] == {"messages": expected}
    assert isinstance(found.checkpoint["channel_values"]["messages"], list)
    assert saver.get(CONFIG)["channel_values"]["messages"] == expected
    history = {
        s.config["configurable"]["checkpoint_id"]: s
        for s in chat_graph(saver).get_state_history(CONFIG)
    }
    for listed in saver.list(CONFIG):
        snapshot = history[listed.checkpoint["id"]]
        assert listed.checkpoint["channel_values"].get("messages", []) == snapshot.values.get(
            "messages", []
        )


async def test_the_async_reads_show_the_whole_message_list(tmp_path: Path) -> None:
    saver = InMemorySaver()
    graph = chat_graph(saver)
    for i in range(3):
        await graph.ainvoke({"messages": [HumanMessage(f"q{i}", id=f"h{i}")]}, CONFIG)
    found = await saver.aget_tuple(CONFIG)
    assert found is not None
    assert [m.id for m in found.checkpoint["channel_values"]["messages"]] == [
        "h0",
        "a1",
        "h1",
        "a3",
        "h2",
        "a5",
    ]


def test_removals_and_replacements_in_later_turns_read_back_applied(saver: Any) -> None:
    for i in range(3):
        turn(saver, i)
    graph = chat_graph(saver)
    graph.update_state(CONFIG, {"messages": [RemoveMessage(id="h0"), AIMessage("edited", id="a1")]})
    found = saver.get_tuple(CONFIG)
    assert found is not None
    messages = found.checkpoint["channel_values"]["messages"]
    assert [(m.id, m.content) for m in messages][:2] == [("a1", "edited"), ("h1", "q1")]
    assert messages == graph.get_state(CONFIG).values["messages"]


def test_a_thread_read_back_every_turn_keeps_its_chain_bounded(tmp_path: Path) -> None:
    """The graph restores the chain's length from what the saver returns, so snapshots still come."""
    path = str(tmp_path / "long.db")
    turns = MIN_REPLAY_BOUND + 20
    for i in range(turns):
        with SqliteSaver.from_conn_string(path) as saver:
            turn(saver, i)
    with SqliteSaver.from_conn_string(path) as saver:
        found = saver.get_tuple(CONFIG)
        assert found is not None
        messages = found.checkpoint["channel_values"]["messages"]
        assert len(messages) == 2 * turns
        chain = messages.chain
        assert chain.depth <= max(MIN_DEPTH_BOUND, len(messages) // 4)
        assert sum(len(w) for w in chain.writes) <= max(MIN_REPLAY_BOUND, len(messages))
        assert chain.has_snapshot and len(chain.snapshot) > 0, (
            "a full snapshot was stored on the way"
        )


def put_back(saver: Any, read: Any) -> Any:
    """Store what ``read`` holds as a new checkpoint after it (a fork); read that back."""
    version = saver.get_next_version(read.checkpoint["channel_versions"]["messages"], None)
    checkpoint = {**read.checkpoint, "id": "f" + read.checkpoint["id"][1:]}
    checkpoint["channel_versions"] = {**checkpoint["channel_versions"], "messages": version}
    forked = saver.put(read.config, checkpoint, {"source": "fork", "step": 9}, {"messages": version})
    again = saver.get_tuple(forked)
    assert again is not None
    return again.checkpoint["channel_values"]["messages"]


@pytest.fixture
def three_turns(tmp_path: Path) -> Iterator[tuple[Any, Any]]:
    """A SQLite saver holding three turns, and its latest checkpoint as read."""
    with SqliteSaver.from_conn_string(str(tmp_path / "fork.db")) as saver:
        for i in range(3):
            turn(saver, i)
        read = saver.get_tuple(CONFIG)
        assert read is not None
        yield saver, read


def test_a_fork_of_a_read_checkpoint_is_stored_as_its_chain(three_turns: tuple[Any, Any]) -> None:
    """Putting back what was read stores the chain (not the whole list), and it reads back the same."""
    saver, read = three_turns
    messages = read.checkpoint["channel_values"]["messages"]
    stored = put_back(saver, read)
    assert stored == messages
    assert stored.chain == messages.chain


def test_a_read_value_changed_before_it_is_put_back_is_stored_as_changed(
    three_turns: tuple[Any, Any],
) -> None:
    """Appending to (or editing) the list that was read stores the new list, never the old chain."""
    saver, read = three_turns
    messages = read.checkpoint["channel_values"]["messages"]
    messages.append(HumanMessage("added", id="x"))
    messages[0] = HumanMessage("first, edited", id="h0")
    stored = put_back(saver, read)
    assert stored[0].content == "first, edited"
    assert stored[-1] == HumanMessage("added", id="x")
    assert len(stored) == 7


def test_joining_a_chain_applies_each_write_in_order() -> None:
    """Known ids replace, RemoveMessage deletes (or clears everything), other items append."""
    a, b = HumanMessage("a", id="1"), AIMessage("b", id="2")
    chain = DeltaChain(
        [a, b],
        ([AIMessage("B", id="2"), HumanMessage("c", id="3")], [RemoveMessage(id="1")], ["plain"]),
        depth=3,
    )
    joined = join_chain(chain)
    assert [getattr(m, "content", m) for m in joined] == ["B", "c", "plain"]
    assert joined.chain is chain
    cleared = join_chain(DeltaChain([a], ([RemoveMessage(id=REMOVE_ALL_MESSAGES), b],), depth=1))
    assert cleared == [b]
    assert join_chain(DeltaChain(None, (["x"],), depth=1, has_snapshot=False)) == ["x"]


def test_stored_data_that_removes_an_unknown_message_is_a_serialization_error() -> None:
    """Corrupt stored data never reads back as a quietly different history."""
    serde = JsonPlusSerializer()
    rows = {
        1: StoredBlob("full", None, *serde.dumps_typed([HumanMessage("a", id="1")])),
        2: StoredBlob("delta", 1, *serde.dumps_typed([[RemoveMessage(id="nope")]])),
    }
    with pytest.raises(SerializationError, match="nope"):
        decode_channels(serde, {"messages": 2}, lambda channel, version: rows.get(version))
