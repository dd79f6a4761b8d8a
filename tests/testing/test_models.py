"""The offline chat models: a scripted fake and the stand-in used by the demo."""

from __future__ import annotations

import threading

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage, SystemMessage

from threadloom.testing.models import (
    OFFLINE_TAG,
    FakeChatModel,
    OfflineChatModel,
    memories_from_system_prompt,
    offline_reply,
)


def _guide_prompt(info: str) -> str:
    """The system prompt the cross-thread memory guide builds."""
    return f"You are a helpful assistant talking to the user. User info: {info}"


# --- FakeChatModel ----------------------------------------------------------


def test_fake_model_is_a_langchain_chat_model() -> None:
    """FakeChatModel plugs in wherever a LangChain chat model does."""
    assert isinstance(FakeChatModel(), BaseChatModel)


def test_fake_model_replies_in_script_order() -> None:
    """Each call returns the next scripted reply as an AIMessage."""
    model = FakeChatModel(responses=["one", "two"])
    assert model.invoke("a").content == "one"
    assert model.invoke("b").content == "two"


def test_fake_model_raises_clearly_when_the_script_runs_out() -> None:
    """A call past the end of the script is a RuntimeError that says what to do."""
    model = FakeChatModel(responses=["only"])
    model.invoke("a")
    with pytest.raises(RuntimeError, match=r"ran out of scripted responses.*cycle=True"):
        model.invoke("b")


def test_fake_model_cycles_when_asked() -> None:
    """With cycle=True the script starts over."""
    model = FakeChatModel(responses=["x", "y"], cycle=True)
    assert [model.invoke("q").content for _ in range(3)] == ["x", "y", "x"]


def test_fake_model_records_the_messages_of_each_call() -> None:
    """`calls` holds the messages every call received, oldest first."""
    model = FakeChatModel(responses=["r1", "r2"])
    model.invoke([SystemMessage("sys"), HumanMessage("first")])
    model.invoke("second")
    assert [[m.content for m in call] for call in model.calls] == [["sys", "first"], ["second"]]


def test_fake_model_streams_word_tokens_that_join_to_the_reply() -> None:
    """stream() yields several AIMessageChunks whose contents join to the scripted reply."""
    model = FakeChatModel(responses=["Hello there, Bob!"])
    chunks = list(model.stream("hi"))
    assert all(isinstance(c, AIMessageChunk) for c in chunks)
    assert [c.content for c in chunks if c.content] == ["Hello ", "there, ", "Bob!"]
    assert "".join(str(c.content) for c in chunks) == "Hello there, Bob!"


async def test_fake_model_streams_asynchronously() -> None:
    """astream() yields the same tokens as stream()."""
    model = FakeChatModel(responses=["a b c"])
    tokens = [c.content async for c in model.astream("hi") if c.content]
    assert tokens == ["a ", "b ", "c"]


def test_fake_model_scripts_tool_calls() -> None:
    """A scripted AIMessage with tool calls comes back with them, streamed or not."""
    call = {"name": "lookup", "args": {"q": "bob"}, "id": "call-1"}
    script = [AIMessage(content="", tool_calls=[call])] * 2
    model = FakeChatModel(responses=script)
    assert model.invoke("x").tool_calls[0]["args"] == {"q": "bob"}
    streamed = None
    for chunk in model.stream("x"):
        streamed = chunk if streamed is None else streamed + chunk
    assert streamed is not None
    assert [(c["name"], c["args"]) for c in streamed.tool_calls] == [("lookup", {"q": "bob"})]


def test_fake_model_is_safe_across_threads() -> None:
    """Concurrent calls each get a distinct scripted reply."""
    model = FakeChatModel(responses=[str(i) for i in range(20)])
    results: list[str] = []
    lock = threading.Lock()

    def call() -> None:
        content = str(model.invoke("q").content)
        with lock:
            results.append(content)

    threads = [threading.Thread(target=call) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results, key=int) == [str(i) for i in range(20)]


# --- OfflineChatModel -------------------------------------------------------


def test_offline_model_is_a_langchain_chat_model() -> None:
    """OfflineChatModel plugs in wherever a LangChain chat model does."""
    assert isinstance(OfflineChatModel(), BaseChatModel)


def test_offline_model_says_plainly_that_it_is_a_stand_in() -> None:
    """Every reply starts with the offline stand-in tag."""
    reply = OfflineChatModel().invoke("tell me a joke")
    assert str(reply.content).startswith(OFFLINE_TAG)
    assert "not a real LLM" in OFFLINE_TAG


def test_offline_model_answers_the_name_from_memories() -> None:
    """Asked "what is my name?", it gives the name the User info memories hold."""
    reply = OfflineChatModel().invoke(
        [
            {"role": "system", "content": _guide_prompt("User name is Bob")},
            {"role": "user", "content": "what is my name?"},
        ]
    )
    assert "Your name is Bob" in str(reply.content)


def test_offline_model_admits_it_does_not_know_without_memories() -> None:
    """With no memories it says it does not know the name, and names no one."""
    reply = OfflineChatModel().invoke(
        [
            {"role": "system", "content": _guide_prompt("")},
            {"role": "user", "content": "what is my name?"},
        ]
    )
    assert "don't know your name" in str(reply.content)
    assert "Bob" not in str(reply.content)


def test_offline_model_greets_and_acknowledges_a_given_name() -> None:
    """Told "Hi! Remember: my name is Bob", it greets and repeats the name back."""
    reply = OfflineChatModel().invoke(
        [
            {"role": "system", "content": _guide_prompt("")},
            {"role": "user", "content": "Hi! Remember: my name is Bob"},
        ]
    )
    assert str(reply.content) == f"{OFFLINE_TAG} Hello! Nice to meet you, Bob."


def test_offline_model_answers_the_last_user_message() -> None:
    """In a longer conversation it answers the latest user turn."""
    reply = OfflineChatModel().invoke(
        [
            SystemMessage(_guide_prompt("User name is Alice")),
            HumanMessage("hello"),
            AIMessage("hi"),
            HumanMessage("who am I?"),
        ]
    )
    assert "Your name is Alice" in str(reply.content)


def test_offline_model_repeats_other_memories() -> None:
    """A question it has no rule for gets the memories themselves."""
    system = _guide_prompt("User likes tea\nUser lives in Oslo")
    assert offline_reply(system, "what do you know?") == (
        f"{OFFLINE_TAG} I can only repeat my memories of you: User likes tea; User lives in Oslo."
    )


def test_offline_model_reads_content_blocks() -> None:
    """A system prompt given as content blocks is read like a string."""
    reply = OfflineChatModel().invoke(
        [
            SystemMessage(content=[{"type": "text", "text": _guide_prompt("User name is Eve")}]),
            HumanMessage("what's my name?"),
        ]
    )
    assert "Your name is Eve" in str(reply.content)


def test_offline_model_streams_tokens_that_join_to_the_reply() -> None:
    """stream() yields several tokens whose concatenation equals invoke()'s reply."""
    messages = [SystemMessage(_guide_prompt("User name is Bob")), HumanMessage("what is my name?")]
    model = OfflineChatModel()
    tokens = [str(c.content) for c in model.stream(messages)]
    assert len([t for t in tokens if t]) > 5
    assert "".join(tokens) == model.invoke(messages).content


async def test_offline_model_works_asynchronously() -> None:
    """ainvoke() gives the same reply as invoke()."""
    messages = [SystemMessage(_guide_prompt("User name is Bob")), HumanMessage("what is my name?")]
    model = OfflineChatModel()
    assert (await model.ainvoke(messages)).content == model.invoke(messages).content


def test_memories_are_the_lines_after_user_info() -> None:
    """The memories are the non-empty lines after "User info:"; none when it is absent."""
    assert memories_from_system_prompt(_guide_prompt("a\n\n b \nc")) == ["a", "b", "c"]
    assert memories_from_system_prompt("You are helpful.") == []


# --- tool calling and structured output ---------------------------------------


def test_tool_call_reply_scripts_a_tool_call() -> None:
    """tool_call_reply builds an AI message with one tool call (a fresh id unless given)."""
    from threadloom.testing.models import tool_call_reply

    reply = tool_call_reply("search", {"q": "x"}, id="c1")
    assert reply.tool_calls == [{"name": "search", "args": {"q": "x"}, "id": "c1", "type": "tool_call"}]
    assert tool_call_reply("a").tool_calls[0]["id"] != tool_call_reply("a").tool_calls[0]["id"]


def test_fake_model_records_bound_tool_names() -> None:
    """bind_tools keeps the model (the script decides) and records the tools' names."""
    from langchain_core.tools import tool

    @tool
    def lookup(q: str) -> str:
        """Look up."""
        return q

    model = FakeChatModel(responses=["x"])
    assert model.bind_tools([lookup, {"type": "function", "function": {"name": "web"}}]) is model
    assert model.bound_tools == ["lookup", "web"]


def test_fake_model_structured_output() -> None:
    """with_structured_output answers structured_response, validated into a pydantic schema."""
    from pydantic import BaseModel

    class Answer(BaseModel):
        n: int

    model = FakeChatModel(structured_response={"n": 3})
    assert model.with_structured_output(Answer).invoke([HumanMessage("q")]) == Answer(n=3)
    assert model.with_structured_output({"type": "object"}).invoke("q") == {"n": 3}
    assert len(model.calls) == 2
    with pytest.raises(ValueError, match="structured_response"):
        FakeChatModel().with_structured_output(Answer)
