"""ensure_embeddings: every supported kind of `embed` becomes a LangChain Embeddings."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence

import numpy as np
import pytest
from langchain_core.embeddings import Embeddings

from threadloom.embeddings import FunctionEmbeddings, LocalEmbeddings, ensure_embeddings
from threadloom.errors import EmbeddingError, InvalidEmbedderError, ThreadloomError


def _lengths(texts: Sequence[str]) -> list[list[float]]:
    return [[float(len(t)), 1.0] for t in texts]


async def _alengths(texts: Sequence[str]) -> list[list[float]]:
    await asyncio.sleep(0)
    return _lengths(texts)


class _Fixed(Embeddings):
    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [[0.5] for _ in texts]

    def embed_query(self, text: str) -> list[float]:
        return [0.5]


def test_an_embeddings_instance_is_returned_as_is() -> None:
    """A LangChain Embeddings needs no wrapping."""
    emb = _Fixed()
    assert ensure_embeddings(emb) is emb


def test_a_sync_function_embeds_documents_and_queries() -> None:
    """A sync function from texts to vectors serves both Embeddings methods."""
    emb = ensure_embeddings(_lengths)
    assert isinstance(emb, Embeddings)
    assert emb.embed_documents(["ab", "abc"]) == [[2.0, 1.0], [3.0, 1.0]]
    assert emb.embed_query("abcd") == [4.0, 1.0]


async def test_a_sync_function_runs_off_the_event_loop() -> None:
    """The async methods run a sync function in a worker thread, not on the loop's thread."""
    seen: list[threading.Thread] = []

    def slow(texts: Sequence[str]) -> list[list[float]]:
        seen.append(threading.current_thread())
        time.sleep(0.2)
        return _lengths(texts)

    emb = ensure_embeddings(slow)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        for _ in range(10):
            await asyncio.sleep(0.01)
            ticks += 1

    vectors, _ = await asyncio.gather(emb.aembed_documents(["abc"]), ticker())
    assert vectors == [[3.0, 1.0]]
    assert seen[0] is not threading.main_thread()
    assert ticks == 10, "the loop kept running while the function worked"
    assert await emb.aembed_query("ab") == [2.0, 1.0]


async def test_an_async_function_is_awaited_by_the_async_methods() -> None:
    """An async function is awaited directly on the running loop."""
    emb = ensure_embeddings(_alengths)
    assert await emb.aembed_documents(["a", "abc"]) == [[1.0, 1.0], [3.0, 1.0]]
    assert await emb.aembed_query("ab") == [2.0, 1.0]


def test_an_async_function_works_through_the_sync_methods_outside_a_loop() -> None:
    """Without a running loop, the sync methods run the async function to completion."""
    emb = ensure_embeddings(_alengths)
    assert emb.embed_documents(["abc"]) == [[3.0, 1.0]]
    assert emb.embed_query("a") == [1.0, 1.0]


async def test_an_async_function_called_synchronously_inside_a_loop_is_a_clear_error() -> None:
    """Blocking on an async embedder from inside a running loop raises instead of deadlocking."""
    emb = ensure_embeddings(_alengths)
    with pytest.raises(InvalidEmbedderError, match="async"):
        emb.embed_documents(["abc"])


def test_an_async_callable_object_is_detected() -> None:
    """An object whose __call__ is async is treated as an async function."""

    class Model:
        async def __call__(self, texts: Sequence[str]) -> list[list[float]]:
            return _lengths(texts)

    emb = ensure_embeddings(Model())
    assert isinstance(emb, FunctionEmbeddings) and emb.is_async
    assert emb.embed_query("abc") == [3.0, 1.0]


def test_numpy_results_become_plain_float_lists() -> None:
    """A function may return a numpy array; callers get lists of Python floats."""
    emb = ensure_embeddings(lambda texts: np.ones((len(texts), 3), dtype=np.float32))
    vectors = emb.embed_documents(["a", "b"])
    assert vectors == [[1.0, 1.0, 1.0]] * 2
    assert type(vectors[0][0]) is float


def test_a_result_that_is_not_vectors_is_an_embedding_error() -> None:
    """A function returning something other than vectors fails with a message saying so."""
    emb = ensure_embeddings(lambda texts: 42)
    with pytest.raises(EmbeddingError, match="sequence of floats"):
        emb.embed_documents(["a"])


def test_an_empty_list_never_calls_the_function() -> None:
    """Embedding no texts returns [] without calling the embedder."""

    def boom(texts: Sequence[str]) -> list[list[float]]:
        raise AssertionError("called")

    assert ensure_embeddings(boom).embed_documents([]) == []


def test_a_provider_string_goes_through_init_embeddings(local: LocalEmbeddings) -> None:
    """The string "local" gives the local model."""
    assert isinstance(ensure_embeddings("local"), LocalEmbeddings)


@pytest.mark.parametrize("bad", [42, None, 3.5, ["openai:x"], {"embed": "local"}])
def test_unsupported_embed_values_are_type_errors(bad: object) -> None:
    """Anything else is an InvalidEmbedderError, which is also a TypeError."""
    with pytest.raises(InvalidEmbedderError, match="LangChain Embeddings") as info:
        ensure_embeddings(bad)  # type: ignore[arg-type]
    assert isinstance(info.value, TypeError) and isinstance(info.value, ThreadloomError)


def test_an_embeddings_class_instead_of_an_instance_is_named_in_the_error() -> None:
    """Passing the class, not an instance, says which class to instantiate."""
    with pytest.raises(InvalidEmbedderError, match=r"pass _Fixed\(\.\.\.\)"):
        ensure_embeddings(_Fixed)  # type: ignore[arg-type]


def test_a_sync_callable_returning_a_coroutine_is_awaited() -> None:
    """A plain callable that returns a coroutine is awaited, in sync and async use."""
    emb = ensure_embeddings(lambda texts: _alengths(texts))
    assert emb.embed_documents(["abc"]) == [[3.0, 1.0]]
    assert asyncio.run(emb.aembed_documents(["ab"])) == [[2.0, 1.0]]


async def test_a_query_that_gets_no_vector_back_is_an_embedding_error() -> None:
    """A function that returns no vector for a query fails with a count in the message."""
    emb = ensure_embeddings(lambda texts: [])
    with pytest.raises(EmbeddingError, match="returned 0 vectors for 1 text"):
        emb.embed_query("a")
    with pytest.raises(EmbeddingError, match="returned 0 vectors for 1 text"):
        await emb.aembed_query("a")
