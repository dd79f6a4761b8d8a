"""Which classes the serializer may store and load: the registry and threadloom's own plain types.

Loading turns a stored class name back into a class only through this module:
a registered class, one of threadloom's few plain types (:class:`~threadloom.types.Send`,
the ``MISSING`` sentinel), or a class of the right kind found in a module the
program has already imported. Nothing here imports a module a stored name chooses,
and no attribute lookup can reach a module's lazy ``__getattr__``.
"""

from __future__ import annotations

import dataclasses
import enum
import sys
import threading
from collections.abc import Callable
from functools import cache
from typing import Any

from threadloom.errors import SerializationError

__all__ = ["register_type"]


@dataclasses.dataclass(frozen=True)
class Registered:
    """One class given to :func:`register_type`."""

    cls: type
    name: str
    to_data: Callable[[Any], Any] | None
    from_data: Callable[[Any], Any] | None


BY_TYPE: dict[type, Registered] = {}
BY_NAME: dict[str, Registered] = {}
ENCODER_CACHE: dict[type, Callable[[Any], Any]] = {}
"""Encoders per type (filled by ``_encode``); cleared whenever the registry changes."""
_LOCK = threading.Lock()


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
    entry = Registered(cls, name or class_name(cls), to_data, from_data)
    with _LOCK:
        BY_TYPE[cls] = entry
        BY_NAME[entry.name] = entry
        ENCODER_CACHE.clear()
    return cls


def class_name(cls: type) -> str:
    """What is stored for ``cls``: ``module:qualname``."""
    return f"{cls.__module__}:{cls.__qualname__}"


# --- kinds ------------------------------------------------------------------

KIND_WORDS = {"enum": "enum", "nt": "named tuple", "dc": "dataclass", "pyd": "pydantic model"}


def structural_kind(cls: type) -> str | None:
    """``enum``, ``nt``, ``dc`` or ``pyd`` for the class kinds stored field by field; else None."""
    if issubclass(cls, enum.Enum):
        return "enum"
    if issubclass(cls, tuple) and hasattr(cls, "_fields"):
        return "nt"
    if dataclasses.is_dataclass(cls):
        return "dc"
    if hasattr(cls, "__pydantic_fields_set__") and hasattr(cls, "model_fields"):
        return "pyd"
    return None


# --- threadloom's own plain types ---------------------------------------------


@dataclasses.dataclass(frozen=True)
class PlainType:
    """A plain (non-dataclass) class of threadloom's that checkpoints hold: its fields and constructor."""

    cls: type
    fields: tuple[str, ...]
    build: Callable[..., Any]


@cache
def plain_types() -> dict[str, PlainType]:
    """Stored name -> plain type; imported here (fixed modules, never chosen by stored data)."""
    from threadloom.types import Send

    return {class_name(Send): PlainType(Send, ("node", "arg"), Send)}


@cache
def constants() -> dict[str, Any]:
    """Stored name -> module-level instance that must load as the very same object."""
    from threadloom.channels.base import MISSING

    return {"threadloom.channels.base:MISSING": MISSING}


# --- resolving stored names -----------------------------------------------------


def find_class(name: Any) -> type:
    """The class a stored ``module:qualname`` names, from the registry or an imported module.

    Never imports: a module that is not in ``sys.modules`` is refused. Attributes
    are read from ``__dict__`` so that a module's ``__getattr__`` (lazy imports)
    never runs.
    """
    if not isinstance(name, str):
        raise SerializationError(f"stored class name is not a string: {name!r}")
    entry = BY_NAME.get(name)
    if entry is not None:
        return entry.cls
    module_name, sep, qualname = name.partition(":")
    if not sep or not qualname:
        raise SerializationError(f"stored class name {name!r} is not 'module:qualname'")
    module = sys.modules.get(module_name)
    if module is None:
        raise SerializationError(
            f"cannot load class {name}: its module is not imported, and loading never imports "
            "anything; import it first or pass the class to register_type()"
        )
    found: Any = module
    for part in qualname.split("."):
        try:
            found = vars(found).get(part)
        except TypeError:  # no __dict__ (a slotted instance): not a namespace
            found = None
        if found is None:
            raise SerializationError(f"cannot load class {name}: no such class in {module_name}")
    if not isinstance(found, type):
        raise SerializationError(f"cannot load {name}: it is not a class")
    return found
