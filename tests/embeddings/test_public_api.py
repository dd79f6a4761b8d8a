"""threadloom.embeddings exports a small, stable surface."""

from __future__ import annotations

import pytest

import threadloom.embeddings as embeddings
from threadloom.embeddings import _local


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


def test_building_the_local_embedder_does_not_load_the_model(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The weights load on first use, not when the embedder is created."""

    def no_build(folder: object) -> None:
        raise AssertionError("loaded too early")

    monkeypatch.setattr(_local, "_cache", {})
    monkeypatch.setattr(_local, "_build", no_build)
    emb = embeddings.init_embeddings("local")
    assert isinstance(emb, embeddings.LocalEmbeddings)
    assert _local._cache == {}
