"""State schemas: the keys of a TypedDict, dataclass or pydantic model, and their channels."""

from __future__ import annotations

import dataclasses
import inspect
import typing
from collections.abc import Callable
from typing import Any

import typing_extensions

from threadloom._engine._results import object_updates
from threadloom.channels.base import BaseChannel
from threadloom.channels.binop import BinaryOperatorAggregate
from threadloom.channels.delta import DeltaChannel
from threadloom.channels.last_value import LastValue
from threadloom.channels.messages import MessagesChannel
from threadloom.errors import GraphBuildError
from threadloom.graph.message import add_messages
from threadloom.managed._values import MANAGERS

_REQUIRED_WRAPPERS = {
    typing_extensions.Required,
    typing_extensions.NotRequired,
    getattr(typing, "Required", typing_extensions.Required),  # the 3.11+ names
    getattr(typing, "NotRequired", typing_extensions.NotRequired),
}

__all__ = [
    "channels_of",
    "field_channel",
    "is_schema",
    "managed_of",
    "object_to_dict",
    "root_channel",
    "same_channel",
    "state_coercer",
]


def is_pydantic(schema: Any) -> bool:
    """Whether ``schema`` is a pydantic model class."""
    return isinstance(schema, type) and isinstance(getattr(schema, "model_fields", None), dict)


def is_schema(schema: Any) -> bool:
    """Whether ``schema`` is a class threadloom can read state keys from."""
    if not isinstance(schema, type):
        return False
    return (
        dataclasses.is_dataclass(schema)
        or is_pydantic(schema)
        or bool(getattr(schema, "__annotations__", None))
        or typing.is_typeddict(schema)
    )


def _hints(schema: Any) -> dict[str, Any]:
    try:
        hints = typing.get_type_hints(schema, include_extras=True)
    except Exception as exc:
        raise GraphBuildError(
            f"cannot read the type hints of state schema {schema!r}: {exc}"
        ) from exc
    if is_pydantic(schema):
        return {k: hints.get(k, Any) for k in schema.model_fields}
    if dataclasses.is_dataclass(schema):
        return {f.name: hints.get(f.name, Any) for f in dataclasses.fields(schema)}
    return {k: v for k, v in hints.items() if not k.startswith("__")}


def channels_of(schema: Any) -> dict[str, BaseChannel]:
    """One channel per key of ``schema``: a reducer channel for ``Annotated[T, reducer]``."""
    if not is_schema(schema):
        raise GraphBuildError(
            f"state schema must be a TypedDict, dataclass or pydantic model class, got {schema!r}"
        )
    return {
        key: _channel(key, hint) for key, hint in _hints(schema).items() if _manager(hint) is None
    }


def root_field(schema: Any) -> Any:
    """The type of a TypedDict's one key when it is ``"__root__"`` (a one-value state, as
    LangGraph reads it); ``None`` for any other schema."""
    if not typing_extensions.is_typeddict(schema):  # typing's misses typing_extensions' TypedDict
        return None
    try:
        hints = typing.get_type_hints(schema, include_extras=True)
    except Exception:
        return None
    return hints["__root__"] if list(hints) == ["__root__"] else None


def managed_of(schema: Any) -> dict[str, type]:
    """The keys of ``schema`` whose values the run provides (``RemainingSteps``, ``IsLastStep``)."""
    if not is_schema(schema):
        return {}
    out = {}
    for key, hint in _hints(schema).items():
        manager = _manager(hint)
        if manager is not None:
            out[key] = manager
    return out


def _manager(hint: Any) -> type | None:
    while typing.get_origin(hint) in _REQUIRED_WRAPPERS:
        hint = typing.get_args(hint)[0]
    if typing.get_origin(hint) is typing.Annotated:
        for item in typing.get_args(hint)[1:]:
            if item in MANAGERS:
                return item
    return None


def root_channel(key: str, schema: Any) -> BaseChannel:
    """The channel of a state that is one value (``list[str]``, ``Annotated[list, add]``)."""
    return _channel(key, schema)


def _channel(key: str, hint: Any) -> BaseChannel:
    """As LangGraph reads a key: a channel in the metadata, else a reducer last, else LastValue."""
    while typing.get_origin(hint) in _REQUIRED_WRAPPERS:
        hint = typing.get_args(hint)[0]
    if typing.get_origin(hint) is typing.Annotated:
        base, *meta = typing.get_args(hint)
        declared = field_channel(hint)
        if declared is not None:
            # A channel instance may sit in several schemas: each graph key gets its own.
            channel = declared.new() if any(declared is item for item in meta) else declared
            if isinstance(channel, DeltaChannel):  # takes the key's type, as in LangGraph
                channel = channel.for_type(base)
            channel.key = key
            return channel
        reducer = meta[-1]
        if reducer is add_messages:
            return MessagesChannel(key)
        if callable(reducer) and not isinstance(reducer, type):
            if not _is_reducer(reducer):
                raise GraphBuildError(
                    "Invalid reducer signature. Expected (a, b) -> c. "
                    f"Got {_signature(reducer)} (state key '{key}')"
                )
            return BinaryOperatorAggregate(base, reducer, key)
    return LastValue(hint, key)


def field_channel(hint: Any) -> BaseChannel | None:
    """The channel an ``Annotated`` hint names: the first channel instance or class in it.

    A class is built for the hint's type (``Annotated[int, EphemeralValue]`` ->
    ``EphemeralValue(int)``); an instance is returned as it is; ``None`` when
    the hint names no channel.
    """
    if typing.get_origin(hint) is not typing.Annotated:
        return None
    base, *meta = typing.get_args(hint)
    for item in meta:
        if isinstance(item, BaseChannel):
            return item
        if isinstance(item, type) and issubclass(item, BaseChannel):
            return item(base)
    return None


def _signature(fn: Callable[..., Any]) -> str:
    try:
        return str(inspect.signature(fn))
    except (TypeError, ValueError):
        return "an unreadable signature"


def _is_reducer(fn: Callable[..., Any]) -> bool:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return True  # a builtin such as operator.add: trust it
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) == 2


def same_channel(a: BaseChannel, b: BaseChannel) -> bool:
    """Whether a second schema's ``b`` agrees with the known ``a`` for a key.

    A plain key (``LastValue``) reads whatever the state keeps; otherwise one
    channel kind and one reducer (a lambda matches any, as in LangGraph).
    """
    if isinstance(b, LastValue):
        return True
    if type(a) is not type(b):
        return False
    ra, rb = getattr(a, "reducer", None), getattr(b, "reducer", None)
    if ra is None or rb is None or ra is rb:
        return True
    return "<lambda>" in (getattr(ra, "__name__", ""), getattr(rb, "__name__", ""))


def state_coercer(schema: Any) -> Callable[[dict[str, Any]], Any] | None:
    """How to build the schema's type from a dict of values (``None`` for plain dicts)."""
    if is_pydantic(schema) or (isinstance(schema, type) and dataclasses.is_dataclass(schema)):
        return lambda values: schema(**values)
    return None


def object_to_dict(value: Any) -> dict[str, Any]:
    """A dataclass or pydantic instance as a dict of its fields (as a node's update); dicts pass through."""
    if isinstance(value, dict):
        return value
    fields = object_updates(value)
    return value if fields is None else fields  # anything else is rejected later with a typed error
