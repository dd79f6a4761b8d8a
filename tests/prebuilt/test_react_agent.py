"""create_react_agent: the model/tool loop, prompts, hooks, structured output, persistence."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Annotated, Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.tools import tool
from pydantic import BaseModel

from threadloom.checkpoint.memory import InMemorySaver
from threadloom.checkpoint.sqlite import SqliteSaver
from threadloom.managed import RemainingSteps
from threadloom.prebuilt import (
    InjectedState,
    InjectedStore,
    ToolNode,
    ToolRuntime,
    create_react_agent,
)
from threadloom.prebuilt.chat_agent_executor import AgentState
from threadloom.store.memory import InMemoryStore
from threadloom.testing.models import FakeChatModel, tool_call_reply
from threadloom.types import Command, interrupt
from threadloom.warnings import LangGraphDeprecatedSinceV10


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@tool
def weather(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}"


def _types(messages: list[Any]) -> list[str]:
    return [m.type for m in messages]


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_the_agent_calls_tools_until_the_model_answers(version: str) -> None:
    """Model -> tools -> model: the tool results reach the model and the loop ends on an answer."""
    model = FakeChatModel(
        responses=[tool_call_reply("add", {"a": 2, "b": 3}, id="c1"), "2 + 3 is 5."]
    )
    agent = create_react_agent(model, [add], version=version)  # type: ignore[arg-type]
    out = agent.invoke({"messages": [("user", "2 + 3?")]})
    assert _types(out["messages"]) == ["human", "ai", "tool", "ai"]
    assert out["messages"][2].content == "5"
    assert out["messages"][-1].content == "2 + 3 is 5."
    assert model.bound_tools == ["add"]
    assert _types(model.calls[1]) == ["human", "ai", "tool"]


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_parallel_tool_calls_are_all_answered(version: str) -> None:
    """Several calls in one message each get their ToolMessage before the model runs again."""
    both = AIMessage(
        "",
        tool_calls=[
            {"name": "add", "args": {"a": 1, "b": 1}, "id": "c1"},
            {"name": "weather", "args": {"city": "Oslo"}, "id": "c2"},
        ],
    )
    model = FakeChatModel(responses=[both, "done"])
    out = create_react_agent(model, [add, weather], version=version).invoke(  # type: ignore[arg-type]
        {"messages": [("user", "go")]}
    )
    answers = {m.tool_call_id: m.content for m in out["messages"] if isinstance(m, ToolMessage)}
    assert answers == {"c1": "2", "c2": "sunny in Oslo"}
    assert out["messages"][-1].content == "done"


def test_prompts_string_system_message_and_callable() -> None:
    """A string or SystemMessage is put first; a callable builds the whole input."""
    for prompt in ("Be brief.", SystemMessage("Be brief.")):
        model = FakeChatModel(responses=["ok"])
        create_react_agent(model, [], prompt=prompt).invoke({"messages": [("user", "hi")]})
        assert [(m.type, m.content) for m in model.calls[0]] == [
            ("system", "Be brief."),
            ("human", "hi"),
        ]

    model = FakeChatModel(responses=["ok"])
    create_react_agent(model, [], prompt=lambda state: [HumanMessage("only this")]).invoke(
        {"messages": [("user", "hi")]}
    )
    assert [m.content for m in model.calls[0]] == ["only this"]


def test_prompt_function_receives_the_store_and_config() -> None:
    """A prompt function asking for `store` and `config` gets them, as graph nodes do."""
    store = InMemoryStore()
    store.put(("users", "u1"), "profile", {"name": "Ann"})

    def prompt(state: AgentState, config: Any, *, store: Any) -> list[Any]:
        user = config["configurable"]["user_id"]
        name = store.get(("users", user), "profile").value["name"]
        return [SystemMessage(f"The user is {name}."), *state["messages"]]

    model = FakeChatModel(responses=["hello Ann"])
    agent = create_react_agent(model, [add], prompt=prompt, store=store)
    agent.invoke({"messages": [("user", "hi")]}, {"configurable": {"user_id": "u1"}})
    assert model.calls[0][0].content == "The user is Ann."


class Weather(BaseModel):
    city: str
    sunny: bool


@pytest.mark.parametrize("with_prompt", [False, True])
def test_response_format_fills_structured_response(with_prompt: bool) -> None:
    """After the answer, a structured call fills structured_response (with its own system prompt)."""
    model = FakeChatModel(
        responses=[tool_call_reply("weather", {"city": "Rome"}), "It is sunny in Rome."],
        structured_response={"city": "Rome", "sunny": True},
    )
    fmt: Any = ("Extract the weather.", Weather) if with_prompt else Weather
    out = create_react_agent(model, [weather], response_format=fmt).invoke(
        {"messages": [("user", "weather in Rome?")]}
    )
    assert out["structured_response"] == Weather(city="Rome", sunny=True)
    structured_call = model.calls[-1]
    assert _types(structured_call) == (["system"] if with_prompt else []) + [
        "human",
        "ai",
        "tool",
        "ai",
    ]


def test_pre_and_post_model_hooks() -> None:
    """pre_model_hook can replace the model's input (llm_input_messages); post_model_hook sees the reply."""
    seen_by_post: list[str] = []

    def pre(state: dict[str, Any]) -> dict[str, Any]:
        return {"llm_input_messages": [HumanMessage("trimmed")]}

    def post(state: dict[str, Any]) -> dict[str, Any]:
        seen_by_post.append(state["messages"][-1].content)
        return {}

    model = FakeChatModel(responses=[tool_call_reply("add", {"a": 1, "b": 2}), "3"])
    out = create_react_agent(model, [add], pre_model_hook=pre, post_model_hook=post).invoke(
        {"messages": [("user", "1 + 2?")]}
    )
    assert [[m.content for m in call] for call in model.calls] == [["trimmed"], ["trimmed"]]
    assert seen_by_post == ["", "3"]
    assert _types(out["messages"]) == ["human", "ai", "tool", "ai"]


def test_model_can_be_chosen_per_call() -> None:
    """A callable (state, runtime) -> model picks the model each call, sync or async."""
    small = FakeChatModel(responses=["small"])
    large = FakeChatModel(responses=["large"])

    def pick(state: dict[str, Any], runtime: Any) -> Any:
        return (large if runtime.context["big"] else small).bind_tools([add])

    agent = create_react_agent(pick, [add], context_schema=dict)
    assert (
        agent.invoke({"messages": [("user", "hi")]}, context={"big": True})["messages"][-1].content
        == "large"
    )

    async def apick(state: dict[str, Any], runtime: Any) -> Any:
        return small

    agent = create_react_agent(apick, [add])
    out = asyncio.run(agent.ainvoke({"messages": [("user", "hi")]}))
    assert out["messages"][-1].content == "small"
    with pytest.raises(RuntimeError, match="ainvoke"):
        agent.invoke({"messages": [("user", "hi")]})


def test_provider_string_without_langchain_names_the_package(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """ "provider:model" needs langchain's init_chat_model; without it the ImportError says so."""
    monkeypatch.setitem(sys.modules, "langchain", None)
    monkeypatch.setitem(sys.modules, "langchain.chat_models", None)
    with pytest.raises(ImportError, match="pip install langchain"):
        create_react_agent("openai:gpt-4o", [add])


def test_return_direct_tools_end_the_run() -> None:
    """A tool with return_direct=True ends the run with its result."""

    @tool(return_direct=True)
    def final(x: int) -> str:
        """Final answer."""
        return f"final {x}"

    model = FakeChatModel(responses=[tool_call_reply("final", {"x": 7})])
    out = create_react_agent(model, [final]).invoke({"messages": [("user", "go")]})
    assert out["messages"][-1].content == "final 7"
    assert len(model.calls) == 1


def test_a_thread_keeps_its_conversation_in_sqlite(tmp_path: Path) -> None:
    """With a SqliteSaver the second turn sees the first turn's messages, tool results included."""
    model = FakeChatModel(
        responses=[tool_call_reply("add", {"a": 1, "b": 1}), "2", "you asked 1 + 1"]
    )
    config = {"configurable": {"thread_id": "t"}}
    with SqliteSaver.from_conn_string(tmp_path / "agent.db") as saver:
        agent = create_react_agent(model, [add], checkpointer=saver)
        agent.invoke({"messages": [("user", "1 + 1?")]}, config)
    with SqliteSaver.from_conn_string(tmp_path / "agent.db") as saver:
        agent = create_react_agent(model, [add], checkpointer=saver)
        out = agent.invoke({"messages": [("user", "what did I ask?")]}, config)
    assert _types(out["messages"]) == ["human", "ai", "tool", "ai", "human", "ai"]
    assert _types(model.calls[-1]) == ["human", "ai", "tool", "ai", "human"]


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_a_tool_can_interrupt_and_be_resumed(version: str) -> None:
    """interrupt() in a tool pauses the agent; Command(resume=...) answers it."""

    @tool
    def ask_human(question: str) -> str:
        """Ask a person."""
        return str(interrupt(question))

    model = FakeChatModel(responses=[tool_call_reply("ask_human", {"question": "name?"}), "Hi Bo"])
    agent = create_react_agent(model, [ask_human], checkpointer=InMemorySaver(), version=version)  # type: ignore[arg-type]
    config = {"configurable": {"thread_id": "t"}}
    paused = agent.invoke({"messages": [("user", "greet me")]}, config)
    assert paused["__interrupt__"][0].value == "name?"
    out = agent.invoke(Command(resume="Bo"), config)
    assert [m.content for m in out["messages"][-2:]] == ["Bo", "Hi Bo"]


def test_tools_reach_the_store_through_injection_and_runtime() -> None:
    """A tool saves with InjectedStore and another reads through ToolRuntime.store."""

    @tool
    def remember(fact: str, store: Annotated[Any, InjectedStore()]) -> str:
        """Save a fact."""
        store.put(("facts",), "f1", {"text": fact})
        return "saved"

    @tool
    def recall(runtime: ToolRuntime) -> str:
        """Read the fact."""
        return str(runtime.store.get(("facts",), "f1").value["text"])

    store = InMemoryStore()
    model = FakeChatModel(
        responses=[
            tool_call_reply("remember", {"fact": "likes tea"}),
            tool_call_reply("recall", {}),
            "tea",
        ]
    )
    out = create_react_agent(model, [remember, recall], store=store).invoke(
        {"messages": [("user", "x")]}
    )
    assert [m.content for m in out["messages"] if isinstance(m, ToolMessage)] == [
        "saved",
        "likes tea",
    ]


def test_custom_state_schema_and_a_prebuilt_tool_node() -> None:
    """A state schema with extra keys works; a ToolNode may be passed instead of a tool list."""

    class State(AgentState):
        topic: str

    model = FakeChatModel(responses=["ok"])
    out = create_react_agent(model, ToolNode([add]), state_schema=State).invoke(
        {"messages": [("user", "hi")], "topic": "maths"}
    )
    assert out["topic"] == "maths"


def test_remaining_steps_stop_the_loop_when_provided() -> None:
    """With remaining_steps below 2 a tool-calling reply becomes 'need more steps'.

    ``remaining_steps`` is a managed value: the run derives it from the recursion limit.
    """

    class State(AgentState):
        remaining_steps: RemainingSteps  # type: ignore[misc]

    model = FakeChatModel(responses=[tool_call_reply("add", {"a": 1, "b": 1})])
    out = create_react_agent(model, [add], state_schema=State).invoke(
        {"messages": [("user", "x")]}, {"recursion_limit": 2}
    )
    assert out["messages"][-1].content == "Sorry, need more steps to process this request."


def test_config_schema_is_the_deprecated_name_of_context_schema() -> None:
    class Context(BaseModel):
        user: str

    with pytest.warns(LangGraphDeprecatedSinceV10, match="Please use `context_schema` instead"):
        agent = create_react_agent(FakeChatModel(), [add], config_schema=Context)
    assert agent.context_schema is Context


def test_bad_arguments_are_errors() -> None:
    """A state schema missing keys, an unknown version or argument, and a broken history are errors."""

    class NoSteps(BaseModel):
        messages: list[Any]

    with pytest.raises(ValueError, match="remaining_steps"):
        create_react_agent(FakeChatModel(), [add], state_schema=NoSteps)
    with pytest.raises(ValueError, match="Invalid version"):
        create_react_agent(FakeChatModel(), [add], version="v3")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="unexpected keyword"):
        create_react_agent(FakeChatModel(), [add], colour="red")
    dangling = AIMessage("", tool_calls=[{"name": "add", "args": {}, "id": "x"}])
    with pytest.raises(ValueError, match="do not have a corresponding ToolMessage"):
        create_react_agent(FakeChatModel(responses=["x"]), [add]).invoke(
            {"messages": [("user", "hi"), dangling, ("user", "again")]}
        )


def test_async_agent_matches_sync() -> None:
    """ainvoke runs the same loop."""
    model = FakeChatModel(responses=[tool_call_reply("add", {"a": 4, "b": 4}), "8"])
    out = asyncio.run(create_react_agent(model, [add]).ainvoke({"messages": [("user", "4 + 4?")]}))
    assert [m.content for m in out["messages"][1:]] == ["", "8", "8"]


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_tools_reading_state_get_it_in_both_versions(version: str) -> None:
    """A tool with InjectedState sees the conversation, whether calls run together or one per task."""

    @tool
    def count(messages: Annotated[list[Any], InjectedState("messages")]) -> int:
        """Count the messages so far."""
        return len(messages)

    model = FakeChatModel(responses=[tool_call_reply("count", {}), "counted"])
    out = create_react_agent(model, [count], version=version).invoke(  # type: ignore[arg-type]
        {"messages": [("user", "a"), ("ai", "b"), ("user", "c")]}
    )
    assert out["messages"][4].content == "4"


def test_model_tokens_stream_with_messages_mode() -> None:
    """stream_mode="messages" yields the model's tokens from the agent node, with its metadata."""
    model = FakeChatModel(
        responses=[tool_call_reply("add", {"a": 1, "b": 2}), "one plus two is three"]
    )
    agent = create_react_agent(model, [add])
    chunks = list(agent.stream({"messages": [("user", "1 + 2?")]}, stream_mode="messages"))
    text = "".join(
        chunk.content
        for chunk, meta in chunks
        if meta["langgraph_node"] == "agent" and isinstance(chunk.content, str)
    )
    assert text == "one plus two is three"
    assert any(meta["langgraph_node"] == "tools" and chunk.content == "3" for chunk, meta in chunks)


def test_async_agent_interrupt_and_resume() -> None:
    """An async run pauses at a tool's interrupt and resumes with the answer."""

    @tool
    async def confirm(action: str) -> str:
        """Ask before acting."""
        return "done" if interrupt(action) == "ok" else "refused"

    async def scenario() -> list[str]:
        model = FakeChatModel(
            responses=[tool_call_reply("confirm", {"action": "delete"}), "finished"]
        )
        agent = create_react_agent(model, [confirm], checkpointer=InMemorySaver())
        config = {"configurable": {"thread_id": "a"}}
        paused = await agent.ainvoke({"messages": [("user", "delete it")]}, config)
        assert paused["__interrupt__"][0].value == "delete"
        out = await agent.ainvoke(Command(resume="ok"), config)
        return [m.content for m in out["messages"][-2:]]

    assert asyncio.run(scenario()) == ["done", "finished"]


def test_time_travel_replays_from_before_the_tool_call() -> None:
    """Resuming from a past checkpoint (before the tools ran) runs the tools and model again."""
    model = FakeChatModel(
        responses=[tool_call_reply("add", {"a": 2, "b": 2}, id="c1"), "four", "four again"]
    )
    agent = create_react_agent(model, [add], checkpointer=InMemorySaver(), version="v1")
    config = {"configurable": {"thread_id": "tt"}}
    agent.invoke({"messages": [("user", "2 + 2?")]}, config)
    before_tools = next(s for s in agent.get_state_history(config) if s.next == ("tools",))
    assert _types(before_tools.values["messages"]) == ["human", "ai"]
    replay = agent.invoke(None, before_tools.config)
    assert [m.content for m in replay["messages"][2:]] == ["4", "four again"]
    assert len(model.calls) == 3


def test_pydantic_state_schema_with_a_pre_model_hook() -> None:
    """A pydantic agent state works, and a pre-hook's llm_input_messages reach the model."""
    from threadloom.prebuilt.chat_agent_executor import AgentStatePydantic

    def pre(state: AgentStatePydantic) -> dict[str, Any]:
        return {"llm_input_messages": [HumanMessage("short")]}

    model = FakeChatModel(responses=[tool_call_reply("add", {"a": 1, "b": 1}), "2"])
    agent = create_react_agent(model, [add], state_schema=AgentStatePydantic, pre_model_hook=pre)
    out = agent.invoke({"messages": [("user", "a long question")]})
    assert [[m.content for m in call] for call in model.calls] == [["short"], ["short"]]
    assert _types(out["messages"]) == ["human", "ai", "tool", "ai"]
