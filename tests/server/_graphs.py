"""Graphs the server tests serve (loaded by path, as `langgraph.json` names them)."""

from __future__ import annotations

import time
from typing import Any

from typing_extensions import TypedDict

from threadloom.config import get_stream_writer
from threadloom.graph import START, MessagesState, StateGraph
from threadloom.testing.models import FakeChatModel
from threadloom.types import interrupt


class Count(TypedDict):
    n: int


def _inc(state: Count) -> dict[str, Any]:
    return {"n": state["n"] + 1}


_b = StateGraph(Count)
_b.add_node("inc", _inc)
_b.add_edge(START, "inc")
counter = _b.compile()
"""One node: n + 1."""


def _two_steps(state: Count) -> dict[str, Any]:
    get_stream_writer()({"progress": state["n"]})
    return {"n": state["n"] * 10}


_b = StateGraph(Count)
_b.add_node("inc", _inc)
_b.add_node("times", _two_steps)
_b.add_edge(START, "inc")
_b.add_edge("inc", "times")
two_steps = _b.compile()
"""inc then times (which also writes a custom stream part)."""


def _ask(state: Count) -> dict[str, Any]:
    answer = interrupt({"question": "how many?", "n": state["n"]})
    return {"n": state["n"] + int(answer)}


_b = StateGraph(Count)
_b.add_node("ask", _ask)
_b.add_edge(START, "ask")
asker = _b.compile()
"""Asks through interrupt(); the resume value is added to n."""


def _slow(state: Count) -> dict[str, Any]:
    time.sleep(state["n"] / 1000)
    return {"n": state["n"] + 1}


_b = StateGraph(Count)
_b.add_node("a", _slow)
_b.add_node("b", _slow)
_b.add_node("c", _slow)
_b.add_edge(START, "a")
_b.add_edge("a", "b")
_b.add_edge("b", "c")
slow = _b.compile()
"""Three steps, each sleeping n milliseconds."""

_model = FakeChatModel(responses=["hello there"], cycle=True)


def _chat(state: MessagesState) -> dict[str, Any]:
    return {"messages": [_model.invoke(state["messages"])]}


_b = StateGraph(MessagesState)
_b.add_node("chat", _chat)
_b.add_edge(START, "chat")
chat = _b.compile()
"""Answers "hello there" with a scripted model."""

_b = StateGraph(Count)
_b.add_node("child", counter)
_b.add_edge(START, "child")
parent = _b.compile()
"""Runs the counter as a subgraph."""


def _boom(state: Count) -> dict[str, Any]:
    raise RuntimeError("node failed on purpose")


_b = StateGraph(Count)
_b.add_node("boom", _boom)
_b.add_edge(START, "boom")
failing = _b.compile()
