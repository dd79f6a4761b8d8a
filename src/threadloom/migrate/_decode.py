"""Read values that LangGraph's serializer wrote, without running code the data chooses.

LangGraph stores each value as ``(type, bytes)``: ``"msgpack"`` (with its own
extension types naming a module, a class and constructor arguments),
``"json"``, ``"bytes"``/``"bytearray"``, ``"null"``/``"empty"`` or
``"pickle"``. Nothing here imports a module or calls a class that a stored
name chooses: known LangChain message classes, LangGraph's ``Interrupt`` and
``Send``, and standard-library value types (datetimes, UUIDs, decimals, sets,
paths, ...) are rebuilt from an allow-list; any other object is kept as plain
data (a dataclass, named tuple or pydantic model becomes the dict of its
fields; an enum its value). ``"pickle"`` rows are never unpickled:
:class:`~threadloom.errors.MigrationError` names the row.
"""

from __future__ import annotations

import datetime as dt
import decimal
import ipaddress
import json
import pathlib
import re
import uuid
from collections import deque
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from langchain_core import messages as lc_messages

from threadloom.errors import MigrationError
from threadloom.types import Interrupt, Send

__all__ = ["MISSING", "decode_value"]

MISSING: Any = object()
"""What an ``"empty"`` row decodes to: the channel holds no value."""

_MESSAGE_CLASSES: dict[str, type[Any]] = {
    name: getattr(lc_messages, name)
    for name in (
        "AIMessage",
        "AIMessageChunk",
        "ChatMessage",
        "ChatMessageChunk",
        "FunctionMessage",
        "FunctionMessageChunk",
        "HumanMessage",
        "HumanMessageChunk",
        "RemoveMessage",
        "SystemMessage",
        "SystemMessageChunk",
        "ToolMessage",
        "ToolMessageChunk",
    )
}

# (module, name) -> how to rebuild it from the stored argument(s): standard-library types only.
_SINGLE: dict[tuple[str, str], Callable[[Any], Any]] = {
    ("uuid", "UUID"): uuid.UUID,
    ("decimal", "Decimal"): decimal.Decimal,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("collections", "deque"): deque,
    ("zoneinfo", "ZoneInfo"): ZoneInfo,
    ("ipaddress", "IPv4Address"): ipaddress.IPv4Address,
    ("ipaddress", "IPv4Interface"): ipaddress.IPv4Interface,
    ("ipaddress", "IPv4Network"): ipaddress.IPv4Network,
    ("ipaddress", "IPv6Address"): ipaddress.IPv6Address,
    ("ipaddress", "IPv6Interface"): ipaddress.IPv6Interface,
    ("ipaddress", "IPv6Network"): ipaddress.IPv6Network,
}
_POSITIONAL: dict[tuple[str, str], Callable[..., Any]] = {
    ("datetime", "timedelta"): dt.timedelta,
    ("datetime", "date"): dt.date,
    ("datetime", "timezone"): dt.timezone,
    ("re", "compile"): re.compile,
    ("pathlib", "Path"): pathlib.Path,
    ("pathlib", "PosixPath"): pathlib.PurePosixPath,
    ("pathlib", "WindowsPath"): pathlib.PureWindowsPath,
    ("pathlib", "PurePosixPath"): pathlib.PurePosixPath,
    ("pathlib", "PureWindowsPath"): pathlib.PureWindowsPath,
    ("pathlib._local", "PosixPath"): pathlib.PurePosixPath,
    ("pathlib._local", "WindowsPath"): pathlib.PureWindowsPath,
    ("langgraph.types", "Send"): lambda node, arg, *_timeout: Send(node, arg),
}
_METHODS: dict[tuple[str, str, str], Callable[[Any], Any]] = {
    ("datetime", "datetime", "fromisoformat"): dt.datetime.fromisoformat,
    ("datetime", "date", "fromisoformat"): dt.date.fromisoformat,
    ("datetime", "time", "fromisoformat"): dt.time.fromisoformat,
}

# LangGraph's msgpack extension codes.
_EXT_SINGLE, _EXT_POSITIONAL, _EXT_KEYWORDS, _EXT_METHOD = 0, 1, 2, 3
_EXT_PYDANTIC_V1, _EXT_PYDANTIC_V2, _EXT_NUMPY, _EXT_DELTA = 4, 5, 6, 7
_NUMPY_KINDS = frozenset("biufc")


def decode_value(kind: str | None, data: bytes | None, where: str) -> Any:
    """The value of one stored ``(kind, data)`` pair; ``where`` names the row in errors."""
    if kind in ("null", None) and not data:
        return None
    if kind == "empty":
        return MISSING
    if kind == "bytes":
        return bytes(data or b"")
    if kind == "bytearray":
        return bytearray(data or b"")
    if kind == "json":
        return _from_json(json.loads(data or b"null"))
    if kind == "msgpack":
        return _unpack(data or b"", where)
    if kind == "pickle":
        raise MigrationError(
            f"{where} holds a pickled value; threadloom never unpickles data (it can run any "
            "code). Re-save it with LangGraph's default serializer, or pass skip_pickle=True "
            "to leave such rows out.",
            row=where,
            pickle=True,
        )
    raise MigrationError(f"{where} has an unknown serializer type {kind!r}", row=where)


def _unpack(data: bytes, where: str) -> Any:
    try:
        import ormsgpack
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise ImportError(
            "reading LangGraph's msgpack values needs ormsgpack: pip install 'threadloom[migrate]'"
        ) from exc

    refused: list[MigrationError] = []  # ormsgpack hides what the hook raised: keep it here

    def hook(code: int, payload: bytes) -> Any:
        inner = ormsgpack.unpackb(payload, ext_hook=hook, option=ormsgpack.OPT_NON_STR_KEYS)
        try:
            return _from_ext(code, inner, where)
        except MigrationError as exc:
            refused.append(exc)
            raise

    try:
        return ormsgpack.unpackb(data, ext_hook=hook, option=ormsgpack.OPT_NON_STR_KEYS)
    except Exception as exc:
        if refused:
            raise refused[0] from None
        raise MigrationError(f"{where} is not readable msgpack: {exc}", row=where) from exc


def _from_ext(code: int, inner: Any, where: str) -> Any:
    if code == _EXT_DELTA:
        return inner
    if code == _EXT_NUMPY:
        return _numpy(inner, where)
    if not isinstance(inner, (list, tuple)) or len(inner) < 3:
        raise MigrationError(f"{where} holds a malformed extension value (code {code})", row=where)
    module, name, arg = inner[0], inner[1], inner[2]
    key = (module, name)
    if code == _EXT_SINGLE:
        make = _SINGLE.get(key)
        return make(arg) if make is not None else arg
    if code == _EXT_POSITIONAL:
        make_pos = _POSITIONAL.get(key)
        return make_pos(*arg) if make_pos is not None else list(arg)
    if code == _EXT_KEYWORDS:
        if key == ("datetime", "time"):
            return dt.time(**arg)
        if key == ("langgraph.types", "Interrupt"):
            return Interrupt(value=arg.get("value"), id=str(arg.get("id") or ""))
        return dict(arg)
    if code == _EXT_METHOD:
        method = inner[3] if len(inner) > 3 else ""
        make_m = _METHODS.get((module, name, method))
        return make_m(arg) if make_m is not None else arg
    if code in (_EXT_PYDANTIC_V1, _EXT_PYDANTIC_V2):
        cls = _message_class(module, name)
        return cls.model_validate(arg) if cls is not None else dict(arg)
    raise MigrationError(f"{where} holds an unknown extension type {code}", row=where)


def _message_class(module: Any, name: Any) -> type[Any] | None:
    if isinstance(module, str) and module.startswith("langchain_core.messages"):
        return _MESSAGE_CLASSES.get(name)
    return None


def _numpy(meta: Any, where: str) -> Any:
    import numpy as np

    try:
        dtype_str, shape, order, buffer = meta
        dtype = np.dtype(dtype_str)
    except (TypeError, ValueError) as exc:
        raise MigrationError(f"{where} holds a malformed array", row=where) from exc
    if dtype.kind not in _NUMPY_KINDS:  # no object arrays: they would need pickle
        raise MigrationError(f"{where} holds an array of dtype {dtype_str!r}", row=where)
    return np.frombuffer(buffer, dtype=dtype).reshape(shape, order=order).copy()


def _from_json(value: Any) -> Any:
    """LangChain's ``{"lc": 1, "type": "constructor", ...}`` objects, rebuilt from the allow-list."""
    if isinstance(value, list):
        return [_from_json(v) for v in value]
    if not isinstance(value, dict):
        return value
    if value.get("lc") == 1 and value.get("type") == "constructor" and "id" in value:
        ids = value["id"]
        kwargs = _from_json(value.get("kwargs", {}))
        name = ids[-1] if ids else None
        if name in _MESSAGE_CLASSES:
            return _MESSAGE_CLASSES[name].model_validate(kwargs)
        args = value.get("args")
        if args is not None and len(ids) >= 2:
            make = _SINGLE.get((ids[-2], ids[-1]))
            if make is not None and len(args) == 1:
                return make(_from_json(args[0]))
        return kwargs
    return {k: _from_json(v) for k, v in value.items()}
