"""``TimeoutPolicy`` on async nodes, tasks and entrypoints: limits, retries, heartbeats."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessageChunk, HumanMessage
from langchain_core.outputs import ChatGenerationChunk
from typing_extensions import TypedDict

from threadloom.errors import GraphBuildError, NodeTimeoutError
from threadloom.func import entrypoint, task
from threadloom.graph import END, START, MessagesState, StateGraph
from threadloom.runtime import Runtime
from threadloom.types import RetryPolicy, Send, TimeoutPolicy


class State(TypedDict):
    x: int


def _graph(node: Any, **kwargs: Any) -> Any:
    builder = StateGraph(State)
    builder.add_node("node", node, **kwargs)
    builder.add_edge(START, "node")
    builder.add_edge("node", END)
    return builder.compile()


async def test_run_timeout_cancels_a_slow_async_node() -> None:
    """An attempt past ``run_timeout`` is cancelled and fails with NodeTimeoutError."""
    finished: list[bool] = []

    async def slow(state: State) -> State:
        await asyncio.sleep(1.0)
        finished.append(True)
        return {"x": 1}

    with pytest.raises(NodeTimeoutError) as info:
        await _graph(slow, timeout=0.05).ainvoke({"x": 0})
    assert (info.value.node, info.value.kind, info.value.run_timeout) == ("node", "run", 0.05)
    await asyncio.sleep(0.05)
    assert finished == []


async def test_heartbeat_keeps_an_idle_timeout_from_firing() -> None:
    """``runtime.heartbeat()`` moves the idle deadline; the run limit is never moved."""

    async def beating(state: State, runtime: Runtime[Any]) -> State:
        for _ in range(6):
            await asyncio.sleep(0.03)
            runtime.heartbeat()
        return {"x": state["x"] + 1}

    graph = _graph(beating, timeout=TimeoutPolicy(idle_timeout=0.1))
    assert await graph.ainvoke({"x": 1}) == {"x": 2}
    capped = _graph(beating, timeout=TimeoutPolicy(idle_timeout=0.1, run_timeout=0.1))
    with pytest.raises(NodeTimeoutError) as info:
        await capped.ainvoke({"x": 1})
    assert info.value.kind == "run"


async def test_timeout_then_retry_succeeds() -> None:
    """A timed-out attempt is retried under the node's retry policy."""
    attempts: list[int] = []

    async def flaky(state: State) -> State:
        attempts.append(1)
        if len(attempts) == 1:
            await asyncio.sleep(1.0)
        return {"x": 7}

    graph = _graph(
        flaky,
        timeout=TimeoutPolicy(idle_timeout=0.05),
        retry_policy=RetryPolicy(initial_interval=0.0, jitter=False),
    )
    assert await graph.ainvoke({"x": 0}) == {"x": 7}
    assert len(attempts) == 2


async def test_send_timeout_overrides_the_node_timeout() -> None:
    """A ``Send`` with its own timeout limits that one task."""

    async def slow(state: State) -> State:
        await asyncio.sleep(0.2)
        return {"x": 1}

    builder = StateGraph(State)
    builder.add_node("slow", slow, timeout=5.0)
    builder.add_conditional_edges(START, lambda s: [Send("slow", s, timeout=0.05)])
    with pytest.raises(NodeTimeoutError):
        await builder.compile().ainvoke({"x": 0})


async def test_task_and_entrypoint_timeouts() -> None:
    """Async tasks and entrypoints take ``timeout=`` too."""

    @task(timeout=TimeoutPolicy(idle_timeout=0.05))
    async def slow_task(x: int) -> int:
        await asyncio.sleep(0.5)
        return x

    @entrypoint()
    async def calls_task(x: int) -> int:
        return await slow_task(x)

    @entrypoint(timeout=timedelta(milliseconds=50))
    async def slow_flow(x: int) -> int:
        await asyncio.sleep(0.5)
        return x

    with pytest.raises(NodeTimeoutError):
        await calls_task.ainvoke(1)
    with pytest.raises(NodeTimeoutError):
        await slow_flow.ainvoke(1)


def test_timeouts_are_checked_when_declared() -> None:
    """A limit <= 0 is a ValueError, and a sync function cannot have a timeout."""
    with pytest.raises(ValueError, match="greater than 0"):
        task(timeout=0)
    with pytest.raises(ValueError, match="greater than 0"):
        TimeoutPolicy.coerce(TimeoutPolicy(idle_timeout=-1))
    with pytest.raises(ValueError, match="only supported for async"):

        @task(timeout=1.0)
        def sync_task(x: int) -> int:
            return x

    with pytest.raises(GraphBuildError, match="only supported for async"):
        _graph(lambda s: s, timeout=1.0)
    assert TimeoutPolicy.coerce(2) == TimeoutPolicy(run_timeout=2.0)


def test_a_sync_runnable_lambda_cannot_have_a_timeout() -> None:
    """A RunnableLambda over a sync function is refused; one with an async body is accepted."""
    from langchain_core.runnables import RunnableLambda

    async def body(state: State) -> State:
        return state

    with pytest.raises(GraphBuildError, match="only supported for async"):
        _graph(RunnableLambda(lambda s: s), timeout=1.0)
    assert _graph(RunnableLambda(body), timeout=1.0) is not None


class _TickingModel(GenericFakeChatModel):
    """Streams three tokens, ``pause`` seconds apart (longer than the idle limit in total)."""

    pause: float = 0.1

    async def _astream(
        self, messages: Any, stop: Any = None, run_manager: Any = None, **kw: Any
    ) -> Any:
        for i in range(3):
            await asyncio.sleep(self.pause)
            chunk = ChatGenerationChunk(message=AIMessageChunk(content=str(i)))
            if run_manager is not None:
                await run_manager.on_llm_new_token(str(i), chunk=chunk)
            yield chunk


async def test_streamed_tokens_move_the_idle_deadline_only_under_auto_refresh() -> None:
    """With ``stream_mode="messages"`` each token a model streams is progress for
    ``refresh_on="auto"`` (as in LangGraph); ``refresh_on="heartbeat"`` ignores it."""
    model = _TickingModel(messages=iter([]))

    async def call_model(state: MessagesState) -> dict[str, Any]:
        return {"messages": [await model.ainvoke(state["messages"])]}

    def graph(policy: TimeoutPolicy) -> Any:
        builder = StateGraph(MessagesState)
        builder.add_node("call_model", call_model, timeout=policy)
        builder.add_edge(START, "call_model")
        return builder.compile()

    question = {"messages": [HumanMessage("hi")]}
    auto = graph(TimeoutPolicy(idle_timeout=0.2))
    tokens = [c.content async for c, _ in auto.astream(question, stream_mode="messages")]
    assert tokens[:3] == ["0", "1", "2"]
    strict = graph(TimeoutPolicy(idle_timeout=0.2, refresh_on="heartbeat"))
    with pytest.raises(NodeTimeoutError):
        async for _ in strict.astream(question, stream_mode="messages"):
            pass
