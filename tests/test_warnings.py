"""Deprecated spellings still work, and warn with LangGraph's warning classes."""

from __future__ import annotations

import textwrap
import warnings
from typing import Any, TypedDict

import pytest
from typing_extensions import TypedDict as PydanticTypedDict

import threadloom.warnings as warnings_module
from threadloom.func import entrypoint
from threadloom.graph import START, StateGraph
from threadloom.types import Interrupt, RetryPolicy
from threadloom.warnings import (
    LangGraphDeprecatedSinceV05,
    LangGraphDeprecatedSinceV10,
    LangGraphDeprecatedSinceV11,
    LangGraphDeprecationWarning,
)


class State(TypedDict):
    n: int


class Context(PydanticTypedDict):  # pydantic reads it on Python < 3.12 (config_schema)
    user: str


def compiled(**kwargs: Any) -> Any:
    builder = StateGraph(State, **kwargs)
    builder.add_node("step", lambda s: {"n": s["n"] + 1})
    builder.add_edge(START, "step")
    return builder.compile()


def test_the_warning_names_when_it_was_deprecated_and_when_it_goes() -> None:
    warning = LangGraphDeprecatedSinceV10("`old` is deprecated. Use `new` instead.")
    assert isinstance(warning, DeprecationWarning)
    assert isinstance(warning, LangGraphDeprecationWarning)
    assert (warning.since, warning.expected_removal) == ((1, 0), (2, 0))
    assert str(warning) == (
        "`old` is deprecated. Use `new` instead. Deprecated in LangGraph V1.0 to be removed in V2.0."
    )
    assert LangGraphDeprecatedSinceV05("x").expected_removal == (2, 0)
    assert LangGraphDeprecatedSinceV11("x").expected_removal == (3, 0)
    assert LangGraphDeprecationWarning("x", since=(1, 4)).expected_removal == (2, 0)


def test_the_module_docstring_example_runs() -> None:
    assert warnings_module.__doc__ is not None
    exec(textwrap.dedent(warnings_module.__doc__.split("Example::")[1]), {})


def test_the_new_keywords_do_not_warn() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        compiled(context_schema=Context, input_schema=State, output_schema=State)


def test_entrypoint_old_keywords_warn_and_still_apply() -> None:
    with pytest.warns(LangGraphDeprecatedSinceV10, match="`config_schema`"):
        decorator = entrypoint(config_schema=Context)
    assert decorator.context_schema is Context
    policy = RetryPolicy(max_attempts=2)
    with pytest.warns(LangGraphDeprecatedSinceV05, match="Please use `retry_policy`"):
        assert entrypoint(retry=policy).retry_policy == policy


def test_config_schema_and_its_json_schema_are_deprecated_views_of_the_context() -> None:
    graph = compiled(context_schema=Context)
    with pytest.warns(LangGraphDeprecatedSinceV10, match="Use `get_context_jsonschema`"):
        model = graph.config_schema(include=["tags"])
    assert set(model.model_fields) == {"configurable", "tags"}
    with pytest.warns(LangGraphDeprecatedSinceV10, match="`get_config_jsonschema` is deprecated"):
        schema = graph.get_config_jsonschema()
    assert schema["properties"]["configurable"]["$ref"].endswith("/Context")
    with pytest.warns(LangGraphDeprecatedSinceV10):
        assert compiled().get_config_jsonschema()["properties"] == {}


def test_checkpoint_during_and_interrupt_id_warn() -> None:
    with pytest.warns(LangGraphDeprecatedSinceV10, match="Please use `durability`"):
        compiled().invoke({"n": 0}, checkpoint_during=False)
    with pytest.warns(LangGraphDeprecatedSinceV10, match="`interrupt_id` is deprecated"):
        assert Interrupt(value="v", id="abc").interrupt_id == "abc"
