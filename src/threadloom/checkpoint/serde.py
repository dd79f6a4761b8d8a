"""Checkpoint serialization: typed JSON, no pickle.

:class:`JsonPlusSerializer` turns a value into ``(type_tag, bytes)`` and back.
Plain JSON values are stored as themselves; every other supported type is a
small tagged JSON object (``{"__tl": "<kind>", ...}``), so a stored value can
be inspected with any JSON tool.

Supported: ``None``, ``bool``, ``int``, ``float`` (NaN and infinities too),
``str``, ``bytes``/``bytearray``, ``list``, ``tuple``, ``dict`` (any hashable
supported keys), ``set``, ``frozenset``, ``datetime``/``date``/``time`` (time
zones kept, ``zoneinfo`` names included), ``timedelta``, ``UUID``,
``Decimal``, enums, LangChain messages (every message and chunk class, tool
calls, additional kwargs and ids included), pydantic v2 models, dataclasses,
``NamedTuple``\\ s, plain classes of ``threadloom`` and ``langchain_core``
(such as ``threadloom.types.Send``: their attributes are stored; module-level
instances such as sentinels are stored by name and load as the same object), and any
class given to :func:`register_type`.

Anything else raises :class:`~threadloom.errors.SerializationError` at write
time, naming the type and where it sits inside the value, e.g.
``value['messages'][3].additional_kwargs['fn']``. Nothing is coerced silently:
a tuple comes back a tuple, an ``int`` key stays an ``int``.

Which classes are re-imported on load (the safety rule). A stored class name is
only turned back into a class when one of these holds:

1. it was registered with :func:`register_type`;
2. its module is under ``langchain_core`` or ``threadloom`` (or a prefix passed
   as ``allowed_modules=``), which are imported on demand;
3. its module is already imported by the running program (the module that
   defines your graph's state usually is) — it is never imported on demand.

and the class is of the kind recorded (a dataclass, pydantic model, enum or
named tuple). Stored data can therefore never make threadloom import an
arbitrary module or call an arbitrary function. Classes defined inside a
function cannot be re-imported, so they are rejected at write time.

Example::

    from datetime import datetime, timezone
    from langchain_core.messages import AIMessage
    from threadloom.checkpoint.serde import JsonPlusSerializer

    serde = JsonPlusSerializer()
    value = {"at": datetime(2026, 1, 1, tzinfo=timezone.utc), "m": AIMessage("hi", id="1")}
    assert serde.loads_typed(serde.dumps_typed(value)) == value
"""

from __future__ import annotations

import base64
import dataclasses
import enum
import importlib
import json
import math
import sys
import threading
from collections.abc import Callable, Iterable
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Protocol
from uuid import UUID

from threadloom.errors import SerializationError

_orjson: Any
try:  # orjson is faster; the stdlib encoder produces the same bytes for our normalised trees
    import orjson as _orjson
except ImportError:  # pragma: no cover - depends on the environment
    _orjson = None

__all__ = [
    "JsonPlusSerializer",
    "SerializerProtocol",
    "register_type",
]

_TAG = "__tl"
_I64_MIN = -(2**63)
_I64_MAX = 2**63 - 1
_ALLOWED_PREFIXES = ("langchain_core", "threadloom")


class SerializerProtocol(Protocol):
    """What a checkpointer needs from a serializer."""

    def dumps_typed(self, obj: Any) -> tuple[str, bytes]:
        """Encode ``obj`` as ``(type_tag, data)``."""
        ...

    def loads_typed(self, data: tuple[str, bytes]) -> Any:
        """Decode what :meth:`dumps_typed` returned."""
        ...


class _Unsupported(Exception):
    """Internal: carries the offending type up the value, collecting the path."""

    def __init__(self, obj: Any, reason: str = "") -> None:
        super().__init__()
        self.obj = obj
        self.reason = reason
        self.path: list[str] = []  # innermost first


# --- registration -----------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Registered:
    cls: type
    name: str
    to_data: Callable[[Any], Any] | None
    from_data: Callable[[Any], Any] | None


_REGISTRY_BY_TYPE: dict[type, _Registered] = {}
_REGISTRY_BY_NAME: dict[str, _Registered] = {}
_REGISTRY_LOCK = threading.Lock()


def register_type(
    cls: type,
    *,
    name: str | None = None,
    to_data: Callable[[Any], Any] | None = None,
    from_data: Callable[[Any], Any] | None = None,
) -> type:
    """Allow ``cls`` in checkpoints, optionally with its own conversion.

    Without ``to_data``/``from_data`` the class must be a dataclass, pydantic
    model, enum or named tuple; registering it lets it load even when its
    module is not imported yet. With them, ``to_data(obj)`` returns any
    serializable value and ``from_data(value)`` rebuilds the object. ``name``
    (default ``module:qualname``) is what is stored. Returns ``cls``, so it
    can be used as a decorator.

    Example::

        from threadloom.checkpoint.serde import JsonPlusSerializer, register_type

        class Point:
            def __init__(self, x: int, y: int) -> None:
                self.x, self.y = x, y

        register_type(Point, to_data=lambda p: [p.x, p.y], from_data=lambda v: Point(*v))
        serde = JsonPlusSerializer()
        assert serde.loads_typed(serde.dumps_typed(Point(1, 2))).y == 2
    """
    if not isinstance(cls, type):
        raise TypeError(f"register_type() takes a class, got {cls!r}")
    if (to_data is None) != (from_data is None):
        raise TypeError("register_type() needs both to_data and from_data, or neither")
    entry = _Registered(cls, name or _class_name(cls), to_data, from_data)
    with _REGISTRY_LOCK:
        _REGISTRY_BY_TYPE[cls] = entry
        _REGISTRY_BY_NAME[entry.name] = entry
    _ENCODER_CACHE.clear()
    return cls


def _class_name(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


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


_MESSAGE_BY_NAME: dict[str, type] = _message_classes()
_MESSAGE_NAME: dict[type, str] = {cls: n for n, cls in _MESSAGE_BY_NAME.items()}


# --- encoding ---------------------------------------------------------------

_Encoder = Callable[[Any], Any]
_ENCODER_CACHE: dict[type, _Encoder] = {}


_PLAIN_SCAN_BUDGET = 1_000_000


def _is_plain(obj: Any) -> bool:
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
            if _TAG in o:
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
            elif t is not int or not _I64_MIN <= v <= _I64_MAX:
                return False
    return True


def _is_plain_scalar(v: Any) -> bool:
    t = type(v)
    if t is str or t is bool or v is None:
        return True
    if t is float:
        return math.isfinite(v)
    return t is int and _I64_MIN <= v <= _I64_MAX


def _enc(obj: Any) -> Any:
    """Turn ``obj`` into a tree of JSON-native values (str keys, finite floats, 64-bit ints)."""
    t = type(obj)
    if t is str or t is bool or obj is None:
        return obj
    if t is dict:
        return _enc_dict(obj)
    if t is list:
        return _enc_seq(obj)
    if t is int:
        return obj if _I64_MIN <= obj <= _I64_MAX else {_TAG: "int", "v": str(obj)}
    if t is float:
        return obj if math.isfinite(obj) else {_TAG: "float", "v": repr(obj)}
    encoder = _ENCODER_CACHE.get(t)
    if encoder is None:
        encoder = _resolve_encoder(t, obj)
    return encoder(obj)


def _enc_seq(obj: Any) -> list[Any]:
    out: list[Any] = []
    append = out.append
    i = 0
    try:
        for i, x in enumerate(obj):  # noqa: B007 - i names the failing index below
            append(_enc(x))
    except _Unsupported as e:
        e.path.append(f"[{i}]")
        raise
    return out


def _enc_dict(obj: dict[Any, Any]) -> Any:
    out: dict[str, Any] = {}
    k: Any = None
    try:
        for k, v in obj.items():
            if type(k) is not str or k == _TAG:
                return _enc_dict_items(obj)
            out[k] = _enc(v)
    except _Unsupported as e:
        e.path.append(f"[{k!r}]")
        raise
    return out


def _enc_dict_items(obj: dict[Any, Any]) -> dict[str, Any]:
    # Keys that JSON cannot hold as they are (or our tag key) keep their types this way.
    items: list[Any] = []
    k: Any = None
    try:
        for k, v in obj.items():
            items.append([_enc(k), _enc(v)])
    except _Unsupported as e:
        e.path.append(f"[{k!r}]")
        raise
    return {_TAG: "dict", "v": items}


def _enc_fields(values: dict[str, Any]) -> dict[str, Any]:
    """Encode attribute values, with ``.name`` path segments on failure."""
    out: dict[str, Any] = {}
    k = ""
    try:
        for k, v in values.items():
            out[k] = _enc(v)
    except _Unsupported as e:
        e.path.append(f".{k}")
        raise
    return out


def _enc_message(obj: Any) -> Any:
    fields = obj.__dict__
    # Most messages hold only JSON-native fields: scanning is cheaper than copying them.
    out = {_TAG: "lc", "c": _MESSAGE_NAME[type(obj)], "v": fields if _is_plain(fields) else _enc_fields(fields)}
    if obj.__pydantic_extra__:  # messages allow extra fields; pydantic keeps them apart
        out["x"] = _enc_fields(obj.__pydantic_extra__)
    return out


def _check_importable(cls: type, obj: Any) -> str:
    if "<locals>" in cls.__qualname__:
        raise _Unsupported(obj, "it is defined inside a function, so it cannot be re-imported on load")
    return _class_name(cls)


def _make_pydantic_encoder(cls: type) -> _Encoder:
    name = _check_importable(cls, None)
    all_fields = frozenset(cls.model_fields)  # type: ignore[attr-defined]

    def encode(obj: Any) -> Any:
        out: dict[str, Any] = {_TAG: "pyd", "c": name, "v": _enc_fields(obj.__dict__)}
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

    return encode


def _make_dataclass_encoder(cls: type) -> _Encoder:
    name = _check_importable(cls, None)
    names = [f.name for f in dataclasses.fields(cls)]

    def encode(obj: Any) -> Any:
        return {_TAG: "dc", "c": name, "v": _enc_fields({n: getattr(obj, n) for n in names})}

    return encode


def _make_namedtuple_encoder(cls: type) -> _Encoder:
    name = _check_importable(cls, None)
    return lambda obj: {_TAG: "nt", "c": name, "v": _enc_seq(obj)}


def _make_enum_encoder(cls: type) -> _Encoder:
    name = _check_importable(cls, None)
    return lambda obj: {_TAG: "enum", "c": name, "v": _enc(obj.value)}


def _make_registered_encoder(entry: _Registered) -> _Encoder:
    to_data = entry.to_data
    if to_data is None:
        inner = _structural_encoder(entry.cls)
        if inner is None:
            raise _Unsupported(None, "registered without to_data/from_data but it is not a dataclass, pydantic model, enum or named tuple")
        return inner
    name = entry.name
    return lambda obj: {_TAG: "reg", "c": name, "v": _enc(to_data(obj))}


def _enc_datetime(obj: datetime) -> Any:
    out: dict[str, Any] = {_TAG: "dt", "v": obj.isoformat()}
    key = getattr(obj.tzinfo, "key", None)  # zoneinfo.ZoneInfo keeps its name, not just an offset
    if isinstance(key, str):
        out["tz"] = key
    if obj.fold:
        out["fold"] = 1
    return out


def _enc_time(obj: time) -> Any:
    out: dict[str, Any] = {_TAG: "time", "v": obj.isoformat()}
    key = getattr(obj.tzinfo, "key", None)
    if isinstance(key, str):
        out["tz"] = key
    if obj.fold:
        out["fold"] = 1
    return out


_SIMPLE_ENCODERS: dict[type, _Encoder] = {
    tuple: lambda o: {_TAG: "tuple", "v": _enc_seq(o)},
    set: lambda o: {_TAG: "set", "v": _enc_seq(o)},
    frozenset: lambda o: {_TAG: "fset", "v": _enc_seq(o)},
    bytes: lambda o: {_TAG: "b", "v": base64.b64encode(o).decode("ascii")},
    bytearray: lambda o: {_TAG: "ba", "v": base64.b64encode(o).decode("ascii")},
    datetime: _enc_datetime,
    date: lambda o: {_TAG: "date", "v": o.isoformat()},
    time: _enc_time,
    timedelta: lambda o: {_TAG: "td", "v": [o.days, o.seconds, o.microseconds]},
    UUID: lambda o: {_TAG: "uuid", "v": o.hex},
    Decimal: lambda o: {_TAG: "dec", "v": str(o)},
}


def _structural_encoder(t: type) -> _Encoder | None:
    if issubclass(t, enum.Enum):
        return _make_enum_encoder(t)
    if issubclass(t, tuple) and hasattr(t, "_fields"):
        return _make_namedtuple_encoder(t)
    if dataclasses.is_dataclass(t):
        return _make_dataclass_encoder(t)
    if hasattr(t, "__pydantic_fields_set__") and hasattr(t, "model_fields"):
        return _make_pydantic_encoder(t)
    if _is_trusted(t.__module__, _ALLOWED_PREFIXES) and not issubclass(t, (str, int, float, bytes, list, dict, set, tuple)):
        return _make_object_encoder(t)
    return None


def _is_trusted(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def _attribute_names(cls: type) -> list[str]:
    names: list[str] = []
    for klass in reversed(cls.__mro__):
        slots = klass.__dict__.get("__slots__", ())
        names.extend([slots] if isinstance(slots, str) else slots)
    return [n for n in names if n not in ("__dict__", "__weakref__")]


def _make_object_encoder(cls: type) -> _Encoder:
    # Plain classes of threadloom and langchain_core only (e.g. ``Send``): their
    # attributes are stored and restored without calling __init__.
    name = _check_importable(cls, None)
    slots = _attribute_names(cls)
    # Module-level instances (sentinels such as MISSING) are stored by name, so
    # that loading gives back the very same object and ``is`` checks still hold.
    module = sys.modules.get(cls.__module__)
    constants = {id(v): k for k, v in vars(module).items() if type(v) is cls} if module else {}

    def encode(obj: Any) -> Any:
        constant = constants.get(id(obj))
        if constant is not None:
            return {_TAG: "const", "c": f"{cls.__module__}:{constant}", "t": name}
        values = {n: getattr(obj, n) for n in slots if hasattr(obj, n)}
        values.update(getattr(obj, "__dict__", {}))
        return {_TAG: "obj", "c": name, "v": _enc_fields(values)}

    return encode


def _resolve_encoder(t: type, obj: Any) -> _Encoder:
    encoder: _Encoder | None
    try:
        entry = _REGISTRY_BY_TYPE.get(t)
        if entry is not None:
            encoder = _make_registered_encoder(entry)
        elif t in _MESSAGE_NAME:
            encoder = _enc_message
        elif t in _SIMPLE_ENCODERS:
            encoder = _SIMPLE_ENCODERS[t]
        else:
            encoder = _structural_encoder(t)
    except _Unsupported as e:
        e.obj = obj
        raise
    if encoder is None:
        raise _Unsupported(obj)
    _ENCODER_CACHE[t] = encoder
    return encoder


# --- decoding ---------------------------------------------------------------


class _Decoder:
    """Resolves stored class names under the safety rule; one per serializer."""

    def __init__(self, allowed_modules: tuple[str, ...]) -> None:
        self.allowed = _ALLOWED_PREFIXES + allowed_modules
        self.cache: dict[tuple[str, str], type] = {}
        self.hooks: dict[str, Callable[[dict[str, Any]], Any]] = {
            "lc": self._message,
            "tuple": lambda d: tuple(d["v"]),
            "set": lambda d: set(d["v"]),
            "fset": lambda d: frozenset(d["v"]),
            "dict": lambda d: {k: v for k, v in d["v"]},
            "int": lambda d: int(d["v"]),
            "float": lambda d: float(d["v"]),
            "b": lambda d: base64.b64decode(d["v"]),
            "ba": lambda d: bytearray(base64.b64decode(d["v"])),
            "dt": _dec_datetime,
            "date": lambda d: date.fromisoformat(d["v"]),
            "time": _dec_time,
            "td": lambda d: timedelta(days=d["v"][0], seconds=d["v"][1], microseconds=d["v"][2]),
            "uuid": lambda d: UUID(hex=d["v"]),
            "dec": lambda d: Decimal(d["v"]),
            "enum": self._enum,
            "nt": self._namedtuple,
            "dc": self._dataclass,
            "pyd": self._pydantic,
            "reg": self._registered,
            "obj": self._object,
            "const": self._constant,
        }

    def object_hook(self, d: dict[str, Any]) -> Any:
        tag = d.get(_TAG)
        if tag is None:
            return d
        hook = self.hooks.get(tag)
        if hook is None:
            raise SerializationError(f"unknown stored type tag {tag!r}; was this written by a newer threadloom?")
        return hook(d)

    def _message(self, d: dict[str, Any]) -> Any:
        cls: Any = _MESSAGE_BY_NAME.get(d["c"])
        if cls is None:
            raise SerializationError(f"unknown LangChain message class {d['c']!r}")
        # Every field was stored, so set the state directly: 3x faster than model_construct.
        values = d["v"]
        obj = cls.__new__(cls)
        object.__setattr__(obj, "__dict__", values)
        object.__setattr__(obj, "__pydantic_fields_set__", set(values))
        object.__setattr__(obj, "__pydantic_extra__", d.get("x", {}))
        object.__setattr__(obj, "__pydantic_private__", None)
        return obj

    def resolve(self, name: str, kind: str) -> type:
        cls = self.cache.get((name, kind))
        if cls is not None:
            return cls
        entry = _REGISTRY_BY_NAME.get(name)
        cls = entry.cls if entry is not None else self._import(name)
        if kind == "obj":
            if not _is_trusted(cls.__module__, _ALLOWED_PREFIXES) or _structural_kind(cls) is not None:
                raise SerializationError(f"stored class {name} is not a plain threadloom or langchain_core class; refusing to load it")
        elif kind != "reg" and _structural_kind(cls) != kind:
            raise SerializationError(f"stored class {name} is not a {_KIND_WORDS[kind]}; refusing to load it")
        self.cache[(name, kind)] = cls
        return cls

    def _import(self, name: str) -> type:
        module_name, _, qualname = name.partition(":")
        module = sys.modules.get(module_name)
        if module is None:
            if not _is_trusted(module_name, self.allowed):
                raise SerializationError(
                    f"cannot load class {name}: its module is not imported and not allowed to be "
                    "imported on demand; import it first or pass it to register_type()"
                )
            try:
                module = importlib.import_module(module_name)
            except ImportError as e:
                raise SerializationError(f"cannot load class {name}: {e}") from e
        obj: Any = module
        for part in qualname.split("."):
            obj = getattr(obj, part, None)
            if obj is None:
                raise SerializationError(f"cannot load class {name}: no such class in {module_name}")
        if not isinstance(obj, type):
            raise SerializationError(f"cannot load {name}: it is not a class")
        return obj

    def _enum(self, d: dict[str, Any]) -> Any:
        return self.resolve(d["c"], "enum")(d["v"])

    def _namedtuple(self, d: dict[str, Any]) -> Any:
        cls = self.resolve(d["c"], "nt")
        return tuple.__new__(cls, d["v"])

    def _dataclass(self, d: dict[str, Any]) -> Any:
        return self._restore(d, "dc")

    def _restore(self, d: dict[str, Any], kind: str) -> Any:
        # Restore the stored state without re-running __init__/__post_init__ (they may transform it).
        cls: Any = self.resolve(d["c"], kind)
        obj = cls.__new__(cls)
        for k, v in d["v"].items():
            object.__setattr__(obj, k, v)
        return obj

    def _constant(self, d: dict[str, Any]) -> Any:
        cls = self.resolve(d["t"], "obj")
        module_name, _, attribute = d["c"].partition(":")
        value = getattr(sys.modules.get(module_name), attribute, None)
        if type(value) is not cls:
            raise SerializationError(f"cannot load constant {d['c']}: it is not a {d['t']} in this version")
        return value

    def _object(self, d: dict[str, Any]) -> Any:
        return self._restore(d, "obj")

    def _pydantic(self, d: dict[str, Any]) -> Any:
        cls: Any = self.resolve(d["c"], "pyd")
        values = d["v"]
        if "x" in values or "x" in d:
            values = {**values, **d.get("x", {})}
        fields_set = set(d["s"]) if "s" in d else None
        obj = cls.model_construct(fields_set, **values)
        if "p" in d:
            for k, v in d["p"].items():
                setattr(obj, k, v)
        return obj

    def _registered(self, d: dict[str, Any]) -> Any:
        entry = _REGISTRY_BY_NAME.get(d["c"])
        if entry is None or entry.from_data is None:
            raise SerializationError(f"cannot load {d['c']}: it is not registered with register_type() in this process")
        return entry.from_data(d["v"])


_KIND_WORDS = {"enum": "enum", "nt": "named tuple", "dc": "dataclass", "pyd": "pydantic model"}


def _structural_kind(cls: type) -> str | None:
    if issubclass(cls, enum.Enum):
        return "enum"
    if issubclass(cls, tuple) and hasattr(cls, "_fields"):
        return "nt"
    if dataclasses.is_dataclass(cls):
        return "dc"
    if hasattr(cls, "__pydantic_fields_set__") and hasattr(cls, "model_fields"):
        return "pyd"
    return None


def _zone(d: dict[str, Any]) -> Any:
    from zoneinfo import ZoneInfo

    return ZoneInfo(d["tz"])


def _dec_datetime(d: dict[str, Any]) -> datetime:
    value = datetime.fromisoformat(d["v"])
    if "tz" in d:
        value = value.replace(tzinfo=_zone(d))
    if "fold" in d:
        value = value.replace(fold=1)
    return value


def _dec_time(d: dict[str, Any]) -> time:
    value = time.fromisoformat(d["v"])
    if "tz" in d:
        value = value.replace(tzinfo=_zone(d))
    if "fold" in d:
        value = value.replace(fold=1)
    return value


# --- the serializer ---------------------------------------------------------


def _describe(e: _Unsupported) -> str:
    path = "value" + "".join(reversed(e.path))
    t = type(e.obj)
    what = f"{t.__module__}.{t.__qualname__}" if e.obj is not None else "this type"
    reason = e.reason or (
        "it is not a supported type; register it with "
        "threadloom.checkpoint.serde.register_type()"
    )
    return f"cannot serialize {what} at {path}: {reason}"


_TAG_BYTES = f'"{_TAG}"'.encode()
_loads_plain: Callable[[Any], Any] | None = None

if _orjson is not None:
    _dumps_json: Callable[[Any], bytes] = _orjson.dumps
    _loads_plain = _orjson.loads
else:  # pragma: no cover - depends on the environment

    def _dumps_json(tree: Any) -> bytes:
        return json.dumps(tree, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


class JsonPlusSerializer:
    """Typed-JSON serializer for checkpoints (see the module docstring for the rules).

    ``allowed_modules`` adds module prefixes whose classes may be imported on
    demand when loading, like ``langchain_core`` and ``threadloom`` are.
    """

    def __init__(self, *, allowed_modules: Iterable[str] = ()) -> None:
        self._decoder = _Decoder(tuple(allowed_modules))
        self._json_decoder = json.JSONDecoder(object_hook=self._decoder.object_hook)

    def dumps_typed(self, obj: Any) -> tuple[str, bytes]:
        """Encode ``obj``; raises :class:`SerializationError` naming any unsupported part."""
        try:
            if _is_plain(obj):
                return "json", _dumps_json(obj)
            return "json", _dumps_json(_enc(obj))
        except _Unsupported as e:
            raise SerializationError(_describe(e)) from None
        except RecursionError:
            raise SerializationError("cannot serialize value: it is nested too deeply or contains itself") from None

    def loads_typed(self, data: tuple[str, bytes]) -> Any:
        """Decode ``(type_tag, data)`` written by :meth:`dumps_typed`."""
        type_tag, payload = data
        if type_tag != "json":
            raise SerializationError(f"unknown serialization type {type_tag!r}")
        try:
            if isinstance(payload, (memoryview, str)):
                payload = payload.encode() if isinstance(payload, str) else bytes(payload)
            # No tag in the bytes means no tagged object: plain JSON, no per-object hook needed.
            if _loads_plain is not None and _TAG_BYTES not in payload:
                return _loads_plain(payload)
            text = payload.decode("utf-8") if isinstance(payload, (bytes, bytearray)) else payload
            return self._json_decoder.decode(text)
        except SerializationError:
            raise
        except (ValueError, KeyError, TypeError, IndexError) as e:
            raise SerializationError(f"stored value is corrupt or not threadloom JSON: {e}") from e

    # Plain (untyped) helpers, used for metadata that should stay readable JSON.
    def dumps(self, obj: Any) -> bytes:
        """Encode ``obj`` as bytes (the type tag is always ``json``)."""
        return self.dumps_typed(obj)[1]

    def loads(self, data: bytes) -> Any:
        """Decode bytes written by :meth:`dumps`."""
        return self.loads_typed(("json", data))

