"""The compiled graph is a LangChain ``Runnable``: batching, binding, piping, events and callbacks."""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import UUID

import pytest
from langchain_core.callbacks import AsyncCallbackHandler, BaseCallbackHandler
from langchain_core.messages import HumanMessage
from langchain_core.runnables import Runnable, RunnableLambda
from typing_extensions import TypedDict

from threadloom.channels import LastValue
from threadloom.errors import GraphRecursionError
from threadloom.func import entrypoint, task
from threadloom.graph import END, START, MessagesState, StateGraph
from threadloom.pregel import NodeBuilder, Pregel
from threadloom.testing.models import FakeChatModel
from threadloom.types import interrupt


class State(TypedDict):
    n: int


def add_one(state: State) -> dict[str, int]:
    return {"n": state["n"] + 1}


def doubling_graph() -> Any:
    """START -> inc (a function) -> dbl (a named runnable) -> END."""
    builder = StateGraph(State)
    builder.add_node("inc", add_one)
    builder.add_node("dbl", RunnableLambda(lambda s: {"n": s["n"] * 2}, name="doubler"))
    builder.add_edge(START, "inc")
    builder.add_edge("inc", "dbl")
    builder.add_edge("dbl", END)
    return builder.compile()


def looping_graph() -> Any:
    builder = StateGraph(State)
    builder.add_node("inc", add_one)
    builder.add_edge(START, "inc")
    builder.add_conditional_edges("inc", lambda s: END if s["n"] >= 10 else "inc")
    return builder.compile()


class Recorder(BaseCallbackHandler):
    """Records chain runs as (event, name, run_id, parent_run_id, tags)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Any, UUID, UUID | None, list[str]]] = []
        self.names: dict[UUID, str] = {}

    def on_chain_start(self, serialized: Any, inputs: Any, **kw: Any) -> None:
        self.names[kw["run_id"]] = kw.get("name")
        self.events.append(
            ("start", kw.get("name"), kw["run_id"], kw.get("parent_run_id"), kw.get("tags") or [])
        )

    def on_chain_end(self, outputs: Any, **kw: Any) -> None:
        self.events.append(("end", outputs, kw["run_id"], kw.get("parent_run_id"), []))

    def on_chain_error(self, error: BaseException, **kw: Any) -> None:
        self.events.append(("error", error, kw["run_id"], kw.get("parent_run_id"), []))

    def parent_of(self, name: str) -> str | None:
        """The name of the run that ``name``'s run is nested in."""
        for kind, run_name, _, parent, _ in self.events:
            if kind == "start" and run_name == name:
                return None if parent is None else self.names[parent]
        raise AssertionError(f"no run named {name!r}")

    def started(self) -> list[str]:
        return [name for kind, name, *_ in self.events if kind == "start"]


class AsyncRecorder(AsyncCallbackHandler, Recorder):
    """The recorder as an async handler (what ``astream_events`` uses)."""

    async def on_chain_start(self, serialized: Any, inputs: Any, **kw: Any) -> None:  # type: ignore[override]
        Recorder.on_chain_start(self, serialized, inputs, **kw)

    async def on_chain_end(self, outputs: Any, **kw: Any) -> None:  # type: ignore[override]
        Recorder.on_chain_end(self, outputs, **kw)

    async def on_chain_error(self, error: BaseException, **kw: Any) -> None:  # type: ignore[override]
        Recorder.on_chain_error(self, error, **kw)


# --- the Runnable surface ---------------------------------------------------------------


def test_a_compiled_graph_is_a_runnable() -> None:
    """StateGraph and Pregel graphs are LangChain runnables."""
    assert isinstance(doubling_graph(), Runnable)
    app = Pregel(
        nodes={"n": NodeBuilder().subscribe_only("a").do(lambda x: x + 1).write_to("b")},
        channels={"a": LastValue(int), "b": LastValue(int)},
        input_channels="a",
        output_channels="b",
    )
    assert isinstance(app, Runnable)
    assert app.batch([1, 2, 3]) == [2, 3, 4]


def test_batch_and_abatch_run_each_input() -> None:
    """batch/abatch return one output per input, in order."""
    graph = doubling_graph()
    assert graph.batch([{"n": 1}, {"n": 2}, {"n": 5}]) == [{"n": 4}, {"n": 6}, {"n": 12}]
    assert asyncio.run(graph.abatch([{"n": 0}, {"n": 3}])) == [{"n": 2}, {"n": 8}]


def test_batch_return_exceptions_keeps_the_other_results() -> None:
    """A failing input gives its exception in place; the others still run."""
    graph = looping_graph()
    out = graph.batch([{"n": 9}, {"n": 0}], {"recursion_limit": 3}, return_exceptions=True)
    assert out[0] == {"n": 10}
    assert isinstance(out[1], GraphRecursionError)


def test_with_config_binds_the_config_of_every_call() -> None:
    """with_config(recursion_limit=...) applies to invoke, stream and ainvoke."""
    bound = looping_graph().with_config(recursion_limit=3)
    with pytest.raises(GraphRecursionError):
        bound.invoke({"n": 0})
    with pytest.raises(GraphRecursionError):
        list(bound.stream({"n": 0}))
    with pytest.raises(GraphRecursionError):
        asyncio.run(bound.ainvoke({"n": 0}))
    assert bound.invoke({"n": 9}) == {"n": 10}


def test_with_config_metadata_reaches_the_nodes() -> None:
    """Metadata bound with with_config is in the config a node receives."""
    seen: list[Any] = []

    def node(state: State, config: Any) -> dict[str, int]:
        seen.append(config["metadata"].get("user"))
        return {"n": 1}

    builder = StateGraph(State)
    builder.add_node("node", node)
    builder.add_edge(START, "node")
    builder.compile().with_config(metadata={"user": "ann"}).invoke({"n": 0})
    assert seen == ["ann"]


def test_piping_and_retry() -> None:
    """A graph composes with | and with_retry like any runnable."""
    chain = doubling_graph() | RunnableLambda(lambda s: s["n"])
    assert chain.invoke({"n": 3}) == 8
    calls = {"n": 0}

    def flaky(state: State) -> dict[str, int]:
        calls["n"] += 1
        if calls["n"] < 3:
            raise ConnectionError("try again")
        return {"n": calls["n"]}

    builder = StateGraph(State)
    builder.add_node("flaky", flaky)
    builder.add_edge(START, "flaky")
    graph = builder.compile().with_retry(
        retry_if_exception_type=(ConnectionError,),
        stop_after_attempt=3,
        wait_exponential_jitter=False,
    )
    assert graph.invoke({"n": 0}) == {"n": 3}


def test_as_tool_runs_the_graph() -> None:
    """as_tool turns the graph into a tool whose arguments are the input state."""
    tool = doubling_graph().as_tool(name="double", description="doubles n plus one")
    assert tool.name == "double"
    assert tool.invoke({"n": 4}) == {"n": 10}


def test_nodes_show_what_each_node_runs() -> None:
    """graph.nodes[name].bound is the function or runnable given to add_node."""
    graph = doubling_graph()
    assert set(graph.nodes) == {"inc", "dbl"}
    assert graph.nodes["inc"].bound is add_one
    assert graph.nodes["inc"].invoke({"n": 1}) == {"n": 2}
    assert graph.nodes["dbl"].invoke({"n": 2}) == {"n": 4}
    assert asyncio.run(graph.nodes["dbl"].ainvoke({"n": 3})) == {"n": 6}


def test_input_and_output_types_and_config_specs() -> None:
    """The Runnable's types are the builder's schemas; no configurable fields are declared."""
    graph = doubling_graph()
    assert graph.InputType is State
    assert graph.OutputType is State
    assert graph.config_specs == []
    assert graph.get_input_jsonschema()["properties"] == {"n": {"title": "N", "type": "integer"}}
    assert graph.input_schema.model_json_schema()["$defs"]["State"]["required"] == ["n"]


# --- callbacks: the graph and each node as nested runs ---------------------------------


def test_callbacks_see_the_graph_and_each_node_as_nested_runs() -> None:
    """A handler sees one graph run, a run per node under it, and what a node calls under that."""
    recorder = Recorder()
    assert doubling_graph().invoke({"n": 1}, {"callbacks": [recorder]}) == {"n": 4}
    assert recorder.started()[1:] == ["inc", "dbl", "doubler"]
    graph_name = recorder.started()[0]
    assert recorder.parent_of(graph_name) is None
    assert recorder.parent_of("inc") == graph_name
    assert recorder.parent_of("dbl") == graph_name
    assert recorder.parent_of("doubler") == "dbl"
    tags = {name: tags for kind, name, _, _, tags in recorder.events if kind == "start"}
    (first,) = [t for t in tags["inc"] if t.startswith("graph:step:")]
    assert f"graph:step:{int(first.rsplit(':', 1)[1]) + 1}" in tags["dbl"]
    ends = [out for kind, out, *_ in recorder.events if kind == "end"]
    assert ends[-1] == {"n": 4}  # the graph's run closes last, with the output
    assert {"n": 2} in ends  # inc's run closes with what it returned


def test_callbacks_of_an_async_run() -> None:
    """ainvoke reports the same tree to an async handler."""
    recorder = AsyncRecorder()
    assert asyncio.run(doubling_graph().ainvoke({"n": 1}, {"callbacks": [recorder]})) == {"n": 4}
    graph_name = recorder.started()[0]
    assert recorder.started()[1:] == ["inc", "dbl", "doubler"]
    assert recorder.parent_of("dbl") == graph_name
    assert recorder.parent_of("doubler") == "dbl"


def test_a_failing_node_closes_its_run_and_the_graphs_with_the_error() -> None:
    """The node's run and the graph's run end in on_chain_error with the node's exception."""

    def boom(state: State) -> dict[str, int]:
        raise KeyError("missing")

    builder = StateGraph(State)
    builder.add_node("boom", boom)
    builder.add_edge(START, "boom")
    recorder = Recorder()
    with pytest.raises(KeyError):
        builder.compile().invoke({"n": 0}, {"callbacks": [recorder]})
    errors = [
        (recorder.names[run_id], err)
        for kind, err, run_id, _, _ in recorder.events
        if kind == "error"
    ]
    assert [name for name, _ in errors] == ["boom", recorder.started()[0]]
    assert all(isinstance(err, KeyError) for _, err in errors)


def test_an_interrupted_graphs_run_ends_with_its_state_without_the_interrupts() -> None:
    """The graph's run of a call that paused closes with the state, as LangGraph's does;
    only what invoke returns carries ``__interrupt__``."""

    def ask(state: State) -> dict[str, int]:
        return {"n": interrupt("how many?")}

    builder = StateGraph(State)
    builder.add_node("ask", ask)
    builder.add_edge(START, "ask")
    recorder = Recorder()
    out = builder.compile().invoke({"n": 1}, {"callbacks": [recorder]})
    assert "__interrupt__" in out
    graph_end = [o for kind, o, _, parent, _ in recorder.events if kind == "end" and not parent]
    assert graph_end == [{"n": 1}]


@task
def square(x: int, plus: int = 0) -> int:
    return x * x + plus


@task
async def asquare(x: int) -> int:
    return x * x


def test_each_task_call_is_a_run_under_its_entrypoints_run() -> None:
    """A ``@task`` call shows as a chain run named after the task, nested in the run of the
    entrypoint that called it, with its arguments by parameter name (defaults too)."""

    class Inputs(Recorder):
        def on_chain_start(self, serialized: Any, inputs: Any, **kw: Any) -> None:
            super().on_chain_start(serialized, inputs, **kw)
            self.inputs = [*getattr(self, "inputs", []), (kw.get("name"), inputs)]

    @entrypoint()
    def squares(xs: list[int]) -> list[int]:
        return [f.result() for f in [square(x) for x in xs]] + [square(1, plus=1).result()]

    recorder = Inputs()
    assert squares.invoke([2, 3], {"callbacks": [recorder]}) == [4, 9, 2]
    assert recorder.started()[1:] == ["squares", "square", "square", "square"]
    assert recorder.parent_of("square") == "squares"
    calls = [inputs for name, inputs in recorder.inputs if name == "square"]
    assert sorted(calls, key=str) == [{"x": 1, "plus": 1}, {"x": 2, "plus": 0}, {"x": 3, "plus": 0}]
    ends = [out for kind, out, *_ in recorder.events if kind == "end"]
    assert {4, 9, 2} <= {e for e in ends if isinstance(e, int)}


def test_async_task_calls_are_runs_under_their_entrypoints_run() -> None:
    """The same for async tasks, reported to an async handler."""

    @entrypoint()
    async def squares(xs: list[int]) -> list[int]:
        return [await asquare(x) for x in xs]

    recorder = AsyncRecorder()
    assert asyncio.run(squares.ainvoke([2], {"callbacks": [recorder]})) == [4]
    assert recorder.started()[1:] == ["squares", "asquare"]
    assert recorder.parent_of("asquare") == "squares"


def test_a_subgraph_run_nests_under_the_node_that_calls_it() -> None:
    """A compiled subgraph used as a node shows as a graph run inside that node's run."""
    child = StateGraph(State)
    child.add_node("inner", add_one)
    child.add_edge(START, "inner")
    parent = StateGraph(State)
    parent.add_node("sub", child.compile(name="child"))
    parent.add_edge(START, "sub")
    recorder = Recorder()
    assert parent.compile().invoke({"n": 0}, {"callbacks": [recorder]}) == {"n": 1}
    assert recorder.parent_of("child") == "sub"
    assert recorder.parent_of("inner") == "child"


def test_run_name_and_run_id_name_the_graphs_run_only() -> None:
    """config run_name/run_id identify the graph's run; its nodes get their own."""
    recorder = Recorder()
    run_id = UUID("12345678-1234-5678-1234-567812345678")
    doubling_graph().invoke(
        {"n": 1}, {"callbacks": [recorder], "run_name": "mine", "run_id": run_id}
    )
    starts = [(name, rid) for kind, name, rid, _, _ in recorder.events if kind == "start"]
    assert starts[0] == ("mine", run_id)
    assert [name for name, _ in starts[1:]] == ["inc", "dbl", "doubler"]
    assert all(rid != run_id for _, rid in starts[1:])


def test_no_callbacks_no_runs() -> None:
    """Without callbacks nothing is reported (and a later traced call is not affected)."""
    graph = doubling_graph()
    assert graph.invoke({"n": 1}) == {"n": 4}
    recorder = Recorder()
    graph.invoke({"n": 1}, {"callbacks": [recorder]})
    assert len(recorder.started()) == 4


# --- astream_events / astream_log ---------------------------------------------------------


def agent_graph() -> Any:
    model = FakeChatModel(responses=["hello there"])

    def call_model(state: MessagesState) -> dict[str, Any]:
        return {"messages": [model.invoke(state["messages"])]}

    builder = StateGraph(MessagesState)
    builder.add_node("call_model", call_model)
    builder.add_edge(START, "call_model")
    return builder.compile()


def test_astream_events_v2_shows_graph_nodes_and_model_tokens() -> None:
    """astream_events(version="v2"): the graph's start/stream/end, node runs and model tokens."""

    async def collect() -> list[dict[str, Any]]:
        inputs = {"messages": [HumanMessage("hi")]}
        return [e async for e in agent_graph().astream_events(inputs, version="v2")]

    events = asyncio.run(collect())
    kinds = [(e["event"], e["name"]) for e in events]
    graph_name = events[0]["name"]
    assert kinds[0] == ("on_chain_start", graph_name)
    assert kinds[-1] == ("on_chain_end", graph_name)
    assert ("on_chain_start", "call_model") in kinds
    assert ("on_chain_stream", graph_name) in kinds
    tokens = [e["data"]["chunk"].content for e in events if e["event"] == "on_chat_model_stream"]
    assert "".join(tokens) == "hello there"
    model_start = next(e for e in events if e["event"] == "on_chat_model_start")
    assert model_start["metadata"]["langgraph_node"] == "call_model"
    assert len(model_start["parent_ids"]) == 2  # the graph's run, then the node's
    assert events[-1]["data"]["output"]["messages"][-1].content == "hello there"


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # LangChain deprecates astream_log
def test_astream_log_reports_the_streamed_updates() -> None:
    """astream_log's final output is the graph's stream (its updates, by default)."""

    async def final() -> Any:
        state = None
        async for patch in agent_graph().astream_log(
            {"messages": [HumanMessage("hi")]}, diff=False
        ):
            state = patch
        return state

    state = asyncio.run(final())
    assert state is not None
    assert state.state["final_output"]["call_model"]["messages"][-1].content == "hello there"
