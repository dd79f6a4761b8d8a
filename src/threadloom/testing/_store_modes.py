"""The conformance cases of keyword and hybrid search (:class:`SearchModeConformance`)."""

from __future__ import annotations

import asyncio
import inspect
import math
from typing import Any, cast

import pytest

from threadloom.errors import IndexNotConfiguredError, InvalidStoreInputError
from threadloom.store.base import IndexConfig, PutOp, SearchOp
from threadloom.testing._store_client import (
    DIMS,
    LONG_TTL,
    NS,
    SHORT_TTL,
    StoreClient,
    index_config,
)
from threadloom.testing.embeddings import HashingEmbed

__all__ = ["SearchModeConformance"]

MODE_DOCS: dict[tuple[str, ...], dict[str, str]] = {
    NS: {
        "xio": "My cousin Xiomara moved to Tromso last spring",
        "pup": "We adopted a puppy and named him Biscuit",
        "pizza": "I love pizza with cheese on Fridays",
        "bike": "riding my bike to work every day",
        "trip": "a weekend trip to Tromso with the puppy",
    },
    ("memories", "u2"): {"other": "Xiomara Xiomara pizza"},
}

#: Queries of the issue's "bad input" list: each must give ordinary results.
BAD_QUERIES: list[str] = [
    " ",
    "?!...;:",
    "the of and to",
    "x" * 100_000,
    "pizza " * 20_000,
    '"',
    '"pizza',
    "*",
    "pizz*",
    "NEAR",
    "pizza NEAR(bike cheese)",
    "OR",
    "pizza OR",
    "AND NOT",
    "--",
    "pizza -- comment",
    "'",
    "'; DROP TABLE store_items; --",
    "^pizza + cheese:* {col} ( ) [ ]",
    "&|!<->:*",
]

#: Queries without a usable term (punctuation, stop words, operator syntax only).
NO_TERM_QUERIES = [" ", "?!...;:", "the of and to", '"', "*", "--", "'", "&|!<->:*"]


def mode_index_config(**extra: Any) -> IndexConfig:
    """:func:`index_config` on the ``text`` field, plus keyword options (``search_mode``, ``fusion``)."""
    return cast(IndexConfig, {**index_config(fields=["text"]), **extra})


def reference_bm25(
    docs: dict[tuple[str, ...], dict[str, str]], prefix: tuple[str, ...], query: str
) -> list[tuple[str, float]]:
    """``(key, BM25 score)`` best first, as every backend must score a keyword search."""
    from threadloom.store._keyword import KeywordIndex

    index = KeywordIndex()
    for namespace, items in docs.items():
        for key, text in items.items():
            index.put(namespace, key, [text])
    return [(hit.key, hit.score) for hit in index.search(prefix, query)]


class SearchModeConformance:
    """Keyword and hybrid search, checked on every backend that offers them.

    Mix into a :class:`StoreConformance` subclass (it uses ``open_store``)::

        class TestMyStore(StoreConformance, SearchModeConformance): ...

    A backend opts in by listing the modes in ``supported_search_modes``.
    """

    async def _mode_store(self, open_store: Any, **extra: Any) -> StoreClient:
        s = await open_store(index=mode_index_config(**extra))
        for namespace, items in MODE_DOCS.items():
            for key, text in items.items():
                await s.put(namespace, key, {"text": text, "len": len(text)})
        return s

    async def test_store_lists_every_mode(self, open_store: Any) -> None:
        """supported_search_modes names vector, keyword and hybrid."""
        s = await open_store()
        assert set(s.store.supported_search_modes) == {"vector", "keyword", "hybrid"}

    async def test_keyword_mode_scores_bm25_of_the_searched_prefix(self, open_store: Any) -> None:
        """Keyword scores are the reference BM25 over the prefix's items: same keys, order and numbers."""
        s = await self._mode_store(open_store)
        for prefix in (NS, ("memories",), ()):
            for query in ("Where did Xiomara move?", "puppy trip to Tromso", "pizza"):
                hits = await s.search(prefix, query=query, mode="keyword", limit=100)
                got = [(h.key, h.score) for h in hits]
                expected = reference_bm25(MODE_DOCS, prefix, query)
                assert [k for k, _ in got] == [k for k, _ in expected], (prefix, query)
                for (_, score), (_, want) in zip(got, expected, strict=True):
                    assert isinstance(score, float) and score > 0
                    assert math.isclose(score, want, rel_tol=1e-9), (prefix, query)

    async def test_keyword_mode_returns_only_items_sharing_a_term(self, open_store: Any) -> None:
        """Items sharing no term with the query are absent; the rare term ranks first."""
        s = await self._mode_store(open_store)
        keys = await s.keys(NS, query="Xiomara's puppies", mode="keyword")
        assert keys[0] == "xio" and set(keys) == {"xio", "pup", "trip"}

    async def test_another_tenants_writes_never_change_keyword_scores(
        self, open_store: Any
    ) -> None:
        """Statistics come from the searched prefix: writes elsewhere leave its scores alone."""
        s = await self._mode_store(open_store)
        before = await s.search(NS, query="pizza puppy", mode="keyword")
        for i in range(5):
            await s.put(("memories", "u3"), f"p{i}", {"text": "pizza pizza puppy"})
        after = await s.search(NS, query="pizza puppy", mode="keyword")
        assert [(h.key, h.score) for h in after] == [(h.key, h.score) for h in before]

    async def test_hybrid_mode_fuses_both_rankings(self, open_store: Any) -> None:
        """Hybrid puts the keyword match first, still returns vector-only items, scores descending."""
        s = await self._mode_store(open_store)
        hits = await s.search(NS, query="Xiomara", mode="hybrid", limit=100)
        assert hits[0].key == "xio"
        assert {h.key for h in hits} == set(MODE_DOCS[NS])
        scores = [h.score for h in hits]
        assert all(isinstance(x, float) for x in scores) and scores == sorted(scores, reverse=True)

    async def test_fusion_weight_is_honoured(self, open_store: Any) -> None:
        """vector_weight=1 ranks like vector search; vector_weight=0 puts keyword matches first."""
        query = "puppy trip to Tromso"
        s = await self._mode_store(open_store, fusion={"vector_weight": 1.0})
        vector = await s.keys(NS, query=query, mode="vector")
        assert await s.keys(NS, query=query, mode="hybrid") == vector
        s = await self._mode_store(open_store, fusion={"vector_weight": 0.0})
        keyword = await s.keys(NS, query=query, mode="keyword")
        assert (await s.keys(NS, query=query, mode="hybrid"))[: len(keyword)] == keyword

    async def test_bad_fusion_config_is_rejected(self, open_store: Any) -> None:
        """An unknown or out-of-range fusion option is an InvalidStoreInputError."""
        for fusion in ({"vector_weight": 2.0}, {"nonsense": 1}, {"candidates": 0}):
            with pytest.raises(InvalidStoreInputError):
                s = await open_store(index=mode_index_config(fusion=fusion))
                await s.search(NS, query="x", mode="hybrid")

    async def test_default_mode_is_vector(self, open_store: Any) -> None:
        """Without mode or search_mode, a query search is the vector search (LangGraph's meaning)."""
        s = await self._mode_store(open_store)
        default = await s.search(NS, query="puppy trip")
        vector = await s.search(NS, query="puppy trip", mode="vector")
        assert [(h.key, h.score) for h in default] == [(h.key, h.score) for h in vector]

    async def test_search_mode_in_the_index_config_sets_the_default(self, open_store: Any) -> None:
        """index search_mode is used when the call gives no mode; a call's mode overrides it."""
        s = await self._mode_store(open_store, search_mode="keyword")
        keyword = await s.search(NS, query="Xiomara")
        assert [h.key for h in keyword] == ["xio"]
        assert len(await s.keys(NS, query="Xiomara", mode="vector")) == len(MODE_DOCS[NS])
        s = await self._mode_store(open_store, search_mode="hybrid")
        default = await s.search(NS, query="Xiomara")
        hybrid = await s.search(NS, query="Xiomara", mode="hybrid")
        assert [(h.key, h.score) for h in default] == [(h.key, h.score) for h in hybrid]

    async def test_mode_reaches_batch_through_search_op(self, open_store: Any) -> None:
        """SearchOp's last field is mode; a batch honours it, and old positional SearchOps still work."""
        s = await self._mode_store(open_store)
        [keyword, vector] = await s.batch(
            [
                SearchOp(NS, None, 10, 0, "Xiomara", True, "keyword"),
                SearchOp(NS, None, 10, 0, "Xiomara", True),
            ]
        )
        assert [h.key for h in keyword] == ["xio"]
        assert len(vector) == len(MODE_DOCS[NS])

    @pytest.mark.parametrize("mode", ["keyword", "hybrid"])
    async def test_modes_honour_filter_and_prefix(self, open_store: Any, mode: str) -> None:
        """Filters and namespace prefixes narrow keyword and hybrid search as they do vector search."""
        s = await self._mode_store(open_store)
        short = {"len": {"$lt": 40}}
        keys = await s.keys(NS, query="Xiomara pizza puppy", mode=mode, filter=short)
        assert keys and all(len(MODE_DOCS[NS][k]) < 40 for k in keys)
        assert "other" in await s.keys(("memories",), query="Xiomara", mode=mode)
        assert "other" not in await s.keys(NS, query="Xiomara", mode=mode)
        # A filter SQL cannot express (equality with a list) must work the same.
        await s.put(NS, "tagged", {"text": "pizza Xiomara", "tags": ["a", "b"]})
        assert await s.keys(NS, query="Xiomara", mode=mode, filter={"tags": ["a", "b"]}) == [
            "tagged"
        ]

    async def test_hybrid_filter_on_a_scope_larger_than_the_candidate_pool(
        self, open_store: Any
    ) -> None:
        """With more items than hybrid candidates, a filter still yields full pages of passing items."""
        s = await open_store(index=mode_index_config(fusion={"candidates": 10}))
        await s.batch(
            [
                PutOp(NS, f"k{i:03}", {"text": f"pizza topping{i}", "odd": i % 2 == 1})
                for i in range(60)
            ]
        )
        hits = await s.search(
            NS, query="pizza topping7", mode="hybrid", filter={"odd": True}, limit=20
        )
        assert len(hits) == 20 and hits[0].key == "k007"
        assert all(int(h.key[1:]) % 2 == 1 for h in hits)
        assert len({h.key for h in hits}) == 20

    @pytest.mark.parametrize("mode", ["keyword", "hybrid"])
    async def test_modes_page_with_offset_and_limit(self, open_store: Any, mode: str) -> None:
        """Pages of a keyword or hybrid search tile its full ranking."""
        s = await open_store(index=mode_index_config())
        for i in range(12):
            await s.put(NS, f"k{i:02}", {"text": "pizza " * (i % 4 + 1) + f"topping{i}"})
        full = await s.keys(NS, query="pizza topping3", mode=mode, limit=100)
        assert len(full) == 12
        pages = [
            await s.keys(NS, query="pizza topping3", mode=mode, limit=5, offset=o)
            for o in (0, 5, 10)
        ]
        assert [k for page in pages for k in page] == full
        assert await s.keys(NS, query="pizza topping3", mode=mode, offset=12) == []
        assert await s.keys(NS, query="pizza topping3", mode=mode, limit=0) == []

    async def test_a_search_may_return_over_a_thousand_items(self, open_store: Any) -> None:
        """A large limit returns every match in every mode (no statement-size limit leaks out)."""
        s = await open_store(index=mode_index_config())
        await s.batch([PutOp(NS, f"k{i:04}", {"text": f"pizza topping{i}"}) for i in range(1100)])
        for mode in ("vector", "keyword", "hybrid"):
            hits = await s.search(NS, query="pizza", mode=mode, limit=2000)
            assert len({h.key for h in hits}) == len(hits) == 1100, mode

    @pytest.mark.parametrize("mode", ["keyword", "hybrid"])
    async def test_items_with_several_texts_count_once(self, open_store: Any, mode: str) -> None:
        """An item indexed on several texts appears once, scored by its best text, before paging."""
        s = await open_store(index=mode_index_config())
        await s.put(
            NS,
            "multi",
            {"a": "pizza", "b": "pizza night", "c": "pizza party"},
            index=["a", "b", "c"],
        )
        await s.put(NS, "single", {"text": "pizza"})
        hits = await s.search(NS, query="pizza", mode=mode, limit=10)
        assert sorted(h.key for h in hits) == ["multi", "single"]
        if mode == "keyword":
            assert math.isclose(hits[0].score, hits[1].score, rel_tol=1e-9)
        assert len(await s.search(NS, query="pizza", mode=mode, limit=1, offset=1)) == 1

    @pytest.mark.parametrize("mode", ["keyword", "hybrid"])
    async def test_expired_items_are_never_returned(self, open_store: Any, mode: str) -> None:
        """Once its ttl passes, an item is gone from keyword and hybrid search, swept or not."""
        s = await open_store(index=mode_index_config())
        await s.put(NS, "short", {"text": "pizza"}, ttl=SHORT_TTL)
        await s.put(NS, "long", {"text": "pizza"}, ttl=LONG_TTL)
        await asyncio.sleep(SHORT_TTL * 60 * 2.5)
        assert await s.keys(NS, query="pizza", mode=mode) == ["long"]
        sweep = getattr(s.store, "sweep_ttl", None)
        if sweep is not None:
            await sweep() if inspect.iscoroutinefunction(sweep) else await asyncio.to_thread(sweep)
        assert await s.keys(NS, query="pizza", mode=mode) == ["long"]
        expected = reference_bm25({NS: {"long": "pizza"}}, NS, "pizza")
        if mode == "keyword":
            [hit] = await s.search(NS, query="pizza", mode=mode)
            assert math.isclose(hit.score, expected[0][1], rel_tol=1e-9)

    @pytest.mark.parametrize("mode", ["keyword", "hybrid"])
    async def test_keyword_index_follows_delete_reput_and_index_false(
        self, open_store: Any, mode: str
    ) -> None:
        """Deleting removes an item's terms; re-putting replaces them; index=False removes them."""
        s = await open_store(index=mode_index_config())
        await s.put(NS, "gone", {"text": "zucchini"})
        await s.put(NS, "moved", {"text": "zucchini"})
        await s.put(NS, "hidden", {"text": "zucchini"})
        await s.put(NS, "control", {"text": "carrot"})
        await s.delete(NS, "gone")
        await s.put(NS, "moved", {"text": "eggplant"})
        await s.put(NS, "hidden", {"text": "zucchini"}, index=False)
        assert await s.keys(NS, query="zucchini", mode="keyword") == []
        assert await s.keys(NS, query="eggplant", mode="keyword") == ["moved"]
        keys = await s.keys(NS, query="zucchini eggplant", mode=mode)
        assert "gone" not in keys and "hidden" not in keys and keys[0] == "moved"
        [hit] = await s.search(NS, query="eggplant", mode="keyword")
        expected = reference_bm25({NS: {"moved": "eggplant", "control": "carrot"}}, NS, "eggplant")
        assert math.isclose(hit.score, expected[0][1], rel_tol=1e-9)

    @pytest.mark.parametrize("mode", ["keyword", "hybrid"])
    async def test_delete_namespace_clears_the_keyword_index(
        self, open_store: Any, mode: str
    ) -> None:
        """delete_namespace removes the prefix's items from keyword and hybrid search."""
        s = await self._mode_store(open_store)
        assert await s.delete_namespace(NS) == len(MODE_DOCS[NS])
        assert await s.keys(("memories",), query="Xiomara pizza", mode=mode) == ["other"]

    async def test_keyword_search_sees_earlier_puts_of_its_batch(self, open_store: Any) -> None:
        """A search later in a batch sees the batch's earlier puts and deletes."""
        s = await open_store(index=mode_index_config())
        await s.put(NS, "old", {"text": "zucchini"})
        results = await s.batch(
            [
                PutOp(NS, "new", {"text": "zucchini soup"}),
                PutOp(NS, "old", None),
                SearchOp(NS, query="zucchini", mode="keyword"),
                SearchOp(NS, query="zucchini", mode="hybrid"),
            ]
        )
        assert [h.key for h in results[2]] == ["new"]
        assert [h.key for h in results[3]] == ["new"]

    async def test_keyword_search_embeds_nothing(self, open_store: Any) -> None:
        """A keyword search never calls the embedder."""
        embed = HashingEmbed(DIMS)
        s = await open_store(index=cast(IndexConfig, {**index_config(embed, fields=["text"])}))
        await s.put(NS, "a", {"text": "pizza"})
        embed.calls.clear()
        assert await s.keys(NS, query="pizza", mode="keyword") == ["a"]
        assert embed.calls == []

    async def test_keyword_only_store_needs_no_embedder(self, open_store: Any) -> None:
        """index={"fields": [...]} without embed/dims gives a store that searches by keyword."""
        s = await open_store(index={"fields": ["text"]})
        for key, text in MODE_DOCS[NS].items():
            await s.put(NS, key, {"text": text})
        await s.put(NS, "plain", {"text": "Xiomara"}, index=False)
        assert await s.keys(NS, query="Xiomara") == ["xio"]
        hits = await s.search(NS, query="puppy trip to Tromso", mode="keyword")
        expected = reference_bm25({NS: MODE_DOCS[NS]}, NS, "puppy trip to Tromso")
        assert [h.key for h in hits] == [key for key, _ in expected]
        assert [h.score for h in hits] == pytest.approx([score for _, score in expected])
        assert len(await s.keys(NS)) == len(MODE_DOCS[NS]) + 1
        for mode in ("vector", "hybrid"):
            with pytest.raises(IndexNotConfiguredError, match="keyword"):
                await s.search(NS, query="Xiomara", mode=mode)

    async def test_keyword_only_store_cannot_default_to_vectors(self, open_store: Any) -> None:
        """search_mode "vector" or "hybrid" without an embedder is rejected when the store is made."""
        for mode in ("vector", "hybrid"):
            with pytest.raises(InvalidStoreInputError, match="embed"):
                await open_store(index={"fields": ["text"], "search_mode": mode})

    async def test_keyword_mode_without_index_is_an_error(self, open_store: Any) -> None:
        """A store without any index raises IndexNotConfiguredError for every query mode."""
        s = await open_store()
        await s.put(NS, "k", {"text": "pizza"})
        for mode in ("vector", "keyword", "hybrid"):
            with pytest.raises(IndexNotConfiguredError, match="index"):
                await s.search(NS, query="pizza", mode=mode)

    async def test_unknown_mode_is_rejected(self, open_store: Any) -> None:
        """An unknown mode is an InvalidStoreInputError, from search and from batch alike."""
        s = await self._mode_store(open_store)
        for mode in ("semantic", "KEYWORD", 1):
            with pytest.raises(InvalidStoreInputError, match="mode"):
                await s.search(NS, query="pizza", mode=mode)
        with pytest.raises(InvalidStoreInputError, match="mode"):
            await s.batch([SearchOp(NS, query="pizza", mode="bm25")])
        with pytest.raises(InvalidStoreInputError, match="mode"):
            await open_store(index=mode_index_config(search_mode="bm25"))

    @pytest.mark.parametrize("mode", ["vector", "keyword", "hybrid"])
    async def test_a_mode_without_query_lists_newest_first(
        self, open_store: Any, mode: str
    ) -> None:
        """query=None (or "") with a mode is an ordinary search: newest first, no scores."""
        s = await self._mode_store(open_store)
        newest = await s.keys(NS)
        for query in (None, ""):
            hits = await s.search(NS, query=query, mode=mode, limit=100)
            assert [h.key for h in hits] == newest
            assert all(h.score is None for h in hits)

    @pytest.mark.parametrize("query", BAD_QUERIES, ids=lambda q: repr(q[:24]))
    async def test_bad_queries_give_ordinary_results(self, open_store: Any, query: str) -> None:
        """Punctuation, stop words, huge queries and FTS/SQL operator syntax never raise."""
        s = await self._mode_store(open_store)
        for mode in ("keyword", "hybrid", "vector"):
            hits = await s.search(NS, query=query, mode=mode)
            assert isinstance(hits, list) and all(h.namespace == NS for h in hits)
        if "pizza" in query:
            assert (await s.keys(NS, query=query, mode="keyword"))[0] == "pizza"
        assert await s.keys(NS) == list(reversed(MODE_DOCS[NS]))  # the store is untouched

    @pytest.mark.parametrize("query", NO_TERM_QUERIES, ids=repr)
    async def test_queries_without_terms(self, open_store: Any, query: str) -> None:
        """No usable term: keyword search finds nothing; hybrid falls back to the vector order."""
        s = await self._mode_store(open_store)
        assert await s.search(NS, query=query, mode="keyword") == []
        hybrid = await s.keys(NS, query=query, mode="hybrid")
        assert hybrid == await s.keys(NS, query=query, mode="vector")
