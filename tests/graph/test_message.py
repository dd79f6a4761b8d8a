"""add_messages and MessagesState: chat history merged by message id."""

from __future__ import annotations

import pytest
from langchain_core.messages import AIMessage, HumanMessage, RemoveMessage

from threadloom.errors import InvalidUpdateError
from threadloom.graph import START, MessagesState, StateGraph, add_messages
from threadloom.graph.message import REMOVE_ALL_MESSAGES


def test_message_likes_are_converted_and_given_ids() -> None:
    """Dicts, tuples and strings become messages, each with a fresh uuid id."""
    out = add_messages([], [{"role": "user", "content": "a"}, ("ai", "b"), "c"])
    assert [m.type for m in out] == ["human", "ai", "human"]
    assert len({m.id for m in out}) == 3


def test_single_message_is_appended() -> None:
    """A single message (not a list) is appended."""
    out = add_messages([HumanMessage("a", id="1")], AIMessage("b", id="2"))
    assert [m.id for m in out] == ["1", "2"]


def test_same_id_replaces_and_inputs_are_not_modified() -> None:
    """A message with a known id replaces the old one; the left list is left unchanged."""
    left = [HumanMessage("a", id="1"), AIMessage("b", id="2")]
    out = add_messages(left, AIMessage("B", id="2"))
    assert [m.content for m in out] == ["a", "B"]
    assert [m.content for m in left] == ["a", "b"]


def test_remove_message_deletes_by_id() -> None:
    """RemoveMessage(id) removes that message."""
    out = add_messages([HumanMessage("a", id="1"), AIMessage("b", id="2")], RemoveMessage(id="1"))
    assert [m.id for m in out] == ["2"]


def test_remove_all_keeps_only_what_follows_it() -> None:
    """RemoveMessage(REMOVE_ALL_MESSAGES) drops everything before it."""
    out = add_messages(["a", "b"], [RemoveMessage(id=REMOVE_ALL_MESSAGES), "c"])
    assert [m.content for m in out] == ["c"]


def test_removing_an_unknown_id_is_an_error_naming_it() -> None:
    """RemoveMessage for an id that is not there raises InvalidUpdateError (a ValueError)."""
    with pytest.raises(ValueError, match="'zz'"):
        add_messages([], RemoveMessage(id="zz"))
    with pytest.raises(InvalidUpdateError):
        add_messages([], RemoveMessage(id="zz"))


def test_messages_state_graph_appends_and_replaces() -> None:
    """A MessagesState graph appends returned messages and replaces by id."""

    def reply(state: MessagesState) -> dict:
        first = state["messages"][0]
        return {"messages": [AIMessage("hi", id="r"), HumanMessage("edited", id=first.id)]}

    builder = StateGraph(MessagesState)
    builder.add_node("reply", reply)
    builder.add_edge(START, "reply")
    out = builder.compile().invoke({"messages": [("user", "hello")]})
    assert [m.content for m in out["messages"]] == ["edited", "hi"]


def test_node_appending_to_the_state_list_does_not_duplicate() -> None:
    """A node that appends to state['messages'] in place and returns the message gets it once."""

    def sloppy(state: MessagesState) -> dict:
        reply = AIMessage("r")
        state["messages"].append(reply)
        return {"messages": [reply]}

    builder = StateGraph(MessagesState)
    builder.add_node("sloppy", sloppy)
    builder.add_edge(START, "sloppy")
    out = builder.compile().invoke({"messages": ["q"]})
    assert [m.content for m in out["messages"]] == ["q", "r"]
