"""Decoding: stored JSON -> Python values, under the loading rules of the package docstring.

The bytes are parsed by one C call; a walk then rebuilds tagged values bottom-up,
checking the nesting depth as it goes. A class is looked up (never imported) and
built through its own constructor with its declared fields; anything else in a
blob is an error. Every failure is a :class:`~threadloom.errors.SerializationError`.
"""

from __future__ import annotations

import base64
import dataclasses
import enum
import json
import re
from collections.abc import Callable, Iterable
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from threadloom.checkpoint.serde._encode import MESSAGE_BY_NAME
from threadloom.checkpoint.serde._format import MAX_DEPTH, MAX_INT_DIGITS, MAX_SAME_HASH, TAG
from threadloom.checkpoint.serde._registry import (
    BY_NAME,
    KIND_WORDS,
    constants,
    find_class,
    plain_types,
    structural_kind,
)
from threadloom.errors import SerializationError

__all__ = ["Decoder", "parse"]

_orjson: Any
try:
    import orjson as _orjson
except ImportError:  # pragma: no cover - depends on the environment
    _orjson = None

_Hook = Callable[[dict[str, Any]], Any]
_ZONE_KEY = re.compile(r"[A-Za-z0-9_+\-]+(/[A-Za-z0-9_+\-]+){0,3}")

try:  # pydantic >= 2.11 validates by field name whatever the aliases
    from pydantic import VERSION as _PYDANTIC_VERSION

    _BY_NAME: dict[str, Any] = (
        {"by_alias": False, "by_name": True} if tuple(int(p) for p in _PYDANTIC_VERSION.split(".")[:2]) >= (2, 11) else {}
    )
except ImportError:  # pragma: no cover - langchain-core requires pydantic
    _BY_NAME = {}


def parse(payload: bytes) -> Any:
    """The JSON tree of ``payload`` (no tags revived)."""
    if _orjson is not None:
        return _orjson.loads(payload)
    return json.loads(payload)  # pragma: no cover - depends on the environment


def check_depth(tree: Any) -> None:
    """Refuse a plain tree nested deeper than ``MAX_DEPTH`` (iteratively: no recursion)."""
    stack: list[tuple[Any, int]] = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise SerializationError(f"stored value is nested more than {MAX_DEPTH} levels deep")
        children = node.values() if type(node) is dict else node
        stack.extend((c, depth + 1) for c in children if type(c) is dict or type(c) is list)


def _guard_hashes(elements: Iterable[Any], what: str) -> None:
    """Refuse more than ``MAX_SAME_HASH`` elements sharing one hash: building them would be quadratic."""
    counts: dict[int, int] = {}
    get = counts.get
    for element in elements:
        h = hash(element)
        n = get(h, 0) + 1
        if n > MAX_SAME_HASH:
            raise SerializationError(f"stored {what} has more than {MAX_SAME_HASH} elements with one hash (hostile data?)")
        counts[h] = n


def _list(d: dict[str, Any], key: str = "v") -> list[Any]:
    value = d[key]
    if type(value) is not list:
        raise SerializationError(f"stored {d.get(TAG)!r} holds {type(value).__name__}, not a list")
    return value


def _dict(d: dict[str, Any], key: str = "v") -> dict[str, Any]:
    value = d[key]
    if type(value) is not dict:
        raise SerializationError(f"stored {d.get(TAG)!r} holds {type(value).__name__}, not an object")
    return value


def _str(d: dict[str, Any], key: str = "v", limit: int = 1 << 16) -> str:
    value = d[key]
    if type(value) is not str or len(value) > limit:
        raise SerializationError(f"stored {d.get(TAG)!r} holds {type(value).__name__}, not text of at most {limit} characters")
    return value


def _hashed(d: dict[str, Any], build: Callable[[list[Any]], Any]) -> Any:
    items = _list(d)
    if len(items) > MAX_SAME_HASH:
        _guard_hashes(items, "set")
    return build(items)


def _dict_items(d: dict[str, Any]) -> dict[Any, Any]:
    pairs = _list(d)
    for pair in pairs:
        if type(pair) is not list or len(pair) != 2:
            raise SerializationError("stored dict item is not a [key, value] pair")
    if len(pairs) > MAX_SAME_HASH:
        _guard_hashes((k for k, _ in pairs), "dict")
    return dict(pairs)


def _big_int(d: dict[str, Any]) -> int:
    return int(_str(d, limit=MAX_INT_DIGITS + 1))


def _special_float(d: dict[str, Any]) -> float:
    text = _str(d)
    if text not in ("nan", "inf", "-inf"):
        raise SerializationError(f"stored float {text!r} is not nan, inf or -inf")
    return float(text)


def _timedelta(d: dict[str, Any]) -> timedelta:
    parts = _list(d)
    if len(parts) != 3 or any(type(p) is not int for p in parts):
        raise SerializationError("stored timedelta is not [days, seconds, microseconds]")
    return timedelta(days=parts[0], seconds=parts[1], microseconds=parts[2])


def _zone(d: dict[str, Any]) -> ZoneInfo:
    key = _str(d, "tz", 64)
    if not _ZONE_KEY.fullmatch(key):
        raise SerializationError(f"stored time zone {key!r} is not a zone name")
    try:
        return ZoneInfo(key)
    except ZoneInfoNotFoundError:
        raise SerializationError(f"stored time zone {key!r} is not known here") from None


def _with_zone(value: Any, d: dict[str, Any]) -> Any:
    if "tz" in d:
        value = value.replace(tzinfo=_zone(d))
    if "fold" in d:
        value = value.replace(fold=1)
    return value


_SIMPLE_HOOKS: dict[str, _Hook] = {
    "tuple": lambda d: tuple(_list(d)),
    "set": lambda d: _hashed(d, set),
    "fset": lambda d: _hashed(d, frozenset),
    "dict": _dict_items,
    "int": _big_int,
    "float": _special_float,
    "b": lambda d: base64.b64decode(_str(d, limit=1 << 62), validate=True),
    "ba": lambda d: bytearray(base64.b64decode(_str(d, limit=1 << 62), validate=True)),
    "dt": lambda d: _with_zone(datetime.fromisoformat(_str(d, limit=64)), d),
    "date": lambda d: date.fromisoformat(_str(d, limit=64)),
    "time": lambda d: _with_zone(time.fromisoformat(_str(d, limit=64)), d),
    "td": _timedelta,
    "uuid": lambda d: UUID(hex=_str(d, limit=64)),
    "dec": lambda d: Decimal(_str(d, limit=MAX_INT_DIGITS + 16)),
}


class Decoder:
    """Revives tagged values in a parsed tree; one per serializer."""

    def __init__(self, allowed_modules: tuple[str, ...]) -> None:
        self.allowed = allowed_modules
        self.cache: dict[tuple[str, str], type] = {}
        self.hooks: dict[str, _Hook] = {
            **_SIMPLE_HOOKS,
            "lc": self._message,
            "enum": self._enum,
            "nt": self._namedtuple,
            "dc": self._dataclass,
            "pyd": self._pydantic,
            "reg": self._registered,
            "obj": self._plain,
            "const": self._constant,
        }

    def revive(self, node: Any, depth: int = 1) -> Any:
        """``node`` with every tagged object inside it rebuilt (dicts and lists are changed in place)."""
        if depth > MAX_DEPTH:
            raise SerializationError(f"stored value is nested more than {MAX_DEPTH} levels deep")
        if type(node) is dict:
            for k, v in node.items():
                if type(v) is dict or type(v) is list:
                    node[k] = self.revive(v, depth + 1)
            if TAG in node:
                return self._tagged(node)
        elif type(node) is list:
            for i, v in enumerate(node):
                if type(v) is dict or type(v) is list:
                    node[i] = self.revive(v, depth + 1)
        return node

    def _tagged(self, d: dict[str, Any]) -> Any:
        tag = d[TAG]
        hook = self.hooks.get(tag) if type(tag) is str else None
        if hook is None:
            raise SerializationError(f"unknown stored type tag {tag!r}; was this written by a newer threadloom?")
        try:
            return hook(d)
        except SerializationError:
            raise
        except KeyError as e:
            raise SerializationError(f"stored {tag!r} value lacks its {e.args[0]!r} entry") from e
        except Exception as e:  # the class's own constructor or validators refused the stored fields
            raise SerializationError(f"stored {tag!r} value {_name(d)}is invalid: {type(e).__name__}: {e}") from e

    # --- classes ------------------------------------------------------------

    def resolve(self, name: Any, kind: str) -> Any:
        """The class ``name`` under the loading rules, checked to be of ``kind``."""
        key = (name, kind) if isinstance(name, str) else None
        # The registry first: a name registered after this decoder cached it must win.
        cls = None if key is None or name in BY_NAME else self.cache.get(key)
        if cls is not None:
            return cls
        cls = find_class(name)
        if name not in BY_NAME and self.allowed and not any(
            cls.__module__ == p or cls.__module__.startswith(p + ".") for p in self.allowed
        ):
            raise SerializationError(f"cannot load class {name}: its module is not in allowed_modules")
        if structural_kind(cls) != kind:
            raise SerializationError(f"stored class {name} is not a {KIND_WORDS[kind]}; refusing to load it")
        assert key is not None
        self.cache[key] = cls
        return cls

    def _message(self, d: dict[str, Any]) -> Any:
        cls: Any = MESSAGE_BY_NAME.get(d["c"]) if type(d["c"]) is str else None
        if cls is None:
            raise SerializationError(f"unknown LangChain message class {d['c']!r}")
        values = _dict(d)
        if "x" in d:
            values = {**values, **_dict(d, "x")}
        # Validated like any pydantic model: junk fields fail here, not later in the application.
        return cls.model_validate(values)

    def _enum(self, d: dict[str, Any]) -> Any:
        cls = self.resolve(d["c"], "enum")
        value = d["v"]
        try:
            member = cls._value2member_map_.get(value)
        except TypeError:  # an unhashable stored value: compare member by member
            member = next((m for m in cls if m.value == value), None)
        if member is not None:
            return member
        if issubclass(cls, enum.Flag) and type(value) is int and getattr(cls._missing_, "__func__", None) is getattr(enum.Flag._missing_, "__func__", None):
            return cls(value)  # a combination of flags, built by Flag itself
        raise SerializationError(f"stored value {value!r} is not a member of enum {d['c']}")

    def _namedtuple(self, d: dict[str, Any]) -> Any:
        cls = self.resolve(d["c"], "nt")
        values = _list(d)
        if len(values) != len(cls._fields):
            raise SerializationError(f"stored {d['c']} has {len(values)} fields, the class {len(cls._fields)}")
        return cls(*values)

    def _dataclass(self, d: dict[str, Any]) -> Any:
        cls = self.resolve(d["c"], "dc")
        values = _dict(d)
        init = {f.name for f in dataclasses.fields(cls) if f.init}
        _only_declared(d["c"], values, init)
        return cls(**values)

    def _pydantic(self, d: dict[str, Any]) -> Any:
        cls = self.resolve(d["c"], "pyd")
        values = _dict(d)
        fields = cls.model_fields
        _only_declared(d["c"], values, fields)
        if getattr(cls, "__pydantic_root_model__", False):
            obj = cls.model_validate(values["root"])
        else:
            extra = _dict(d, "x") if "x" in d else {}
            if extra and cls.model_config.get("extra") != "allow":
                raise SerializationError(f"stored {d['c']} has extra fields but the model does not allow them")
            obj = cls.model_validate({**values, **extra}, **_BY_NAME)
        if "s" in d:
            fields_set = _list(d, "s")
            _only_declared(d["c"], dict.fromkeys(fields_set), {*fields, *(obj.__pydantic_extra__ or ())})
            object.__setattr__(obj, "__pydantic_fields_set__", set(fields_set))
        if "p" in d:
            private = _dict(d, "p")
            _only_declared(d["c"], private, cls.__private_attributes__)
            if obj.__pydantic_private__ is None:
                object.__setattr__(obj, "__pydantic_private__", {})
            obj.__pydantic_private__.update(private)
        return obj

    def _registered(self, d: dict[str, Any]) -> Any:
        entry = BY_NAME.get(d["c"]) if type(d["c"]) is str else None
        if entry is None or entry.from_data is None:
            raise SerializationError(f"cannot load {d['c']!r}: it is not registered with register_type() in this process")
        return entry.from_data(d["v"])

    def _plain(self, d: dict[str, Any]) -> Any:
        plain = plain_types().get(d["c"]) if type(d["c"]) is str else None
        if plain is None:
            raise SerializationError(f"cannot load {d['c']!r}: not one of threadloom's storable plain types")
        values = _dict(d)
        _only_declared(d["c"], values, plain.fields)
        return plain.build(**values)

    def _constant(self, d: dict[str, Any]) -> Any:
        name = d["c"]
        found = constants().get(name) if type(name) is str else None
        if found is None:
            raise SerializationError(f"cannot load constant {name!r}: not one of threadloom's constants")
        return found


def _only_declared(name: str, values: dict[str, Any], declared: Iterable[str]) -> None:
    unknown = values.keys() - set(declared)
    if unknown:
        raise SerializationError(f"stored {name} has undeclared fields {sorted(map(str, unknown))}")


def _name(d: dict[str, Any]) -> str:
    c = d.get("c")
    return f"of {c} " if type(c) is str else ""
