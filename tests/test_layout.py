"""Layout rules: small modules, ``__init__`` files that only re-export, a true code map."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

import threadloom

PACKAGE = Path(threadloom.__file__).parent
MAX_LINES = 800

# PEP 562 hooks re-export lazily (the top-level package imports nothing at run time).
LAZY_EXPORT_HOOKS = frozenset({"__getattr__", "__dir__"})

#: ``__init__`` files still holding code, each to move into a named module. The
#: test below fails once one no longer does, so this list can only shrink.
PENDING_INIT_CODE: dict[str, str] = {}


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
    assert {"store/base/__init__.py", "store/memory.py", "store/sqlite/__init__.py"} <= names


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


def test_pending_init_files_still_hold_code() -> None:
    """Each entry of PENDING_INIT_CODE is still needed; remove it once its code has moved."""
    done = [rel for rel in sorted(PENDING_INIT_CODE) if not _definitions(PACKAGE / rel)]
    assert done == [], f"{done}: done, drop them from the list"


def test_the_rules_catch_code_in_an_init_file(tmp_path: Path) -> None:
    """The definition scan sees classes and functions, and lets plain re-exports and hooks pass."""
    busy = tmp_path / "busy.py"
    busy.write_text("from x import y\n\nclass A:\n    pass\n\nasync def f():\n    pass\n")
    lazy = tmp_path / "lazy.py"
    lazy.write_text("__all__ = ['y']\n\ndef __getattr__(name):\n    return name\n")
    assert _definitions(busy) == ["A", "f"]
    assert _definitions(lazy) == []


# --- docs/architecture.md stays true ----------------------------------------------

ARCHITECTURE = PACKAGE.parents[1] / "docs" / "architecture.md"
_FILE = re.compile(r"`src/(threadloom/[\w/]+\.py)`")


def _hop_lists() -> dict[str, list[str]]:
    """Each "The path of ..." section's numbered hops (continuation lines joined)."""
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in ARCHITECTURE.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            current = sections.setdefault(line[3:], []) if "The path of" in line else None
        elif current is not None and re.match(r"\d+\. ", line):
            current.append(line)
        elif current is not None and line.startswith("   ") and current:
            current[-1] += " " + line.strip()
    return sections


def test_the_architecture_map_follows_three_calls_in_at_most_five_hops() -> None:
    """docs/architecture.md follows graph.invoke, store.put and store.search, each in 1-5 hops,
    and every hop names at least one source file."""
    sections = _hop_lists()
    assert sorted(sections) == [
        "The path of `graph.invoke(...)`",
        "The path of `store.put(...)`",
        "The path of `store.search(...)`",
    ]
    for title, hops in sections.items():
        assert 1 <= len(hops) <= 5, f"{title}: {len(hops)} hops"
        for hop in hops:
            assert _FILE.search(hop), f"{title}: a hop names no file: {hop[:60]}"


@pytest.mark.parametrize(
    "relative",
    sorted(set(_FILE.findall(ARCHITECTURE.read_text(encoding="utf-8")))),
)
def test_every_file_the_architecture_map_names_exists_and_imports(relative: str) -> None:
    """Each file named in docs/architecture.md is a module of the package that imports."""
    path = PACKAGE.parent / relative
    assert path.is_file(), f"{relative} does not exist"
    parts = list(Path(relative).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    importlib.import_module(".".join(parts))
