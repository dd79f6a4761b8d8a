"""Hybrid fusion on the in-process indexes ranks exactly as the general recipe does.

``fuse_in_memory`` (item ids and numpy) is what the in-memory and SQLite stores
run when every indexed item counts; ``fuse_hits`` (addresses) is what every
backend follows. Their results must be identical, ties included.
"""

from __future__ import annotations

import random

import numpy as np
import pytest

from threadloom.store import _keyword, _vector_reads, _vectors
from threadloom.store._fingerprint import fingerprint
from threadloom.store._fusion import DEFAULT_FUSION, FusionConfig, fuse_hits
from threadloom.store._hybrid import _fuse_one_namespace, fuse_in_memory
from threadloom.store._keyword import KeywordIndex
from threadloom.store._vectors import VectorIndex

DIMS = 8
WORDS = ["pizza", "oven", "tea", "garden", "trip", "cousin", "dog", "book"]


def build(
    seed: int, *, items: int, namespaces: int, multi_vectors: bool, coarse: bool
) -> tuple[VectorIndex, KeywordIndex, random.Random]:
    """Random items: short texts from few words (many BM25 ties), some without vectors,
    some with several, some only in the vector index; ``coarse`` vectors tie too."""
    rng = random.Random(seed)
    vectors, keywords = VectorIndex(DIMS), KeywordIndex()
    for _ in range(items):
        namespace = ("users", f"u{rng.randrange(namespaces)}")
        key = f"k{rng.randrange(10 * items)}"
        if rng.random() < 0.85:
            keywords.put(namespace, key, [" ".join(rng.choices(WORDS, k=rng.randint(1, 3)))])
        else:
            keywords.delete(namespace, key)
        count = rng.choice([0, 1, 1, 1, 2, 3]) if multi_vectors else rng.choice([0, 1, 1, 1])
        rows = [[rng.choice([-1, 0, 1]) if coarse else rng.gauss(0, 1) for _ in range(DIMS)]]
        rows += [[rng.gauss(0, 1) for _ in range(DIMS)] for _ in range(count - 1)]
        if count:
            vectors.add(namespace, key, np.array(rows[:count], dtype=np.float32))
        else:
            vectors.remove(namespace, key)
    return vectors, keywords, rng


def by_the_recipe(
    vectors: VectorIndex,
    keywords: KeywordIndex,
    query_vector: np.ndarray,
    query: str,
    prefix: tuple[str, ...],
    limit: int,
    config: FusionConfig,
) -> list[tuple[tuple[str, ...], str, float]]:
    """fuse_hits fed as the in-memory store feeds it without a filter."""
    vector = vectors.search(query_vector, prefix, limit=config.candidates)
    keyword = [(h.namespace, h.key, h.score) for h in keywords.search(prefix, query)]

    def similarity_of(addresses: list[tuple[tuple[str, ...], str]]) -> dict:  # type: ignore[type-arg]
        found = vectors.search(query_vector, prefix, limit=len(addresses), candidates=addresses)
        return {(ns, key): score for ns, key, score in found}

    return fuse_hits(vector, keyword, similarity_of, limit=limit, config=config)


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("multi_vectors", [False, True])
def test_fuse_in_memory_equals_fuse_hits(seed: int, multi_vectors: bool) -> None:
    """Same candidates, same scores, same order: one namespace, several, or all."""
    vectors, keywords, rng = build(
        seed, items=300, namespaces=1 + seed % 4, multi_vectors=multi_vectors, coarse=seed % 2 == 0
    )
    for _ in range(8):
        query_vector = np.array([rng.gauss(0, 1) for _ in range(DIMS)], dtype=np.float32)
        query = " ".join(rng.choices([*WORDS, "nothing"], k=rng.randint(1, 3)))
        prefix = rng.choice([("users",), ("users", "u0"), ("users", "u1"), (), ("other",)])
        config = FusionConfig(candidates=rng.choice([1, 5, 20, 100]))
        limit = rng.choice([1, 3, 10, config.candidates])
        expected = by_the_recipe(vectors, keywords, query_vector, query, prefix, limit, config)
        got = fuse_in_memory(
            vectors, keywords, query_vector, query, prefix, limit=limit, config=config
        )
        assert got == expected


def test_fuse_in_memory_with_one_side_empty() -> None:
    """No keyword match: the vector order; no vectors at all: the keyword order."""
    vectors, keywords = VectorIndex(2), KeywordIndex()
    ns = ("docs",)
    vectors.add(ns, "a", [[1.0, 0.0]])
    vectors.add(ns, "b", [[0.6, 0.8]])
    keywords.put(ns, "b", ["tea time"])
    keywords.put(ns, "c", ["tea"])
    no_match = fuse_in_memory(
        vectors, keywords, [1.0, 0.0], "pizza", ns, limit=10, config=DEFAULT_FUSION
    )
    assert [key for _, key, _ in no_match] == ["a", "b"]
    empty = VectorIndex(2)
    only_keywords = fuse_in_memory(
        empty, keywords, [1.0, 0.0], "tea", ns, limit=10, config=DEFAULT_FUSION
    )
    assert [key for _, key, _ in only_keywords] == ["c", "b"]
    assert (
        fuse_in_memory(
            empty, KeywordIndex(), [1.0, 0.0], "tea", ns, limit=10, config=DEFAULT_FUSION
        )
        == []
    )


@pytest.mark.parametrize("seed", range(6))
def test_keyword_top_breaks_ties_by_namespace_then_key(seed: int) -> None:
    """The keyword side's best hits: score descending, then (namespace, key) ascending."""
    _, keywords, _ = build(seed, items=400, namespaces=5, multi_vectors=False, coarse=True)
    for prefix in [("users",), ("users", "u0"), ("users", "u3")]:
        for query in ["pizza", "tea oven", "dog book garden"]:
            every = keywords.search(prefix, query)
            assert every == sorted(every, key=lambda h: (-h.score, h.namespace, h.key))
            for limit in (1, 7, 50):
                assert keywords.search(prefix, query, limit=limit) == every[:limit]
            # A new key (before every other in key order) and a re-put: ties still by key.
            keywords.put(prefix[:2] if len(prefix) > 1 else ("users", "u1"), "a0", [query])
            keywords.put(("users", "u0"), every[-1].key if every else "k1", ["pizza pizza"])
            again = keywords.search(prefix, query)
            assert again == sorted(again, key=lambda h: (-h.score, h.namespace, h.key))
            assert keywords.search(prefix, query, limit=3) == again[:3]


@pytest.mark.parametrize("seed", range(6))
def test_search_ids_are_search_as_ids(seed: int) -> None:
    """search_ids gives search's items (best vector per item, ties by row) as ids."""
    vectors, _, rng = build(seed, items=200, namespaces=3, multi_vectors=True, coarse=True)
    for prefix in [("users",), ("users", "u1"), ()]:
        query = np.array([rng.gauss(0, 1) for _ in range(DIMS)], dtype=np.float32)
        for limit in (1, 10, 500):
            ids, scores = vectors.search_ids(query, prefix, limit=limit)
            hits = vectors.search(query, prefix, limit=limit)
            assert [(*a, s) for a, s in zip(vectors.addresses_of(ids), scores, strict=True)] == hits
            assert vectors.ids_of([(ns, key) for ns, key, _ in hits]) == ids


def random_query(rng: random.Random) -> tuple[np.ndarray, str]:
    vector = np.array([rng.gauss(0, 1) for _ in range(DIMS)], dtype=np.float32)
    return vector, " ".join(rng.choices([*WORDS, "nothing"], k=rng.randint(1, 3)))


@pytest.mark.parametrize("seed", range(8))
def test_one_namespace_stays_equal_to_the_recipe_through_writes(seed: int) -> None:
    """Searching one namespace between writes of every kind (new keys, re-puts, deletes on
    either side, compactions) ranks as the recipe does after each of them."""
    rng = random.Random(seed)
    vectors, keywords = VectorIndex(DIMS), KeywordIndex()
    namespaces = [("users", "u0"), ("users", "u1")]
    for step in range(400):
        namespace = rng.choice(namespaces)
        key = f"k{rng.randrange(60)}"
        action = rng.random()
        if action < 0.55:
            keywords.put(namespace, key, [" ".join(rng.choices(WORDS, k=rng.randint(1, 3)))])
            vector = np.array([rng.gauss(0, 1) for _ in range(DIMS)], dtype=np.float32)
            if rng.random() < 0.5:
                vectors.add(namespace, key, [vector])
            elif rng.random() < 0.8:
                # A single put's path: the vector as it is, and its scale.
                vectors.set_row((namespace, key), vector, 1.0 / float(np.linalg.norm(vector)))
        elif action < 0.7:
            keywords.delete(namespace, key)
        elif action < 0.85:
            vectors.remove(namespace, key)
        else:
            keywords.delete_prefix(namespace) if rng.random() < 0.1 else keywords.delete(
                namespace, key
            )
            vectors.remove(namespace, key)
        if step % 3:
            continue
        query_vector, query = random_query(rng)
        config = FusionConfig(candidates=rng.choice([1, 5, 20]))
        limit = rng.choice([1, 3, config.candidates])
        expected = by_the_recipe(vectors, keywords, query_vector, query, namespace, limit, config)
        got = fuse_in_memory(
            vectors, keywords, query_vector, query, namespace, limit=limit, config=config
        )
        assert got == expected


@pytest.mark.parametrize("seed", range(4))
def test_one_namespace_joins_on_fingerprints(seed: int) -> None:
    """The one-namespace join itself (not the general path) gives the recipe's ranking."""
    vectors, keywords, rng = build(
        seed, items=300, namespaces=1, multi_vectors=False, coarse=seed % 2 == 0
    )
    namespace = ("users", "u0")
    for _ in range(8):
        query_vector, query = random_query(rng)
        config = FusionConfig(candidates=rng.choice([1, 5, 20, 100]))
        limit = rng.choice([1, 3, 10, config.candidates])
        page = _fuse_one_namespace(
            vectors,
            keywords.scored(namespace, query),
            query_vector,
            namespace,
            namespace,
            limit=limit,
            config=config,
        )
        assert page is not None
        assert page == by_the_recipe(
            vectors, keywords, query_vector, query, namespace, limit, config
        )


@pytest.mark.parametrize("seed", range(4))
def test_colliding_hashes_fall_back_to_addresses(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Keys whose hashes collide (forced here: few hash values, distinct check values)
    still rank as the recipe does: the join declines and addresses decide."""

    def few_hashes(key: str) -> tuple[int, int]:
        return hash(key) % 3, hash(key)

    def many_few_hashes(keys: list[str]) -> np.ndarray:
        return np.array([few_hashes(key) for key in keys], dtype=np.int64).reshape(-1, 2)

    for module in (_vectors, _keyword):
        monkeypatch.setattr(module, "fingerprint", few_hashes)
    for module in (_vector_reads, _keyword):
        monkeypatch.setattr(module, "fingerprints", many_few_hashes)
    vectors, keywords, rng = build(seed, items=200, namespaces=1, multi_vectors=False, coarse=False)
    namespace = ("users", "u0")
    for _ in range(6):
        query_vector, query = random_query(rng)
        config = FusionConfig(candidates=rng.choice([5, 20]))
        scored = keywords.scored(namespace, query)
        if scored is not None:
            assert (
                _fuse_one_namespace(
                    vectors, scored, query_vector, namespace, namespace, limit=5, config=config
                )
                is None
            )
        assert fuse_in_memory(
            vectors, keywords, query_vector, query, namespace, limit=5, config=config
        ) == by_the_recipe(vectors, keywords, query_vector, query, namespace, 5, config)


def test_one_namespace_after_the_vector_matrix_is_compacted() -> None:
    """Emptied namespaces make the vector index pack its rows anew: a namespace searched
    before (its key lookup built) still ranks as the recipe does."""
    rng = random.Random(7)
    vectors, keywords = VectorIndex(DIMS), KeywordIndex()
    kept = ("users", "kept")
    for number in range(40):
        key = f"k{number}"
        keywords.put(kept, key, [" ".join(rng.choices(WORDS, k=2))])
        vectors.add(kept, key, [[rng.gauss(0, 1) for _ in range(DIMS)]])
    config = FusionConfig(candidates=10)

    def same_as_the_recipe() -> None:
        for _ in range(5):
            query_vector, query = random_query(rng)
            assert fuse_in_memory(
                vectors, keywords, query_vector, query, kept, limit=5, config=config
            ) == by_the_recipe(vectors, keywords, query_vector, query, kept, 5, config)

    # A namespace sorted before "kept" (packed before it) and namespaces that fill rows,
    # then empty out: the matrix is compacted, and "kept"'s rows move.
    for number in range(30):
        vectors.add(("users", "a-stays"), f"s{number}", [[rng.gauss(0, 1) for _ in range(DIMS)]])
    same_as_the_recipe()
    rows_before = vectors.key_lookup(kept).find(np.array([fingerprint("k0")]))
    for round_ in range(3):
        gone = [("users", f"a{round_}-{n}") for n in range(20)]
        for namespace in gone:
            for number in range(10):
                vectors.add(namespace, f"x{number}", [[rng.gauss(0, 1) for _ in range(DIMS)]])
        for namespace in gone:
            for number in range(10):
                vectors.remove(namespace, f"x{number}")
        same_as_the_recipe()
    assert vectors.key_lookup(kept).find(np.array([fingerprint("k0")])) != rows_before


def test_one_namespace_after_the_keyword_partition_is_compacted() -> None:
    """Deleting most of a namespace's keyword rows renumbers its slots: a join of both
    indexes made before is not used again."""
    rng = random.Random(3)
    vectors, keywords = VectorIndex(DIMS), KeywordIndex()
    namespace = ("users", "u0")
    for number in range(150):
        keywords.put(namespace, f"k{number}", [" ".join(rng.choices(WORDS, k=2))])
        vectors.add(namespace, f"k{number}", [[rng.gauss(0, 1) for _ in range(DIMS)]])
    config = FusionConfig(candidates=20)
    for round_ in range(3):
        for _ in range(4):
            query_vector, query = random_query(rng)
            assert fuse_in_memory(
                vectors, keywords, query_vector, query, namespace, limit=10, config=config
            ) == by_the_recipe(vectors, keywords, query_vector, query, namespace, 10, config)
        # Keyword rows only (the vectors stay): the first ones, then most of the rest.
        for number in range(round_ * 45, round_ * 45 + 45):
            keywords.delete(namespace, f"k{number}")
