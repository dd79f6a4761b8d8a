"""Turn whatever the user passed as ``embed`` into a LangChain ``Embeddings``."""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from langchain_core.embeddings import Embeddings

from threadloom.errors import EmbeddingError, InvalidEmbedderError

__all__ = ["EmbedFunction", "FunctionEmbeddings", "ensure_embeddings"]

Vectors = Sequence[Sequence[float]]
EmbedFunction = (
    Callable[[Sequence[str]], Vectors] | Callable[[Sequence[str]], Awaitable[Vectors]]
)
"""A function from a list of texts to one vector per text, sync or async."""


def _is_async_callable(func: Any) -> bool:
    while isinstance(func, functools.partial):
        func = func.func
    if inspect.iscoroutinefunction(func):
        return True
    # A callable object whose __call__ is ``async def``.
    call = getattr(func, "__call__", None)  # noqa: B004 - we want the method, not callable()
    return call is not None and inspect.iscoroutinefunction(call)


def _as_vectors(result: Any, func: Callable[..., Any]) -> list[list[float]]:
    # Embeddings promises plain lists of floats; numpy arrays and tuples are common returns.
    if hasattr(result, "tolist") and callable(result.tolist):
        result = result.tolist()
    try:
        return [[float(x) for x in vector] for vector in result]
    except (TypeError, ValueError) as exc:
        name = getattr(func, "__qualname__", repr(func))
        raise EmbeddingError(
            f"embedding function {name} must return one sequence of floats per text, "
            f"got {type(result).__name__}: {exc}"
        ) from exc


def _in_running_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


class FunctionEmbeddings(Embeddings):
    """A LangChain ``Embeddings`` backed by a plain function, sync or async.

    Sync functions run in a worker thread when called through the async
    methods, so the event loop is never blocked. An async-only function called
    through the sync methods runs on a private event loop; inside a running
    loop that would deadlock, so it raises :class:`InvalidEmbedderError`.

    >>> emb = FunctionEmbeddings(lambda texts: [[float(len(t)), 1.0] for t in texts])
    >>> emb.embed_query("four")
    [4.0, 1.0]
    """

    def __init__(self, func: EmbedFunction) -> None:
        if not callable(func):
            raise InvalidEmbedderError(f"expected a callable, got {type(func).__name__}")
        self.func = func
        self.is_async = _is_async_callable(func)

    def __repr__(self) -> str:
        kind = "async" if self.is_async else "sync"
        name = getattr(self.func, "__qualname__", repr(self.func))
        return f"FunctionEmbeddings({name}, {kind})"

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed texts by calling the function (on a private loop if it is async)."""
        if not texts:
            return []
        if self.is_async:
            if _in_running_loop():
                raise InvalidEmbedderError(
                    "this embedder is an async function and cannot be called synchronously "
                    "inside a running event loop; use the async API (aembed_documents, "
                    "store.asearch/aput) or pass a sync function"
                )
            return _as_vectors(asyncio.run(self._call_async(list(texts))), self.func)
        result = self.func(list(texts))
        if inspect.isawaitable(result):
            # A sync-looking callable that hands back a coroutine: treat it as async.
            if _in_running_loop():
                close = getattr(result, "close", None)
                if close is not None:
                    close()  # avoid a "coroutine was never awaited" warning
                raise InvalidEmbedderError(
                    "this embedder returned an awaitable and cannot be awaited synchronously "
                    "inside a running event loop; use the async API"
                )
            result = asyncio.run(_await(result))
        return _as_vectors(result, self.func)

    def embed_query(self, text: str) -> list[float]:
        """Embed one text."""
        return self._one(self.embed_documents([text]))

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed texts without blocking the event loop."""
        if not texts:
            return []
        if self.is_async:
            return _as_vectors(await self._call_async(list(texts)), self.func)
        result = await asyncio.to_thread(self.func, list(texts))
        if inspect.isawaitable(result):
            result = await result
        return _as_vectors(result, self.func)

    async def aembed_query(self, text: str) -> list[float]:
        """Embed one text without blocking the event loop."""
        return self._one(await self.aembed_documents([text]))

    def _one(self, vectors: list[list[float]]) -> list[float]:
        if len(vectors) != 1:
            name = getattr(self.func, "__qualname__", repr(self.func))
            raise EmbeddingError(
                f"embedding function {name} returned {len(vectors)} vectors for 1 text"
            )
        return vectors[0]

    async def _call_async(self, texts: list[str]) -> Any:
        return await self.func(texts)  # type: ignore[misc]  # is_async checked by the caller


async def _await(awaitable: Awaitable[Any]) -> Any:
    return await awaitable


def ensure_embeddings(embed: Embeddings | EmbedFunction | str) -> Embeddings:
    """Return a LangChain ``Embeddings`` for any supported ``embed`` value.

    ``embed`` may be an ``Embeddings`` (returned as is), a sync or async
    function from a list of texts to a list of vectors, or a
    ``"provider:model"`` string (see :func:`init_embeddings`; ``"local"`` is
    the offline default model).

    >>> emb = ensure_embeddings(lambda texts: [[1.0, 0.0] for _ in texts])
    >>> emb.embed_documents(["a", "b"])
    [[1.0, 0.0], [1.0, 0.0]]
    """
    if isinstance(embed, Embeddings):
        return embed
    if isinstance(embed, str):
        from threadloom.embeddings._providers import init_embeddings

        return init_embeddings(embed)
    if callable(embed) and not isinstance(embed, type):
        return FunctionEmbeddings(embed)
    if isinstance(embed, type) and issubclass(embed, Embeddings):
        raise InvalidEmbedderError(
            f"embed is the class {embed.__name__}, not an instance; pass {embed.__name__}(...)"
        )
    raise InvalidEmbedderError(
        "embed must be a LangChain Embeddings, a function from texts to vectors (sync or "
        f'async), or a "provider:model" string; got {type(embed).__name__}'
    )
