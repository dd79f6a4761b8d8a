"""SQLite FTS5 fed with our terms ranks exactly like the in-memory BM25 index.

This is also the reference recipe for the SQLite backend: store
``index_text(text)`` per indexed text, find rows with
``fts5_match_expression(query)``, read the scope's statistics, score with
``score_matches``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import pytest

from threadloom.store._keyword import KeywordIndex, score_matches
from threadloom.store._text import fts5_match_expression, index_text, query_terms

CORPUS = {
    ("memories", "alice"): {
        "pet": ["We adopted a puppy and called him Biscuit", "Biscuit chews shoes"],
        "move": ["My cousin Xiomara moved to Tromsø in 2023-05-12"],
        "food": ["I cooked moussaka for dinner, the puppy begged"],
        "empty": ["the and of"],
    },
    ("memories", "bob"): {
        "pet": ["Bob's parrot Biscuit talks all day"],
        "trip": ["Flying to Tromsø in May"],
    },
}

QUERIES = [
    "Where did Xiomara move?",
    "puppy Biscuit",
    "biscuits and puppies",
    "Tromso 2023-05-12",
    "moussaka NEAR dinner OR *",
    "the of",
    "'; DROP TABLE fts; --",
]


def _sqlite_search(db: sqlite3.Connection, prefix: tuple[str, ...], query: str) -> list:
    expression = fts5_match_expression(query)
    if expression is None:
        return []
    # Namespaces are stored dot-joined (labels cannot contain '.'), so a prefix is a LIKE.
    like = ".".join(prefix).replace("%", r"\%").replace("_", r"\_") + ("." if prefix else "") + "%"
    scope = "(namespace || '.') LIKE ? ESCAPE '\\'"
    n_docs, total_len = db.execute(
        f"SELECT count(*), coalesce(sum(length), 0) FROM kw WHERE {scope}", (like,)
    ).fetchone()
    doc_freq = {
        term: db.execute(
            f"SELECT count(*) FROM kw WHERE kw MATCH ? AND {scope}", (f'"{term}"', like)
        ).fetchone()[0]
        for term in query_terms(query)
    }
    rows = db.execute(
        f"SELECT namespace, key, body FROM kw WHERE kw MATCH ? AND {scope}", (expression, like)
    ).fetchall()
    matches = [(tuple(ns.split(".")), key, body) for ns, key, body in rows]
    return score_matches(query, matches, n_docs=n_docs, total_len=total_len, doc_freq=doc_freq)


@pytest.fixture
def both() -> Iterator[tuple[KeywordIndex, sqlite3.Connection]]:
    index = KeywordIndex()
    db = sqlite3.connect(":memory:")
    db.execute(
        "CREATE VIRTUAL TABLE kw USING fts5(body, namespace UNINDEXED, key UNINDEXED, length UNINDEXED)"
    )
    for namespace, items in CORPUS.items():
        for key, texts in items.items():
            index.put(namespace, key, texts)
            for text in texts:
                stored = index_text(text)
                if stored:  # like the index: a text with no terms is no document
                    db.execute(
                        "INSERT INTO kw VALUES (?, ?, ?, ?)",
                        (stored, ".".join(namespace), key, len(stored.split())),
                    )
    yield index, db
    db.close()


@pytest.mark.parametrize("query", QUERIES)
@pytest.mark.parametrize("prefix", [("memories", "alice"), ("memories",), ()])
def test_fts5_and_the_memory_index_agree(
    both: tuple[KeywordIndex, sqlite3.Connection], prefix: tuple[str, ...], query: str
) -> None:
    """Same items, same order, bit-identical BM25 scores, for every prefix and query."""
    index, db = both
    assert _sqlite_search(db, prefix, query) == index.search(prefix, query)


def test_score_matches_limit_and_empty_scope() -> None:
    """limit keeps the best; an empty scope scores nothing."""
    matches = [(("n",), "a", "fig fig"), (("n",), "b", "fig"), (("n",), "c", "fig tree tree")]
    stats = {"n_docs": 3, "total_len": 6, "doc_freq": {"fig": 3}}
    every = score_matches("fig", matches, **stats)  # type: ignore[arg-type]
    assert [h.key for h in every] == ["a", "b", "c"]
    assert score_matches("fig", matches, limit=1, **stats) == every[:1]  # type: ignore[arg-type]
    assert score_matches("fig", matches, n_docs=0, total_len=0, doc_freq={}) == []
