"""Run numpy's BLAS single-threaded while the local model computes.

The local model splits its work across Python threads itself. Leaving
OpenBLAS's own thread pool on as well hurts: its threads spin waiting for
each other, and on a busy machine a small matmul (one query) took 15x longer
than single-threaded (measured: 210 ms vs 13 ms per sentence). numpy has no
API for this, so the pool size is set through the OpenBLAS library numpy
loaded, found with ctypes; with any other BLAS this is a no-op.
"""

from __future__ import annotations

import ctypes
import glob
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

__all__ = ["single_threaded_blas"]

# Symbol names across OpenBLAS builds: numpy >= 2 (scipy-openblas, 64-bit ints),
# numpy 1.x wheels (openblas64_) and system OpenBLAS.
_SUFFIXES = ("scipy_openblas_{}64_", "scipy_openblas_{}", "openblas_{}64_", "openblas_{}")


def _candidates() -> list[str]:
    # numpy's own bundled library first: other packages (scipy, ...) may load another OpenBLAS.
    root = Path(np.__file__).parent
    paths: list[str] = []
    for pattern in ("../numpy.libs/*openblas*", ".dylibs/*openblas*"):
        paths.extend(sorted(glob.glob(str(root / pattern))))
    try:  # Then whatever this process loaded (Linux), e.g. a system OpenBLAS numpy links to.
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
            paths.extend(line.split()[-1] for line in maps if "openblas" in line.lower())
    except OSError:
        pass
    return list(dict.fromkeys(os.path.realpath(p) for p in paths if os.path.isfile(p)))


def _find() -> tuple[Callable[[int], None], Callable[[], int]] | None:
    for path in _candidates():
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for pattern in _SUFFIXES:
            setter = getattr(lib, pattern.format("set_num_threads"), None)
            getter = getattr(lib, pattern.format("get_num_threads"), None)
            if setter is not None and getter is not None:
                setter.argtypes, setter.restype = [ctypes.c_int], None
                getter.argtypes, getter.restype = [], ctypes.c_int
                return setter, getter
    return None


_lock = threading.Lock()
_api: tuple[Callable[[int], None], Callable[[], int]] | None = None
_looked = False
_depth = 0
_saved = 1


def _reset_after_fork() -> None:
    # Forked in the middle of a block: the child starts afresh, with the saved thread count.
    global _lock, _depth
    if _api is not None and _depth > 0 and _saved != 1:
        _api[0](_saved)
    _lock, _depth = threading.Lock(), 0


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


@contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Within the block, OpenBLAS uses one thread; nesting and concurrent use are counted."""
    global _api, _looked, _depth, _saved
    with _lock:
        if not _looked:
            _api, _looked = _find(), True
        if _api is not None and _depth == 0:
            _saved = _api[1]()
            if _saved != 1:
                _api[0](1)
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _api is not None and _depth == 0 and _saved != 1:
                _api[0](_saved)
