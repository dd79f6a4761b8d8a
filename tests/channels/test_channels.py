"""Channels: how the writes of one step combine into a state key's value."""

from __future__ import annotations

import operator

import pytest

from threadloom.channels import (
    BinaryOperatorAggregate,
    EphemeralValue,
    LastValue,
    NamedBarrierValue,
    Topic,
    Trigger,
)
from threadloom.channels.base import MISSING
from threadloom.errors import EmptyChannelError, InvalidUpdateError


def test_last_value_keeps_the_single_write_of_a_step() -> None:
    """LastValue holds the one value written in a step."""
    ch = LastValue("x")
    assert ch.update([1]) is True
    assert ch.get() == 1
    assert ch.update([]) is False


def test_last_value_rejects_two_writes_in_one_step() -> None:
    """Two writes to a LastValue in one step are an InvalidUpdateError naming the key."""
    with pytest.raises(InvalidUpdateError, match="'x'"):
        LastValue("x").update([1, 2])


def test_reading_an_empty_channel_is_an_empty_channel_error() -> None:
    """Reading a channel that was never written raises EmptyChannelError (a KeyError)."""
    with pytest.raises(EmptyChannelError):
        LastValue("x").get()
    with pytest.raises(KeyError):
        Trigger("t").get()


def test_reducer_channel_folds_writes_in_order_from_the_types_empty_value() -> None:
    """A reducer channel starts from the empty value of its type and folds writes in order."""
    ch = BinaryOperatorAggregate(operator.add, list[int], "items")
    assert ch.get() == []
    ch.update([[1], [2, 3]])
    assert ch.get() == [1, 2, 3]


def test_reducer_channel_without_an_empty_value_starts_from_the_first_write() -> None:
    """A reducer over a type with no empty value takes its first write as the start."""
    ch = BinaryOperatorAggregate(max, None, "m")
    assert not ch.is_available()
    ch.update([3, 7, 5])
    assert ch.get() == 7


def test_topic_flattens_lists_and_is_emptied_by_consume() -> None:
    """A Topic collects a step's writes, flattening lists, until consumed."""
    t = Topic("t")
    t.update(["a", ["b", "c"]])
    assert t.get() == ["a", "b", "c"]
    assert t.consume() is True
    assert not t.is_available()


def test_ephemeral_value_forgets_after_a_step_without_writes() -> None:
    """An EphemeralValue keeps a value for one step only."""
    ch = EphemeralValue("e")
    ch.update(["v"])
    assert ch.get() == "v"
    assert ch.update([]) is True
    assert not ch.is_available()


def test_barrier_is_available_only_when_every_source_wrote() -> None:
    """A NamedBarrierValue opens once all named sources wrote, and resets when consumed."""
    b = NamedBarrierValue({"a", "b"}, "join")
    b.update(["a"])
    assert not b.is_available()
    b.update(["b"])
    assert b.is_available()
    assert b.consume() and not b.is_available()


def test_barrier_takes_langgraphs_type_then_names_order() -> None:
    """NamedBarrierValue(str, {"a", "b"}), as LangGraph programs write it, waits for a and b."""
    b = NamedBarrierValue(str, {"a", "b"})
    assert b.names == {"a", "b"} and b.key == ""
    b.update(["a", "b"])
    assert b.is_available()
    assert b.new().names == {"a", "b"}


def test_barrier_rejects_an_unknown_source() -> None:
    """Writing an unknown name to a barrier is an InvalidUpdateError naming it."""
    with pytest.raises(InvalidUpdateError, match="'c'"):
        NamedBarrierValue({"a"}, "join").update(["c"])


def test_trigger_stays_set_until_its_node_consumes_it() -> None:
    """A Trigger keeps its mark across steps until consumed."""
    t = Trigger("branch:to:x")
    t.update(["a"])
    assert t.is_available()
    assert t.update([]) is False and t.is_available()
    assert t.consume() and not t.is_available()


@pytest.mark.parametrize(
    "channel",
    [LastValue("x"), BinaryOperatorAggregate(operator.add, list, "l"), Topic("t"), Trigger("g")],
)
def test_checkpoint_round_trip_gives_an_independent_copy(channel: object) -> None:
    """from_checkpoint(checkpoint()) restores the value into a new channel."""
    ch = channel
    ch.update([[1]])  # type: ignore[attr-defined]
    restored = ch.from_checkpoint(ch.checkpoint())  # type: ignore[attr-defined]
    assert restored.get() == ch.get()  # type: ignore[attr-defined]
    assert restored is not ch


def test_empty_channel_checkpoints_as_missing() -> None:
    """An empty channel checkpoints as MISSING and restores empty."""
    ch = LastValue("x")
    assert ch.checkpoint() is MISSING
    assert not ch.from_checkpoint(MISSING).is_available()


def test_langgraph_constructor_order() -> None:
    """Channels take LangGraph's arguments: the value type first, then the reducer or options."""
    agg = BinaryOperatorAggregate(int, operator.add)
    agg.update([2, 3])
    assert agg.get() == 5
    last = LastValue(int)
    assert (last.typ, last.key) == (int, "")
    topic = Topic(str, accumulate=True)
    topic.update(["a"])
    topic.update(["b"])
    assert topic.get() == ["a", "b"]
    assert EphemeralValue(int, guard=False).guard is False


def test_channels_declare_the_types_of_their_value_and_writes() -> None:
    """``ValueType``/``UpdateType`` (LangGraph's names): a channel's declared type, and for a
    topic a sequence of it, written one at a time or as a list."""
    from collections.abc import Sequence

    from threadloom.channels import UntrackedValue

    assert (LastValue(int).ValueType, LastValue(int).UpdateType) == (int, int)
    assert BinaryOperatorAggregate(int, lambda a, b: a + b).UpdateType is int
    assert UntrackedValue(dict).ValueType is dict
    assert Topic(str).ValueType == Sequence[str]
    assert Topic(str).UpdateType == str | list[str]
