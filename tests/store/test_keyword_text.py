"""Keyword-search text normalization: what becomes a term, and queries that cannot break SQL."""

from __future__ import annotations

import re
import sqlite3

import pytest

from threadloom.store._text import (
    MAX_QUERY_TERMS,
    STOP_WORDS,
    fts5_match_expression,
    normalize,
    query_terms,
    stem,
    terms,
    tsquery_expression,
)

OPERATOR_QUERIES = [
    '"',
    '"unbalanced quote',
    "*",
    "cat*",
    "NEAR(a b)",
    "a NEAR b",
    "cats OR dogs",
    "cats AND NOT dogs",
    "-- comment",
    "'; DROP TABLE store; --",
    "O'Brien",
    "col:value",
    "^start",
    "a & b | !c <-> d:*",
    "(((",
    "\\",
    "\x00null byte",
]


# --- normalization ------------------------------------------------------------


def test_case_accents_and_unicode_forms_fold_to_one_term() -> None:
    """'Zürich', 'ZÜRICH', 'Zu\u0308rich' (combining mark) and 'zurich' are the same term."""
    assert terms("Zürich") == terms("ZÜRICH") == terms("Zu\u0308rich") == terms("zurich")


def test_fullwidth_and_ligature_characters_are_normalized() -> None:
    """NFKC folds fullwidth letters and ligatures into plain ones."""
    assert terms("\uff21\uff22\uff23") == ["abc"]
    assert normalize("ﬁle") == "file"


def test_punctuation_separates_terms() -> None:
    """Punctuation splits words and never becomes part of a term."""
    assert terms("hello,world!(foo)[bar]{baz}") == ["hello", "world", "foo", "bar", "baz"]


def test_underscore_separates_terms_like_fts5_and_postgres_do() -> None:
    """Terms never contain '_', so every backend's own tokenizer keeps them whole."""
    assert terms("snake_case_name") == ["snak", "cas", "nam"]


def test_numbers_and_dates_stay_single_terms() -> None:
    """Separators inside numbers are dropped so a date or amount stays one term."""
    assert terms("2023-05-12") == ["20230512"]
    assert terms("1,000 guests at 12:30") == ["1000", "guest", "1230"]
    assert terms("flat 315") == ["flat", "315"]


def test_possessive_s_is_dropped_and_contractions_join() -> None:
    """Bob's is bob; don't is the stop word dont."""
    assert terms("Bob's car") == ["bob", "car"]
    assert terms("I don't know") == ["know"]
    assert terms("Bob\u2019s car") == ["bob", "car"]


def test_stop_words_are_removed() -> None:
    """Function words are not indexed; topic words are."""
    assert terms("What is the name of my dog?") == ["nam", "dog"]
    assert {"the", "and", "what", "my"} <= STOP_WORDS
    assert "home" not in STOP_WORDS


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("cities", "city"),
        ("boxes", "box"),
        ("dogs", "dog"),
        ("running", "run"),
        ("visited", "visit"),
        ("quickly", "quick"),
        ("hiking", "hik"),
        ("hike", "hik"),
        ("class", "class"),
        ("bus", "bus"),
        ("tennis", "tennis"),
        ("sing", "sing"),
        ("red", "red"),
    ],
)
def test_light_stemmer(word: str, expected: str) -> None:
    """Plurals and -ing/-ed/-ly forms fold together; short words and -ss/-us/-is endings stay."""
    assert stem(word) == expected


def test_word_forms_meet_on_one_stem() -> None:
    """The indexed text and the query meet on the same stem."""
    assert terms("She moved to Lisbon") == terms("moving Lisbon")


def test_non_latin_scripts_are_kept() -> None:
    """Letters of any script make terms; they are not dropped as punctuation."""
    assert terms("Москва 東京") == ["москва", "東京"]


def test_stemming_is_idempotent_on_terms() -> None:
    """Re-tokenizing a term list gives the same terms (backends may store the joined terms)."""
    text = "The cities we visited: Zürich on 2023-05-12, running with Bob's dogs"
    once = terms(text)
    assert terms(" ".join(once)) == once


# --- queries ----------------------------------------------------------------------


def test_query_terms_are_distinct_in_first_mention_order() -> None:
    """Repeating a word in a query does not repeat the term."""
    assert query_terms("dog cat dog DOG cats") == ["dog", "cat"]


@pytest.mark.parametrize("query", ["", "   ", "?!...", "the and of", "what is it?", "--", "'\"*"])
def test_queries_without_terms_give_no_terms_and_no_expressions(query: str) -> None:
    """Empty, punctuation-only and stop-word-only queries mean "match nothing"."""
    assert query_terms(query) == []
    assert fts5_match_expression(query) is None
    assert tsquery_expression(query) is None


def test_a_huge_query_is_capped() -> None:
    """A 100k-character query keeps only its first MAX_QUERY_TERMS distinct terms."""
    words = [f"w{i}" for i in range(20_000)]
    query = " ".join(words)[:100_000]
    assert len(query) == 100_000
    assert query_terms(query) == words[:MAX_QUERY_TERMS]


def test_a_query_must_be_a_string() -> None:
    """A non-string query is a TypeError that says what was given."""
    with pytest.raises(TypeError, match="bytes"):
        query_terms(b"cats")  # type: ignore[arg-type]


def test_fts5_expression_quotes_every_term() -> None:
    """Operators in the query become quoted words; OR joins the terms."""
    assert fts5_match_expression("cats NEAR dogs*") == '"cat" OR "near" OR "dog"'


def test_tsquery_expression_quotes_every_term() -> None:
    """Each term is a single-quoted lexeme joined with |."""
    assert tsquery_expression("O'Brien & cats") == "'obrien' | 'cat'"


@pytest.mark.parametrize("query", OPERATOR_QUERIES)
def test_fts5_expressions_from_hostile_queries_run_in_sqlite(
    query: str, request: pytest.FixtureRequest
) -> None:
    """Whatever the query, its MATCH expression is valid FTS5 and returns ordinary rows."""
    db = sqlite3.connect(":memory:")
    request.addfinalizer(db.close)
    db.execute("CREATE VIRTUAL TABLE docs USING fts5(body)")
    db.executemany(
        "INSERT INTO docs(body) VALUES (?)",
        [(" ".join(terms(t)),) for t in ["cats and dogs", "O'Brien near the table", "comment"]],
    )
    expression = fts5_match_expression(query)
    if expression is None:
        return  # the caller skips MATCH and returns no keyword hits
    rows = db.execute(
        "SELECT rowid, bm25(docs) FROM docs WHERE docs MATCH ? ORDER BY bm25(docs)", (expression,)
    ).fetchall()
    assert all(isinstance(rowid, int) for rowid, _ in rows)


def test_fts5_expression_finds_what_the_words_say(request: pytest.FixtureRequest) -> None:
    """A hostile-looking query still matches the document containing its words."""
    db = sqlite3.connect(":memory:")
    request.addfinalizer(db.close)
    db.execute("CREATE VIRTUAL TABLE docs USING fts5(body)")
    for text in ["My cousin O'Brien moved to Tromsø", "We adopted a puppy"]:
        db.execute("INSERT INTO docs(body) VALUES (?)", (" ".join(terms(text)),))
    expression = fts5_match_expression("O'Brien* NEAR(tromso) --")
    assert expression is not None
    assert db.execute("SELECT rowid FROM docs WHERE docs MATCH ?", (expression,)).fetchall() == [
        (1,)
    ]


@pytest.mark.parametrize("query", OPERATOR_QUERIES)
def test_tsquery_expressions_are_quoted_lexemes_only(query: str) -> None:
    """Only 'lexeme' | 'lexeme' ... : no operator of the query survives outside quotes."""
    expression = tsquery_expression(query)
    if expression is None:
        return
    assert re.fullmatch(r"'[^\W_]+'( \| '[^\W_]+')*", expression), expression


def test_ascii_and_unicode_paths_agree() -> None:
    """Plain ASCII text takes a fast path that must give the same terms as the full one."""
    assert terms("Don`t STOP") == terms("Don\u2019t STOP") == terms("don't stop") == ["stop"]
    assert terms("Cafe\u0301 Bob's") == terms("cafe bob")
