"""The source layout rules: small modules, and package ``__init__`` files that only re-export."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import threadloom

PACKAGE = Path(threadloom.__file__).parent
MAX_LINES = 800

# PEP 562 hooks re-export lazily (the top-level package imports nothing at run time).
LAZY_EXPORT_HOOKS = frozenset({"__getattr__", "__dir__"})

#: ``__init__`` files still holding code, each to move into a named module. The
#: test below fails once one no longer does, so this list can only shrink.
PENDING_INIT_CODE = {
    "checkpoint/sqlite/__init__.py": "SqliteSaver moves to a named module",
    "checkpoint/postgres/__init__.py": "PostgresSaver moves to a named module",
    "cli/__init__.py": "the parser and main() move to a named module",
}


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _relative(path: Path) -> str:
    return path.relative_to(PACKAGE).as_posix()


def _definitions(path: Path) -> list[str]:
    """Names of the classes and functions ``path`` defines at module level (hooks excepted)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        node.name
        for node in tree.body
        if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
        and node.name not in LAZY_EXPORT_HOOKS
    ]


def test_the_package_is_where_the_tests_look() -> None:
    """The layout checks read the sources (not an empty or foreign folder)."""
    names = {_relative(path) for path in _modules()}
    assert {"store/base.py", "store/memory.py", "store/sqlite/__init__.py"} <= names


@pytest.mark.parametrize("path", _modules(), ids=_relative)
def test_no_module_is_over_800_lines(path: Path) -> None:
    """Every module of src/threadloom has at most 800 lines."""
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{_relative(path)} has {lines} lines"


@pytest.mark.parametrize(
    "path",
    [p for p in _modules() if p.name == "__init__.py" and _relative(p) not in PENDING_INIT_CODE],
    ids=_relative,
)
def test_package_init_files_only_re_export(path: Path) -> None:
    """A package ``__init__.py`` defines no class or function: it imports and re-exports."""
    assert _definitions(path) == []


@pytest.mark.parametrize("relative", sorted(PENDING_INIT_CODE))
def test_pending_init_files_still_hold_code(relative: str) -> None:
    """Each entry of PENDING_INIT_CODE is still needed; remove it once its code has moved."""
    path = PACKAGE / relative
    assert path.exists() and _definitions(path), f"{relative}: done, drop it from the list"


def test_the_rules_catch_code_in_an_init_file(tmp_path: Path) -> None:
    """The definition scan sees classes and functions, and lets plain re-exports and hooks pass."""
    busy = tmp_path / "busy.py"
    busy.write_text("from x import y\n\nclass A:\n    pass\n\nasync def f():\n    pass\n")
    lazy = tmp_path / "lazy.py"
    lazy.write_text("__all__ = ['y']\n\ndef __getattr__(name):\n    return name\n")
    assert _definitions(busy) == ["A", "f"]
    assert _definitions(lazy) == []
