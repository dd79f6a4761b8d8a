"""The public run and state methods take LangGraph's keywords, typed, and refuse any other."""

from __future__ import annotations

import operator
import warnings
from typing import Annotated, Any

import pytest
from typing_extensions import TypedDict

from threadloom.checkpoint.memory import InMemorySaver
from threadloom.errors import InvalidOptionError, UnsupportedOptionError
from threadloom.graph import START, StateGraph
from threadloom.testing.graph import GraphClient


class State(TypedDict):
    x: int
    log: Annotated[list[str], operator.add]


# LangGraph 1.2's keyword options of invoke/stream (and their async twins), with its defaults.
LANGGRAPH_KEYWORDS: dict[str, Any] = {
    "context": None,
    "stream_mode": "values",
    "print_mode": (),
    "output_keys": None,
    "interrupt_before": None,
    "interrupt_after": None,
    "durability": None,
    "control": None,
    "subgraphs": False,
    "debug": None,
    "version": "v1",
}


def cfg(thread: str = "t") -> dict:
    return {"configurable": {"thread_id": thread}}


def two_steps(saver: InMemorySaver | None = None):
    builder = StateGraph(State)
    builder.add_node("a", lambda s: {"x": s["x"] + 1, "log": ["a"]})
    builder.add_node("b", lambda s: {"log": ["b"]})
    builder.add_edge(START, "a")
    builder.add_edge("a", "b")
    return builder.compile(checkpointer=saver)


@pytest.mark.parametrize("keyword", sorted(LANGGRAPH_KEYWORDS))
async def test_every_langgraph_keyword_is_accepted_by_invoke_and_stream(
    client: GraphClient, keyword: str
) -> None:
    """Each of LangGraph's keywords, at its default, is accepted and changes nothing."""
    graph = two_steps()
    value = LANGGRAPH_KEYWORDS[keyword]
    assert await client.invoke(graph, {"x": 0}, **{keyword: value}) == {"x": 1, "log": ["a", "b"]}
    if keyword != "stream_mode":  # stream's own default is "updates"
        parts = await client.stream(graph, {"x": 0}, **{keyword: value})
        assert parts == [{"a": {"x": 1, "log": ["a"]}}, {"b": {"log": ["b"]}}]


@pytest.mark.parametrize("method", ["invoke", "stream"])
async def test_an_unknown_keyword_is_a_type_error_naming_it(
    client: GraphClient, method: str
) -> None:
    """A misspelt keyword is refused (it used to be dropped silently), before anything runs."""
    ran = []
    builder = StateGraph(State)
    builder.add_node("a", lambda s: ran.append(1) or {})
    builder.add_edge(START, "a")
    call = getattr(client, method)
    with pytest.raises(TypeError, match="unexpected keyword argument 'stream_modes'"):
        await call(builder.compile(), {"x": 0}, stream_modes="values")
    assert ran == []


async def test_state_methods_refuse_unknown_keywords(client: GraphClient) -> None:
    """get_state, get_state_history and update_state have LangGraph's keywords only."""
    graph = two_steps(InMemorySaver())
    await client.invoke(graph, {"x": 0}, cfg())
    with pytest.raises(TypeError, match="subgraph"):
        await client.get_state(graph, cfg(), subgraph=True)
    with pytest.raises(TypeError, match="'limits'"):
        await client.get_state_history(graph, cfg(), limits=1)
    with pytest.raises(TypeError, match="node"):
        await client.update_state(graph, cfg(), {"x": 1}, node="a")
    history = await client.get_state_history(graph, cfg(), filter={"source": "loop"}, limit=1)
    assert [s.metadata["source"] for s in history] == ["loop"]
    before = await client.get_state_history(graph, cfg(), before=history[0].config)
    assert len(before) == 3


async def test_update_state_with_a_task_id_is_not_supported_yet(client: GraphClient) -> None:
    """update_state(task_id=...) is LangGraph's keyword; threadloom says it cannot do it yet."""
    graph = two_steps(InMemorySaver())
    await client.invoke(graph, {"x": 0}, cfg())
    with pytest.raises(UnsupportedOptionError, match="task_id"):
        await client.update_state(graph, cfg(), {"x": 5}, "a", "some-task")
    assert (await client.get_state(graph, cfg())).values["x"] == 1


@pytest.mark.parametrize(("durability", "saved"), [("sync", 4), ("async", 4), ("exit", 1)])
async def test_every_durability_saves_each_step(
    client: GraphClient, durability: str, saved: int
) -> None:
    """All three durability values run; "sync"/"async" keep every step, "exit" the final one."""
    graph = two_steps(InMemorySaver())
    await client.invoke(graph, {"x": 0}, cfg(), durability=durability)
    assert len(await client.get_state_history(graph, cfg())) == saved


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"durability": "never"}, InvalidOptionError, "durability 'never'"),
        ({"version": "v3"}, InvalidOptionError, "version 'v3'"),
        ({"version": "v2"}, UnsupportedOptionError, "v2"),
        ({"control": object()}, InvalidOptionError, "control must be a .*RunControl"),
        ({"print_mode": "loud"}, InvalidOptionError, "'loud'"),
        ({"output_keys": ["nope"]}, InvalidOptionError, "'nope'"),
        ({"durability": "sync", "checkpoint_during": True}, InvalidOptionError, "not both"),
    ],
)
async def test_bad_option_values_are_typed_errors_before_anything_runs(
    client: GraphClient, options: dict[str, Any], error: type[Exception], match: str
) -> None:
    """A value threadloom does not know (or cannot honour yet) stops the call before a step."""
    saver = InMemorySaver()
    graph = two_steps(saver)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        with pytest.raises(error, match=match):
            await client.invoke(graph, {"x": 0}, cfg(), **options)
    assert await client.get_state_history(graph, cfg()) == []


async def test_checkpoint_during_is_accepted_with_a_deprecation_warning(
    client: GraphClient,
) -> None:
    """LangGraph's deprecated checkpoint_during still runs, and says to use durability."""
    with pytest.warns(DeprecationWarning, match="durability"):
        out = await client.invoke(
            two_steps(InMemorySaver()), {"x": 0}, cfg(), checkpoint_during=True
        )
    assert out["log"] == ["a", "b"]


async def test_output_keys_limit_the_output(client: GraphClient) -> None:
    """A list of keys gives a dict of them; one key as a string gives its value alone."""
    graph = two_steps()
    assert await client.invoke(graph, {"x": 0}, output_keys=["log"]) == {"log": ["a", "b"]}
    assert await client.invoke(graph, {"x": 0}, output_keys="x") == 1
    values = await client.stream(graph, {"x": 0}, stream_mode="values", output_keys="x")
    assert values == [0, 1]  # step "b" writes no output key, so it streams no value


async def test_print_mode_prints_parts_without_returning_them(
    client: GraphClient, capsys: pytest.CaptureFixture[str]
) -> None:
    """print_mode shows its modes' parts on stdout; invoke still returns the final state."""
    out = await client.invoke(two_steps(), {"x": 0}, print_mode="updates")
    assert out == {"x": 1, "log": ["a", "b"]}
    printed = capsys.readouterr().out.splitlines()
    assert printed == ["[updates] {'a': {'x': 1, 'log': ['a']}}", "[updates] {'b': {'log': ['b']}}"]
    parts = await client.stream(two_steps(), {"x": 0}, stream_mode="values", print_mode="updates")
    assert len(parts) == 3 and len(capsys.readouterr().out.splitlines()) == 2


async def test_interrupt_before_all_nodes_with_the_star(client: GraphClient) -> None:
    """interrupt_before="*" (types.All) stops before the first node."""
    graph = two_steps(InMemorySaver())
    await client.invoke(graph, {"x": 0}, cfg(), interrupt_before="*")
    assert (await client.get_state(graph, cfg())).next == ("a",)
