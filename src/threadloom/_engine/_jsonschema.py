"""JSON schemas of a graph's input, output and context types (``get_input_jsonschema``, ...)."""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any

__all__ = ["json_schema"]


def json_schema(tp: Any, title: str) -> dict[str, Any]:
    """The JSON schema of ``tp``; a type with no title of its own gets ``title``.

    As in LangGraph, a dataclass field whose type admits ``None`` is optional
    even without a default.
    """
    if tp is None or tp is Any:
        return {"title": title}
    from pydantic import TypeAdapter

    schema = TypeAdapter(tp).json_schema()
    if "title" not in schema:
        schema = {**schema, "title": title}
    required = schema.get("required")
    if required and dataclasses.is_dataclass(tp):  # TypedDicts and models decide for themselves
        nullable = _nullable_fields(tp)
        kept = [k for k in required if k not in nullable]
        schema = {**schema, "required": kept} if kept else _without(schema, "required")
    return schema


def _without(schema: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in schema.items() if k != key}


def _nullable_fields(tp: Any) -> set[str]:
    try:
        hints = typing.get_type_hints(tp)
    except Exception:
        return set()
    return {k for k, hint in hints.items() if _admits_none(hint)}


def _admits_none(hint: Any) -> bool:
    if hint is None or hint is type(None):
        return True
    origin = typing.get_origin(hint)
    if origin is typing.Union or origin is types.UnionType:
        return any(_admits_none(arg) for arg in typing.get_args(hint))
    return False
