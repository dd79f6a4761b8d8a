"""Hybrid fusion: how vector and keyword scores combine into one ranking."""

from __future__ import annotations

import numpy as np
import pytest

from threadloom.store._fusion import (
    DEFAULT_FUSION,
    FusionConfig,
    candidate_pool,
    fuse_hits,
    fuse_ranked,
    fuse_scores,
)

METHODS = ["zscore", "minmax", "rrf"]


def order(fused: np.ndarray) -> list[int]:
    return [int(i) for i in np.lexsort((np.arange(len(fused)), -fused))]


@pytest.mark.parametrize("method", METHODS)
def test_an_item_strong_on_both_sides_ranks_first(method: str) -> None:
    """Agreement of the two rankings wins over either side alone."""
    # Item 0 is second on both sides; items 1 and 2 each top one side only.
    vec = np.array([0.80, 0.90, 0.20, 0.25])
    kw = np.array([5.00, 0.00, 6.00, 0.00])
    fused = fuse_scores(vec, kw, FusionConfig(method=method))  # type: ignore[arg-type]
    assert order(fused)[0] == 0


@pytest.mark.parametrize("method", METHODS)
def test_weight_one_is_vector_order_and_weight_zero_is_keyword_order(method: str) -> None:
    """vector_weight slides the ranking from keyword-only (0) to vector-only (1)."""
    vec = np.array([0.1, 0.5, 0.9, 0.3])
    kw = np.array([4.0, 3.0, 0.5, 2.0])
    vector_only = fuse_scores(vec, kw, FusionConfig(method=method, vector_weight=1.0))  # type: ignore[arg-type]
    keyword_only = fuse_scores(vec, kw, FusionConfig(method=method, vector_weight=0.0))  # type: ignore[arg-type]
    assert order(vector_only) == [2, 1, 3, 0]
    assert order(keyword_only) == [0, 1, 3, 2]


@pytest.mark.parametrize("method", METHODS)
def test_no_keyword_match_leaves_the_vector_order(method: str) -> None:
    """A query whose words match nothing ranks purely by meaning."""
    vec = np.array([0.2, 0.8, 0.5])
    fused = fuse_scores(vec, np.zeros(3), FusionConfig(method=method))  # type: ignore[arg-type]
    assert order(fused) == [1, 2, 0]


def test_zscore_fusion_is_the_documented_formula() -> None:
    """Default: w * z(vector) + (1 - w) * z(keyword) over the candidates."""
    vec = np.array([0.9, 0.5, 0.1])
    kw = np.array([0.0, 6.0, 3.0])
    z = lambda x: (x - x.mean()) / x.std()  # noqa: E731
    expected = 0.5 * z(vec) + 0.5 * z(kw)
    assert fuse_scores(vec, kw) == pytest.approx(expected)


def test_minmax_fusion_scores_lie_in_the_unit_interval() -> None:
    """Min-max fusion gives 1 to an item best on both sides and 0 to one worst on both."""
    vec = np.array([0.9, 0.4, 0.1])
    kw = np.array([5.0, 1.0, 0.0])
    fused = fuse_scores(vec, kw, FusionConfig(method="minmax"))
    assert fused.tolist() == pytest.approx([1.0, 0.5 * 0.375 + 0.5 * 0.2, 0.0])


def test_rrf_uses_ranks_not_score_values() -> None:
    """Reciprocal rank fusion ignores how far apart scores are."""
    config = FusionConfig(method="rrf", rrf_k=30)
    a = fuse_scores(np.array([0.9, 0.8]), np.array([1.0, 2.0]), config)
    b = fuse_scores(np.array([0.9, 0.1]), np.array([1.0, 900.0]), config)
    assert a == pytest.approx(b)
    assert a[0] == pytest.approx(0.5 / 31 + 0.5 / 32)


def test_empty_candidates_give_empty_results() -> None:
    """Nothing to fuse is not an error."""
    assert len(fuse_scores(np.array([]), np.array([]))) == 0
    assert fuse_ranked([], np.array([]), np.array([])) == []


def test_single_candidate_is_returned() -> None:
    """One candidate has no spread to normalize and is still returned."""
    assert fuse_ranked(["only"], np.array([0.3]), np.array([0.0])) == [("only", 0.0)]


def test_misaligned_or_non_finite_scores_are_rejected() -> None:
    """Scores must be aligned, one-dimensional and finite."""
    with pytest.raises(ValueError, match="aligned"):
        fuse_scores(np.array([0.1, 0.2]), np.array([1.0]))
    with pytest.raises(ValueError, match="finite"):
        fuse_scores(np.array([0.1, np.nan]), np.array([1.0, 2.0]))
    with pytest.raises(ValueError, match="per candidate"):
        fuse_ranked(["a"], np.array([0.1, 0.2]), np.array([1.0, 2.0]))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"method": "borda"}, "Unknown fusion method"),
        ({"vector_weight": 1.5}, "vector_weight"),
        ({"candidates": 0}, "candidates"),
        ({"rrf_k": -1}, "rrf_k"),
    ],
)
def test_invalid_configurations_are_rejected(kwargs: dict, message: str) -> None:
    """A bad fusion setting fails when the config is made, naming the setting."""
    with pytest.raises(ValueError, match=message):
        FusionConfig(**kwargs)


def test_fuse_ranked_returns_best_first_and_respects_limit() -> None:
    """fuse_ranked pairs candidates with fused scores, best first, at most `limit`."""
    candidates = ["a", "b", "c", "d"]
    vec = np.array([0.1, 0.9, 0.5, 0.4])
    kw = np.array([0.0, 3.0, 0.0, 5.0])
    every = fuse_ranked(candidates, vec, kw)
    assert [c for c, _ in every][:2] == ["b", "d"]
    assert [s for _, s in every] == sorted((s for _, s in every), reverse=True)
    assert fuse_ranked(candidates, vec, kw, limit=2) == every[:2]
    assert fuse_ranked(candidates, vec, kw, limit=0) == []


def test_candidate_pool_takes_the_best_of_each_side() -> None:
    """The pool is the union of each side's top `candidates`; keyword side: matches only."""
    vec = np.array([0.9, 0.8, 0.1, 0.2, 0.3])
    kw = np.array([0.0, 0.0, 7.0, 0.0, 1.0])
    assert candidate_pool(vec, kw, candidates=2).tolist() == [0, 1, 2, 4]
    assert candidate_pool(vec, kw, candidates=1).tolist() == [0, 2]
    assert candidate_pool(vec, np.zeros(5), candidates=2).tolist() == [0, 1]
    assert candidate_pool(vec, kw, candidates=99).tolist() == [0, 1, 2, 3, 4]


def test_default_configuration_is_the_tuned_one() -> None:
    """The defaults are what bench/retrieval_eval.py chose (z-score, equal weights, 100)."""
    assert FusionConfig(method="zscore", vector_weight=0.5, candidates=100) == DEFAULT_FUSION


# --- fuse_hits: the recipe the stores call ---------------------------------------------

NS = ("memories", "alice")


def test_fuse_hits_merges_both_sides_and_rescores_keyword_only_items() -> None:
    """Keyword-only candidates get their exact similarity from the callback, once."""
    asked: list[list] = []

    def similarity_of(addresses):  # type: ignore[no-untyped-def]
        asked.append(list(addresses))
        return {(NS, "kw_only"): 0.30}

    fused = fuse_hits(
        [(NS, "both", 0.80), (NS, "vec_only", 0.90), (NS, "neither", 0.10)],
        [(NS, "both", 5.0), (NS, "kw_only", 6.0)],
        similarity_of,
    )
    assert asked == [[(NS, "kw_only")]]
    assert fused[0][1] == "both"
    assert {key for _, key, _ in fused} == {"both", "vec_only", "neither", "kw_only"}


def test_fuse_hits_with_no_keyword_hits_keeps_the_vector_order() -> None:
    """A query whose words match nothing ranks by meaning alone."""
    fused = fuse_hits([(NS, "a", 0.2), (NS, "b", 0.9), (NS, "c", 0.5)], [], lambda _: {})
    assert [key for _, key, _ in fused] == ["b", "c", "a"]


def test_fuse_hits_without_vectors_is_keyword_order() -> None:
    """Items the callback cannot score (no vectors) sit at the lowest similarity."""
    fused = fuse_hits([], [(NS, "a", 1.0), (NS, "b", 3.0)], lambda _: {})
    assert [key for _, key, _ in fused] == ["b", "a"]


def test_fuse_hits_limit_and_empty_input() -> None:
    """limit caps the list; nothing in, nothing out."""
    hits = [(NS, f"k{i}", i / 10) for i in range(10)]
    assert len(fuse_hits(hits, [], lambda _: {}, limit=3)) == 3
    assert fuse_hits([], [], lambda _: {}) == []


def test_fuse_hits_only_rescores_the_best_keyword_candidates() -> None:
    """Beyond `candidates`, weaker keyword hits are not rescored nor returned."""
    keyword = [(NS, f"k{i}", float(i + 1)) for i in range(10)]
    asked: list = []

    def similarity_of(addresses):  # type: ignore[no-untyped-def]
        asked.extend(addresses)
        return dict.fromkeys(addresses, 0.5)

    fused = fuse_hits([], keyword, similarity_of, config=FusionConfig(candidates=3))
    assert sorted(key for _, key, _ in fused) == ["k7", "k8", "k9"]
    assert len(asked) == 3


def test_coverage_reranking_lifts_items_containing_the_query_words() -> None:
    """With coverage_weight > 0, an item holding every query term moves up its head of the list."""
    vector = [(NS, "close_meaning", 0.90), (NS, "has_words", 0.85), (NS, "other", 0.10)]
    config = FusionConfig(coverage_weight=1.0, rerank_depth=3)
    coverage = {(NS, "has_words"): 1.0, (NS, "close_meaning"): 0.0, (NS, "other"): 0.0}
    plain = fuse_hits(vector, [], lambda _: {})
    reranked = fuse_hits(
        vector, [], lambda _: {}, config=config, coverage_of=lambda a: {x: coverage[x] for x in a}
    )
    assert [key for _, key, _ in plain][:2] == ["close_meaning", "has_words"]
    assert [key for _, key, _ in reranked][:2] == ["has_words", "close_meaning"]


def test_coverage_reranking_is_off_by_default() -> None:
    """The default config never calls coverage_of."""

    def never(_):  # type: ignore[no-untyped-def]
        raise AssertionError("coverage_of called")

    fuse_hits([(NS, "a", 0.5), (NS, "b", 0.4)], [(NS, "a", 1.0)], lambda _: {}, coverage_of=never)
