"""Progress bars for long-running command work (import, reindex, migrate, benchmarks).

The bar is tqdm's: one small, well-kept package with no dependencies, in the
``cli`` extra (``./run`` installs it). Without tqdm, or when the stream is not
a terminal, the work runs the same without a bar, so piped output and logs
stay clean.

>>> with progress("embedding", total=3, enabled=False) as bar:
...     for _ in range(3):
...         bar.advance()
>>> sum(track(range(4), "summing", enabled=False))
6
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator, Sized
from contextlib import contextmanager
from typing import IO, Any, Protocol, TypeVar

__all__ = ["Progress", "progress", "track"]

T = TypeVar("T")


class Progress(Protocol):
    """What a job reports as it goes."""

    def advance(self, n: int = 1) -> None:
        """Count ``n`` more units as done."""


class _Silent:
    def advance(self, n: int = 1) -> None:
        pass


class _Bar:
    def __init__(self, bar: Any) -> None:
        self._bar = bar

    def advance(self, n: int = 1) -> None:
        self._bar.update(n)


def _tqdm() -> Any:
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm


@contextmanager
def progress(
    description: str,
    *,
    total: int | None = None,
    unit: str = "item",
    stream: IO[str] | None = None,
    enabled: bool | None = None,
) -> Iterator[Progress]:
    """A progress bar for ``total`` units of work (``None``: a running count).

    ``enabled=None`` shows the bar only when ``stream`` (default stderr) is a
    terminal; ``True`` always shows it (when tqdm is installed), ``False`` never.
    """
    out = sys.stderr if stream is None else stream
    show = out.isatty() if enabled is None else enabled
    tqdm = _tqdm() if show else None
    if tqdm is None:
        yield _Silent()
        return
    bar = tqdm(total=total, desc=description, unit=unit, file=out, dynamic_ncols=True, leave=True)
    try:
        yield _Bar(bar)
    finally:
        bar.close()


def track(
    items: Iterable[T],
    description: str,
    *,
    total: int | None = None,
    unit: str = "item",
    stream: IO[str] | None = None,
    enabled: bool | None = None,
) -> Iterator[T]:
    """Yield ``items``, advancing a bar by one for each (``total`` defaults to ``len(items)``)."""
    if total is None and isinstance(items, Sized):
        total = len(items)
    with progress(description, total=total, unit=unit, stream=stream, enabled=enabled) as bar:
        for item in items:
            yield item
            bar.advance()
