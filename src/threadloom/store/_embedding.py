"""Embedding for stores: which texts a batch needs, one embed call, checked vectors.

Shared by every backend so they fail the same way. A batch's puts are
embedded with ONE ``embed_documents`` call (identical texts are sent once);
the result is checked (count, dims, finite) before the caller applies
anything, so a bad embedder fails the whole batch with :class:`EmbeddingError`.

Typical use inside ``batch``::

    index = ResolvedIndex.from_config(config)          # once, in __init__
    plan = index.plan(ops)                             # raises before any write
    vectors = plan.embed(index)                        # or: await plan.aembed(index)
    for position, op in enumerate(ops):
        rows = vectors.rows_of(position)               # (n, dims) float32 unit rows, or None
"""

from __future__ import annotations

import asyncio
import inspect
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from threadloom.errors import EmbeddingError, InvalidStoreInputError, ThreadloomError
from threadloom.store._vectors import normalize_rows
from threadloom.store.base import IndexConfig, Op, PutOp, SearchOp, get_text_at_path, tokenize_path

__all__ = ["EmbeddingPlan", "ResolvedIndex", "check_vectors"]

FloatMatrix = npt.NDArray[np.float32]
# numpy's float32 dtype (a singleton): "dtype is" is cheaper than "dtype == np.float32".
_FLOAT32 = np.dtype(np.float32)


@dataclass(frozen=True)
class ResolvedIndex:
    """A validated :class:`IndexConfig`: dims, an ``Embeddings`` and field paths."""

    dims: int
    embeddings: Any
    fields: tuple[str, ...]
    config: IndexConfig
    # Embeds documents: the embedder's own array when it has one (_native_documents).
    _documents: Callable[[list[str]], Any] = field(init=False, repr=False, compare=False)
    _plain_field: str | None = field(init=False, repr=False, compare=False)
    # One embedding's shape, (dims,): compared on every single put.
    _shape: tuple[int] = field(init=False, repr=False, compare=False)

    @classmethod
    def from_config(cls, config: IndexConfig | None) -> ResolvedIndex | None:
        """Check ``config`` and resolve its embedder; ``None`` stays ``None``."""
        if config is None:
            return None
        if not isinstance(config, dict):
            raise InvalidStoreInputError(
                f"index must be a dict like {{'dims': 384, 'embed': ...}}, got {type(config).__name__}"
            )
        unknown = set(config) - {"dims", "embed", "fields", "distance_type", "ann_index_config"}
        if unknown:
            raise InvalidStoreInputError(f"Unknown index option(s): {', '.join(sorted(unknown))}")
        dims = config.get("dims")
        if isinstance(dims, bool) or not isinstance(dims, int) or dims <= 0:
            raise InvalidStoreInputError(f"index['dims'] must be a positive integer, got {dims!r}")
        if config.get("embed") is None:
            raise InvalidStoreInputError(
                "index['embed'] is required: an Embeddings, a function or 'provider:model'"
            )
        fields = config.get("fields") or ["$"]
        if not isinstance(fields, (list, tuple)) or not all(
            isinstance(f, str) and f for f in fields
        ):
            raise InvalidStoreInputError(
                f"index['fields'] must be a list of path strings, got {fields!r}"
            )
        for path in fields:
            tokenize_path(path)  # a malformed path fails now, not at the first put
        from threadloom.embeddings import ensure_embeddings

        return cls(dims, ensure_embeddings(config["embed"]), tuple(fields), config)

    def texts_for(self, op: PutOp) -> list[str]:
        """The texts to embed for a put (none when ``index=False``)."""
        if op.value is None or op.index is False:
            return []
        if op.index is None and self._plain_field is not None:
            text = op.value.get(self._plain_field)
            if type(text) is str:
                return [text]
        paths = self.fields if op.index is None else op.index
        if len(paths) == 1:
            return get_text_at_path(op.value, paths[0])
        texts: list[str] = []
        for path in paths:
            texts.extend(get_text_at_path(op.value, path))
        return texts

    def embed_one(self, text: str) -> tuple[FloatMatrix, float]:
        """One document text's checked ``(dims,)`` float32 vector and the factor that makes
        it a unit row (a single put's path).

        The index writes ``vector * factor`` straight into its matrix
        (:meth:`~threadloom.store._vectors.VectorIndex.set_row`): an embedder's
        float32 array is never copied or modified on the way.
        """
        try:
            vectors = self._documents([text])
        except ThreadloomError:
            raise
        except Exception as exc:
            raise EmbeddingError(f"The embedder raised {type(exc).__name__}: {exc}") from exc
        if type(vectors) is list and len(vectors) == 1:
            first = vectors[0]
            if type(first) is np.ndarray and first.dtype is _FLOAT32 and first.shape == self._shape:
                # The squared norm doubles as the finiteness check (NaN or inf make it so).
                squared = float(first.dot(first))
                if math.isfinite(squared):
                    return first, 1.0 / math.sqrt(squared) if squared else 1.0
        return check_vectors(vectors, 1, self.dims, what="documents")[0], 1.0

    def __post_init__(self) -> None:
        documents = _native_documents(self.embeddings) or self.embeddings.embed_documents
        object.__setattr__(self, "_documents", documents)
        object.__setattr__(self, "_shape", (self.dims,))
        # One plain field (the usual {"fields": ["text"]}): a put whose value holds
        # a string there needs no path walk; anything else takes the general route.
        field = self.fields[0] if len(self.fields) == 1 else None
        if field is not None and (field == "$" or any(c in field for c in ".[]{}*")):
            field = None
        object.__setattr__(self, "_plain_field", field)

    def plan(self, ops: Sequence[Op]) -> EmbeddingPlan:
        """Collect the texts of every put and the query of every search in ``ops``."""
        plan = EmbeddingPlan()
        unique, puts = plan.unique_texts, plan.puts
        field = self._plain_field
        count = 0
        for position, op in enumerate(ops):
            if type(op) is PutOp and op.value is not None:
                text = op.value.get(field) if field is not None and op.index is None else None
                texts = [text] if type(text) is str else self.texts_for(op)
                puts[position] = texts
                count += len(texts)
                for text in texts:
                    if text not in unique:
                        unique[text] = len(unique)
            elif isinstance(op, SearchOp) and op.query is not None:
                plan.queries.setdefault(op.query, len(plan.queries))
        plan.text_count = count
        return plan


@dataclass
class EmbeddingPlan:
    """The texts a batch needs embedded; produce vectors with :meth:`embed`/:meth:`aembed`."""

    puts: dict[int, list[str]] = field(default_factory=dict)
    unique_texts: dict[str, int] = field(default_factory=dict)
    queries: dict[str, int] = field(default_factory=dict)
    # Texts over all puts, repeats included (equal to len(unique_texts): no repeats).
    text_count: int = -1

    def __bool__(self) -> bool:
        """Whether anything needs embedding (a batch of reads and deletes does not)."""
        return bool(self.puts or self.queries)

    def embed(self, index: ResolvedIndex) -> EmbeddedBatch:
        """Embed synchronously (one documents call, one query call per distinct query)."""
        docs = list(self.unique_texts)
        doc_vectors = _call(lambda: index._documents(docs)) if docs else []
        query_vectors = [_call(lambda q=q: index.embeddings.embed_query(q)) for q in self.queries]
        return self._finish(index, doc_vectors, query_vectors)

    async def aembed(self, index: ResolvedIndex) -> EmbeddedBatch:
        """Embed without blocking the event loop."""
        docs = list(self.unique_texts)
        doc_vectors: Any = []
        if docs:
            doc_vectors = await _acall(index.embeddings.aembed_documents(docs))
        query_vectors = await asyncio.gather(
            *(_acall(index.embeddings.aembed_query(q)) for q in self.queries)
        )
        return self._finish(index, doc_vectors, list(query_vectors))

    def _finish(
        self, index: ResolvedIndex, doc_vectors: Any, query_vectors: list[Any]
    ) -> EmbeddedBatch:
        docs = check_vectors(doc_vectors, len(self.unique_texts), index.dims, what="documents")
        queries = check_vectors(query_vectors, len(self.queries), index.dims, what="queries")
        # Without repeated texts the rows are already in put order (unique texts are
        # numbered as first seen): no gather needed.
        if self.text_count == len(docs):
            stacked = docs
        else:
            # One gather puts every put's rows side by side; each put gets a slice (a view).
            order = [self.unique_texts[t] for texts in self.puts.values() for t in texts]
            stacked = docs if order == list(range(len(docs))) else docs[order]
        spans: dict[int, tuple[int, int]] = {}
        start = 0
        for position, texts in self.puts.items():
            spans[position] = (start, len(texts))
            start += len(texts)
        by_query = {q: queries[i] for q, i in self.queries.items()}
        return EmbeddedBatch(stacked, spans, by_query)


@dataclass(frozen=True)
class EmbeddedBatch:
    """Checked unit vectors of a batch.

    ``matrix`` holds every put's rows in op order; ``spans[position]`` is
    ``(start, count)`` of that put's rows; ``queries[text]`` is ``(dims,)``.
    """

    matrix: FloatMatrix
    spans: dict[int, tuple[int, int]]
    queries: dict[str, FloatMatrix]

    def rows_of(self, position: int) -> FloatMatrix | None:
        """The ``(n, dims)`` vectors of the put at ``position`` (a view), or ``None``."""
        span = self.spans.get(position)
        if span is None:
            return None
        return self.matrix[span[0] : span[0] + span[1]]


def check_vectors(vectors: Any, count: int, dims: int, *, what: str) -> FloatMatrix:
    """Validate an embedder's output and return it as float32 unit rows.

    Raises :class:`EmbeddingError` for the wrong count, wrong dims, NaN or inf.
    """
    if count == 0:
        return np.empty((0, dims), dtype=np.float32)
    if count == 1 and type(vectors) is list and len(vectors) == 1:
        # The single put's usual answer, one float32 array: copy it, check and scale it.
        first = vectors[0]
        if type(first) is np.ndarray and first.dtype == np.float32 and first.shape == (dims,):
            squared = float(first.dot(first))
            if math.isfinite(squared):
                # A new array either way: the embedder's own is never modified.
                row = first * np.float32(1.0 / math.sqrt(squared)) if squared else first.copy()
                return row.reshape(1, dims)
    try:
        got = len(vectors)
    except TypeError:
        raise EmbeddingError(
            f"The embedder returned {type(vectors).__name__} for {count} {what}, not a list of vectors"
        ) from None
    if got != count:
        raise EmbeddingError(f"The embedder returned {got} vectors for {count} {what}")
    try:
        matrix = np.asarray(vectors, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise EmbeddingError(
            f"The embedder returned vectors of unequal or non-numeric size for {what} (expected {dims} dims): {exc}"
        ) from exc
    if matrix.ndim != 2 or matrix.shape[1] != dims:
        shape = matrix.shape[1:] if matrix.ndim > 1 else "scalars"
        raise EmbeddingError(
            f"The embedder returned vectors of {shape} dims for {what}; the index expects {dims}"
        )
    if len(matrix) == 1:
        # The single put or query: the squared norm doubles as the finiteness check
        # (a NaN or inf anywhere makes it non-finite; a finite overflow is re-checked).
        row = matrix[0] if matrix is not vectors else matrix[0].copy()
        squared = float(np.dot(row, row))
        if not math.isfinite(squared):
            _check_finite(matrix, what)
            return normalize_rows(matrix, dims)
        if squared:
            row *= 1.0 / math.sqrt(squared)
        return row.reshape(1, dims) if matrix is vectors else matrix
    # One reduction instead of a full boolean mask: a NaN or inf anywhere makes
    # the sum non-finite (a finite overflow is re-checked element-wise).
    if not np.isfinite(matrix.sum(dtype=np.float64)):
        _check_finite(matrix, what)
    if matrix is vectors:
        return normalize_rows(matrix, dims)  # the embedder's own array: never modify it
    return normalize_rows(matrix, dims, copy=False)


def _check_finite(matrix: FloatMatrix, what: str) -> None:
    finite = np.isfinite(matrix)
    if not finite.all():
        bad = matrix[~finite][0]
        raise EmbeddingError(
            f"The embedder returned a vector containing {bad!r} for {what}; vectors must be finite"
        )


def _native_documents(embeddings: Any) -> Callable[[list[str]], Any] | None:
    """A call giving the embedder's own numpy array for documents, or ``None``.

    ``Embeddings.embed_documents`` must return lists of Python floats, which
    the store turns straight back into an array: for threadloom's own local
    model and for a plain sync function, the array goes to the matrix as is.
    """
    from threadloom.embeddings._adapters import FunctionEmbeddings
    from threadloom.embeddings._local import LocalEmbeddings

    if type(embeddings) is LocalEmbeddings:
        return embeddings.encode
    if type(embeddings) is not FunctionEmbeddings or embeddings.is_async:
        return None
    func, adapter = embeddings.func, embeddings

    def documents(texts: list[str]) -> Any:
        result = func(list(texts))
        if isinstance(result, np.ndarray):
            return result
        if inspect.isawaitable(result):
            # A sync-looking function handing back a coroutine (its body has not
            # run): close it and let the adapter call it the way it knows.
            close = getattr(result, "close", None)
            if close is not None:
                close()
            return adapter.embed_documents(texts)
        return result

    return documents


def _call(func: Any) -> Any:
    try:
        return func()
    except ThreadloomError:
        raise
    except Exception as exc:
        raise EmbeddingError(f"The embedder raised {type(exc).__name__}: {exc}") from exc


async def _acall(awaitable: Any) -> Any:
    try:
        return await awaitable
    except ThreadloomError:
        raise
    except Exception as exc:
        raise EmbeddingError(f"The embedder raised {type(exc).__name__}: {exc}") from exc
