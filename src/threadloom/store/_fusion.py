"""Hybrid ranking: fuse vector similarity and BM25 keyword scores.

Every backend fuses the same way, in two steps:

1. **Candidates.** Take the best :attr:`FusionConfig.candidates` items by
   vector similarity and the best as many by BM25 (:func:`candidate_pool`
   does this over full score arrays), and get *both* exact scores for every
   candidate in the union: the similarity of a keyword-only candidate is one
   dot product; the BM25 score of a vector-only candidate is ``0`` when it
   shares no term with the query. (Guessing a missing score instead cost 6
   points of recall@10 on ``bench/retrieval_eval.py``.)
2. **Fusion.** :func:`fuse_scores` turns the two aligned score arrays into
   one. The default, ``"zscore"``, standardizes each side over the candidates
   and takes ``w * z(vector) + (1 - w) * z(keyword)``; when one side cannot
   tell the candidates apart (no query term matched anything) its z-scores are
   all ``0`` and the other side decides alone. ``"minmax"`` rescales each side
   to ``[0, 1]`` instead; ``"rrf"`` (reciprocal rank fusion) ignores score
   values and adds ``w / (k + rank)`` terms.

The default parameters are the ones tuned on the benchmark's tuning half
(even users) and checked on its held-out half (``bench/retrieval_eval.py
--explore``): z-score fusion, equal weights, 100 candidates per side. With
16 users x 36 sessions, recall@10 was 0.850 / 0.866 on the two halves (RRF
``k=30``: 0.838 / 0.849; min-max: 0.839 / 0.861); with the default 8 users x
72 sessions, 0.730 / 0.695, still the best setting without re-ranking. An
optional re-ranking by IDF-weighted query-term coverage adds 0.006 to 0.011;
it is off by default because SQL backends would need an extra
document-frequency lookup per query for it, and every backend must rank alike.

>>> import numpy as np
>>> fused = fuse_scores(np.array([0.9, 0.5, 0.4]), np.array([0.0, 7.0, 0.0]))
>>> [int(i) for i in np.argsort(-fused)]
[1, 0, 2]
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import repeat
from operator import itemgetter
from typing import Literal, TypeVar

import numpy as np
import numpy.typing as npt

__all__ = [
    "DEFAULT_FUSION",
    "FusionConfig",
    "FusionMethod",
    "candidate_pool",
    "fuse_hits",
    "fuse_ranked",
    "fuse_scores",
]

FusionMethod = Literal["zscore", "minmax", "rrf"]
_METHODS: tuple[str, ...] = ("zscore", "minmax", "rrf")

_K = TypeVar("_K")
_Scores = npt.NDArray[np.floating]
_Address = tuple[tuple[str, ...], str]
# A hit's (namespace, key).
_address = itemgetter(0, 1)


@dataclass(frozen=True, kw_only=True)
class FusionConfig:
    """How hybrid search combines its two rankings.

    ``vector_weight`` is the share of the vector side (``0`` = keyword only,
    ``1`` = vector only); ``candidates`` is how many items each side proposes;
    ``rrf_k`` is the rank offset of reciprocal rank fusion.
    ``coverage_weight`` turns on a cheap re-ranking of the best
    ``rerank_depth`` results: each gains ``coverage_weight`` times the
    IDF-weighted share of query terms it contains (``0`` = off).
    """

    method: FusionMethod = "zscore"
    vector_weight: float = 0.5
    candidates: int = 100
    rrf_k: int = 30
    coverage_weight: float = 0.0
    rerank_depth: int = 30

    def __post_init__(self) -> None:
        if self.method not in _METHODS:
            raise ValueError(f"Unknown fusion method {self.method!r}; use one of {_METHODS}")
        if not 0.0 <= self.vector_weight <= 1.0:
            raise ValueError(f"vector_weight must be within [0, 1], got {self.vector_weight}")
        if self.candidates < 1:
            raise ValueError(f"candidates must be >= 1, got {self.candidates}")
        if self.rrf_k < 0:
            raise ValueError(f"rrf_k must be >= 0, got {self.rrf_k}")
        if self.coverage_weight < 0 or self.rerank_depth < 0:
            raise ValueError("coverage_weight and rerank_depth must be >= 0")


DEFAULT_FUSION = FusionConfig()


def _top_indices(scores: _Scores, n: int) -> npt.NDArray[np.intp]:
    if n >= len(scores):
        return np.arange(len(scores))
    return np.argpartition(-scores, n - 1)[:n]


def candidate_pool(
    vector_scores: _Scores, keyword_scores: _Scores, *, candidates: int = DEFAULT_FUSION.candidates
) -> npt.NDArray[np.intp]:
    """Indices (sorted) of the best ``candidates`` of each side; keyword side: matches only.

    For a backend that holds every score of the searched scope in memory.
    """
    if vector_scores.shape != keyword_scores.shape:
        raise ValueError("vector and keyword scores must be aligned (same shape)")
    matched = np.flatnonzero(keyword_scores > 0)
    if len(matched) > candidates:
        matched = matched[_top_indices(keyword_scores[matched], candidates)]
    return np.union1d(_top_indices(vector_scores, candidates), matched)


def _zscore(scores: _Scores) -> _Scores:
    # scores.mean() and scores.std() spelled as sums over the count (bit-identical
    # results: the same add.reduce), without mean()/std()'s Python-level wrappers.
    count = len(scores)
    deviation = scores - scores.sum() / count
    spread = math.sqrt((deviation * deviation).sum() / count)
    if spread <= 1e-12:
        return np.zeros_like(scores)  # one side that cannot tell candidates apart says nothing
    return deviation / spread


def _minmax(scores: _Scores) -> _Scores:
    low, high = float(np.min(scores)), float(np.max(scores))
    if high - low <= 1e-12:
        return np.zeros_like(scores)
    return (scores - low) / (high - low)


def _ranks(scores: _Scores) -> _Scores:
    """1-based rank of each score, best first; ties share the better rank order by index."""
    order = np.lexsort((np.arange(len(scores)), -scores))
    ranks = np.empty(len(scores), dtype=np.float64)
    ranks[order] = np.arange(1, len(scores) + 1)
    return ranks


def fuse_scores(
    vector_scores: _Scores, keyword_scores: _Scores, config: FusionConfig = DEFAULT_FUSION
) -> npt.NDArray[np.float64]:
    """One fused score per candidate, higher is better.

    Both arrays are aligned over the same candidates and hold exact scores
    (vector similarity; BM25, ``0`` for no shared term). Values are only
    comparable within one call.
    """
    vec = np.asarray(vector_scores, dtype=np.float64)
    kw = np.asarray(keyword_scores, dtype=np.float64)
    if vec.shape != kw.shape or vec.ndim != 1:
        raise ValueError("vector and keyword scores must be aligned 1-d arrays")
    if not (np.isfinite(vec).all() and np.isfinite(kw).all()):
        raise ValueError("scores must be finite numbers")
    w = config.vector_weight
    if len(vec) == 0:
        return vec
    if config.method == "zscore":
        fused = w * _zscore(vec) + (1.0 - w) * _zscore(kw)
    elif config.method == "minmax":
        fused = w * _minmax(vec) + (1.0 - w) * _minmax(kw)
    else:
        k = float(config.rrf_k)
        # Items without a keyword match get no keyword share: their BM25 rank means nothing.
        keyword_share = np.where(kw > 0, (1.0 - w) / (k + _ranks(kw)), 0.0)
        fused = w / (k + _ranks(vec)) + keyword_share
    return np.asarray(fused, dtype=np.float64)


def fuse_ranked(
    candidates: Sequence[_K],
    vector_scores: _Scores,
    keyword_scores: _Scores,
    *,
    limit: int | None = None,
    config: FusionConfig = DEFAULT_FUSION,
) -> list[tuple[_K, float]]:
    """``(candidate, fused score)`` pairs, best first, at most ``limit`` of them.

    For SQL backends: ``candidates`` are the union of both sides' hits (item
    addresses), the arrays their exact scores in the same order.
    """
    if len(candidates) != len(vector_scores):
        raise ValueError("one vector score and one keyword score per candidate")
    fused = fuse_scores(vector_scores, keyword_scores, config)
    if limit is not None and limit < len(fused):
        top = np.argpartition(-fused, limit - 1)[:limit] if limit > 0 else np.empty(0, np.intp)
        order = top[np.lexsort((top, -fused[top]))]
    else:
        order = np.lexsort((np.arange(len(fused)), -fused))
    return [(candidates[int(i)], float(fused[int(i)])) for i in order]


def fuse_hits(
    vector_hits: Sequence[tuple[tuple[str, ...], str, float]],
    keyword_hits: Sequence[tuple[tuple[str, ...], str, float]],
    similarity_of: Callable[[Sequence[_Address]], Mapping[_Address, float]],
    *,
    limit: int | None = None,
    config: FusionConfig = DEFAULT_FUSION,
    coverage_of: Callable[[Sequence[_Address]], Mapping[_Address, float]] | None = None,
) -> list[tuple[tuple[str, ...], str, float]]:
    """Hybrid ranking from each side's hits, as ``(namespace, key, fused score)``, best first.

    The recipe every backend follows:

    - ``vector_hits``: the best ``config.candidates`` items by similarity.
    - ``keyword_hits``: *every* item matching a query term under the prefix
      (or at least its best ``config.candidates``), with BM25 scores; an item
      not among them scores ``0``, which is exact when the list is complete.
    - ``similarity_of(addresses)``: exact similarities for the keyword-only
      candidates (an in-memory dot product, or ``embedding <=> :q`` for those
      ids in SQL). An address it leaves out (an item without vectors) gets
      the lowest similarity among the candidates.
    - ``coverage_of(addresses)``: only when ``config.coverage_weight > 0``,
      each address's query-term coverage in ``[0, 1]``
      (:meth:`~threadloom.store._keyword.KeywordIndex.coverage`).

    Filters are the caller's: pass hits that already satisfy them, page with
    ``limit`` (``offset + limit``) and slice. For pages past the candidate
    pool, widen it: ``candidates=max(config.candidates, offset + limit)``.
    """
    # Stable: equal scores keep the caller's order (its ties come by address).
    best_keyword = sorted(keyword_hits, key=itemgetter(2), reverse=True)[: config.candidates]
    # Built with C-level iteration (zip, map, dict.fromkeys): a few hundred candidates
    # per query, so per-candidate Python bytecode is what fusion costs.
    keyword = dict(zip(map(_address, keyword_hits), map(itemgetter(2), keyword_hits), strict=True))
    vector_addresses = list(map(_address, vector_hits))
    similarity = dict(zip(vector_addresses, map(itemgetter(2), vector_hits), strict=True))
    keyword_addresses = list(map(_address, best_keyword))
    missing = [address for address in keyword_addresses if address not in similarity]
    if missing:
        similarity.update(similarity_of(missing))
    addresses = list(dict.fromkeys(vector_addresses + keyword_addresses))
    if not addresses:
        return []
    floor = min(similarity.values()) if similarity else 0.0
    count = len(addresses)
    vec = np.fromiter(map(similarity.get, addresses, repeat(floor)), np.float64, count)
    kw = np.fromiter(map(keyword.get, addresses, repeat(0.0)), np.float64, count)
    rerank = config.coverage_weight > 0 and config.rerank_depth > 0 and coverage_of is not None
    if not rerank:
        ranked = fuse_ranked(addresses, vec, kw, limit=limit, config=config)
        return [(ns, key, score) for (ns, key), score in ranked]
    assert coverage_of is not None
    ranked = fuse_ranked(addresses, vec, kw, config=config)
    head, tail = ranked[: config.rerank_depth], ranked[config.rerank_depth :]
    coverage = coverage_of([address for address, _ in head])
    boosted = [
        (address, score + config.coverage_weight * coverage.get(address, 0.0))
        for address, score in head
    ]
    # Stable sort: equal boosted scores keep the fused order.
    boosted.sort(key=lambda pair: -pair[1])
    # The tail keeps its fused scores, so it may outrank nothing in the boosted head.
    merged = boosted + tail
    if limit is not None:
        merged = merged[:limit]
    return [(ns, key, score) for (ns, key), score in merged]
