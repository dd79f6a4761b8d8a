"""The progress helper that long-running commands share."""

from __future__ import annotations

import io
import sys

import pytest

from threadloom.cli._progress import progress, track


class _Terminal(io.StringIO):
    """A text stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def test_a_bar_counts_the_work_on_a_terminal() -> None:
    """On a terminal the bar shows the description and reaches total/total."""
    out = _Terminal()
    with progress("embedding", total=3, unit="item", stream=out) as bar:
        for _ in range(3):
            bar.advance()
    text = out.getvalue()
    assert "embedding" in text
    assert "3/3" in text


def test_no_bar_when_the_stream_is_not_a_terminal() -> None:
    """Piped output stays clean: nothing is written when the stream is not a terminal."""
    out = io.StringIO()
    with progress("embedding", total=2, stream=out) as bar:
        bar.advance(2)
    assert out.getvalue() == ""


def test_enabled_forces_the_bar_on_or_off() -> None:
    """enabled=True draws on any stream; enabled=False never draws."""
    shown, hidden = io.StringIO(), _Terminal()
    with progress("on", total=1, stream=shown, enabled=True) as bar:
        bar.advance()
    with progress("off", total=1, stream=hidden, enabled=False) as bar:
        bar.advance()
    assert "1/1" in shown.getvalue()
    assert hidden.getvalue() == ""


def test_track_yields_every_item_and_takes_the_total_from_len() -> None:
    """track passes the items through unchanged and counts them against len()."""
    out = _Terminal()
    assert list(track(["a", "b", "c", "d"], "reading", stream=out)) == ["a", "b", "c", "d"]
    assert "4/4" in out.getvalue()


def test_without_tqdm_the_work_runs_without_a_bar(monkeypatch: pytest.MonkeyPatch) -> None:
    """When tqdm is not installed the job still runs, silently."""
    monkeypatch.setitem(sys.modules, "tqdm", None)  # makes `import tqdm` raise ImportError
    out = _Terminal()
    assert sum(track(range(5), "summing", stream=out)) == 10
    assert out.getvalue() == ""
