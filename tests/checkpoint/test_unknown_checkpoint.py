"""A graph's state calls with a checkpoint_id the thread does not have, on every embedded saver.

update_state must not start the thread over (it used to write a root checkpoint holding only the
update); get_state keeps LangGraph's answer for reads: an empty snapshot.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

import pytest

from threadloom.checkpoint.base import BaseCheckpointSaver
from threadloom.checkpoint.memory import InMemorySaver
from threadloom.checkpoint.sqlite import SqliteSaver
from threadloom.errors import CheckpointNotFoundError
from threadloom.graph import START, MessagesState, StateGraph

Opener = Callable[[Path], AbstractContextManager[BaseCheckpointSaver]]
OPENERS: dict[str, Opener] = {
    "memory": lambda _: nullcontext(InMemorySaver()),
    "sqlite": lambda tmp: SqliteSaver.from_conn_string(tmp / "state.db"),
}


def chat_graph(saver: BaseCheckpointSaver) -> Any:
    def reply(state: MessagesState) -> dict[str, Any]:
        return {"messages": [("assistant", f"re: {state['messages'][-1].content}")]}

    builder = StateGraph(MessagesState)
    builder.add_node("reply", reply)
    builder.add_edge(START, "reply")
    return builder.compile(checkpointer=saver)


@pytest.fixture(params=sorted(OPENERS))
def graph(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    with OPENERS[request.param](tmp_path) as saver:
        graph = chat_graph(saver)
        for text in ("one", "two"):
            graph.invoke({"messages": [("user", text)]}, THREAD)
        yield graph


THREAD = {"configurable": {"thread_id": "t"}}
UNKNOWN = {"configurable": {"thread_id": "t", "checkpoint_id": "1f0000000-no-such-checkpoint"}}


def contents(graph: Any) -> list[str]:
    return [m.content for m in graph.get_state(THREAD).values["messages"]]


def test_update_state_of_an_unknown_checkpoint_raises_and_changes_nothing(graph: Any) -> None:
    """update_state naming a checkpoint the thread lacks raises CheckpointNotFoundError (a KeyError)
    naming it, and the thread's head and history stay as they were."""
    before = list(graph.get_state_history(THREAD))
    with pytest.raises(CheckpointNotFoundError, match="no-such-checkpoint") as caught:
        graph.update_state(UNKNOWN, {"messages": [("user", "lost?")]})
    assert isinstance(caught.value, KeyError)
    assert contents(graph) == ["one", "re: one", "two", "re: two"]
    assert [s.config for s in graph.get_state_history(THREAD)] == [s.config for s in before]


async def test_aupdate_state_of_an_unknown_checkpoint_raises_and_changes_nothing(graph: Any) -> None:
    """The async twin refuses the same way."""
    count = len(list(graph.get_state_history(THREAD)))
    with pytest.raises(CheckpointNotFoundError):
        await graph.aupdate_state(UNKNOWN, {"messages": [("user", "lost?")]})
    assert contents(graph) == ["one", "re: one", "two", "re: two"]
    assert len(list(graph.get_state_history(THREAD))) == count


def test_update_state_of_a_known_older_checkpoint_still_forks(graph: Any) -> None:
    """Naming a checkpoint the thread has (an older one) branches from it, as before."""
    first_turn = next(s for s in graph.get_state_history(THREAD) if s.metadata["step"] == 1)
    graph.update_state(first_turn.config, {"messages": [("user", "instead")]})
    assert contents(graph) == ["one", "re: one", "instead"]


async def test_get_state_of_an_unknown_checkpoint_is_an_empty_snapshot(graph: Any) -> None:
    """Reads keep LangGraph's behaviour: an unknown checkpoint reads as an empty snapshot."""
    for snapshot in (graph.get_state(UNKNOWN), await graph.aget_state(UNKNOWN)):
        assert snapshot.values == {} and snapshot.next == () and snapshot.parent_config is None
    assert contents(graph) == ["one", "re: one", "two", "re: two"]
