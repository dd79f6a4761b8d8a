"""The tsquery expressions keyword search feeds PostgreSQL: valid for any query, and they match."""

from __future__ import annotations

import pytest

from threadloom.store._text import terms, tsquery_expression

psycopg = pytest.importorskip("psycopg")
testing_postgres = pytest.importorskip("threadloom.testing.postgres")

pytestmark = pytest.mark.postgres

postgres_server = testing_postgres.postgres_fixture(scope="module")

HOSTILE = [
    "O'Brien",
    "'; DROP TABLE docs; --",
    "a & b | !c <-> d:*",
    '"quoted" NEAR(x) OR y*',
    "((( ))) \\ ::",
    "Zürich 2023-05-12 東京",
    "x" * 100_000,
]

DOCS = ["My cousin O'Brien moved to Zürich", "We adopted a puppy on 2023-05-12", "東京 trip"]


@pytest.fixture(scope="module")
def conn(postgres_server):  # type: ignore[no-untyped-def]
    with psycopg.connect(postgres_server.dsn, autocommit=True) as connection:
        connection.execute("CREATE TEMP TABLE docs (id int, tsv tsvector)")
        for i, text in enumerate(DOCS):
            connection.execute(
                "INSERT INTO docs VALUES (%s, to_tsvector('simple', %s))",
                (i, " ".join(terms(text))),
            )
        yield connection


@pytest.mark.parametrize("query", HOSTILE)
def test_every_expression_is_a_valid_tsquery(conn, query: str) -> None:  # type: ignore[no-untyped-def]
    """Operator syntax in a query never reaches to_tsquery as syntax."""
    expression = tsquery_expression(query)
    if expression is None:
        return
    rows = conn.execute(
        "SELECT id FROM docs WHERE tsv @@ to_tsquery('simple', %s) ORDER BY id", (expression,)
    ).fetchall()
    assert all(isinstance(row[0], int) for row in rows)


def test_postgres_matches_the_same_documents_as_our_terms(conn) -> None:  # type: ignore[no-untyped-def]
    """PostgreSQL's 'simple' parser keeps our terms whole: names, dates and CJK match."""
    for query, expected in [
        ("obrien", [0]),
        ("zurich puppies", [0, 1]),
        ("2023-05-12", [1]),
        ("東京", [2]),
    ]:
        expression = tsquery_expression(query)
        rows = conn.execute(
            "SELECT id FROM docs WHERE tsv @@ to_tsquery('simple', %s) ORDER BY id", (expression,)
        ).fetchall()
        assert [r[0] for r in rows] == expected, query
