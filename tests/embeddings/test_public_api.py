"""threadloom.embeddings exports a small, stable surface."""

from __future__ import annotations

import subprocess
import sys

import threadloom.embeddings as embeddings


def test_the_package_exports_exactly_its_public_names() -> None:
    """__all__ lists the adapters, init_embeddings and the local model, and each exists."""
    assert sorted(embeddings.__all__) == [
        "EmbedFunction",
        "FunctionEmbeddings",
        "LocalEmbeddings",
        "ensure_embeddings",
        "init_embeddings",
    ]
    for name in embeddings.__all__:
        assert getattr(embeddings, name) is not None


def test_importing_the_package_does_not_load_the_model() -> None:
    """The weights load on first use, not at import time."""
    code = (
        "import threadloom.embeddings._local as m\n"
        "from threadloom.embeddings import LocalEmbeddings\n"
        "LocalEmbeddings()\n"
        "print(len(m._cache))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "0"
