"""JSON schemas of a graph's input, output and context types (``get_input_jsonschema``, ...)."""

from __future__ import annotations

from typing import Any

__all__ = ["json_schema"]


def json_schema(tp: Any, title: str) -> dict[str, Any]:
    """The JSON schema of ``tp``; a type with no title of its own gets ``title``."""
    if tp is None or tp is Any:
        return {"title": title}
    from pydantic import TypeAdapter

    schema = TypeAdapter(tp).json_schema()
    if "title" not in schema:
        schema = {**schema, "title": title}
    return schema
