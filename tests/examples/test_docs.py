"""Every ``python`` block in docs/ runs as written, top to bottom within its page."""

from __future__ import annotations

import contextlib
import io
import re
import sys
import types
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"
_BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)
PAGES = sorted(DOCS.glob("*.md"))


def python_blocks(page: Path) -> list[str]:
    """The ``python`` code blocks of a Markdown page, in order."""
    return _BLOCK.findall(page.read_text(encoding="utf-8"))


def test_every_entry_point_has_a_page() -> None:
    """docs/ has a page for the graph, checkpointers, store, embeddings, testing models and CLI."""
    names = {page.name for page in PAGES}
    assert {"graph.md", "checkpointers.md", "store.md", "embeddings.md", "testing.md", "cli.md"} <= names


@pytest.mark.parametrize("page", PAGES, ids=[page.name for page in PAGES])
def test_page_examples_run(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The page's python blocks run without error, offline and without API keys."""
    monkeypatch.chdir(tmp_path)
    # A real module, so type hints of classes defined in the page resolve (TypedDict states).
    module = types.ModuleType(f"docs_{page.stem}")
    monkeypatch.setitem(sys.modules, module.__name__, module)
    namespace = module.__dict__
    for number, block in enumerate(python_blocks(page), start=1):
        code = compile(block, f"{page.name} block {number}", "exec")
        with contextlib.redirect_stdout(io.StringIO()):
            exec(code, namespace)
