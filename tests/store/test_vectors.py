"""The shared vector index: exact cosine top-k, partitions, replacement and removal."""

from __future__ import annotations

import numpy as np
import pytest

from threadloom.store import _vectors as vectors
from threadloom.store._vectors import VectorIndex, normalize_rows


def brute_force(
    vectors: dict[tuple[tuple[str, ...], str], np.ndarray],
    query: np.ndarray,
    prefix: tuple[str, ...],
) -> list[tuple[tuple[str, ...], str, float]]:
    q = query / np.linalg.norm(query)
    scored = []
    for (ns, key), rows in vectors.items():
        if ns[: len(prefix)] != prefix or len(rows) == 0:
            continue
        unit = rows / np.linalg.norm(rows, axis=1, keepdims=True)
        scored.append((ns, key, float((unit @ q).max())))
    return sorted(scored, key=lambda hit: -hit[2])


@pytest.fixture(params=["full slabs", "16-row slabs"])
def slabs(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test with the real slab size, and with tiny slabs so that most
    segments, scans, gathers and compactions cross slab boundaries."""
    if request.param == "16-row slabs":
        monkeypatch.setattr(vectors, "_SLAB_BYTES", 16 * 8 * 4)
        monkeypatch.setattr(vectors, "_MIN_SLAB_ROWS", 16)
    return str(request.param)


@pytest.mark.parametrize(
    ("namespaces", "keys", "removals"), [(6, 40, 0.25), (30, 4, 0.5), (2, 200, 0.1)]
)
def test_search_matches_brute_force_after_random_writes(
    namespaces: int, keys: int, removals: float, slabs: str
) -> None:
    """After random puts, re-puts and removes (and compactions), search equals brute force."""
    rng = np.random.default_rng(7)
    index = VectorIndex(8)
    if slabs == "16-row slabs":
        assert index._slab_rows == 16
    model: dict[tuple[tuple[str, ...], str], np.ndarray] = {}
    for step in range(600):
        ns = ("u", str(rng.integers(namespaces)))
        key = f"k{rng.integers(keys)}"
        if rng.random() < removals:
            index.remove(ns, key)
            model.pop((ns, key), None)
        else:
            rows = rng.standard_normal((int(rng.integers(0, 4)), 8))
            index.add(ns, key, rows)
            if len(rows):
                model[(ns, key)] = rows
            else:
                model.pop((ns, key), None)
        if step % 50 == 0:
            assert len(index) == len(model)
            assert index.rows == sum(len(r) for r in model.values())
    for prefix in [(), ("u",), ("u", "1"), ("u", "1", "x")]:
        query = rng.standard_normal(8)
        expected = brute_force(model, query, prefix)
        got = index.search(query, prefix, limit=len(model) + 5)
        assert [(ns, key) for ns, key, _ in got] == [(ns, key) for ns, key, _ in expected]
        assert np.allclose([s for *_, s in got], [s for *_, s in expected], atol=1e-5)
        # The same through the candidates path (a gather across slabs).
        picked = index.search(query, prefix, limit=len(model) + 5, candidates=list(model))
        assert [(ns, key) for ns, key, _ in picked] == [(ns, key) for ns, key, _ in expected]


def test_several_vectors_count_once_with_their_best_score() -> None:
    """An item with many close vectors takes one slot; offset and limit apply to items."""
    index = VectorIndex(2)
    index.add(("n",), "many", [[1.0, 0.0]] * 5 + [[0.0, 1.0]])
    index.add(("n",), "one", [[0.9, 0.1]])
    index.add(("n",), "far", [[-1.0, 0.0]])
    hits = index.search([1.0, 0.0], limit=2)
    assert [key for _, key, _ in hits] == ["many", "one"]
    assert hits[0][2] == pytest.approx(1.0)
    assert [key for _, key, _ in index.search([1.0, 0.0], limit=2, offset=1)] == ["one", "far"]


def test_prefix_search_sees_only_that_prefix() -> None:
    """A prefix covers whole labels and nothing else."""
    index = VectorIndex(2)
    index.add(("a",), "1", [[1.0, 0.0]])
    index.add(("a", "b"), "2", [[1.0, 0.0]])
    index.add(("ab",), "3", [[1.0, 0.0]])
    assert {key for _, key, _ in index.search([1.0, 0.0], ("a",))} == {"1", "2"}
    assert index.search([1.0, 0.0], ("zzz",)) == []
    assert index.namespaces(("a",)) == [("a",), ("a", "b")]


def test_candidates_and_accept_restrict_results() -> None:
    """candidates limits the rows scored; accept rejects items lazily, and more are fetched."""
    index = VectorIndex(2)
    for i in range(20):
        index.add(("n",), f"k{i}", [[1.0, i / 20]])
    only = index.search([1.0, 0.0], candidates=[(("n",), "k5"), (("n",), "k9"), (("x",), "k1")])
    assert [key for _, key, _ in only] == ["k5", "k9"]
    odd = index.search([1.0, 0.0], limit=3, accept=lambda ns, key: int(key[1:]) % 2 == 1)
    assert [key for _, key, _ in odd] == ["k1", "k3", "k5"]


def test_ties_page_consistently() -> None:
    """Equal scores keep one order, so consecutive pages never overlap."""
    index = VectorIndex(2)
    for i in range(30):
        index.add(("n",), f"k{i}", [[1.0, 0.0]])
    pages = [index.search([1.0, 0.0], limit=4, offset=o) for o in range(0, 32, 4)]
    keys = [key for page in pages for _, key, _ in page]
    assert sorted(keys) == sorted(f"k{i}" for i in range(30))


def test_removal_frees_partitions_and_growth_keeps_vectors(slabs: str) -> None:
    """Growing past capacity keeps every vector; removing the last item drops its namespace."""
    index = VectorIndex(3)
    rows = np.eye(3)
    index.add_many((("n", str(i % 3)), f"k{i}", rows[i % 3 : i % 3 + 1]) for i in range(300))
    assert index.rows == 300 and index.nbytes >= 300 * 3 * 4
    hits = index.search([0.0, 1.0, 0.0], limit=100)
    assert {ns for ns, _, _ in hits} == {("n", "1")}
    for i in range(1, 300, 3):
        assert index.remove(("n", "1"), f"k{i}")
    assert not index.remove(("n", "1"), "k1")
    assert index.namespaces() == [("n", "0"), ("n", "2")]
    assert all(score < 0.5 for *_, score in index.search([0.0, 1.0, 0.0], limit=5))


def test_zero_vectors_and_shapes() -> None:
    """A zero vector scores 0; a wrong width and a bad dims are ValueErrors."""
    index = VectorIndex(2)
    index.add(("n",), "zero", [[0.0, 0.0]])
    assert index.search([1.0, 0.0]) == [(("n",), "zero", 0.0)]
    with pytest.raises(ValueError, match="2 dims"):
        index.add(("n",), "bad", [[1.0, 2.0, 3.0]])
    with pytest.raises(ValueError, match="dims"):
        VectorIndex(0)
    assert normalize_rows([[3.0, 4.0]], 2).tolist() == [[0.6000000238418579, 0.800000011920929]]
    assert index.search([1.0, 0.0], limit=0) == []
    index.clear()
    assert len(index) == 0 and index.search([1.0, 0.0]) == []


def test_emptied_namespaces_are_compacted_away(slabs: str) -> None:
    """When emptied namespaces leave more dead rows than live ones, the matrix shrinks."""
    index = VectorIndex(4)
    rng = np.random.default_rng(1)
    for n in range(50):
        index.add_many((("n", str(n)), f"k{i}", rng.standard_normal((1, 4))) for i in range(40))
    grown = index.nbytes
    for n in range(1, 50):
        for i in range(40):
            index.remove(("n", str(n)), f"k{i}")
    assert index.nbytes < grown / 4
    assert index.rows == 40 and index.namespaces() == [("n", "0")]
    hits = index.search(rng.standard_normal(4), limit=100)
    assert sorted(key for _, key, _ in hits) == sorted(f"k{i}" for i in range(40))
    index.add(("n", "7"), "back", [[1.0, 0.0, 0.0, 0.0]])
    assert index.search([1.0, 0.0, 0.0, 0.0], ("n", "7")) == [(("n", "7"), "back", 1.0)]


def test_top_rows_matches_a_full_partition_with_ties_and_masked_rows() -> None:
    """The sampled threshold is a lower bound: exactly the rows >= the m-th best, ties kept."""
    from threadloom.store._slabs import top_rows as _top_rows

    rng = np.random.default_rng(5)
    for total, m in [(50_000, 10), (50_000, 1), (100_000, 40), (300, 10), (20_000, 20_000)]:
        scores = rng.standard_normal(total).astype(np.float32)
        scores[rng.integers(0, total, total // 10)] = -np.inf  # unused slots
        scores[rng.integers(0, total, 50)] = scores.max()  # ties at the top
        expected_threshold = np.sort(scores)[::-1][min(m, total) - 1]
        expected = set(np.flatnonzero(scores >= expected_threshold).tolist())
        assert set(_top_rows(scores, m).tolist()) == expected
    flat = np.zeros(40_000, dtype=np.float32)  # a zero query: every row tied
    assert len(_top_rows(flat, 10)) == 40_000


def test_set_rows_overwrites_in_place_or_moves_an_item_when_its_count_changes() -> None:
    """set_rows replaces an item's vectors: in place for the same count, re-claimed otherwise,
    and an empty block removes the item."""
    index = VectorIndex(2)
    index.set_rows((("a",), "x"), normalize_rows([[1.0, 0.0]], 2))
    index.set_rows((("a",), "y"), normalize_rows([[0.0, 1.0]], 2))
    rows_before = index.rows
    index.set_rows((("a",), "x"), normalize_rows([[0.0, 1.0]], 2))  # same count: in place
    assert index.rows == rows_before
    assert [key for _, key, _ in index.search([0.0, 1.0], limit=2)] == ["x", "y"]
    index.set_rows((("a",), "x"), normalize_rows([[1.0, 0.0], [0.6, 0.8]], 2))
    assert index.rows == 3
    [(_, key, score)] = index.search([1.0, 0.0], limit=1)
    assert key == "x" and score == pytest.approx(1.0)
    index.set_rows((("a",), "x"), np.empty((0, 2), dtype=np.float32))
    assert (("a",), "x") not in index and index.rows == 1


def test_set_row_writes_the_vector_in_place_and_leaves_the_callers_array() -> None:
    """set_row stores a vector with the scale that makes it a unit one: in place on a re-put
    of a one-vector item, re-claimed for an item that had several; the caller's array is
    never modified."""
    index = VectorIndex(2)
    vector = np.array([3.0, 4.0], dtype=np.float32)
    index.set_row((("a",), "x"), vector, 0.2)
    index.set_row((("a",), "y"), np.array([0.0, 2.0], dtype=np.float32), 0.5)
    assert (vector == [3.0, 4.0]).all()
    [(_, key, score)] = index.search([0.6, 0.8], limit=1)
    assert key == "x" and score == pytest.approx(1.0)
    rows_before = index.rows
    index.set_row((("a",), "x"), np.array([0.0, 5.0], dtype=np.float32), 0.2)  # in place
    assert index.rows == rows_before
    assert [key for _, key, _ in index.search([0.0, 1.0], limit=2)] == ["x", "y"]
    index.set_rows((("a",), "x"), normalize_rows([[1.0, 0.0], [0.6, 0.8]], 2))
    assert index.rows == 3
    index.set_row((("a",), "x"), np.array([1.0, 0.0], dtype=np.float32), 1.0)
    assert index.rows == 2
    assert [key for _, key, _ in index.search([1.0, 0.0], limit=1)] == ["x"]


@pytest.mark.parametrize(("namespaces", "keys"), [(6, 40), (40, 3)])
def test_single_puts_of_unscaled_vectors_score_as_unit_vectors(
    namespaces: int, keys: int, slabs: str
) -> None:
    """Vectors set by set_row are kept as the embedder gave them, with their scale beside
    them; through re-puts, batch puts, removals (rows moving into holes) and compactions,
    every way of reading them still sees unit vectors."""
    rng = np.random.default_rng(11)
    index = VectorIndex(8)
    model: dict[tuple[tuple[str, ...], str], np.ndarray] = {}
    for _ in range(800):
        address = (("u", str(rng.integers(namespaces))), f"k{rng.integers(keys)}")
        roll = rng.random()
        if roll < 0.3:
            index.remove(*address)
            model.pop(address, None)
        elif roll < 0.45:
            rows = rng.standard_normal((int(rng.integers(1, 3)), 8))
            index.add(*address, rows)
            model[address] = rows
        else:
            vector = (rng.standard_normal(8) * rng.uniform(0.1, 50)).astype(np.float32)
            index.set_row(address, vector, 1.0 / float(np.linalg.norm(vector)))
            model[address] = vector[None, :].astype(np.float64)
    query = rng.standard_normal(8)
    for prefix in [(), ("u",), ("u", "2")]:
        expected = brute_force(model, query, prefix)
        got = index.search(query, prefix, limit=len(model))
        assert [(ns, key) for ns, key, _ in got] == [(ns, key) for ns, key, _ in expected]
        assert np.allclose([s for *_, s in got], [s for *_, s in expected], atol=1e-5)
        picked = index.search(query, prefix, limit=len(model), candidates=list(model))
        assert np.allclose([s for *_, s in picked], [s for *_, s in expected], atol=1e-5)
    scores = index.scores_of(query, list(model))
    for ns, key, score in brute_force(model, query, ()):
        assert scores[(ns, key)] == pytest.approx(score, abs=1e-5)
    for address, rows in model.items():
        unit = rows / np.linalg.norm(rows, axis=1, keepdims=True)
        assert np.allclose(index.vectors_of(address), unit, atol=1e-6)


def test_normalize_rows_of_one_row_matches_the_many_row_path() -> None:
    """The one-row shortcut gives the unit vector the general path gives (zero stays zero)."""
    row = np.array([[3.0, 4.0, 12.0]], dtype=np.float32)
    assert np.allclose(normalize_rows(row, 3), normalize_rows(np.repeat(row, 2, axis=0), 3)[:1])
    assert not normalize_rows(np.zeros((1, 3)), 3).any()
    original = row.copy()
    normalize_rows(row, 3)
    assert (row == original).all()  # copy=True never touches the caller's array


def test_a_batch_re_putting_items_with_as_many_vectors_keeps_their_rows_in_place() -> None:
    """Updating a memory (the same key, a new vector) in a batch neither moves rows nor
    drops the namespace's key lookup; an item whose vector count changes moves, and
    every search sees the new vectors."""
    rng = np.random.default_rng(3)
    index = VectorIndex(8)
    ns = ("m", "u1")
    current = {(ns, f"k{i}"): rng.standard_normal((1, 8)).astype(np.float32) for i in range(30)}
    index.add_many([(n, k, v) for (n, k), v in current.items()])
    lookup = index.key_lookup(ns)
    current[(ns, "k3")] = rng.standard_normal((1, 8)).astype(np.float32)
    current[(ns, "k7")] = rng.standard_normal((1, 8)).astype(np.float32)
    current[(ns, "new")] = rng.standard_normal((1, 8)).astype(np.float32)
    index.add_many([(ns, k, current[(ns, k)]) for k in ("k3", "k7", "new")])
    assert index.key_lookup(ns) is lookup
    for target in ("k3", "k7", "new"):
        query = current[(ns, target)][0]
        hits = index.search(query, ns, limit=3)
        assert hits[0][:2] == (ns, target)
        want = brute_force(current, query, ns)[:3]
        assert [h[:2] for h in hits] == [w[:2] for w in want]
    # Two vectors where it had one: the item moves (and the lookup is made again).
    current[(ns, "k3")] = rng.standard_normal((2, 8)).astype(np.float32)
    index.add_many([(ns, "k3", current[(ns, "k3")])])
    query = current[(ns, "k3")][1]
    assert [h[:2] for h in index.search(query, ns, limit=5)] == [
        w[:2] for w in brute_force(current, query, ns)[:5]
    ]


@pytest.mark.parametrize("dims", [64, 384, 768, 1536, 3072, 6144])
def test_slabs_stay_below_the_size_numpy_backs_with_huge_pages(dims: int) -> None:
    """A full slab is under 4 MiB: numpy advises huge pages from there, whose first
    writes can stall while the kernel compacts memory."""
    index = VectorIndex(dims)
    full = index._slab_rows * dims * 4
    assert full < 4 << 20
    assert index._slab_rows >= 128
