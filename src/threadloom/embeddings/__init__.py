"""Embedders for the memory store: adapters, ``init_embeddings`` and the local model.

Anything a store's ``index={"embed": ...}`` accepts goes through
:func:`ensure_embeddings`: a LangChain ``Embeddings``, a sync or async
function from texts to vectors, or a ``"provider:model"`` string.

>>> from threadloom.embeddings import ensure_embeddings
>>> emb = ensure_embeddings(lambda texts: [[1.0, 0.0] for _ in texts])
>>> emb.embed_query("hi")
[1.0, 0.0]
"""

from threadloom.embeddings._adapters import EmbedFunction, FunctionEmbeddings, ensure_embeddings
from threadloom.embeddings._providers import init_embeddings

__all__ = [
    "EmbedFunction",
    "FunctionEmbeddings",
    "ensure_embeddings",
    "init_embeddings",
]
