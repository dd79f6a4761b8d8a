"""The ReAct agent's per-call shortcuts behave as the general path does.

An untraced agent calls its model without the prompt sequence around it, and
the chat-history check reads only the messages it has not passed before; a
traced agent still shows the sequence, and every history is still checked.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool

from threadloom.checkpoint.memory import InMemorySaver
from threadloom.prebuilt import create_react_agent
from threadloom.prebuilt._agent_model import HistoryCheck, validate_chat_history
from threadloom.testing.models import FakeChatModel, tool_call_reply


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


class Names(BaseCallbackHandler):
    """Records the name of every chain and chat model run it sees."""

    def __init__(self) -> None:
        self.chains: list[str] = []
        self.models = 0

    def on_chain_start(self, serialized: Any, inputs: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self.chains.append(kwargs.get("name") or (serialized or {}).get("name", ""))

    def on_chat_model_start(
        self, serialized: Any, messages: Any, *, run_id: UUID, **kwargs: Any
    ) -> None:
        self.models += 1


def turn_script() -> list[AIMessage]:
    return [tool_call_reply("add", {"a": 1, "b": 2}, id="c1"), AIMessage("3")]


@pytest.mark.parametrize("prompt", [None, "Be brief."])
def test_the_same_answer_with_and_without_callbacks(prompt: str | None) -> None:
    plain = create_react_agent(FakeChatModel(responses=turn_script()), [add], prompt=prompt)
    traced = create_react_agent(FakeChatModel(responses=turn_script()), [add], prompt=prompt)
    handler = Names()
    quiet = plain.invoke({"messages": [HumanMessage("1+2?", id="h")]})
    loud = traced.invoke({"messages": [HumanMessage("1+2?", id="h")]}, {"callbacks": [handler]})
    assert [(m.type, m.content) for m in quiet["messages"]] == [
        (m.type, m.content) for m in loud["messages"]
    ]
    # Traced, the model still runs inside the prompt sequence, as on the general path.
    assert handler.chains.count("Prompt") == 2
    assert handler.chains.count("RunnableSequence") == 2
    assert handler.models == 2


def test_a_system_prompt_reaches_the_model_on_the_direct_path() -> None:
    model = FakeChatModel(responses=[AIMessage("hi")])
    agent = create_react_agent(model, [add], prompt="Be brief.")
    agent.invoke({"messages": [HumanMessage("hello")]})
    (seen,) = model.calls
    assert [m.type for m in seen] == ["system", "human"]
    assert seen[0].content == "Be brief."


def history(turns: int) -> list[BaseMessage]:
    out: list[BaseMessage] = []
    for i in range(turns):
        out += [
            HumanMessage(f"q{i}"),
            AIMessage("", tool_calls=[{"name": "add", "args": {}, "id": f"c{i}"}]),
            ToolMessage("r", tool_call_id=f"c{i}"),
            AIMessage("done"),
        ]
    return out


def test_history_check_reads_on_where_it_stopped_and_still_finds_a_pending_call() -> None:
    check = HistoryCheck()
    messages = history(3)
    check(messages)
    grown = [
        *messages,
        HumanMessage("more"),
        AIMessage("", tool_calls=[{"name": "add", "args": {}, "id": "x"}]),
    ]
    with pytest.raises(ValueError, match="do not have a corresponding ToolMessage") as caught:
        check(grown)
    with pytest.raises(ValueError) as expected:
        validate_chat_history(grown)
    assert str(caught.value) == str(expected.value)
    check([*grown, ToolMessage("r", tool_call_id="x")])  # answered now


def test_history_check_checks_a_changed_history_in_full() -> None:
    check = HistoryCheck()
    messages = history(2)
    check(messages)
    # Same first message, but the rest is another list: an unanswered call in it is found.
    changed = [messages[0], AIMessage("", tool_calls=[{"name": "add", "args": {}, "id": "y"}])]
    with pytest.raises(ValueError, match="'id': 'y'"):
        check(changed)
    # A tool message answering a call of the passed history does not hide a new call.
    check([*messages, AIMessage("", tool_calls=[{"name": "add", "args": {}, "id": "c0"}])])
    check([])


def test_history_check_keeps_a_few_threads() -> None:
    check = HistoryCheck()
    threads = [history(1) for _ in range(HistoryCheck._KEEP + 4)]
    for messages in threads:
        check(messages)
    assert len(check._passed) == HistoryCheck._KEEP
    for messages in threads:  # forgotten or not, each is still checked
        check([*messages, HumanMessage("again")])


def test_a_growing_thread_is_checked_each_turn() -> None:
    replies: list[AIMessage] = []
    for i in range(4):
        replies += [tool_call_reply("add", {"a": i, "b": 1}, id=f"t{i}"), AIMessage(f"{i + 1}")]
    agent = create_react_agent(
        FakeChatModel(responses=replies), [add], checkpointer=InMemorySaver()
    )
    config = {"configurable": {"thread_id": "grow"}}
    for i in range(4):
        out = agent.invoke({"messages": [HumanMessage(f"{i}+1?")]}, config)
    assert [m.content for m in out["messages"] if m.type == "ai" and m.content] == [
        "1",
        "2",
        "3",
        "4",
    ]
    # A call left unanswered after the passed history stops the next model call.
    dangling = AIMessage("", tool_calls=[{"name": "add", "args": {}, "id": "z"}])
    with pytest.raises(ValueError, match="'id': 'z'"):
        agent.invoke({"messages": [dangling, HumanMessage("again")]}, config)
