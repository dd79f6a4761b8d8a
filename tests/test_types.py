"""threadloom.types: Command, Send, Interrupt, RetryPolicy and StateSnapshot."""

from __future__ import annotations

from unittest.mock import patch

import pytest

import threadloom.types as types
from threadloom.types import Command, Interrupt, RetryPolicy, Send, StateSnapshot


def test_public_names() -> None:
    """The module exports the names LangGraph programs import from it."""
    for name in (
        "Command",
        "Send",
        "interrupt",
        "Interrupt",
        "RetryPolicy",
        "StateSnapshot",
        "StreamWriter",
    ):
        assert name in types.__all__


def test_send_compares_by_node_and_argument() -> None:
    """Two Sends are equal when they target the same node with equal arguments."""
    assert Send("a", {"x": 1}) == Send("a", {"x": 1})
    assert Send("a", {"x": 1}) != Send("a", {"x": 2})


def test_command_goto_targets_normalizes_to_a_list() -> None:
    """goto may be a name, a Send or a sequence; goto_targets is always a list."""
    assert Command(goto="a").goto_targets() == ["a"]
    assert Command(goto=["a", Send("b", 1)]).goto_targets() == ["a", Send("b", 1)]
    assert Command().goto_targets() == []
    assert Command.PARENT == "__parent__"


def test_a_command_reads_as_the_fields_it_sets() -> None:
    """A command's repr shows only the fields that hold something, as LangGraph's does."""
    assert repr(Command(goto=Send("n", 3))) == "Command(goto=Send(node='n', arg=3))"
    assert repr(Command(update={"a": 1}, goto="x")) == "Command(update={'a': 1}, goto='x')"
    assert repr(Command()) == "Command()"


def test_retry_policy_defaults_retry_transient_errors_only() -> None:
    """By default connection errors are retried and programming errors are not."""
    policy = RetryPolicy()
    assert policy.should_retry(ConnectionError())
    assert not policy.should_retry(ValueError())
    assert not policy.should_retry(KeyError())


def test_retry_policy_retry_on_classes_or_predicate() -> None:
    """retry_on may be an exception class, a sequence of them, or a predicate."""
    assert RetryPolicy(retry_on=KeyError).should_retry(KeyError())
    assert RetryPolicy(retry_on=(KeyError, ValueError)).should_retry(ValueError())
    assert not RetryPolicy(retry_on=lambda e: False).should_retry(ConnectionError())


def test_retry_interval_backs_off_up_to_the_maximum() -> None:
    """Intervals grow by backoff_factor and stop at max_interval."""
    policy = RetryPolicy(initial_interval=1, backoff_factor=3, max_interval=5, jitter=False)
    assert [policy.interval(n) for n in (1, 2, 3)] == [1, 3, 5]


def test_retry_jitter_adds_up_to_a_second_drawn_with_random_uniform() -> None:
    """Jitter adds ``random.uniform(0, 1)``: a program that seeds or patches it sees the same."""
    policy = RetryPolicy(initial_interval=2, backoff_factor=1)
    waits = [policy.interval(1) for _ in range(50)]
    assert all(2 <= w <= 3 for w in waits) and len(set(waits)) > 1
    with patch("random.uniform", return_value=0.25) as uniform:
        assert policy.interval(1) == 2.25
    uniform.assert_called_once_with(0, 1)


def test_interrupt_and_snapshot_are_plain_values() -> None:
    """Interrupt compares by value and id; StateSnapshot defaults tasks and interrupts to ()."""
    assert Interrupt("q", "1") == Interrupt("q", "1")
    assert Interrupt("q", "1").response_schema is None  # LangGraph 1.2's field, keyword-only
    assert Interrupt("q", "1", response_schema={"type": "string"}).response_schema == {"type": "string"}
    snap = StateSnapshot({}, (), {}, None, None, None)
    assert snap.tasks == () and snap.interrupts == ()


def test_interrupt_accepts_the_fields_older_versions_saved() -> None:
    """``ns``, ``when`` and ``resumable`` (dropped in LangGraph 0.6) are accepted, so old
    interrupts load; without an id, the namespace gives it, as ``Interrupt.from_ns`` does."""
    old = Interrupt(value="abc", resumable=True, when="during", ns=["a:b", "c:d"])
    assert old == Interrupt.from_ns(value="abc", ns="a:b|c:d")
    assert Interrupt("abc", "given", ns=["a:b"]).id == "given"
    with pytest.raises(TypeError, match="'colour'"):
        Interrupt("abc", colour="red")  # type: ignore[call-arg]


def test_a_legacy_interrupt_round_trips_through_the_serializer() -> None:
    """An interrupt built with the old fields stores and loads as a current one."""
    from threadloom.checkpoint.serde.jsonplus import JsonPlusSerializer

    serde = JsonPlusSerializer()
    old = Interrupt(value="abc", ns=["a:b"])
    assert serde.loads_typed(serde.dumps_typed(old)) == old
