"""The stored format's constants and the bounds on what one stored value may ask of a reader."""

from __future__ import annotations

from typing import Final

TAG: Final = "__tl"
"""Key that marks a tagged JSON object (``{"__tl": "<kind>", ...}``)."""

I64_MIN: Final = -(2**63)
I64_MAX: Final = 2**63 - 1

MAX_DEPTH: Final = 254
"""Deepest JSON nesting written or loaded (arrays and objects; a tagged value adds levels).

The same bound as orjson's writer, so that whatever is written can be read back.
"""

MAX_INT_DIGITS: Final = 4300
"""Longest text of an integer beyond 64 bits, or of a ``Decimal`` (CPython's own default bound)."""

MAX_SAME_HASH: Final = 32
"""Most elements of one stored set, frozenset or non-string-keyed dict that may share a hash.

Distinct values with equal hashes make building a hashed container quadratic;
real data has almost none, a hostile blob could hold thousands.
"""
