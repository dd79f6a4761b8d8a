"""InMemorySaver: the conformance suite, plus what only the in-memory saver promises."""

from __future__ import annotations

import threading

import pytest

from threadloom.checkpoint.memory import InMemorySaver, MemorySaver
from threadloom.testing.checkpoint import CheckpointerConformance, make_checkpoint, thread


class TestInMemorySaver(CheckpointerConformance):
    """InMemorySaver passes the checkpointer conformance suite."""

    @pytest.fixture
    def saver(self) -> InMemorySaver:
        return InMemorySaver()


def test_memory_saver_is_an_alias() -> None:
    """MemorySaver is the same class as InMemorySaver."""
    assert MemorySaver is InMemorySaver


def test_concurrent_puts_from_threads_are_all_kept() -> None:
    """Puts from many threads at once are all stored, none lost."""
    saver = InMemorySaver()

    def work(n: int) -> None:
        config = thread(f"t{n}")
        for i in range(50):
            config = saver.put(
                config, make_checkpoint({"i": i}, {"i": i + 1}), {"step": i}, {"i": i + 1}
            )

    workers = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert len(list(saver.list(None))) == 400
    latest = saver.get_tuple(thread("t3"))
    assert latest is not None and latest.checkpoint["channel_values"] == {"i": 49}
