"""Graph markers keep LangGraph's values (the import paths are pinned in tests/test_public_api.py)."""

from __future__ import annotations


def test_start_and_end_have_their_conventional_values() -> None:
    """START and END are the strings checkpoints and user code compare against."""
    from threadloom.graph import END, START

    assert (START, END) == ("__start__", "__end__")


def test_constants_module_matches_the_graph_module() -> None:
    """threadloom.constants (LangGraph's langgraph.constants path) holds the same markers."""
    from threadloom import constants, graph

    assert (constants.START, constants.END) == (graph.START, graph.END)
