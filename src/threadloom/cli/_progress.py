"""Progress for long runs: a count on stderr that rewrites itself on a terminal."""

from __future__ import annotations

import sys
import time
from typing import TextIO

__all__ = ["Counter"]


class Counter:
    """Shows ``<verb> N items`` on ``stream``: in place on a terminal, else a line every few seconds."""

    def __init__(self, verb: str, *, stream: TextIO | None = None, every: float = 2.0) -> None:
        self.verb = verb
        self.stream = stream if stream is not None else sys.stderr
        self.every = every
        self.count = 0
        self._last = 0.0
        self._tty = self.stream.isatty()

    def __call__(self, count: int) -> None:
        self.count = count
        now = time.monotonic()
        if self._tty:
            self.stream.write(f"\r{self.verb} {count} items")
            self.stream.flush()
        elif now - self._last >= self.every:
            self._last = now
            self.stream.write(f"{self.verb} {count} items\n")
            self.stream.flush()

    def done(self) -> None:
        """The final count, on its own line."""
        prefix = "\r" if self._tty else ""
        self.stream.write(f"{prefix}{self.verb} {self.count} items, done\n")
        self.stream.flush()
