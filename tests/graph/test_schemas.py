"""State schemas: TypedDict, dataclass and pydantic states; input, output and context schemas."""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from typing import Annotated

import pydantic
from typing_extensions import TypedDict

from threadloom.graph import START, StateGraph
from threadloom.runtime import Runtime


@dataclass
class DCState:
    n: int
    log: Annotated[list[str], operator.add] = field(default_factory=list)


class PState(pydantic.BaseModel):
    n: int
    log: Annotated[list[str], operator.add] = []


class In(TypedDict):
    question: str


class Out(TypedDict):
    answer: str


class Overall(In, Out):
    scratch: str


class Full(TypedDict):
    a: int
    b: int


class OnlyA(TypedDict):
    a: int


@dataclass
class Ctx:
    user: str


class Owned(TypedDict):
    owner: str


def test_dataclass_state_reaches_nodes_as_an_instance() -> None:
    """With a dataclass schema, nodes receive an instance and may return a dict."""
    seen = []

    def node(state: DCState) -> dict:
        seen.append(type(state))
        return {"n": state.n + 1, "log": ["x"]}

    builder = StateGraph(DCState)
    builder.add_node("node", node)
    builder.add_edge(START, "node")
    assert builder.compile().invoke({"n": 1}) == {"n": 2, "log": ["x"]}
    assert seen == [DCState]


def test_pydantic_state_reaches_nodes_as_a_model_and_accepts_model_input() -> None:
    """With a pydantic schema, nodes receive a model; a model instance is a valid input."""

    def node(state: PState) -> dict:
        assert isinstance(state, PState)
        return {"n": state.n * 10}

    builder = StateGraph(PState)
    builder.add_node("node", node)
    builder.add_edge(START, "node")
    assert builder.compile().invoke(PState(n=2))["n"] == 20


def test_input_and_output_schemas_narrow_the_graph_interface() -> None:
    """input_schema keys are accepted, output_schema keys are returned; internals stay inside."""

    def think(state: Overall) -> dict:
        return {"scratch": state["question"].upper()}

    def respond(state: Overall) -> dict:
        return {"answer": state["scratch"] + "!"}

    builder = StateGraph(Overall, input_schema=In, output_schema=Out)
    builder.add_sequence([think, respond])
    builder.add_edge(START, "think")
    assert builder.compile().invoke({"question": "hi"}) == {"answer": "HI!"}


def test_node_with_its_own_input_schema_sees_only_those_keys() -> None:
    """A node annotated with a narrower schema receives only that schema's keys."""

    seen = {}

    def node(state: OnlyA) -> dict:
        seen.update(state)
        return {"b": state["a"] + 1}

    builder = StateGraph(Full)
    builder.add_node("node", node)
    builder.add_edge(START, "node")
    assert builder.compile().invoke({"a": 1, "b": 0}) == {"a": 1, "b": 2}
    assert seen == {"a": 1}


def test_context_schema_types_runtime_context() -> None:
    """context= passed to invoke reaches nodes as runtime.context."""

    def node(state: Owned, runtime: Runtime[Ctx]) -> dict:
        return {"owner": runtime.context.user}

    builder = StateGraph(Owned, context_schema=Ctx)
    builder.add_node("node", node)
    builder.add_edge(START, "node")
    assert builder.compile().invoke({"owner": ""}, context=Ctx("ann")) == {"owner": "ann"}
