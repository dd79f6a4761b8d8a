"""Rules for text and sizes that every store backend shares (docs/store.md, "What a store accepts").

* **Text.** Every string a store keeps or compares must be valid Unicode
  without NUL. PostgreSQL ``text`` and ``jsonb`` cannot hold ``U+0000``, and a
  lone surrogate (``U+D800``..``U+DFFF`` outside a pair, which a Python ``str``
  can hold) has no UTF-8 form, so no database can store either faithfully.
  They are refused on every backend, the in-memory one included, before
  anything runs: reads too, since what cannot be stored cannot be found.
* **Pages.** ``limit`` and ``offset`` may be any non-negative integer; like a
  Python slice, a number beyond the data means "all of it" or "nothing". They
  are capped at :data:`PAGE_CAP` before a backend sees them, so sums such as
  ``offset + limit`` still fit a 64-bit SQL integer.

The checks are cheap for ordinary text: ``"\\x00" in s`` and ``s.isascii()``
run in C, and only non-ASCII strings are searched for surrogates.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["PAGE_CAP", "bad_text", "capped", "find_bad_text", "find_surrogate"]

#: Largest limit or offset a backend is handed; any larger one means the same.
PAGE_CAP = 2**62 - 1

_SURROGATE = re.compile("[\ud800-\udfff]")
#: ``find_surrogate(text)`` is a match for a lone surrogate in ``text``, or ``None``.
find_surrogate = _SURROGATE.search


def bad_text(text: str) -> str | None:
    """What makes ``text`` unstorable (``"a NUL character"``, ``"a lone surrogate"``), or ``None``."""
    if "\x00" in text:
        return "a NUL character (U+0000)"
    if not text.isascii():
        match = _SURROGATE.search(text)
        if match is not None:
            return f"a lone surrogate (U+{ord(match.group()):04X})"
    return None


def find_bad_text(value: Any, path: str = "$") -> tuple[str, str] | None:
    """The first unstorable string in a JSON-like ``value``: ``(where, what)``, or ``None``.

    Dict keys count as strings. Used to word an error message once a fast
    check has found that something is wrong.
    """
    stack: list[tuple[Any, str]] = [(value, path)]
    while stack:
        node, where = stack.pop()
        if isinstance(node, str):
            problem = bad_text(node)
            if problem is not None:
                return where, problem
        elif isinstance(node, dict):
            for key, child in node.items():
                if isinstance(key, str):
                    problem = bad_text(key)
                    if problem is not None:
                        return f"{where} (a key)", problem
                stack.append((child, f"{where}.{key!r}"))
        elif isinstance(node, (list, tuple)):
            stack.extend((child, f"{where}[{i}]") for i, child in enumerate(node))
    return None


def capped(number: int) -> int:
    """A validated limit or offset, capped at :data:`PAGE_CAP`."""
    return number if number <= PAGE_CAP else PAGE_CAP
