"""ValidationNode: answers tool calls with validated arguments or the validation error."""

from __future__ import annotations

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.tools import tool
from pydantic import BaseModel

from threadloom.prebuilt import ValidationNode


class Point(BaseModel):
    x: int
    y: int


def area(width: int, height: int) -> int:
    """Area of a rectangle."""
    return width * height


@tool
def scale(factor: float) -> float:
    """Scale."""
    return factor


def _message(*calls: tuple[str, dict[str, object]]) -> AIMessage:
    return AIMessage(
        "", tool_calls=[{"name": n, "args": a, "id": str(i)} for i, (n, a) in enumerate(calls)]
    )


def test_valid_calls_are_answered_with_their_parsed_arguments() -> None:
    """Models, functions and tools validate; the answer is the arguments as JSON."""
    node = ValidationNode([Point, area, scale])
    out = node.invoke(
        {
            "messages": [
                _message(
                    ("Point", {"x": 1, "y": "2"}),
                    ("area", {"width": 2, "height": 3}),
                    ("scale", {"factor": 2}),
                )
            ]
        }
    )
    assert [m.content for m in out["messages"]] == [
        '{"x":1,"y":2}',
        '{"width":2,"height":3}',
        '{"factor":2.0}',
    ]
    assert all(not m.additional_kwargs.get("is_error") for m in out["messages"])


def test_invalid_calls_are_marked_as_errors() -> None:
    """A failing call's answer holds the error and is_error=True; a list input gives a list."""
    out = ValidationNode([Point]).invoke([_message(("Point", {"x": "nope"}))])
    assert out[0].additional_kwargs == {"is_error": True}
    assert "validation error" in out[0].content and "Respond after fixing" in out[0].content


def test_custom_error_format() -> None:
    """format_error chooses the error text."""
    node = ValidationNode([Point], format_error=lambda e, call, schema: f"fix {call['name']}")
    assert node.invoke([_message(("Point", {}))])[0].content == "fix Point"


def test_bad_inputs_are_value_errors() -> None:
    """The last message must be an AI message; schemas must be models, tools or functions."""
    with pytest.raises(ValueError, match="Last message is not an AIMessage"):
        ValidationNode([Point]).invoke([HumanMessage("hi")])
    with pytest.raises(ValueError, match="Unsupported input"):
        ValidationNode([42])  # type: ignore[list-item]
