"""The import paths a LangGraph program uses exist under threadloom (the migration contract)."""

from __future__ import annotations

import importlib

import pytest

CONTRACT = {
    "threadloom.graph": ["StateGraph", "MessagesState", "START", "END", "add_messages"],
    "threadloom.graph.message": ["MessagesState", "add_messages"],
    "threadloom.graph.state": ["StateGraph", "CompiledStateGraph"],
    "threadloom.types": [
        "Command",
        "Send",
        "interrupt",
        "Interrupt",
        "RetryPolicy",
        "StateSnapshot",
        "StreamWriter",
    ],
    "threadloom.config": ["get_config", "get_store", "get_stream_writer"],
    "threadloom.runtime": ["Runtime"],
}


@pytest.mark.parametrize("module", sorted(CONTRACT))
def test_module_exports_the_contracted_names(module: str) -> None:
    """Each public module exports (and lists in __all__) the names of the import-path table."""
    mod = importlib.import_module(module)
    for name in CONTRACT[module]:
        assert hasattr(mod, name), f"{module}.{name}"
        assert name in mod.__all__, f"{name} missing from {module}.__all__"


def test_start_and_end_have_their_conventional_values() -> None:
    """START and END are the strings checkpoints and user code compare against."""
    from threadloom.graph import END, START

    assert (START, END) == ("__start__", "__end__")
