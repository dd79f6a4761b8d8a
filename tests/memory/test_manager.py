"""The memory manager: prompt, checks on the model's answer, one batch, use as a graph node."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest

from threadloom.checkpoint.memory import InMemorySaver
from threadloom.graph import START, MessagesState, StateGraph
from threadloom.memory import create_memory_manager, create_memory_store_manager, get_history
from threadloom.store.base import Op, PutOp, Result
from threadloom.store.memory import InMemoryStore
from threadloom.testing.embeddings import HashingEmbed
from threadloom.testing.memory import ScriptedMemoryModel, delete, insert, turn, update

NS = ("memories", "u1")
CONFIG = {"configurable": {"user_id": "u1", "thread_id": "t1"}}


class CountingStore(InMemoryStore):
    """An in-memory store that records the batches that write."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.write_batches: list[list[Op]] = []

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        ops = list(ops)
        if any(isinstance(op, PutOp) for op in ops):
            self.write_batches.append(ops)
        return super().batch(ops)


def _store() -> CountingStore:
    return CountingStore(index={"embed": HashingEmbed(64), "dims": 64, "fields": ["content"]})


def test_manager_without_store_returns_extracted_memories() -> None:
    """create_memory_manager turns messages and existing memories into inserts and updates."""
    model = ScriptedMemoryModel(
        script=[turn(insert("User likes tea"), update("Paris", "User lives in Berlin"))]
    )
    manager = create_memory_manager(model)
    out = manager.invoke(
        {"messages": [("user", "I moved to Berlin")], "existing": [("m1", "User lives in Paris")]}
    )
    assert [(m.action, m.content) for m in out] == [
        ("insert", "User likes tea"),
        ("update", "User lives in Berlin"),
    ]
    assert out[1].id == "m1"
    system, user = model.calls[0]
    assert "[m1] User lives in Paris" in system.text
    assert "human: I moved to Berlin" in user.text


def test_disabled_actions_and_unknown_ids_are_dropped() -> None:
    """The model cannot delete when deletes are off, nor touch a memory it was not shown."""
    model = ScriptedMemoryModel(
        script=[
            {
                "operations": [
                    {"action": "delete", "id": "m1"},
                    {"action": "update", "id": "ghost", "content": "x"},
                    {"action": "insert", "content": "  "},
                    {"action": "insert", "content": "User likes tea"},
                ]
            }
        ]
    )
    manager = create_memory_manager(model, enable_deletes=False)
    out = manager.invoke({"messages": [("user", "hi")], "existing": [("m1", "old")]})
    assert [m.content for m in out] == ["User likes tea"]
    assert "Allowed actions: insert, update." in model.calls[0][0].text


def test_store_manager_applies_a_turn_in_one_batch() -> None:
    """Inserts, updates and their history records are written by a single store batch."""
    store = _store()
    model = ScriptedMemoryModel(
        script=[
            turn(insert("User lives in Paris"), insert("User is a baker")),
            turn(
                update("Paris", "User lives in Berlin"), delete("baker"), insert("User has a cat")
            ),
        ]
    )
    manager = create_memory_store_manager(model, store=store)
    manager.invoke([("user", "I live in Paris, I bake")], CONFIG)
    manager.invoke([("user", "Moved to Berlin, quit baking, got a cat")], CONFIG)
    assert len(store.write_batches) == 2
    assert len(store.write_batches[1]) == 5  # 2 history records, 1 update, 1 delete, 1 insert
    assert sorted(i.value["content"] for i in store.search(NS)) == [
        "User has a cat",
        "User lives in Berlin",
    ]


def test_store_manager_as_a_graph_node() -> None:
    """Added as a node, the manager updates the memories and leaves the state unchanged."""
    store = _store()
    model = ScriptedMemoryModel(
        script=[turn(insert("User lives in Paris")), turn(update("lives", "User lives in Rome"))]
    )
    builder = StateGraph(MessagesState)
    builder.add_node("remember", create_memory_store_manager(model))
    builder.add_edge(START, "remember")
    graph = builder.compile(store=store, checkpointer=InMemorySaver())
    graph.invoke({"messages": [("user", "I live in Paris")]}, CONFIG)
    state = graph.invoke({"messages": [("user", "I live in Rome now")]}, CONFIG)
    assert len(state["messages"]) == 2
    (item,) = store.search(NS)
    assert item.value["content"] == "User lives in Rome"
    assert [v.value["content"] for v in get_history(store, NS, item.key)] == ["User lives in Paris"]


def test_store_manager_without_index_shows_the_newest_memories() -> None:
    """On a store with no vector index the model still sees recent memories to update."""
    store = InMemoryStore()
    store.put(NS, "k", {"kind": "Memory", "content": "User lives in Paris"})
    model = ScriptedMemoryModel(script=[turn(update("Paris", "User lives in Oslo"))])
    create_memory_store_manager(model, store=store).invoke([("user", "Oslo now")], CONFIG)
    assert store.get(NS, "k").value["content"] == "User lives in Oslo"


def test_bad_arguments_are_typed_errors() -> None:
    """No schemas, a bad schema type or a zero query limit are refused up front."""
    from threadloom.errors import InvalidStoreInputError

    model = ScriptedMemoryModel()
    with pytest.raises(InvalidStoreInputError):
        create_memory_manager(model, schemas=[])
    with pytest.raises(InvalidStoreInputError):
        create_memory_manager(model, schemas=[dict])
    with pytest.raises(InvalidStoreInputError):
        create_memory_store_manager(model, query_limit=0)
