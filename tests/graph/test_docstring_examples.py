"""The ``Example::`` blocks in the graph runtime's docstrings run as written."""

from __future__ import annotations

import importlib
import inspect
import re
import textwrap

import pytest

MODULES = [
    "threadloom.graph",
    "threadloom.graph.state",
    "threadloom.graph.message",
    "threadloom.types",
    "threadloom.config",
    "threadloom.runtime",
    "threadloom.channels.last_value",
    "threadloom.channels.binop",
    "threadloom.channels.topic",
    "threadloom.channels.ephemeral",
    "threadloom.channels.trigger",
    "threadloom.channels.barrier",
    "threadloom.channels.messages",
    "threadloom._engine._pregel",
    "threadloom.func",
    "threadloom.pregel",
    "threadloom.pregel._pregel",
]

_EXAMPLE = re.compile(r"Example::\n\n((?:[ \t]+.*\n|\n)+)")


def examples() -> list[tuple[str, str]]:
    found = []
    for name in MODULES:
        module = importlib.import_module(name)
        docs = [module.__doc__ or ""]
        for _, obj in inspect.getmembers(module):
            is_named = inspect.isclass(obj) or inspect.isfunction(obj)  # not instances
            if is_named and getattr(obj, "__module__", None) == name:
                docs.append(obj.__doc__ or "")
                for _, member in inspect.getmembers(obj):
                    if inspect.isfunction(member) and member.__qualname__.startswith(
                        obj.__name__ + "."
                    ):
                        docs.append(member.__doc__ or "")
        for doc in docs:
            for block in _EXAMPLE.findall(doc + "\n"):
                found.append((f"{name}#{len(found)}", textwrap.dedent(block)))
    return found


EXAMPLES = examples()


def test_there_are_examples() -> None:
    """The main entry points carry examples."""
    assert len(EXAMPLES) >= 10


@pytest.mark.parametrize("name,code", EXAMPLES, ids=[n for n, _ in EXAMPLES])
def test_example_runs(name: str, code: str) -> None:
    """Each example executes in its module's namespace, as doctest would."""
    namespace = dict(vars(importlib.import_module(name.split("#")[0])))
    namespace["__name__"] = "docstring_example"
    exec(compile(code, f"<{name}>", "exec", dont_inherit=True), namespace)
