"""init_embeddings: "provider:model" strings, LangChain-style."""

from __future__ import annotations

import sys
import types
from typing import Any

import pytest

from threadloom.embeddings import LocalEmbeddings, init_embeddings
from threadloom.errors import InvalidEmbedderError, UnknownEmbeddingProviderError


class _Recorder:
    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs


@pytest.fixture()
def fake_openai(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    """A stand-in langchain_openai module, so routing is tested without the package."""
    module = types.ModuleType("langchain_openai")
    module.OpenAIEmbeddings = _Recorder  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "langchain_openai", module)
    return module


@pytest.mark.parametrize("spec", ["local", "local:all-MiniLM-L6-v2", "LOCAL:all-minilm-l6-v2"])
def test_local_strings_give_the_local_model(spec: str, local: LocalEmbeddings) -> None:
    """"local" and "local:all-MiniLM-L6-v2" build the offline default embedder."""
    assert isinstance(init_embeddings(spec), LocalEmbeddings)


def test_local_accepts_keyword_arguments(local: LocalEmbeddings) -> None:
    """Keyword arguments reach the local embedder's constructor."""
    emb = init_embeddings("local", batch_size=8)
    assert isinstance(emb, LocalEmbeddings) and emb.batch_size == 8


def test_the_local_provider_rejects_other_models() -> None:
    """The local provider names the one model it has."""
    with pytest.raises(UnknownEmbeddingProviderError, match="all-MiniLM-L6-v2"):
        init_embeddings("local:bge-large")


def test_a_provider_string_builds_its_integration_class(fake_openai: types.ModuleType) -> None:
    """"openai:<model>" builds langchain_openai.OpenAIEmbeddings(model=<model>, **kwargs)."""
    emb = init_embeddings("openai:text-embedding-3-small", dimensions=256)
    assert isinstance(emb, _Recorder)
    assert emb.kwargs == {"model": "text-embedding-3-small", "dimensions": 256}


def test_the_provider_may_be_given_as_a_keyword(fake_openai: types.ModuleType) -> None:
    """init_embeddings("model", provider="openai") is the same as "openai:model"."""
    emb = init_embeddings("text-embedding-3-large", provider="openai")
    assert isinstance(emb, _Recorder) and emb.kwargs == {"model": "text-embedding-3-large"}


def test_a_missing_integration_package_names_the_pip_package(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without the integration installed, the ImportError says what to pip install."""
    monkeypatch.setitem(sys.modules, "langchain_cohere", None)  # makes the import fail
    with pytest.raises(ImportError, match="pip install langchain-cohere"):
        init_embeddings("cohere:embed-english-v3.0")


def test_an_unknown_provider_lists_the_known_ones() -> None:
    """An unknown provider is a ValueError that lists every known provider."""
    with pytest.raises(UnknownEmbeddingProviderError, match="unknown embedding provider 'acme'") as info:
        init_embeddings("acme:embedder-1")
    assert isinstance(info.value, ValueError)
    for name in ("local", "openai", "cohere", "ollama", "huggingface", "bedrock"):
        assert name in str(info.value)


@pytest.mark.parametrize("spec", ["text-embedding-3-small", "", "  "])
def test_a_string_without_a_provider_is_malformed(spec: str) -> None:
    """A string with no "provider:" part says which form is expected."""
    with pytest.raises(UnknownEmbeddingProviderError, match='"provider:model"'):
        init_embeddings(spec)


def test_a_provider_without_a_model_is_malformed() -> None:
    """"openai:" names no model."""
    with pytest.raises(UnknownEmbeddingProviderError, match="no model given for provider 'openai'"):
        init_embeddings("openai:")


def test_a_non_string_spec_is_rejected() -> None:
    """init_embeddings takes strings only."""
    with pytest.raises(UnknownEmbeddingProviderError, match="got int"):
        init_embeddings(42)  # type: ignore[arg-type]


def test_error_types_are_distinct() -> None:
    """A bad embedder type and an unknown provider are different errors."""
    assert not issubclass(UnknownEmbeddingProviderError, InvalidEmbedderError)
