"""The messages channel: merge by id in O(new), and checkpoint as deltas."""

from __future__ import annotations

import pytest
from langchain_core.messages import AIMessage, HumanMessage, RemoveMessage

from threadloom.channels.messages import MIN_REPLAY_BOUND, REMOVE_ALL_MESSAGES, MessagesChannel
from threadloom.checkpoint.base import DeltaChain, DeltaValue
from threadloom.errors import InvalidUpdateError


def test_message_likes_become_messages_with_ids() -> None:
    """Dicts, (role, content) tuples and strings become messages, each with an id."""
    ch = MessagesChannel("messages")
    ch.update([[{"role": "user", "content": "a"}, ("assistant", "b"), "c"]])
    msgs = ch.get()
    assert [m.type for m in msgs] == ["human", "ai", "human"]
    assert all(m.id for m in msgs)


def test_known_id_replaces_in_place_and_remove_deletes() -> None:
    """A message with a known id replaces it; RemoveMessage(id) deletes it."""
    ch = MessagesChannel("messages")
    ch.update([[HumanMessage("a", id="1"), AIMessage("b", id="2")]])
    ch.update([AIMessage("B", id="2")])
    assert [m.content for m in ch.get()] == ["a", "B"]
    ch.update([RemoveMessage(id="1")])
    assert [m.id for m in ch.get()] == ["2"]
    ch.update([HumanMessage("c", id="3")])
    ch.update([AIMessage("C", id="3")])
    assert [m.content for m in ch.get()] == ["B", "C"]


def test_remove_all_clears_the_history() -> None:
    """RemoveMessage(REMOVE_ALL_MESSAGES) drops every earlier message."""
    ch = MessagesChannel("messages")
    ch.update([["a", "b"]])
    ch.update([[RemoveMessage(id=REMOVE_ALL_MESSAGES), "c"]])
    assert [m.content for m in ch.get()] == ["c"]


def test_removing_an_unknown_id_is_an_invalid_update() -> None:
    """RemoveMessage with an id not in the channel raises InvalidUpdateError naming it."""
    with pytest.raises(InvalidUpdateError, match="nope"):
        MessagesChannel("messages").update([RemoveMessage(id="nope")])


def test_reading_returns_a_copy() -> None:
    """Appending to the list a node reads does not change the channel."""
    ch = MessagesChannel("messages")
    ch.update([["a"]])
    ch.get().append(HumanMessage("sneaky"))
    assert len(ch.get()) == 1


def test_checkpoint_delta_sends_only_new_writes_after_a_saved_base() -> None:
    """Once a version is saved, the next checkpoint is a DeltaValue of the new writes only."""
    ch = MessagesChannel("messages")
    ch.track_delta = True
    ch.update([["a"]])
    first = ch.checkpoint_delta()
    assert isinstance(first, list)  # no base yet: a full value
    ch.mark_saved(1)
    ch.update([["b"]])
    delta = ch.checkpoint_delta()
    assert isinstance(delta, DeltaValue) and delta.base_version == 1
    assert [[m.content for m in w] for w in delta.writes] == [["b"]]


def test_delta_chain_is_bounded_by_a_full_snapshot() -> None:
    """When replay would cost more than the history, a full value is sent again."""
    ch = MessagesChannel("messages")
    ch.mark_saved(0)
    kinds = []
    for version in range(1, MIN_REPLAY_BOUND + 5):
        ch.update([[f"m{version}"]])
        kinds.append(type(ch.checkpoint_delta()).__name__)
        ch.mark_saved(version)
    assert kinds[0] == "DeltaValue"
    assert "list" in kinds[1:], "a long chain must be cut by a full snapshot"


def test_restoring_a_delta_chain_replays_writes_on_the_snapshot() -> None:
    """A DeltaChain restores to the snapshot plus its writes, in order."""
    snapshot = [HumanMessage("a", id="1")]
    chain = DeltaChain(snapshot, ([AIMessage("b", id="2")], [AIMessage("B", id="2")]), depth=2)
    ch = MessagesChannel("messages").from_checkpoint(chain)
    assert [(m.id, m.content) for m in ch.get()] == [("1", "a"), ("2", "B")]


def test_restoring_a_chain_without_snapshot_starts_empty() -> None:
    """A DeltaChain with has_snapshot=False replays onto an empty list."""
    chain = DeltaChain(None, (["x"],), depth=1, has_snapshot=False)
    assert [m.content for m in MessagesChannel("m").from_checkpoint(chain).get()] == ["x"]
