"""``init_embeddings("provider:model")``: build an embedder from a short string."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from langchain_core.embeddings import Embeddings

from threadloom.errors import UnknownEmbeddingProviderError

__all__ = ["PROVIDERS", "init_embeddings"]


@dataclass(frozen=True)
class _Provider:
    module: str
    cls: str
    pip: str
    model_arg: str = "model"


PROVIDERS: dict[str, _Provider] = {
    "openai": _Provider("langchain_openai", "OpenAIEmbeddings", "langchain-openai"),
    "azure_openai": _Provider("langchain_openai", "AzureOpenAIEmbeddings", "langchain-openai"),
    "google_genai": _Provider(
        "langchain_google_genai", "GoogleGenerativeAIEmbeddings", "langchain-google-genai"
    ),
    "google_vertexai": _Provider(
        "langchain_google_vertexai", "VertexAIEmbeddings", "langchain-google-vertexai"
    ),
    "bedrock": _Provider("langchain_aws", "BedrockEmbeddings", "langchain-aws", "model_id"),
    "cohere": _Provider("langchain_cohere", "CohereEmbeddings", "langchain-cohere"),
    "mistralai": _Provider("langchain_mistralai", "MistralAIEmbeddings", "langchain-mistralai"),
    "huggingface": _Provider(
        "langchain_huggingface", "HuggingFaceEmbeddings", "langchain-huggingface", "model_name"
    ),
    "ollama": _Provider("langchain_ollama", "OllamaEmbeddings", "langchain-ollama"),
    "voyageai": _Provider("langchain_voyageai", "VoyageAIEmbeddings", "langchain-voyageai"),
}
"""Well-known LangChain integrations; ``"local"`` is handled separately."""

LOCAL = "local"


def _known() -> str:
    return ", ".join([LOCAL, *sorted(PROVIDERS)])


def _split(model: str, provider: str | None) -> tuple[str, str]:
    if not isinstance(model, str):
        raise UnknownEmbeddingProviderError(
            f'expected a "provider:model" string, got {type(model).__name__}'
        )
    if provider is None:
        if model.strip() == LOCAL:
            return LOCAL, ""
        if ":" not in model:
            raise UnknownEmbeddingProviderError(
                f'{model!r} is not of the form "provider:model" (e.g. '
                f'"openai:text-embedding-3-small" or "local"); known providers: {_known()}'
            )
        provider, model = model.split(":", 1)
    provider, model = provider.strip().lower(), model.strip()
    if provider not in PROVIDERS and provider != LOCAL:
        raise UnknownEmbeddingProviderError(
            f"unknown embedding provider {provider!r}; known providers: {_known()}"
        )
    if not model and provider != LOCAL:
        raise UnknownEmbeddingProviderError(
            f'no model given for provider {provider!r}; write "{provider}:<model name>"'
        )
    return provider, model


def init_embeddings(model: str, *, provider: str | None = None, **kwargs: Any) -> Embeddings:
    """Create an embedder from ``"provider:model"``, as LangChain's ``init_embeddings`` does.

    ``"openai:text-embedding-3-small"`` builds ``langchain_openai.OpenAIEmbeddings``
    (other providers alike; extra keyword arguments go to its constructor).
    ``"local"`` or ``"local:all-MiniLM-L6-v2"`` is threadloom's offline model.
    A missing integration package raises ``ImportError`` naming what to install;
    an unknown provider raises :class:`~threadloom.errors.UnknownEmbeddingProviderError`.

    >>> emb = init_embeddings("local")
    >>> len(emb.embed_query("hello"))
    384
    """
    name, model_name = _split(model, provider)
    if name == LOCAL:
        from threadloom.embeddings._local import LocalEmbeddings

        return LocalEmbeddings(model_name or None, **kwargs)
    spec = PROVIDERS[name]
    try:
        module = importlib.import_module(spec.module)
    except ImportError as exc:
        raise ImportError(
            f"embedding provider {name!r} needs the package {spec.pip}: pip install {spec.pip}"
        ) from exc
    cls = getattr(module, spec.cls)
    kwargs.setdefault(spec.model_arg, model_name)
    embeddings: Embeddings = cls(**kwargs)
    return embeddings
