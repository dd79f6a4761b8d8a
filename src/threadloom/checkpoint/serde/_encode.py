"""Encoding: a Python value -> a tree of JSON-native values (str keys, finite floats, 64-bit ints).

Every type that is not JSON-native becomes a small tagged object
``{"__tl": "<kind>", ...}``. A type with no encoder raises :class:`Unsupported`,
which collects the path to the offending part on its way up.
"""

from __future__ import annotations

import base64
import dataclasses
import math
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from threadloom.checkpoint.serde._format import I64_MAX, I64_MIN, TAG
from threadloom.checkpoint.serde._registry import (
    BY_TYPE,
    ENCODER_CACHE,
    Registered,
    class_name,
    constants,
    plain_types,
    structural_kind,
)

__all__ = ["MESSAGE_BY_NAME", "Unsupported", "describe", "encode", "is_plain"]


class Unsupported(Exception):
    """Internal: carries the offending type up the value, collecting the path."""

    def __init__(self, obj: Any, reason: str = "") -> None:
        super().__init__()
        self.obj = obj
        self.reason = reason
        self.path: list[str] = []  # innermost first


def describe(e: Unsupported) -> str:
    """The write-time error message: the type, where it sits, and why."""
    path = "value" + "".join(reversed(e.path))
    t = type(e.obj)
    what = f"{t.__module__}.{t.__qualname__}" if e.obj is not None else "this type"
    reason = e.reason or (
        "it is not a supported type; register it with threadloom.checkpoint.serde.register_type()"
    )
    return f"cannot serialize {what} at {path}: {reason}"


# --- LangChain messages: the hot path -----------------------------------------


def _message_classes() -> dict[str, type]:
    from langchain_core import messages as m

    names = [
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
    ]
    return {n: getattr(m, n) for n in names if hasattr(m, n)}


MESSAGE_BY_NAME: dict[str, type] = _message_classes()
_MESSAGE_NAME: dict[type, str] = {cls: n for n, cls in MESSAGE_BY_NAME.items()}

_Encoder = Callable[[Any], Any]
_PLAIN_SCAN_BUDGET = 1_000_000


def is_plain(obj: Any) -> bool:
    """Whether ``obj`` is already a JSON-native tree (then it is dumped as is, with no copy)."""
    t = type(obj)
    if t is not dict and t is not list:
        return _is_plain_scalar(obj)
    isfinite = math.isfinite
    stack = [obj]
    pop, push = stack.pop, stack.append
    budget = _PLAIN_SCAN_BUDGET  # a value that contains itself would loop forever; the walker reports it
    while stack:
        budget -= 1
        if not budget:
            return False
        o = pop()
        if type(o) is dict:
            if TAG in o:
                return False
            for k in o:
                if type(k) is not str:
                    return False
            values: Any = o.values()
        else:
            values = o
        for v in values:
            t = type(v)
            # Scalars are checked in place; only containers go on the stack.
            if t is str or t is bool or v is None:
                continue
            if t is dict or t is list:
                push(v)
            elif t is float:
                if not isfinite(v):
                    return False
            elif t is not int or not I64_MIN <= v <= I64_MAX:
                return False
    return True


def _is_plain_scalar(v: Any) -> bool:
    t = type(v)
    if t is str or t is bool or v is None:
        return True
    if t is float:
        return math.isfinite(v)
    return t is int and I64_MIN <= v <= I64_MAX


def encode(obj: Any) -> Any:
    """Turn ``obj`` into a tree of JSON-native values."""
    t = type(obj)
    if t is str or t is bool or obj is None:
        return obj
    if t is dict:
        return _enc_dict(obj)
    if t is list:
        return _enc_seq(obj)
    if t is int:
        return obj if I64_MIN <= obj <= I64_MAX else {TAG: "int", "v": str(obj)}
    if t is float:
        return obj if math.isfinite(obj) else {TAG: "float", "v": repr(obj)}
    encoder = ENCODER_CACHE.get(t)
    if encoder is None:
        encoder = _resolve_encoder(t, obj)
    return encoder(obj)


def _enc_seq(obj: Any) -> list[Any]:
    out: list[Any] = []
    append = out.append
    i = 0
    try:
        for i, x in enumerate(obj):  # noqa: B007 - i names the failing index below
            append(encode(x))
    except Unsupported as e:
        e.path.append(f"[{i}]")
        raise
    return out


def _enc_dict(obj: dict[Any, Any]) -> Any:
    out: dict[str, Any] = {}
    k: Any = None
    try:
        for k, v in obj.items():
            if type(k) is not str or k == TAG:
                return _enc_dict_items(obj)
            out[k] = encode(v)
    except Unsupported as e:
        e.path.append(f"[{k!r}]")
        raise
    return out


def _enc_dict_items(obj: dict[Any, Any]) -> dict[str, Any]:
    # Keys that JSON cannot hold as they are (or our tag key) keep their types this way.
    items: list[Any] = []
    k: Any = None
    try:
        for k, v in obj.items():
            items.append([encode(k), encode(v)])
    except Unsupported as e:
        e.path.append(f"[{k!r}]")
        raise
    return {TAG: "dict", "v": items}


def _enc_fields(values: dict[str, Any]) -> dict[str, Any]:
    """Encode attribute values, with ``.name`` path segments on failure."""
    out: dict[str, Any] = {}
    k = ""
    try:
        for k, v in values.items():
            out[k] = encode(v)
    except Unsupported as e:
        e.path.append(f".{k}")
        raise
    return out


def _enc_message(obj: Any) -> Any:
    fields = obj.__dict__
    # Most messages hold only JSON-native fields: scanning is cheaper than copying them.
    out = {TAG: "lc", "c": _MESSAGE_NAME[type(obj)], "v": fields if is_plain(fields) else _enc_fields(fields)}
    if obj.__pydantic_extra__:  # messages allow extra fields; pydantic keeps them apart
        out["x"] = _enc_fields(obj.__pydantic_extra__)
    return out


def _check_importable(cls: type) -> str:
    if "<locals>" in cls.__qualname__:
        raise Unsupported(None, "it is defined inside a function, so it cannot be found again on load")
    return class_name(cls)


def _make_pydantic_encoder(cls: type) -> _Encoder:
    name = _check_importable(cls)
    all_fields = frozenset(cls.model_fields)  # type: ignore[attr-defined]

    def encode_model(obj: Any) -> Any:
        out: dict[str, Any] = {TAG: "pyd", "c": name, "v": _enc_fields(obj.__dict__)}
        fields_set = obj.__pydantic_fields_set__
        if fields_set != all_fields:
            out["s"] = sorted(fields_set)
        extra = obj.__pydantic_extra__
        if extra:
            out["x"] = _enc_fields(extra)
        private = obj.__pydantic_private__
        if private:
            out["p"] = _enc_fields(private)
        return out

    return encode_model


def _make_dataclass_encoder(cls: type) -> _Encoder:
    name = _check_importable(cls)
    params = getattr(cls, "__dataclass_params__", None)
    if params is not None and not params.init:
        raise Unsupported(None, "its dataclass has no generated __init__ to rebuild it with; register it with to_data/from_data")
    # Only __init__ fields are stored: loading calls the class with them (see the package docs).
    names = [f.name for f in dataclasses.fields(cls) if f.init]
    return lambda obj: {TAG: "dc", "c": name, "v": _enc_fields({n: getattr(obj, n) for n in names})}


def _make_namedtuple_encoder(cls: type) -> _Encoder:
    name = _check_importable(cls)
    return lambda obj: {TAG: "nt", "c": name, "v": _enc_seq(obj)}


def _make_enum_encoder(cls: type) -> _Encoder:
    name = _check_importable(cls)
    return lambda obj: {TAG: "enum", "c": name, "v": encode(obj.value)}


def _make_registered_encoder(entry: Registered) -> _Encoder:
    to_data = entry.to_data
    if to_data is None:
        inner = _structural_encoder(entry.cls)
        if inner is None:
            raise Unsupported(None, "registered without to_data/from_data but it is not a dataclass, pydantic model, enum or named tuple")
        return inner
    name = entry.name
    return lambda obj: {TAG: "reg", "c": name, "v": encode(to_data(obj))}


def _enc_datetime(obj: datetime) -> Any:
    out: dict[str, Any] = {TAG: "dt", "v": obj.isoformat()}
    key = getattr(obj.tzinfo, "key", None)  # zoneinfo.ZoneInfo keeps its name, not just an offset
    if isinstance(key, str):
        out["tz"] = key
    if obj.fold:
        out["fold"] = 1
    return out


def _enc_time(obj: time) -> Any:
    out: dict[str, Any] = {TAG: "time", "v": obj.isoformat()}
    key = getattr(obj.tzinfo, "key", None)
    if isinstance(key, str):
        out["tz"] = key
    if obj.fold:
        out["fold"] = 1
    return out


_SIMPLE_ENCODERS: dict[type, _Encoder] = {
    tuple: lambda o: {TAG: "tuple", "v": _enc_seq(o)},
    set: lambda o: {TAG: "set", "v": _enc_seq(o)},
    frozenset: lambda o: {TAG: "fset", "v": _enc_seq(o)},
    bytes: lambda o: {TAG: "b", "v": base64.b64encode(o).decode("ascii")},
    bytearray: lambda o: {TAG: "ba", "v": base64.b64encode(o).decode("ascii")},
    datetime: _enc_datetime,
    date: lambda o: {TAG: "date", "v": o.isoformat()},
    time: _enc_time,
    timedelta: lambda o: {TAG: "td", "v": [o.days, o.seconds, o.microseconds]},
    UUID: lambda o: {TAG: "uuid", "v": o.hex},
    Decimal: lambda o: {TAG: "dec", "v": str(o)},
}


def _text_accessor() -> type | None:
    try:  # langchain-core >= 1.0: ``message.text`` is this str subclass
        from langchain_core.messages.base import TextAccessor
    except ImportError:  # pragma: no cover - depends on the langchain-core version
        return None
    return TextAccessor


_TEXT_ACCESSOR = _text_accessor()
if _TEXT_ACCESSOR is not None:
    # A str kept callable only for the old ``message.text()`` style: it is stored, and loads, as its text.
    _SIMPLE_ENCODERS[_TEXT_ACCESSOR] = str


def _structural_encoder(t: type) -> _Encoder | None:
    kind = structural_kind(t)
    if kind == "enum":
        return _make_enum_encoder(t)
    if kind == "nt":
        return _make_namedtuple_encoder(t)
    if kind == "dc":
        return _make_dataclass_encoder(t)
    if kind == "pyd":
        return _make_pydantic_encoder(t)
    return None


def _plain_encoder(t: type) -> _Encoder | None:
    """threadloom's own plain types and sentinels (a fixed list, see ``_registry``)."""
    by_id = {id(value): name for name, value in constants().items() if type(value) is t}
    for name, plain in plain_types().items():
        if plain.cls is t:
            fields = plain.fields
            return lambda obj: {TAG: "obj", "c": name, "v": _enc_fields({f: getattr(obj, f) for f in fields})}
    if by_id:

        def encode_constant(obj: Any) -> Any:
            name = by_id.get(id(obj))
            if name is None:
                raise Unsupported(obj, "only the module-level instance of this class can be stored")
            return {TAG: "const", "c": name}

        return encode_constant
    return None


def _resolve_encoder(t: type, obj: Any) -> _Encoder:
    encoder: _Encoder | None
    try:
        entry = BY_TYPE.get(t)
        if entry is not None:
            encoder = _make_registered_encoder(entry)
        elif t in _MESSAGE_NAME:
            encoder = _enc_message
        elif t in _SIMPLE_ENCODERS:
            encoder = _SIMPLE_ENCODERS[t]
        else:
            encoder = _structural_encoder(t) or _plain_encoder(t)
    except Unsupported as e:
        e.obj = obj
        raise
    if encoder is None:
        raise Unsupported(obj)
    ENCODER_CACHE[t] = encoder
    return encoder
