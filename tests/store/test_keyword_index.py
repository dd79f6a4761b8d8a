"""The in-memory BM25 keyword index: scoring, partitions, incremental updates, bad input."""

from __future__ import annotations

import math

import pytest

from threadloom.store._keyword import BM25_B, BM25_K1, KeywordIndex, bm25_idf

ALICE = ("memories", "alice")
BOB = ("memories", "bob")


@pytest.fixture
def index() -> KeywordIndex:
    idx = KeywordIndex()
    idx.put(ALICE, "pet", ["We adopted a puppy and called him Biscuit"])
    idx.put(ALICE, "move", ["My cousin Xiomara moved to Tromso"])
    idx.put(ALICE, "food", ["I cooked moussaka for dinner"])
    idx.put(BOB, "pet", ["Bob's parrot Biscuit talks all day"])
    return idx


def keys(hits: list) -> list[str]:
    return [hit.key for hit in hits]


# --- scoring ----------------------------------------------------------------------


def test_finds_the_item_sharing_the_query_terms(index: KeywordIndex) -> None:
    """A query finds the items that contain its words, in any form."""
    assert keys(index.search(ALICE, "Where did Xiomara move?")) == ["move"]


def test_items_sharing_no_term_are_not_returned(index: KeywordIndex) -> None:
    """Keyword search returns matches only: no term in common, no hit."""
    assert index.search(ALICE, "lighthouse") == []


def test_score_is_okapi_bm25_with_scope_statistics() -> None:
    """The score equals the BM25 formula computed over the searched scope by hand."""
    idx = KeywordIndex()
    idx.put(ALICE, "a", ["apple banana apple"])
    idx.put(ALICE, "b", ["banana cherry"])
    idx.put(ALICE, "c", ["cherry date elderberry fig"])
    (hit,) = idx.search(ALICE, "apple")
    n_docs, avg_len = 3, (3 + 2 + 4) / 3
    tf, length = 2, 3
    expected = (
        bm25_idf(n_docs, 1)
        * tf
        * (BM25_K1 + 1)
        / (tf + BM25_K1 * (1 - BM25_B + BM25_B * length / avg_len))
    )
    assert hit.key == "a"
    assert hit.score == pytest.approx(expected, rel=1e-5)


def test_idf_is_positive_even_for_a_term_in_every_document() -> None:
    """A term present everywhere still scores above zero (Lucene-style IDF)."""
    assert bm25_idf(10, 10) > 0
    assert bm25_idf(10, 1) > bm25_idf(10, 5)
    assert bm25_idf(1, 1) == pytest.approx(math.log(1 + 0.5 / 1.5))


def test_rarer_terms_weigh_more() -> None:
    """Matching a rare word beats matching a common one."""
    idx = KeywordIndex()
    idx.put(ALICE, "rare", ["theremin lessons"])
    for i in range(5):
        idx.put(ALICE, f"common{i}", ["music lessons today"])
    idx.put(ALICE, "music", ["music"])
    assert keys(idx.search(ALICE, "theremin music"))[0] == "rare"


def test_results_are_best_first_and_limit_keeps_the_best() -> None:
    """Hits come in descending score; limit returns the top ones in the same order."""
    idx = KeywordIndex()
    for i in range(30):
        idx.put(ALICE, f"k{i}", ["fig " * (i % 7 + 1) + "filler " * (i % 5)])
    every = idx.search(ALICE, "fig")
    assert [h.score for h in every] == sorted((h.score for h in every), reverse=True)
    assert idx.search(ALICE, "fig", limit=5) == every[:5]
    assert idx.search(ALICE, "fig", limit=0) == []


def test_ties_are_ordered_by_namespace_then_key() -> None:
    """Equal scores come back by address, whatever the insertion or hash order."""
    idx = KeywordIndex()
    for namespace in [BOB, ALICE]:
        for key in ["k3", "k1", "k2"]:
            idx.put(namespace, key, ["fig text"])
    expected = [(ns, k) for ns in (ALICE, BOB) for k in ("k1", "k2", "k3")]
    assert [(h.namespace, h.key) for h in idx.search((), "fig")] == expected
    assert [(h.namespace, h.key) for h in idx.search((), "fig", limit=4)] == expected[:4]


def test_thousands_of_ties_at_the_cut_off_go_to_the_smallest_addresses() -> None:
    """A common word in short texts ties thousands of items across namespaces: the page is
    the best scores, then the ties by (namespace, key), as if every hit were sorted; with
    rewritten items (several rows, reused slots) and deletions too."""
    import random

    rng = random.Random(7)
    idx = KeywordIndex()
    namespaces = [("memories", f"u{n}") for n in range(40)]
    rng.shuffle(namespaces)
    for n, namespace in enumerate(namespaces):
        keys = [f"k{i:03d}" for i in range(60)]
        rng.shuffle(keys)
        for key in keys:
            idx.put(namespace, key, ["memory " + key])
        idx.put(namespace, "best", ["memory memory lane"])  # a better score in every namespace
        if n % 3 == 0:
            idx.put(namespace, "k010", ["memory k010", "memory again k010"])  # two rows
            idx.delete(namespace, "k011")
            idx.put(namespace, "k000", ["memory k000"])  # rewritten: slot reused out of order
    every = idx.search(("memories",), "memory")
    assert len(every) > 2000
    in_order = [p.rows_in_slot_order for p in idx._partitions.values()]
    assert any(in_order) and not all(in_order)  # both ways of scoring a partition
    expected = sorted(every, key=lambda h: (-h.score, h.namespace, h.key))
    assert every == expected
    for limit in (1, 10, 45, 100, 500):
        assert idx.search(("memories",), "memory", limit=limit) == expected[:limit]
    pool = idx.search_with(
        ("memories",), "memory", limit=50, addresses=[(("memories", "u39"), "k059")]
    )
    assert pool[:50] == expected[:50]
    assert [(h.namespace, h.key) for h in pool[50:]] == [(("memories", "u39"), "k059")]


def test_ties_in_one_namespace_follow_key_order_through_new_keys_and_deletions() -> None:
    """In one namespace the tied items at the cut-off are picked by key rank, not by comparing
    strings; the ranks stay right as keys are added (before and after a search), rewritten
    and deleted, and after a compaction renumbers the slots."""
    import random

    rng = random.Random(3)
    idx = KeywordIndex()
    ns = ("memories", "u1")
    keys = [f"k{i:04d}" for i in range(0, 3000, 3)]
    rng.shuffle(keys)
    for key in keys:
        idx.put(ns, key, ["memory " + key])

    def check() -> None:
        every = idx.search(ns, "memory")
        expected = sorted(every, key=lambda h: (-h.score, h.key))
        assert every == expected
        for limit in (1, 7, 100, 333):
            assert idx.search(ns, "memory", limit=limit) == expected[:limit]

    check()  # ranks built by this search
    for step in range(300):
        roll = rng.random()
        if roll < 0.5:
            idx.put(ns, f"k{rng.randrange(3000):04d}", ["memory again"])  # new or rewritten
        elif roll < 0.6:
            idx.put(ns, f"a{step}", ["memory"])  # sorts before every k-key
        else:
            idx.delete(ns, f"k{rng.randrange(3000):04d}")
        if step % 40 == 0:
            check()
    for key in list(idx._partitions[ns].item_slot)[::2]:
        idx.delete(ns, key)  # enough deletions to compact the partition
    check()
    idx.put(ns, "k0000x", ["memory"])
    check()


# --- several texts per item ---------------------------------------------------------


def test_an_item_with_several_texts_appears_once_with_its_best_text() -> None:
    """Each index path is its own document; the item scores as its best one."""
    idx = KeywordIndex()
    idx.put(ALICE, "multi", ["a long note about the weather and the news", "Tromso"])
    idx.put(ALICE, "single", ["a long note about the weather and the news"])
    (hit,) = idx.search(ALICE, "Tromso")
    assert hit.key == "multi"
    assert keys(idx.search(ALICE, "weather")).count("multi") == 1


def test_texts_without_terms_make_no_document() -> None:
    """An item whose texts are empty or stop words is indexed but never matches."""
    idx = KeywordIndex()
    idx.put(ALICE, "empty", ["", "the and of"])
    assert (ALICE, "empty") in idx
    assert idx.search(ALICE, "the") == []


def test_texts_must_be_a_sequence_not_one_string() -> None:
    """Passing one string (a common slip) is a TypeError, not 1 document per character."""
    with pytest.raises(TypeError, match="sequence of strings"):
        KeywordIndex().put(ALICE, "k", "one string")  # type: ignore[arg-type]


# --- partitions --------------------------------------------------------------------


def test_a_prefix_search_sees_only_its_namespaces(index: KeywordIndex) -> None:
    """Searching Alice's namespace never returns Bob's items."""
    assert [(h.namespace, h.key) for h in index.search(ALICE, "Biscuit")] == [(ALICE, "pet")]
    assert [(h.namespace, h.key) for h in index.search(BOB, "Biscuit")] == [(BOB, "pet")]


def test_a_shorter_prefix_spans_namespaces(index: KeywordIndex) -> None:
    """A prefix covers every namespace that starts with it; the empty prefix covers all."""
    assert {h.namespace for h in index.search(("memories",), "Biscuit")} == {ALICE, BOB}
    assert {h.namespace for h in index.search((), "Biscuit")} == {ALICE, BOB}
    assert index.search(("other",), "Biscuit") == []
    assert index.search(("memories", "ali"), "Biscuit") == []  # labels match whole


def test_another_tenants_writes_do_not_change_your_scores(index: KeywordIndex) -> None:
    """Statistics are per searched scope: Bob's documents leave Alice's scores unchanged."""
    before = index.search(ALICE, "Biscuit puppy")
    for i in range(50):
        index.put(BOB, f"noise{i}", ["Biscuit Biscuit puppy"])
    assert index.search(ALICE, "Biscuit puppy") == before


# --- incremental updates -------------------------------------------------------------


def test_replacing_an_item_forgets_its_old_text(index: KeywordIndex) -> None:
    """Re-putting an item replaces its terms: no stale matches."""
    index.put(ALICE, "move", ["My cousin now lives in Lisbon"])
    assert index.search(ALICE, "Tromso") == []
    assert keys(index.search(ALICE, "Lisbon")) == ["move"]


def test_deleting_an_item_removes_it_and_its_statistics(index: KeywordIndex) -> None:
    """After a delete the item is gone and scores equal an index that never had it."""
    assert index.delete(ALICE, "food") is True
    assert index.delete(ALICE, "food") is False
    assert index.search(ALICE, "moussaka") == []
    fresh = KeywordIndex()
    fresh.put(ALICE, "pet", ["We adopted a puppy and called him Biscuit"])
    fresh.put(ALICE, "move", ["My cousin Xiomara moved to Tromso"])
    assert index.search(ALICE, "Biscuit Tromso") == fresh.search(ALICE, "Biscuit Tromso")


def test_deleting_unknown_items_is_harmless(index: KeywordIndex) -> None:
    """Unknown namespaces and keys are a no-op returning False."""
    assert index.delete(("nope",), "x") is False
    assert index.delete(ALICE, "nope") is False


def test_delete_prefix_removes_every_namespace_under_it(index: KeywordIndex) -> None:
    """delete_prefix forgets a whole subtree and says how many items it held."""
    assert index.delete_prefix(("memories", "alice")) == 3
    assert index.search(("memories",), "Biscuit Tromso moussaka") == [
        index.search(BOB, "Biscuit")[0]
    ]
    assert index.delete_prefix(("memories",)) == 1
    assert len(index) == 0
    assert index.delete_prefix(("memories",)) == 0


def test_many_rewrites_compact_and_keep_results_exact() -> None:
    """Heavy churn (which triggers compaction) leaves results equal to a fresh index."""
    churned, fresh = KeywordIndex(), KeywordIndex()
    for round_ in range(6):
        for i in range(100):
            churned.put(ALICE, f"k{i}", [f"note {i} round {round_} word{i % 7}"])
    # White-box: 500 rewrites left far fewer than 600 rows, so compaction ran.
    assert len(churned._partitions[ALICE].row_terms) < 300
    for i in range(0, 100, 3):
        churned.delete(ALICE, f"k{i}")
    for i in range(100):
        if i % 3:
            fresh.put(ALICE, f"k{i}", [f"note {i} round 5 word{i % 7}"])
    for query in ["word3", "round", "note 42", "word1 word2"]:
        got = churned.search(ALICE, query)
        want = fresh.search(ALICE, query)
        assert keys(got) == keys(want)
        assert [h.score for h in got] == pytest.approx([h.score for h in want], rel=1e-5)


def test_len_and_membership_track_items(index: KeywordIndex) -> None:
    """len() counts indexed items; `in` takes a (namespace, key) pair."""
    assert len(index) == 4
    assert (ALICE, "pet") in index
    assert (ALICE, "ghost") not in index
    assert "pet" not in index


# --- bad input -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    ["", "   ", "?!", "the of and", '"', "*", "NEAR OR AND", "--", "'", "'; DROP TABLE x; --"],
)
def test_queries_with_nothing_to_match_return_ordinary_results(
    index: KeywordIndex, query: str
) -> None:
    """Empty, punctuation, stop-word and operator-only queries return a list, never raise."""
    hits = index.search(ALICE, query)
    assert isinstance(hits, list)
    # "NEAR" is an ordinary word here, matching nothing in this corpus.
    assert hits == []


def test_operator_words_are_ordinary_words() -> None:
    """The words OR and NEAR and quotes in a query do not change its meaning: they are text."""
    idx = KeywordIndex()
    idx.put(ALICE, "near", ["the station is near the harbour"])
    assert keys(idx.search(ALICE, 'NEAR("harbour" OR *)')) == ["near"]


def test_a_100k_character_query_is_answered(index: KeywordIndex) -> None:
    """A very long query is capped, answered, and its first words still count."""
    query = "Xiomara " + "lorem ipsum dolor " * 6000
    assert len(query) > 100_000
    assert keys(index.search(ALICE, query[:100_000])) == ["move"]


def test_negative_limit_is_rejected(index: KeywordIndex) -> None:
    """A negative limit is a ValueError naming it."""
    with pytest.raises(ValueError, match="limit"):
        index.search(ALICE, "Biscuit", limit=-1)


def test_invalid_bm25_parameters_are_rejected() -> None:
    """k1 must be >= 0 and b within [0, 1]."""
    with pytest.raises(ValueError, match="k1"):
        KeywordIndex(k1=-1)
    with pytest.raises(ValueError, match="b"):
        KeywordIndex(b=1.5)


def test_searching_an_empty_index_returns_nothing() -> None:
    """No documents, no hits, no error."""
    assert KeywordIndex().search((), "anything") == []


# --- coverage (optional re-ranking) -----------------------------------------------------


def test_coverage_is_the_idf_weighted_share_of_query_terms_present() -> None:
    """1.0 when the text has every query term; a rare term counts more than a common one."""
    idx = KeywordIndex()
    idx.put(ALICE, "both", ["theremin lessons"])
    idx.put(ALICE, "rare", ["theremin"])
    idx.put(ALICE, "common", ["lessons"])
    for i in range(5):
        idx.put(ALICE, f"filler{i}", ["lessons today"])
    cov = idx.coverage(
        ALICE, "theremin lessons", [(ALICE, "both"), (ALICE, "rare"), (ALICE, "common")]
    )
    assert cov[(ALICE, "both")] == pytest.approx(1.0)
    assert cov[(ALICE, "rare")] > 0.5 > cov[(ALICE, "common")] > 0.0


def test_coverage_of_unknown_items_and_empty_queries_is_zero(index: KeywordIndex) -> None:
    """Unknown addresses and queries without terms give 0.0, never an error."""
    assert index.coverage(ALICE, "Biscuit", [(ALICE, "ghost"), (("x",), "y")]) == {
        (ALICE, "ghost"): 0.0,
        (("x",), "y"): 0.0,
    }
    assert index.coverage(ALICE, "the of", [(ALICE, "pet")]) == {(ALICE, "pet"): 0.0}


def test_rewriting_an_item_reuses_its_slot() -> None:
    """Re-putting the same key many times does not grow the index's item table."""
    idx = KeywordIndex()
    for i in range(1000):
        idx.put(ALICE, "k", [] if i % 2 else [f"text {i}"])
    partition = idx._partitions[ALICE]  # white-box: the growth this test guards against
    assert len(partition.item_keys) <= 2
    assert keys(idx.search(ALICE, "text")) == [] and (ALICE, "k") in idx
    idx.put(ALICE, "k", ["text again"])
    assert keys(idx.search(ALICE, "text")) == ["k"]


# --- what the SQLite store's in-process copy uses -----------------------------------


def test_search_with_gives_the_pool_then_the_asked_items_with_their_full_scores() -> None:
    """search_with = the best `limit` hits, then each asked-for matching item outside them,
    with the very score a full search gives it; non-matching and unknown items are left out."""
    idx = KeywordIndex()
    texts = ["pizza pizza night", "pizza", "pizza with friends", "tea time", "pizza oven fire"]
    for i, text in enumerate(texts):
        idx.put(ALICE if i % 2 else BOB, f"k{i}", [text])
    full = {(h.namespace, h.key): h.score for h in idx.search(("memories",), "pizza oven")}
    asked = [(BOB, "k4"), (ALICE, "k3"), (BOB, "k0"), (ALICE, "nope")]
    hits = idx.search_with(("memories",), "pizza oven", limit=1, addresses=asked)
    best = idx.search(("memories",), "pizza oven", limit=1)
    assert hits[:1] == best
    rest = {(h.namespace, h.key): h.score for h in hits[1:]}
    expected = {a: full[a] for a in asked if a in full and a != (best[0].namespace, best[0].key)}
    assert rest == expected
    assert (ALICE, "k3") not in rest  # "tea time" shares no term


def test_put_bodies_indexes_stored_terms_as_put_indexes_the_texts() -> None:
    """Bodies already tokenized (as SQL backends store them) score exactly like the raw texts."""
    from threadloom.store._text import index_text

    raw, stored = KeywordIndex(), KeywordIndex()
    texts = {"a": ["Bob's dogs were running!", "caresses"], "b": ["the running dog"]}
    for key, item_texts in texts.items():
        raw.put(ALICE, key, item_texts)
        stored.put_bodies(ALICE, key, [index_text(t) for t in item_texts])
    assert raw.search(ALICE, "running dogs") == stored.search(ALICE, "running dogs")
    stored.put_bodies(ALICE, "a", [])
    assert (ALICE, "a") not in stored


@pytest.mark.parametrize("seed", range(5))
def test_many_partitions_scored_together_equal_each_partition_alone(seed: int) -> None:
    """A search across many namespaces scores their rows in one pass: the very scores
    (bit for bit) and slots each partition gives alone, deletes and multi-text items too."""
    import random

    import numpy as np

    rng = random.Random(seed)
    words = ["pizza", "oven", "tea", "garden", "trip", "dog"]
    idx = KeywordIndex()
    for number in range(600):
        user = rng.randrange(8)
        namespace = ("memories", f"u{user}")
        texts = [" ".join(rng.choices(words, k=rng.randint(1, 4)))]
        if user < 5:
            # New keys only (rows stay in slot order: scored together), some deleted.
            idx.put(namespace, f"n{number}", texts)
            if rng.random() < 0.2:
                idx.delete(namespace, f"n{rng.randrange(number + 1)}")
            continue
        key = f"k{rng.randrange(30)}"  # re-puts and several texts: each alone
        idx.put(namespace, key, [*texts, "tea trip"] if rng.random() < 0.3 else texts)
    scope = idx._scope(("memories",))
    assert sum(partition.rows_in_slot_order for _, partition in scope) >= 3
    assert any(partition.dead_rows for _, partition in scope)
    for query in ["pizza", "tea oven", "dog garden trip", "nothing"]:
        owners, chunks = idx._scored(("memories",), query)  # white-box: the batched path
        weighted, avg_len = idx._weights(scope, query)
        alone = {
            namespace: partition.item_scores(weighted, avg_len, idx.k1, idx.b)
            for namespace, partition in scope
        }
        together = {
            ns: (slots, scores) for (ns, _, slots), scores in zip(owners, chunks, strict=True)
        }
        assert set(together) == {ns for ns, (slots, _) in alone.items() if len(slots)}
        for namespace, (slots, scores) in together.items():
            assert np.array_equal(slots, alone[namespace][0])
            assert np.array_equal(scores, alone[namespace][1])


@pytest.mark.parametrize("budget", [16 << 20, 4096, 0])
def test_a_common_words_kept_scores_stay_exact_through_writes(budget: int) -> None:
    """The parts of common terms kept between searches give the scores a fresh index
    gives, bit for bit, whatever was written in between (a new item changes the IDF, a
    longer text the average length, a delete both), and whatever the budget evicts."""
    import random

    from threadloom.store._keyword import TermParts

    rng = random.Random(5)
    words = ["snow", "ferry", "pizza", "violin"]
    items: dict[tuple[tuple[str, ...], str], str] = {}
    index = KeywordIndex()
    index._term_parts = TermParts(budget)

    def write() -> None:
        namespace = ("m", f"u{rng.randrange(2)}")
        key = f"k{rng.randrange(40)}"
        if items and rng.random() < 0.2:
            namespace, key = rng.choice(sorted(items))
            index.delete(namespace, key)
            del items[namespace, key]
            return
        text = "memory " + " ".join(rng.choice(words) for _ in range(rng.randrange(1, 6)))
        index.put(namespace, key, [text])
        items[namespace, key] = text

    for _ in range(30):
        write()
    for _ in range(150):
        query = "memory " + rng.choice(words)
        fresh = KeywordIndex()
        for (namespace, key), text in items.items():
            fresh.put(namespace, key, [text])
        for prefix in (("m", "u0"), ("m",)):
            got = [(h.namespace, h.key, h.score) for h in index.search(prefix, query)]
            assert got == [(h.namespace, h.key, h.score) for h in fresh.search(prefix, query)]
        if rng.random() < 0.6:
            write()
    if budget:
        assert index._term_parts.used > 0
    assert index._term_parts.used <= budget
