"""Import layers: the engine (``threadloom._engine``) and the public modules do not import in a circle.

The engine may use public modules (``threadloom.types``, ``threadloom.errors``, ...) and public
modules may use the engine, but no chain of module-level imports leaves the engine for a public
module and comes back into the engine: such a chain is an import cycle waiting to happen, and it
makes the import order of the package matter.
"""

from __future__ import annotations

import ast
from collections import deque
from pathlib import Path

import threadloom

PACKAGE = Path(threadloom.__file__).parent
ENGINE = "threadloom._engine"

#: Imports of the engine deferred into a function body, in public modules the engine itself
#: imports. Each would close a circle at module level; each is a public call that only makes sense
#: while the engine runs a node, so it reaches the running engine at call time.
DEFERRED_ENGINE_IMPORTS = {
    ("threadloom.types", "threadloom._engine._context"): "interrupt() reads the running task",
}


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _imported(node: ast.AST, package: str, known: set[str]) -> set[str]:
    """Modules one import statement loads (``from a import b`` loads ``a.b`` when that is a module)."""
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names}
    if not isinstance(node, ast.ImportFrom):
        return set()
    if node.level:
        base = package.split(".")[: len(package.split(".")) - node.level + 1]
        module = ".".join(base + ([node.module] if node.module else []))
    else:
        module = node.module or ""
    return {module} | {
        f"{module}.{alias.name}" for alias in node.names if f"{module}.{alias.name}" in known
    }


def _imports(
    tree: ast.Module, name: str, is_package: bool, known: set[str]
) -> tuple[set[str], set[str]]:
    """(module-level imports, imports inside function bodies) of one module, TYPE_CHECKING blocks aside."""
    package = name if is_package else name.rpartition(".")[0]
    top: set[str] = set()
    deferred: set[str] = set()

    def visit(node: ast.AST, in_function: bool) -> None:
        if _is_type_checking(node):
            return
        (deferred if in_function else top).update(_imported(node, package, known))
        nested = in_function or isinstance(
            node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
        )
        for child in ast.iter_child_nodes(node):
            visit(child, nested)

    visit(tree, False)
    return top, deferred


def _with_parents(modules: set[str], known: set[str]) -> set[str]:
    """Importing ``a.b.c`` also runs ``a`` and ``a.b``: those are edges too."""
    out = set()
    for module in modules:
        parts = module.split(".")
        out.update(".".join(parts[: i + 1]) for i in range(len(parts)))
    return {m for m in out if m in known}


def import_graph(root: Path) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """Module-level and deferred import edges between the modules of the package at ``root``."""
    paths = {_module_name(path, root): path for path in sorted(root.rglob("*.py"))}
    known = set(paths)
    top: dict[str, set[str]] = {}
    deferred: dict[str, set[str]] = {}
    for name, path in paths.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        now, later = _imports(tree, name, path.name == "__init__.py", known)
        top[name] = _with_parents(now, known) - {name, root.name}
        deferred[name] = _with_parents(later, known) - {name, root.name}
    return top, deferred


def round_trips(top: dict[str, set[str]], engine: str) -> list[list[str]]:
    """Chains engine -> public -> ... -> engine along module-level imports (one per public entry)."""
    inside = {name for name in top if name == engine or name.startswith(engine + ".")}
    found = []
    for start in sorted(inside):
        for entry in sorted(top[start] - inside):
            previous: dict[str, str | None] = {entry: None}
            queue = deque([entry])
            while queue:
                current = queue.popleft()
                back = sorted(top[current] & inside)
                if back:
                    chain = [max(back, key=len), current]
                    step = previous[current]
                    while step is not None:
                        chain.append(step)
                        step = previous[step]
                    found.append([start, *reversed(chain[1:]), chain[0]])
                    break
                for module in sorted(top[current] - inside):
                    if module not in previous:
                        previous[module] = current
                        queue.append(module)
    return found


def test_no_import_chain_leaves_the_engine_and_comes_back() -> None:
    """No engine module imports a public module that (through public modules) imports the engine."""
    top, _ = import_graph(PACKAGE)
    assert any(name.startswith(ENGINE + ".") for name in top)
    assert any(ENGINE in str(edges) for edges in top.values()), "the public modules use the engine"
    assert round_trips(top, ENGINE) == []


def test_the_engine_imports_only_public_modules_that_do_not_import_it_at_module_level() -> None:
    """The public modules the engine stands on reach the engine only through the listed deferred imports."""
    top, deferred = import_graph(PACKAGE)
    inside = {name for name in top if name.startswith(ENGINE)}
    below = set().union(*(top[name] for name in inside)) - inside
    pending = deque(sorted(below))
    while pending:
        for module in sorted(top[pending.popleft()] - inside - below):
            below.add(module)
            pending.append(module)
    late = {
        (module, target)
        for module in below
        for target in deferred[module]
        if target.startswith(ENGINE + ".")
    }
    assert late == set(DEFERRED_ENGINE_IMPORTS)


def test_the_scan_finds_a_round_trip_and_ignores_type_checking_imports(tmp_path: Path) -> None:
    """A made-up package with engine -> api -> engine is caught; TYPE_CHECKING and function imports are not edges."""
    root = tmp_path / "pkg"
    (root / "_engine").mkdir(parents=True)
    (root / "__init__.py").write_text("")
    (root / "_engine" / "__init__.py").write_text("")
    (root / "_engine" / "core.py").write_text("from pkg import api\n")
    (root / "_engine" / "ctx.py").write_text("X = 1\n")
    (root / "api.py").write_text("from pkg._engine.ctx import X\n")
    (root / "quiet.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg._engine import core\n"
        "def f():\n    from pkg._engine import core\n"
    )
    top, deferred = import_graph(root)
    assert round_trips(top, "pkg._engine") == [["pkg._engine.core", "pkg.api", "pkg._engine.ctx"]]
    assert top["pkg.quiet"] == set() and deferred["pkg.quiet"] == {
        "pkg._engine",
        "pkg._engine.core",
    }
