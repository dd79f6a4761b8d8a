"""The checkpoint modules' public surface, and the examples in their docstrings run as written."""

from __future__ import annotations

import importlib
import inspect
import textwrap

import pytest

MODULES = [
    "threadloom.checkpoint",
    "threadloom.checkpoint.base",
    "threadloom.checkpoint.serde",
    "threadloom.checkpoint.serde.encrypted",
    "threadloom.checkpoint.serde.jsonplus",
    "threadloom.checkpoint.serde.types",
    "threadloom.checkpoint.memory",
    "threadloom.checkpoint.sqlite",
    "threadloom.checkpoint.sqlite.aio",
    "threadloom.testing.checkpoint",
]


def examples(module_name: str) -> list[str]:
    """Every ``Example::`` block in a module's docstring and its public members' docstrings."""
    module = importlib.import_module(module_name)
    docs = [module.__doc__ or ""]
    docs += [inspect.getdoc(getattr(module, name)) or "" for name in getattr(module, "__all__", [])]
    found = []
    for doc in docs:
        if "Example::" not in doc:
            continue
        block = doc.split("Example::", 1)[1]
        lines = []
        for line in block.splitlines()[1:]:
            if line.strip() and not line.startswith("    "):
                break
            lines.append(line)
        found.append(textwrap.dedent("\n".join(lines)))
    return found


@pytest.mark.parametrize("module_name", MODULES)
def test_public_names_exist(module_name: str) -> None:
    """Every name in a module's __all__ is defined there."""
    module = importlib.import_module(module_name)
    assert module.__all__
    for name in module.__all__:
        assert hasattr(module, name), name


def test_the_documented_import_paths_hold() -> None:
    """The import paths users migrate to exist."""
    from threadloom.checkpoint.base import (  # noqa: F401
        BaseCheckpointSaver,
        Checkpoint,
        CheckpointMetadata,
        CheckpointTuple,
    )
    from threadloom.checkpoint.memory import InMemorySaver, MemorySaver  # noqa: F401
    from threadloom.checkpoint.sqlite import SqliteSaver  # noqa: F401
    from threadloom.checkpoint.sqlite.aio import AsyncSqliteSaver  # noqa: F401


@pytest.mark.parametrize(
    "source",
    [pytest.param(code, id=f"{name}-{i}") for name in MODULES for i, code in enumerate(examples(name))],
)
def test_docstring_examples_run(source: str) -> None:
    """Each docstring example runs without error (its asserts hold)."""
    exec(compile(source, "<docstring example>", "exec"), {})
