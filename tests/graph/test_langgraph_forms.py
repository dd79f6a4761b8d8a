"""LangGraph's spellings and messages around building and schemas, behaving as LangGraph's do."""

from __future__ import annotations

import logging
import operator
import warnings
from dataclasses import dataclass
from typing import Annotated, Any

import pydantic
import pytest
from langchain_core.messages import AIMessage, AnyMessage, BaseMessage, HumanMessage
from typing_extensions import TypedDict

from threadloom.channels import BinaryOperatorAggregate, EphemeralValue
from threadloom.errors import GraphBuildError, InvalidCheckpointerError, InvalidUpdateError
from threadloom.graph import END, START, StateGraph
from threadloom.graph.message import add_messages, push_message
from threadloom.managed import RemainingSteps
from threadloom.runtime import Runtime
from threadloom.testing.graph import GraphClient
from threadloom.types import Command, RetryPolicy
from threadloom.warnings import LangGraphDeprecatedSinceV05, LangGraphDeprecatedSinceV10


class Msg(TypedDict):
    message: str


@dataclass
class DCContext:
    api_key: str
    retries: int = 1


class PContext(pydantic.BaseModel):
    api_key: str
    timeout: int = 30


class Overall(TypedDict):
    foo: Annotated[int, operator.add]
    bar: str


class RouterState(TypedDict):
    baz: str


class Extra(TypedDict):
    scratch: str


class Step:
    def __call__(self, state: Extra) -> dict:
        return {"message": state["scratch"]}


def _context_graph(schema: type) -> Any:
    def node(state: Msg, runtime: Runtime[Any]) -> dict:
        ctx = runtime.context
        assert isinstance(ctx, schema)
        return {"message": f"{ctx.api_key}:{type(ctx).__name__}"}

    builder = StateGraph(Msg, context_schema=schema)
    builder.add_node("node", node)
    builder.add_edge(START, "node")
    return builder.compile()


@pytest.mark.parametrize("schema", [DCContext, PContext])
async def test_a_context_dict_is_built_into_the_context_schema(
    client: GraphClient, schema: type
) -> None:
    """``context={...}`` reaches nodes as an instance of the dataclass or pydantic context schema."""
    out = await client.invoke(_context_graph(schema), {"message": ""}, context={"api_key": "k"})
    assert out == {"message": f"k:{schema.__name__}"}


async def test_a_bad_context_dict_raises_the_schema_class_error(client: GraphClient) -> None:
    """Missing or unknown fields raise TypeError (dataclass) or ValidationError (pydantic)."""
    with pytest.raises(TypeError):
        await client.invoke(_context_graph(DCContext), {"message": ""}, context={"retries": 2})
    with pytest.raises(TypeError):
        await client.invoke(
            _context_graph(DCContext), {"message": ""}, context={"api_key": "k", "bogus": 1}
        )
    with pytest.raises(pydantic.ValidationError):
        await client.invoke(
            _context_graph(PContext), {"message": ""}, context={"api_key": "k", "timeout": "x"}
        )


def test_push_message_streams_and_writes_a_message() -> None:
    """push_message sends on the messages stream and appends to the state, once; no id is refused."""

    class Chat(TypedDict):
        messages: Annotated[list[AnyMessage], add_messages]

    def chat(state: Chat) -> None:
        with pytest.raises(ValueError, match="Message ID is required"):
            push_message(AIMessage("no id"))
        push_message(AIMessage("first", id="1"))
        push_message(HumanMessage("only streamed", id="2"), state_key=None)

    builder = StateGraph(Chat).add_node(chat).add_edge(START, "chat")
    streamed, values = [], None
    for mode, chunk in builder.compile().stream(
        {"messages": []}, stream_mode=["messages", "values"]
    ):
        if mode == "values":
            values = chunk
        else:
            streamed.append(chunk[0].id)
    assert streamed == ["1", "2"]
    assert values is not None and [m.id for m in values["messages"]] == ["1"]


def test_push_message_outside_a_node_says_where_it_works() -> None:
    """Called outside a running node, push_message raises a clear RuntimeError."""
    with pytest.raises(RuntimeError, match="inside a running graph node"):
        push_message(AIMessage("x", id="1"))


def test_add_messages_with_a_format_returns_a_formatting_reducer() -> None:
    """``add_messages(format="langchain-openai")`` is a reducer; bad calls raise ValueError."""
    reducer = add_messages(format="langchain-openai")
    merged = reducer([HumanMessage("hi", id="1")], [AIMessage([{"type": "text", "text": "yo"}])])
    assert [m.content for m in merged] == ["hi", "yo"]
    with pytest.raises(ValueError, match="Unrecognized format"):
        add_messages(format="xml")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="Only received: 'left'"):
        add_messages([HumanMessage("hi")])


async def test_pydantic_updates_leave_unset_none_fields_alone(client: GraphClient) -> None:
    """A model returned as an update (or in a Command) does not reset fields left at None."""

    class State(pydantic.BaseModel):
        foo: str | None = None
        bar: str | None = None

    builder = StateGraph(State)
    builder.add_node("a", lambda s: State(foo="foo"))
    builder.add_node("b", lambda s: Command(update=State(bar="bar")))
    builder.add_edge(START, "a")
    builder.add_edge("a", "b")
    builder.add_edge("b", END)
    assert await client.invoke(builder.compile(), State()) == {"foo": "foo", "bar": "bar"}


async def test_a_path_function_with_its_own_schema_reads_only_its_keys(
    client: GraphClient,
) -> None:
    """A router annotated with a private schema gets those keys; the output keeps the state's."""

    seen: list[dict] = []

    def router(state: RouterState) -> str:
        seen.append(dict(state))
        return "finish"

    builder = StateGraph(Overall)
    builder.add_node("start", lambda s: {"foo": 1, "baz": "meow"})
    builder.add_node("finish", lambda s: {"foo": 1, "bar": "done"})
    builder.add_edge(START, "start")
    builder.add_conditional_edges("start", router)
    assert await client.invoke(builder.compile(), {"foo": 0}) == {"foo": 2, "bar": "done"}
    assert seen == [{"baz": "meow"}]


def test_deprecated_spellings_warn_as_langgraph_does() -> None:
    """``retry=``, ``input=`` and ``config_schema=`` still work and warn with LangGraph's classes."""
    with pytest.warns(LangGraphDeprecatedSinceV05, match="`retry` is deprecated"):
        builder = StateGraph(Msg).add_node("n", lambda s: {}, retry=RetryPolicy())
    assert builder.nodes["n"].retry_policy == RetryPolicy()
    with pytest.warns(LangGraphDeprecatedSinceV05, match="`input` is deprecated"):
        StateGraph(Msg, input=Msg)
    with pytest.warns(LangGraphDeprecatedSinceV10, match="Deprecated in LangGraph V1.0"):
        graph = StateGraph(Msg, config_schema=DCContext)
    assert graph.context_schema is DCContext


def test_add_node_accepts_langgraph_keywords() -> None:
    """``trace_policy``, ``destinations``, ``defer`` and ``metadata`` are accepted; unknown ones are not."""
    builder = StateGraph(Msg)
    builder.add_node(
        "n", lambda s: {}, trace_policy=None, destinations=("m",), defer=True, metadata={"k": 1}
    )
    assert builder.nodes["n"].metadata == {"k": 1} and builder.nodes["n"].defer
    with pytest.raises(TypeError, match="unexpected arguments"):
        builder.add_node("m", lambda s: {}, colour="red")


def test_a_reducer_with_the_wrong_signature_is_a_build_error() -> None:
    """A one-argument callable as the reducer is refused at build time with LangGraph's text."""

    class Bad(TypedDict):
        n: Annotated[int, lambda x: x]

    with pytest.raises(GraphBuildError, match=r"Invalid reducer signature. Expected \(a, b\) -> c"):
        StateGraph(Bad)


def test_build_errors_use_langgraph_texts() -> None:
    """The messages users search for: reserved names and characters, edges, sequences."""
    builder = StateGraph(Msg)
    with pytest.raises(ValueError, match="Node `__start__` is reserved"):
        builder.add_node(START, lambda s: {})
    with pytest.raises(ValueError, match="':' is a reserved character"):
        builder.add_node("a:b", lambda s: {})
    with pytest.raises(ValueError, match="END cannot be a start node"):
        builder.add_edge(END, "a")
    with pytest.raises(ValueError, match="START cannot be an end node"):
        builder.add_edge("a", START)
    with pytest.raises(ValueError, match="Sequence requires at least one node"):
        builder.add_sequence([])
    builder.add_node("a", lambda s: {}).add_edge(START, "a").add_edge("zz", "a")
    with pytest.raises(ValueError, match="Found edge starting at unknown node 'zz'"):
        builder.compile()


def test_adding_a_node_after_compile_logs_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    """As in LangGraph, the compiled graph does not change and a warning says so."""
    builder = StateGraph(Msg).add_node("a", lambda s: {}).add_edge(START, "a")
    graph = builder.compile()
    with caplog.at_level(logging.WARNING, logger="threadloom.graph.state"):
        builder.add_node("late", lambda s: {})
    assert "already been compiled" in caplog.text
    assert "late" not in graph.nodes


def test_a_callable_object_is_named_and_typed_by_its_call_method() -> None:
    """``add_node(obj)``: named after its class; ``__call__``'s first hint is its input schema."""

    builder = StateGraph(Msg).add_node(Step())
    assert "Step" in builder.nodes and "scratch" in builder.channels


def test_compiled_graph_exposes_its_state_channels() -> None:
    """``graph.channels`` maps each state key to its channel, as in LangGraph."""

    class Totals(TypedDict):
        total: Annotated[int, operator.add]

    graph = StateGraph(Totals).add_node("a", lambda s: {}).add_edge(START, "a").compile()
    assert isinstance(graph.channels["total"], BinaryOperatorAggregate)


def test_dataclass_fields_that_admit_none_are_optional_in_the_input_schema() -> None:
    """A field typed ``X | None`` needs no value, as LangGraph's JSON schema says."""

    @dataclass
    class In:
        required: str
        maybe: int | None

    graph = StateGraph(In).add_node("a", lambda s: {}).add_edge(START, "a").compile()
    assert graph.get_input_jsonschema()["required"] == ["required"]


def test_invalid_state_schema_warns_with_langgraph_text() -> None:
    """A value where a type belongs draws LangGraph's warning."""
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with pytest.raises(GraphBuildError):
            StateGraph({"not": "a type"})  # type: ignore[arg-type]
    assert any("Invalid state_schema" in str(w.message) for w in seen)


class Sums(TypedDict):
    total: Annotated[int, operator.add]


class Products(TypedDict):
    total: Annotated[int, operator.mul]


class PlainTotal(TypedDict):
    total: int


def test_a_key_declared_with_another_reducer_elsewhere_is_a_build_error() -> None:
    """A node schema giving a state key another reducer is refused; a plain declaration is fine."""
    builder = StateGraph(Sums)
    builder.add_node("plain", lambda s: {}, input_schema=PlainTotal)
    with pytest.raises(
        GraphBuildError, match="Channel 'total' already exists with a different type"
    ):
        builder.add_node("mul", lambda s: {}, input_schema=Products)


class WithSteps(TypedDict):
    message: str
    remaining_steps: RemainingSteps


def test_managed_values_are_refused_in_input_and_output_schemas() -> None:
    """``RemainingSteps`` belongs in the state schema, not in what the graph takes or returns."""
    StateGraph(WithSteps)  # fine as the state
    with pytest.raises(GraphBuildError, match="Managed channels are not permitted"):
        StateGraph(Msg, input_schema=WithSteps)


def test_compile_refuses_something_that_is_not_a_checkpointer() -> None:
    """``compile(checkpointer=object())`` is a TypeError with LangGraph's text, before any run."""
    builder = StateGraph(Msg).add_node("a", lambda s: {}).add_edge(START, "a")
    with pytest.raises(InvalidCheckpointerError, match="Invalid checkpointer provided") as caught:
        builder.compile(checkpointer=object())
    assert isinstance(caught.value, TypeError)
    builder.compile(checkpointer=True)  # a subgraph's own persistence is allowed


def test_concurrent_writes_to_a_plain_key_use_langgraph_text() -> None:
    """Two writers of a key without a reducer: LangGraph's message, naming the key and the nodes."""
    builder = StateGraph(Msg)
    builder.add_node("p", lambda s: {"message": "p"})
    builder.add_node("q", lambda s: {"message": "q"})
    builder.add_edge(START, "p")
    builder.add_edge(START, "q")
    with pytest.raises(InvalidUpdateError, match="At key 'message': Can receive only one value"):
        builder.compile().invoke({"message": ""})


class Signal(TypedDict):
    ping: Annotated[int, "doc", EphemeralValue(int)]


def test_a_channel_instance_in_annotated_is_copied_per_graph() -> None:
    """Two graphs over one schema whose key holds a channel instance never share its value."""

    def graph() -> Any:
        return StateGraph(Signal).add_node("a", lambda s: {}).add_edge(START, "a").compile()

    first, second = graph().channels["ping"], graph().channels["ping"]
    assert first is not second and first.key == "ping"


class Steps(TypedDict):
    first: str
    second: str


async def test_a_node_may_share_its_name_with_a_state_key(client: GraphClient) -> None:
    """As in LangGraph 1.x, node ``first`` may write state key ``first``; updates stream by node."""
    builder = StateGraph(Steps)
    builder.add_node("first", lambda s: {"first": "done"})
    builder.add_node("second", lambda s: {"second": s["first"] + "!"})
    builder.add_edge(START, "first")
    builder.add_edge("first", "second")
    graph = builder.compile()
    assert await client.invoke(graph, {"first": "", "second": ""}) == {
        "first": "done",
        "second": "done!",
    }
    updates = await client.stream(graph, {"first": "", "second": ""}, stream_mode="updates")
    assert updates == [{"first": {"first": "done"}}, {"second": {"second": "done!"}}]


def test_a_typeddict_whose_one_key_is_root_is_a_one_value_state() -> None:
    """``class State(TypedDict): __root__: Annotated[list, add_messages]`` is the state
    ``Annotated[list, add_messages]``: nodes take and return the list itself, as in LangGraph."""
    class State(TypedDict):
        __root__: Annotated[list[BaseMessage], add_messages]

    seen: list[Any] = []

    def reply(messages: list[BaseMessage]) -> list[BaseMessage]:
        seen.append(messages)
        return [AIMessage("hello", id="a1")]

    builder = StateGraph(State)
    builder.add_node("reply", reply)
    builder.add_edge(START, "reply")
    out = builder.compile().invoke(HumanMessage("hi", id="h1"))
    assert [m.content for m in out] == ["hi", "hello"]
    assert [m.content for m in seen[0]] == ["hi"]
