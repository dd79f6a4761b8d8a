"""Text normalization for keyword search, shared by every store backend.

Every backend indexes and queries the *same* terms: the in-memory BM25 index
scores them directly, SQLite feeds ``" ".join(terms)`` to FTS5 and PostgreSQL
to ``to_tsvector('simple', ...)``. Terms are plain runs of letters and digits,
so each engine's own tokenizer splits them exactly where we did and a keyword
search ranks the same items on every backend.

The pipeline, in order:

1. Unicode NFKC, case folding, accents dropped (``Café`` -> ``cafe``).
2. Numbers keep their inner separators out: ``2023-05-12`` -> ``20230512``,
   ``1,000`` -> ``1000``, ``12:30`` -> ``1230``; they stay one term.
3. Possessive ``'s`` dropped, other apostrophes joined (``don't`` -> ``dont``);
   every other punctuation character separates terms.
4. English stop words removed (:data:`STOP_WORDS`).
5. A light suffix stemmer (:func:`stem`) folds plurals and ``-ing``/``-ed``/
   ``-ly`` forms; numbers and short words are left alone.

>>> terms("Bob's dogs were running to Café Zürich on 2023-05-12!")
['bob', 'dog', 'run', 'caf', 'zurich', '20230512']
"""

from __future__ import annotations

import functools
import re
import unicodedata

__all__ = [
    "MAX_QUERY_TERMS",
    "STOP_WORDS",
    "fts5_match_expression",
    "index_text",
    "normalize",
    "query_terms",
    "stem",
    "terms",
    "tsquery_expression",
]

#: A query keeps at most this many distinct terms (the first ones it mentions),
#: so a 100k-character query costs no more than a long sentence.
MAX_QUERY_TERMS = 64

# Written for this project: function words that carry no topic. Kept short on
# purpose: words such as "first", "new" or "home" are left searchable.
STOP_WORDS: frozenset[str] = frozenset(
    """
    a about above after again against all am an and any are as at be because been
    before being below between both but by can could did do does doing down during
    each few for from further had has have having he her here hers herself him
    himself his how i if in into is it its itself just me more most my myself no nor
    not of off on once only or other our ours ourselves out over own same she should
    so some such than that the their theirs them themselves then there these they
    this those through to too under until up very was we were what when where which
    while who whom why will with would you your yours yourself yourselves
    im ive id ill youre youve youd youll hes shes its were theyre weve theyve dont
    doesnt didnt isnt arent wasnt werent havent hasnt hadnt wont wouldnt cant couldnt
    shouldnt lets thats whats wheres whos hows also us ok okay oh yes yeah
    """.split()  # noqa: SIM905  # a word list reads better as running text
)

# A number with inner separators ("2023-05-12", "1,000", "3.5", "12:30") or a
# run of letters/digits. "_" is excluded from \w runs: FTS5 and PostgreSQL split on it.
_TOKEN = re.compile(r"\d+(?:[.,:/\-]\d+)+|[^\W_]+(?:'[^\W_]+)*")
_NUMBER_SEPARATORS = re.compile(r"[.,:/\-]")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'"})
_VOWELS = frozenset("aeiouy")


def normalize(text: str) -> str:
    """Case-folded, NFKC text with accents removed (the form terms are cut from)."""
    if text.isascii():
        # The common case: nothing to compose, fold or strip; only "`" to unify.
        return text.lower().replace("`", "'")
    folded = unicodedata.normalize("NFKC", text).casefold().translate(_APOSTROPHES)
    # Decompose so accents become separate combining marks, then drop those marks.
    decomposed = unicodedata.normalize("NFD", folded)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _has_vowel(word: str) -> bool:
    return any(ch in _VOWELS for ch in word)


def _undouble(word: str) -> str:
    # "running" -> "runn" -> "run"; but keep "ll", "ss", "zz" ("spell", "miss").
    if len(word) >= 3 and word[-1] == word[-2] and word[-1] not in "lsz" and word[-1].isalpha():
        return word[:-1]
    return word


@functools.lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """A light English stemmer: plurals, ``-ing``, ``-ed``, ``-ly`` and a final ``e``.

    Deliberately conservative (a word is never cut below three letters) so that
    names and rare nouns survive; both the indexed text and the query go
    through it, so only consistency matters, not linguistic accuracy.

    >>> [stem(w) for w in ["cities", "boxes", "running", "moved", "quickly", "hike", "hiking"]]
    ['city', 'box', 'run', 'mov', 'quick', 'hik', 'hik']
    """
    if len(word) <= 3 or not word.isalpha():
        return word
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith(("sses", "xes", "ches", "shes", "zzes")):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    if word.endswith("ing") and len(word) >= 6 and _has_vowel(word[:-3]):
        word = _undouble(word[:-3])
    elif word.endswith("ed") and len(word) >= 5 and _has_vowel(word[:-2]) and word[-3] != "e":
        word = _undouble(word[:-2])
    elif word.endswith("ly") and len(word) >= 6:
        word = word[:-2]
    if word.endswith("e") and len(word) >= 4:
        word = word[:-1]
    return word


def terms(text: str) -> list[str]:
    """The index terms of ``text``, in order, repeats kept (term frequency counts them)."""
    result: list[str] = []
    for match in _TOKEN.finditer(normalize(text)):
        token = match.group()
        if token[0].isdigit() and _NUMBER_SEPARATORS.search(token):
            result.append(_NUMBER_SEPARATORS.sub("", token))
            continue
        if "'" in token:
            token = token[:-2] if token.endswith("'s") else token
            token = token.replace("'", "")
        if token in STOP_WORDS:
            continue
        result.append(stem(token))
    return result


def index_text(text: str) -> str:
    """What SQL backends store and hand to FTS5 / ``to_tsvector('simple', ...)``: the terms, space-joined.

    >>> index_text("Bob's dogs were running!")
    'bob dog run'
    """
    return " ".join(terms(text))


def query_terms(query: str) -> list[str]:
    """The distinct terms of a query, first mention first, at most :data:`MAX_QUERY_TERMS`.

    Anything is accepted: operator syntax (``"``, ``*``, ``NEAR``, ``OR``,
    ``--``, ``'``) is just text here. An empty list means "nothing to match".
    """
    if not isinstance(query, str):
        raise TypeError(f"A search query must be a string, got {type(query).__name__}")
    seen: dict[str, None] = {}
    for term in terms(query):
        seen.setdefault(term, None)
        if len(seen) == MAX_QUERY_TERMS:
            break
    return list(seen)


def fts5_match_expression(query: str) -> str | None:
    """A safe SQLite FTS5 ``MATCH`` expression: the query's terms, quoted, joined by ``OR``.

    Every term is a double-quoted string, so FTS5 reads ``NEAR``, ``AND``, ``*``
    or ``-`` in a query as plain words, never as operators. ``None`` when the
    query has no terms: the caller should return no keyword hits instead of
    running ``MATCH ''`` (an FTS5 syntax error).

    >>> fts5_match_expression('cats OR "dogs" NEAR(*)')
    '"cat" OR "dog" OR "near"'
    """
    found = query_terms(query)
    if not found:
        return None
    # Terms never contain '"', but double it anyway: the quoting must not depend on that.
    return " OR ".join('"' + term.replace('"', '""') + '"' for term in found)


def tsquery_expression(query: str) -> str | None:
    """A safe PostgreSQL ``to_tsquery('simple', ...)`` argument: quoted terms joined by ``|``.

    Each term is single-quoted (a lexeme literal), so ``&``, ``!``, ``<->`` or
    ``:*`` in a query cannot act as operators. Pass it as a bound parameter.
    ``None`` when the query has no terms.

    >>> tsquery_expression("O'Brien & cats | !dogs")
    "'obrien' | 'cat' | 'dog'"
    """
    found = query_terms(query)
    if not found:
        return None
    return " | ".join("'" + term.replace("'", "''") + "'" for term in found)
