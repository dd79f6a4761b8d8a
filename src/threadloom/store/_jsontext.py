"""Reading stored JSON text: orjson when it is installed, the standard library's json otherwise.

The answer is always what ``json.loads`` gives, value for value and error for error,
only faster: orjson is asked only about text it reads the same way. It turns an
integer beyond 64 bits into a float, so text holding a run of 19 or more digits goes
to ``json``; and what orjson refuses (``NaN``, a lone surrogate, nesting past its
limit) is handed to ``json``, which answers as it always did, a
``json.JSONDecodeError`` (a ``ValueError``) for text that is not JSON.
"""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["loads"]

_orjson: Any
try:
    import orjson as _orjson
except ImportError:  # pragma: no cover - depends on the environment
    _orjson = None

_LONG_NUMBER = re.compile(r"\d{19}")


def _loads_fast(text: str) -> Any:
    if _LONG_NUMBER.search(text) is not None:
        return json.loads(text)
    try:
        return _orjson.loads(text)
    except _orjson.JSONDecodeError:
        return json.loads(text)


loads: Any = json.loads if _orjson is None else _loads_fast
"""``loads(text)``: the JSON value of ``text``, exactly as ``json.loads`` reads it."""
