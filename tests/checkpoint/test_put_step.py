"""``put_step`` on a saver that does not define it: the writes per task, then the put."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

from typing_extensions import TypedDict

from threadloom.checkpoint.base import BaseCheckpointSaver, CheckpointTuple
from threadloom.checkpoint.memory import InMemorySaver
from threadloom.graph import START, StateGraph


class State(TypedDict):
    a: int
    b: int


class Recording(BaseCheckpointSaver):
    """A saver of one's own: the five abstract methods, kept in an InMemorySaver."""

    def __init__(self) -> None:
        super().__init__()
        self.inner = InMemorySaver()
        self.calls: list[str] = []

    def get_tuple(self, config: Any) -> CheckpointTuple | None:
        return self.inner.get_tuple(config)

    def list(self, config: Any, **kwargs: Any) -> Iterator[CheckpointTuple]:
        return self.inner.list(config, **kwargs)

    def put(self, config: Any, checkpoint: Any, metadata: Any, new_versions: Any) -> Any:
        self.calls.append("put")
        return self.inner.put(config, checkpoint, metadata, new_versions)

    def put_writes(
        self, config: Any, writes: Sequence[tuple[str, Any]], task_id: str, task_path: str = ""
    ) -> None:
        self.calls.append(f"put_writes {task_path}")
        self.inner.put_writes(config, writes, task_id, task_path)

    def delete_thread(self, thread_id: str) -> None:
        self.inner.delete_thread(thread_id)

    async def aget_tuple(self, config: Any) -> CheckpointTuple | None:
        return self.get_tuple(config)

    async def alist(self, config: Any, **kwargs: Any) -> AsyncIterator[CheckpointTuple]:
        for item in self.list(config, **kwargs):
            yield item

    async def aput(self, config: Any, checkpoint: Any, metadata: Any, new_versions: Any) -> Any:
        return self.put(config, checkpoint, metadata, new_versions)

    async def aput_writes(
        self, config: Any, writes: Sequence[tuple[str, Any]], task_id: str, task_path: str = ""
    ) -> None:
        self.put_writes(config, writes, task_id, task_path)

    async def adelete_thread(self, thread_id: str) -> None:
        self.delete_thread(thread_id)


def test_a_saver_of_ones_own_gets_each_tasks_writes_then_the_checkpoint() -> None:
    """A step of two parallel nodes: two ``put_writes`` (one per task), then the ``put``."""
    saver = Recording()
    builder = StateGraph(State)
    builder.add_node("a", lambda state: {"a": 1})
    builder.add_node("b", lambda state: {"b": 2})
    builder.add_edge(START, "a")
    builder.add_edge(START, "b")
    graph = builder.compile(checkpointer=saver)
    config = {"configurable": {"thread_id": "t"}}
    graph.invoke({"a": 0, "b": 0}, config)
    assert saver.calls[-3:] == ["put_writes __pregel_pull|a", "put_writes __pregel_pull|b", "put"]
    past = list(graph.get_state_history(config))[1]
    assert [(t.name, t.result) for t in past.tasks] == [("a", {"a": 1}), ("b", {"b": 2})]


def test_a_subclass_overriding_put_writes_sees_every_steps_writes() -> None:
    """A saver subclass that overrides put_writes (to log or refuse writes) has it called for a
    step's writes, as LangGraph calls it: the one-call put_step does not go around it."""
    import operator
    from typing import Annotated

    import pytest

    from threadloom.graph import START, StateGraph

    seen: list[str] = []

    class Logging(InMemorySaver):
        def put_writes(self, config, writes, task_id, task_path=""):
            seen.extend(channel for channel, _ in writes)
            return super().put_writes(config, writes, task_id, task_path)

    class Refusing(InMemorySaver):
        def put_writes(self, config, writes, task_id, task_path=""):
            raise ValueError("no writes here")

    builder = StateGraph(Annotated[list, operator.add])
    builder.add_node("a", lambda s: ["a"])
    builder.add_edge(START, "a")
    config = {"configurable": {"thread_id": "t"}}
    assert builder.compile(checkpointer=Logging()).invoke(["in"], config) == ["in", "a"]
    assert "__root__" in seen
    with pytest.raises(ValueError, match="no writes here"):
        builder.compile(checkpointer=Refusing()).invoke(["in"], config)


def test_a_put_writes_without_task_path_is_called_with_three_arguments() -> None:
    """A saver written for an older LangGraph (put_writes(config, writes, task_id)) works."""
    import operator
    from typing import Annotated

    calls: list[str] = []

    class ThreeArgs(InMemorySaver):
        def put_writes(self, config, writes, task_id):  # type: ignore[override]
            calls.append(task_id)
            return super().put_writes(config, writes, task_id)

    builder = StateGraph(Annotated[list, operator.add])
    builder.add_node("a", lambda s: ["a"])
    builder.add_edge(START, "a")
    graph = builder.compile(checkpointer=ThreeArgs())
    assert graph.invoke(["in"], {"configurable": {"thread_id": "t"}}) == ["in", "a"]
    assert calls
