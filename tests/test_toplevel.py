"""The short top-level import: the first program's names from ``threadloom``, loaded on use."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest
from typing_extensions import TypedDict

import threadloom

HOMES = {
    "StateGraph": "threadloom.graph",
    "MessagesState": "threadloom.graph",
    "add_messages": "threadloom.graph",
    "START": "threadloom.graph",
    "END": "threadloom.graph",
    "Command": "threadloom.types",
    "Send": "threadloom.types",
    "Interrupt": "threadloom.types",
    "interrupt": "threadloom.types",
    "RetryPolicy": "threadloom.types",
    "InMemorySaver": "threadloom.checkpoint.memory",
    "InMemoryStore": "threadloom.store.memory",
    "ThreadloomError": "threadloom.errors",
}


def _python(code: str) -> str:
    """What a fresh interpreter prints when it runs ``code``."""
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout


def test_import_threadloom_loads_no_other_module_of_the_package() -> None:
    """``import threadloom`` alone imports none of its submodules (nor typing)."""
    code = (
        "import sys; import threadloom; "
        "print(sorted(m for m in sys.modules if m.startswith('threadloom.') or m == 'typing'))"
    )
    assert _python(code).strip() == "[]"


def test_a_name_loads_its_module_on_first_use() -> None:
    """Touching threadloom.StateGraph imports threadloom.graph, and only then."""
    code = (
        "import sys, threadloom; before = 'threadloom.graph' in sys.modules; "
        "threadloom.StateGraph; print(before, 'threadloom.graph' in sys.modules)"
    )
    assert _python(code).split() == ["False", "True"]


@pytest.mark.parametrize("name", sorted(HOMES))
def test_each_name_is_the_object_of_its_public_module(name: str) -> None:
    """threadloom.X is the very object that X's public module exports."""
    assert getattr(threadloom, name) is getattr(importlib.import_module(HOMES[name]), name)


def test_all_and_dir_list_the_lazy_names() -> None:
    """__all__ names every re-export, and dir() shows them before they are loaded."""
    assert set(threadloom.__all__) == {*HOMES, "__version__"}
    assert set(threadloom.__all__) <= set(dir(threadloom))


def test_an_unknown_name_is_an_attribute_error_naming_it() -> None:
    """A name threadloom does not export raises AttributeError, as for any module."""
    with pytest.raises(AttributeError, match="'Nope'"):
        threadloom.Nope  # noqa: B018


def test_a_first_program_needs_only_the_top_level_import() -> None:
    """A checkpointed graph with an interrupt runs on names imported from threadloom alone."""
    from threadloom import START, Command, InMemorySaver, StateGraph, interrupt

    class State(TypedDict):
        name: str

    def ask(state: State) -> dict[str, str]:
        return {"name": interrupt("name?")}

    builder = StateGraph(State)
    builder.add_node("ask", ask)
    builder.add_edge(START, "ask")
    graph = builder.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "1"}}
    assert graph.invoke({"name": ""}, config)["__interrupt__"][0].value == "name?"
    assert graph.invoke(Command(resume="Ann"), config) == {"name": "Ann"}
