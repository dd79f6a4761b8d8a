"""Fixtures for the embedder tests: the real local model, loaded once per session."""

from __future__ import annotations

import pytest

from threadloom.embeddings import LocalEmbeddings
from threadloom.embeddings._local import _load
from threadloom.embeddings._tokenizer import WordPieceTokenizer


@pytest.fixture(scope="session")
def local() -> LocalEmbeddings:
    """The local all-MiniLM-L6-v2 embedder, weights loaded."""
    emb = LocalEmbeddings()
    emb.load()
    return emb


@pytest.fixture(scope="session")
def tokenizer(local: LocalEmbeddings) -> WordPieceTokenizer:
    """The tokenizer the local model uses (max length 256 from sentence_bert_config.json)."""
    return _load(local.model_path).tokenizer


@pytest.fixture(scope="session")
def vocab(tokenizer: WordPieceTokenizer) -> dict[str, int]:
    """vocab.txt as token -> id, to spell expected ids by their tokens."""
    return tokenizer.vocab
