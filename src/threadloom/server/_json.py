"""JSON in and out of the server: orjson, with the graph's own types turned into plain data."""

from __future__ import annotations

import dataclasses
import datetime
import enum
import uuid
from typing import Any

import orjson

__all__ = ["dumps", "loads", "to_plain"]

_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY


def _default(obj: Any) -> Any:
    """What orjson cannot encode itself: messages, interrupts, commands, sets, ..."""
    dump = getattr(obj, "model_dump", None)
    if callable(dump):  # pydantic models, LangChain messages among them
        return dump()
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
    if isinstance(obj, tuple) and hasattr(obj, "_asdict"):
        return obj._asdict()
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    if isinstance(obj, (datetime.datetime, datetime.date)):
        return obj.isoformat()
    if isinstance(obj, uuid.UUID):
        return str(obj)
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, bytes):
        return obj.decode("utf-8", "replace")
    to_json = getattr(obj, "to_json", None)
    if callable(to_json):
        return to_json()
    return repr(obj)


def dumps(value: Any) -> bytes:
    """Encode ``value`` as JSON bytes; values JSON lacks become their plain form."""
    return orjson.dumps(value, default=_default, option=_OPTIONS)


def loads(data: bytes | str) -> Any:
    """Decode JSON (raises ``orjson.JSONDecodeError``, a ``ValueError``)."""
    return orjson.loads(data)


def to_plain(value: Any) -> Any:
    """``value`` as plain JSON data (dicts, lists, strings, numbers)."""
    return orjson.loads(dumps(value))
