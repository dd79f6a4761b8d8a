"""The store conformance suite: one behaviour, checked on every backend.

Subclass :class:`StoreConformance` in a test module and provide a
``make_store`` fixture that returns a factory ``make_store(index=None,
ttl=None)`` giving a fresh, empty store (or an awaitable of one)::

    import pytest
    from threadloom.store.memory import InMemoryStore
    from threadloom.testing.store import StoreConformance

    class TestInMemoryStore(StoreConformance):
        @pytest.fixture
        def make_store(self):
            return lambda index=None, ttl=None: InMemoryStore(index=index, ttl=ttl)

Stores with keyword and hybrid search also mix in :class:`SearchModeConformance`.

Every test runs twice, once through the sync methods and once through the
async twins. Set ``async_store = True`` for stores whose sync methods must be
called from outside the event loop (the ``Async*Store`` pattern); the suite
then calls them from a worker thread. Needs ``pytest`` and ``pytest-asyncio``.
"""

from __future__ import annotations

import asyncio
import inspect
import math
import threading
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

import pytest

from threadloom.errors import (
    EmbeddingError,
    IndexNotConfiguredError,
    InvalidEmbedderError,
    InvalidFilterError,
    InvalidNamespaceError,
    InvalidStoreInputError,
    InvalidValueError,
)
from threadloom.store.base import GetOp, IndexConfig, ListNamespacesOp, PutOp, SearchOp, TTLConfig
from threadloom.testing._store_client import (
    DIMS,
    LONG_TTL,
    NS,
    SHORT_TTL,
    StoreClient,
    index_config,
)
from threadloom.testing._store_dump import DumpConformance
from threadloom.testing._store_input import InputConformance
from threadloom.testing._store_modes import SearchModeConformance
from threadloom.testing.embeddings import (
    AsyncHashingEmbed,
    HashingEmbed,
    InfEmbed,
    NaNEmbed,
    RaisingEmbed,
    WrongCountEmbed,
    WrongDimsEmbed,
)

__all__ = ["DIMS", "SearchModeConformance", "StoreClient", "StoreConformance"]

BAD_NAMESPACES: list[Any] = [
    (),
    ("",),
    ("a", ""),
    ("a.b",),
    ("a", 1),
    ["memories", "u1"],
    ("threadloom", "x"),
]


class StoreConformance(InputConformance, DumpConformance):
    """Behaviour every threadloom store shares. Subclass it and provide ``make_store``.

    The cases about odd text and sizes live in :class:`InputConformance`; whole-item
    dump and load in :class:`~threadloom.testing._store_dump.DumpConformance`.
    """

    async_store: ClassVar[bool] = False
    pytestmark: ClassVar[list[Any]] = [pytest.mark.asyncio]

    @pytest.fixture
    def make_store(self) -> Callable[..., Any]:
        """Override: return ``factory(index=None, ttl=None) -> store | Awaitable[store]``."""
        raise NotImplementedError("StoreConformance subclasses must define a make_store fixture")

    @pytest.fixture(params=["sync", "async"])
    def open_store(
        self, request: pytest.FixtureRequest, make_store: Callable[..., Any]
    ) -> Callable[..., Awaitable[StoreClient]]:
        """``await open_store(index=..., ttl=...)`` gives a :class:`StoreClient`."""

        async def open_(
            index: IndexConfig | None = None, ttl: TTLConfig | None = None
        ) -> StoreClient:
            store = make_store(index=index, ttl=ttl)
            if inspect.isawaitable(store):
                store = await store
            return StoreClient(store, request.param, in_thread=self.async_store)

        return open_

    # --- put, get, delete ----------------------------------------------------

    async def test_put_then_get_returns_the_item(self, open_store: Any) -> None:
        """An item put is read back with its namespace, key, value and timestamps."""
        s = await open_store()
        await s.put(NS, "k", {"text": "hello", "n": 1, "nested": {"a": [1, 2.5, None, True]}})
        item = await s.get(NS, "k")
        assert item.namespace == NS and item.key == "k"
        assert item.value == {"text": "hello", "n": 1, "nested": {"a": [1, 2.5, None, True]}}
        assert item.created_at.tzinfo is not None and item.updated_at >= item.created_at

    async def test_get_of_a_missing_item_is_none(self, open_store: Any) -> None:
        """Reading an address that holds nothing gives None."""
        s = await open_store()
        assert await s.get(NS, "missing") is None
        assert await s.get(("no", "such"), "k") is None

    async def test_unicode_and_json_shapes_round_trip(self, open_store: Any) -> None:
        """Values come back as JSON gives them: tuples as lists, text unchanged."""
        s = await open_store()
        await s.put(NS, "ключ ✓", {"t": (1, 2), "emoji": "🧵", "empty": {}, "f": 0.1})
        item = await s.get(NS, "ключ ✓")
        assert item.value == {"t": [1, 2], "emoji": "🧵", "empty": {}, "f": 0.1}

    async def test_overwrite_keeps_created_at_and_moves_updated_at(self, open_store: Any) -> None:
        """Re-putting an item replaces its value; created_at stays, updated_at moves forward."""
        s = await open_store()
        await s.put(NS, "k", {"v": 1})
        first = await s.get(NS, "k")
        await asyncio.sleep(0.002)
        await s.put(NS, "k", {"v": 2})
        second = await s.get(NS, "k")
        assert second.value == {"v": 2}
        assert second.created_at == first.created_at
        assert second.updated_at > first.updated_at

    async def test_delete_removes_the_item_and_tolerates_missing(self, open_store: Any) -> None:
        """Deleting removes an item; deleting what is not there is not an error."""
        s = await open_store()
        await s.put(NS, "k", {"v": 1})
        await s.delete(NS, "k")
        await s.delete(NS, "k")
        await s.delete(("never", "there"), "k")
        assert await s.get(NS, "k") is None
        assert await s.list_namespaces() == []

    async def test_returned_values_are_copies(self, open_store: Any) -> None:
        """Mutating a value after put, or a value read back, never changes the store."""
        s = await open_store()
        value: dict[str, Any] = {"list": [1], "d": {"x": 1}}
        await s.put(NS, "k", value)
        value["list"].append(2)
        got = await s.get(NS, "k")
        got.value["list"].append(3)
        got.value["d"]["x"] = 99
        [hit] = await s.search(NS)
        hit.value["d"]["x"] = 100
        assert (await s.get(NS, "k")).value == {"list": [1], "d": {"x": 1}}

    async def test_every_read_hands_out_a_copy_of_its_own(self, open_store: Any) -> None:
        """Top-level changes to a read value stay with the caller, read after read; a value
        that replaces it with nested parts is copied as deeply."""
        s = await open_store()
        await s.put(NS, "k", {"a": 1, "b": "x"})
        for _ in range(2):
            got = await s.get(NS, "k")
            got.value["a"] = 2
            got.value["new"] = True
            del got.value["b"]
            [hit] = await s.search(NS)
            hit.value.clear()
        assert (await s.get(NS, "k")).value == {"a": 1, "b": "x"}
        await s.put(NS, "k", {"a": [1], "b": {"c": 1}})
        got = await s.get(NS, "k")
        got.value["a"].append(2)
        got.value["b"]["c"] = 2
        assert (await s.get(NS, "k")).value == {"a": [1], "b": {"c": 1}}

    async def test_batch_returns_one_result_per_op_in_order(self, open_store: Any) -> None:
        """batch runs ops in order; a get after a put in the same batch sees it."""
        s = await open_store()
        results = await s.batch(
            [
                PutOp(NS, "a", {"v": 1}),
                GetOp(NS, "a"),
                SearchOp(("memories",)),
                ListNamespacesOp(),
                PutOp(NS, "a", None),
                GetOp(NS, "a"),
            ]
        )
        assert results[0] is None and results[1].value == {"v": 1}
        assert [i.key for i in results[2]] == ["a"]
        assert results[3] == [NS]
        assert results[4] is None and results[5] is None

    # --- bad input: a typed error, nothing stored -----------------------------

    @pytest.mark.parametrize("namespace", BAD_NAMESPACES, ids=repr)
    async def test_bad_namespace_is_rejected_on_every_write_path(
        self, open_store: Any, namespace: Any
    ) -> None:
        """put, delete and batch reject a bad namespace with InvalidNamespaceError; nothing is stored."""
        s = await open_store()
        with pytest.raises(InvalidNamespaceError):
            await s.put(namespace, "k", {"v": 1})
        with pytest.raises(InvalidNamespaceError):
            await s.delete(namespace, "k")
        with pytest.raises(InvalidNamespaceError):
            await s.batch([PutOp(NS, "ok", {"v": 1}), PutOp(namespace, "k", {"v": 1})])
        assert await s.list_namespaces() == []
        assert await s.get(NS, "ok") is None

    async def test_namespace_error_names_the_problem(self, open_store: Any) -> None:
        """The message says what is wrong with the namespace."""
        s = await open_store()
        with pytest.raises(InvalidNamespaceError, match="period"):
            await s.put(("a.b",), "k", {})
        with pytest.raises(InvalidNamespaceError, match="reserved"):
            await s.put(("threadloom",), "k", {})
        with pytest.raises(InvalidNamespaceError, match="'langgraph' is reserved"):
            await s.put(("langgraph", "memories"), "k", {})
        await s.put(("memories", "langgraph"), "k", {})  # only a first label is reserved
        with pytest.raises(InvalidNamespaceError, match="empty"):
            await s.put((), "k", {})

    @pytest.mark.parametrize("key", ["", 3, None], ids=repr)
    async def test_bad_key_is_rejected(self, open_store: Any, key: Any) -> None:
        """An empty or non-string key raises InvalidStoreInputError and stores nothing."""
        s = await open_store()
        with pytest.raises(InvalidStoreInputError, match=r"[Kk]ey"):
            await s.put(NS, key, {"v": 1})
        assert await s.list_namespaces() == []

    @pytest.mark.parametrize(
        "value",
        [[1, 2], "text", None.__class__, {"x": object()}, {"x": math.nan}, {"x": {1, 2}}],
        ids=["list", "str", "type", "object", "nan", "set"],
    )
    async def test_bad_value_is_rejected(self, open_store: Any, value: Any) -> None:
        """A value that is not a dict, or not JSON-serializable, raises InvalidValueError."""
        s = await open_store()
        with pytest.raises(InvalidValueError):
            await s.put(NS, "k", value)
        assert await s.get(NS, "k") is None
        assert await s.list_namespaces() == []

    @pytest.mark.parametrize(("limit", "offset"), [(-1, 0), (0, -1), (1.5, 0), (True, 0), ("3", 0)])
    async def test_bad_limit_or_offset_is_rejected(
        self, open_store: Any, limit: Any, offset: Any
    ) -> None:
        """search and list_namespaces reject negative or non-integer limit and offset."""
        s = await open_store()
        with pytest.raises(InvalidStoreInputError, match=r"limit|offset"):
            await s.search(NS, limit=limit, offset=offset)
        with pytest.raises(InvalidStoreInputError, match=r"limit|offset"):
            await s.list_namespaces(limit=limit, offset=offset)

    @pytest.mark.parametrize("ttl", [-1, 0, math.inf, "5"], ids=repr)
    async def test_bad_ttl_is_rejected(self, open_store: Any, ttl: Any) -> None:
        """A ttl that is not a positive number of minutes raises and stores nothing."""
        s = await open_store()
        with pytest.raises(InvalidStoreInputError, match="ttl"):
            await s.put(NS, "k", {"v": 1}, ttl=ttl)
        assert await s.get(NS, "k") is None

    async def test_bad_index_argument_is_rejected(self, open_store: Any) -> None:
        """put(index=...) accepts only None, False or a list of paths."""
        s = await open_store(index=index_config())
        for index in ("text", [""], [1], True):
            with pytest.raises(InvalidStoreInputError, match="index"):
                await s.put(NS, "k", {"text": "x"}, index=index)
        assert await s.get(NS, "k") is None

    async def test_bad_read_arguments_are_rejected(self, open_store: Any) -> None:
        """get with an empty key, list_namespaces with max_depth 0, a non-dict filter: typed errors."""
        s = await open_store()
        with pytest.raises(InvalidStoreInputError, match=r"[Kk]ey"):
            await s.get(NS, "")
        with pytest.raises(InvalidStoreInputError, match="max_depth"):
            await s.list_namespaces(max_depth=0)
        with pytest.raises(InvalidFilterError, match="dict"):
            await s.search(NS, filter=["kind", "fact"])

    async def test_reads_never_create_namespaces(self, open_store: Any) -> None:
        """get and search on unknown namespaces leave list_namespaces empty."""
        s = await open_store()
        await s.get(("ghost", "ns"), "k")
        await s.search(("ghost",))
        assert await s.list_namespaces() == []

    # --- search without a query --------------------------------------------

    async def test_search_without_query_is_newest_first(self, open_store: Any) -> None:
        """Without a query, items come most recently updated first; a re-put moves to the front."""
        s = await open_store()
        for key in ("a", "b", "c"):
            await s.put(NS, key, {"k": key})
        await s.put(NS, "a", {"k": "a2"})
        hits = await s.search(NS)
        assert [h.key for h in hits] == ["a", "c", "b"]
        assert all(h.score is None for h in hits)

    async def test_search_scopes_to_the_namespace_prefix(self, open_store: Any) -> None:
        """A prefix matches whole labels: ('a',) covers ('a', 'x') but not ('ab',)."""
        s = await open_store()
        await s.put(("a",), "1", {})
        await s.put(("a", "x"), "2", {})
        await s.put(("ab",), "3", {})
        await s.put(("b", "a"), "4", {})
        assert sorted(await s.keys(("a",))) == ["1", "2"]
        assert await s.keys(("a", "x")) == ["2"]
        assert sorted(await s.keys(())) == ["1", "2", "3", "4"]

    async def test_search_pages_with_limit_and_offset(self, open_store: Any) -> None:
        """limit and offset page through newest-first results without gaps or repeats."""
        s = await open_store()
        for i in range(7):
            await s.put(("p", str(i % 2)), f"k{i}", {"i": i})
        everything = await s.keys(("p",))
        assert everything == [f"k{i}" for i in reversed(range(7))]
        pages = [await s.keys(("p",), limit=3, offset=o) for o in (0, 3, 6)]
        assert [key for page in pages for key in page] == everything
        assert await s.keys(("p",), limit=0) == []

    # --- filters --------------------------------------------------------------

    async def _filter_store(self, open_store: Any) -> StoreClient:
        s = await open_store()
        rows = {
            "n1": {"n": 1, "s": "apple", "tag": "x", "meta": {"lang": "en", "depth": 2}},
            "n2": {"n": 2.0, "s": "banana", "tag": "y", "meta": {"lang": "fr"}},
            "n3": {"n": 3, "s": "cherry", "tag": None},
            "b": {"n": True, "s": 5, "flag": False},
            "none": {"other": 1},
        }
        for key, value in rows.items():
            await s.put(NS, key, value)
        return s

    @pytest.mark.parametrize(
        ("filter", "expected"),
        [
            ({"tag": "x"}, {"n1"}),
            ({"n": 2}, {"n2"}),
            ({"n": {"$eq": 1.0}}, {"n1"}),
            ({"n": 1}, {"n1"}),
            ({"n": True}, {"b"}),
            ({"tag": None}, {"n3"}),
            ({"tag": {"$ne": "x"}}, {"n2", "n3", "b", "none"}),
            ({"n": {"$gt": 1}}, {"n2", "n3"}),
            ({"n": {"$gte": 2, "$lt": 3}}, {"n2"}),
            ({"n": {"$lte": 1.5}}, {"n1"}),
            ({"s": {"$gt": "b"}}, {"n2", "n3"}),
            ({"s": {"$lt": "banana"}}, {"n1"}),
            ({"tag": {"$in": ["x", "y"]}}, {"n1", "n2"}),
            ({"tag": {"$nin": ["x", "y"]}}, {"n3", "b", "none"}),
            ({"tag": {"$exists": True}}, {"n1", "n2", "n3"}),
            ({"tag": {"$exists": False}}, {"b", "none"}),
            ({"meta.lang": "en"}, {"n1"}),
            ({"meta": {"lang": "fr"}}, {"n2"}),
            ({"meta.depth": {"$gte": 2}}, {"n1"}),
            ({"$or": [{"tag": "x"}, {"flag": False}]}, {"n1", "b"}),
            ({"$and": [{"n": {"$gt": 1}}, {"n": {"$lt": 3}}]}, {"n2"}),
            ({"n": {"$gt": 0}, "tag": "y"}, {"n2"}),
            ({}, {"n1", "n2", "n3", "b", "none"}),
            # NaN and the infinities equal no stored value (those are finite), as in IEEE 754:
            ({"n": math.nan}, set()),
            ({"n": {"$eq": math.inf}}, set()),
            ({"n": {"$ne": math.nan}}, {"n1", "n2", "n3", "b", "none"}),
            ({"n": {"$gt": math.nan}}, set()),
            ({"n": {"$lte": math.nan}}, set()),
            ({"n": {"$in": [1, math.nan]}}, {"n1"}),
            ({"n": {"$nin": [1, math.nan]}}, {"n2", "n3", "b", "none"}),
            ({"meta": {"$eq": {"lang": "en", "depth": math.nan}}}, set()),
            ({"n": {"$lt": math.inf}}, {"n1", "n2", "n3"}),
            ({"n": {"$gt": -math.inf}}, {"n1", "n2", "n3"}),
        ],
        ids=repr,
    )
    async def test_filter_operators(self, open_store: Any, filter: Any, expected: set[str]) -> None:
        """Each filter operator selects exactly the items DESIGN.md says it should."""
        s = await self._filter_store(open_store)
        assert set(await s.keys(NS, filter=filter)) == expected

    async def test_ranges_never_match_missing_or_mismatched_types(self, open_store: Any) -> None:
        """A missing field, a bool, or a string against a number never matches a range."""
        s = await self._filter_store(open_store)
        assert "b" not in await s.keys(NS, filter={"n": {"$gte": 0}})
        assert "none" not in await s.keys(NS, filter={"n": {"$lt": 100}})
        assert "b" not in await s.keys(NS, filter={"s": {"$lt": "zzz"}})
        assert await s.keys(NS, filter={"missing.deep": {"$gt": 0}}) == []

    @pytest.mark.parametrize(
        ("filter", "named"),
        [
            ({"n": {"$regex": "a"}}, r"\$regex"),
            ({"$not": {"n": 1}}, r"\$not"),
            ({"n": {"$in": 3}}, r"\$in"),
            ({"n": {"$exists": "yes"}}, r"\$exists"),
            ({"n": {"$gt": None}}, r"\$gt"),
            ({"$or": []}, r"\$or"),
            ({"n": {"$gt": 1, "x": 2}}, "mixes"),
        ],
        ids=repr,
    )
    async def test_bad_filter_is_rejected_naming_it(
        self, open_store: Any, filter: Any, named: str
    ) -> None:
        """An unknown operator or malformed operand raises InvalidFilterError naming it."""
        s = await self._filter_store(open_store)
        with pytest.raises(InvalidFilterError, match=named):
            await s.search(NS, filter=filter)

    async def test_bad_filter_in_a_batch_applies_nothing(self, open_store: Any) -> None:
        """A batch whose search has a bad filter fails before its puts run."""
        s = await open_store()
        with pytest.raises(InvalidFilterError):
            await s.batch([PutOp(NS, "k", {"v": 1}), SearchOp(NS, {"v": {"$bogus": 1}})])
        assert await s.get(NS, "k") is None

    # --- semantic search ------------------------------------------------------

    async def _semantic_store(self, open_store: Any) -> StoreClient:
        s = await open_store(index=index_config(fields=["text"]))
        await s.put(NS, "pizza", {"text": "I love pizza with cheese"})
        await s.put(NS, "sushi", {"text": "sushi and fresh fish for dinner"})
        await s.put(NS, "bike", {"text": "riding my bike to work"})
        await s.put(("memories", "u2"), "other", {"text": "pizza pizza pizza"})
        return s

    async def test_query_ranks_by_similarity(self, open_store: Any) -> None:
        """A query returns the most similar items first, with descending float scores."""
        s = await self._semantic_store(open_store)
        hits = await s.search(NS, query="pizza and cheese")
        assert hits[0].key == "pizza"
        assert {h.key for h in hits} == {"pizza", "sushi", "bike"}
        scores = [h.score for h in hits]
        assert all(isinstance(x, float) for x in scores) and scores == sorted(scores, reverse=True)
        assert hits[0].score > 0.5

    async def test_search_takes_a_mode(self, open_store: Any) -> None:
        """mode="vector" works everywhere; a mode the backend lacks is an error naming the backend."""
        s = await self._semantic_store(open_store)
        default = await s.search(NS, query="pizza and cheese")
        vector = await s.search(NS, query="pizza and cheese", mode="vector")
        assert [(h.key, h.score) for h in vector] == [(h.key, h.score) for h in default]
        assert "vector" in s.store.supported_search_modes
        for mode in ("keyword", "hybrid"):
            if mode not in s.store.supported_search_modes:
                with pytest.raises(InvalidStoreInputError, match=type(s.store).__name__):
                    await s.search(NS, query="pizza", mode=mode)
        with pytest.raises(InvalidStoreInputError, match="mode"):
            await s.search(NS, query="pizza", mode="semantic")

    async def test_query_without_index_is_an_error(self, open_store: Any) -> None:
        """search(query=...) on a store without an index raises IndexNotConfiguredError."""
        s = await open_store()
        await s.put(NS, "k", {"text": "x"})
        with pytest.raises(IndexNotConfiguredError, match="index"):
            await s.search(NS, query="x")

    async def test_an_empty_query_is_no_query(self, open_store: Any) -> None:
        """query="" lists items newest first, with or without an index."""
        for index in (None, index_config(fields=["text"])):
            s = await open_store(index=index)
            await s.put(NS, "old", {"text": "pizza"})
            await s.put(NS, "new", {"text": "bike"})
            hits = await s.search(NS, query="")
            assert [h.key for h in hits] == ["new", "old"]
            assert all(h.score is None for h in hits)

    async def test_query_search_combines_with_filter_and_prefix(self, open_store: Any) -> None:
        """A query search honours the filter and the namespace prefix."""
        s = await self._semantic_store(open_store)
        await s.put(NS, "pizza2", {"text": "pizza again", "kind": "dup"})
        assert await s.keys(NS, query="pizza", filter={"kind": "dup"}) == ["pizza2"]
        assert "other" in await s.keys(("memories",), query="pizza", limit=2)
        assert "other" not in await s.keys(NS, query="pizza")

    async def test_unindexed_items_never_appear_in_query_search(self, open_store: Any) -> None:
        """index=False, or fields the value lacks, mean no vector: absent from query search only."""
        s = await open_store(index=index_config(fields=["text"]))
        await s.put(NS, "plain", {"text": "pizza"}, index=False)
        await s.put(NS, "nofield", {"body": "pizza"})
        await s.put(NS, "indexed", {"text": "pizza"})
        assert await s.keys(NS, query="pizza") == ["indexed"]
        assert set(await s.keys(NS)) == {"plain", "nofield", "indexed"}

    async def test_put_index_paths_override_configured_fields(self, open_store: Any) -> None:
        """put(index=[paths]) embeds those paths instead of the configured fields."""
        s = await open_store(index=index_config(fields=["text"]))
        await s.put(NS, "a", {"text": "bicycle", "alt": "pizza"}, index=["alt"])
        await s.put(NS, "b", {"text": "pizza", "alt": "bicycle"})
        hits = await s.search(NS, query="pizza")
        assert {h.key for h in hits} == {"a", "b"}
        assert math.isclose(hits[0].score, hits[1].score, rel_tol=1e-5)

    async def test_reput_replaces_vectors_and_delete_removes_them(self, open_store: Any) -> None:
        """After an overwrite the old text no longer matches; a deleted item never matches."""
        s = await self._semantic_store(open_store)
        await s.put(NS, "pizza", {"text": "bicycle"})
        scores = {h.key: h.score for h in await s.search(NS, query="I love pizza with cheese")}
        assert scores["pizza"] < 0.7
        assert (await s.search(NS, query="bicycle", limit=1))[0].key == "pizza"
        await s.delete(NS, "sushi")
        assert "sushi" not in await s.keys(NS, query="sushi fish")
        await s.put(NS, "bike", {"text": "no vector now"}, index=False)
        assert "bike" not in await s.keys(NS, query="riding bike")

    async def test_multi_vector_items_count_once_before_paging(self, open_store: Any) -> None:
        """An item with several vectors appears once, with its best score; pages hold distinct items."""
        s = await open_store(index=index_config(fields=["tags[*]"]))
        for i in range(6):
            await s.put(NS, f"k{i}", {"tags": ["pizza", f"word{i}", f"other{i}", "pizza night"]})
        await s.put(NS, "single", {"tags": [f"unrelated{i}" for i in range(5)]})
        first = await s.search(NS, query="pizza", limit=3)
        second = await s.search(NS, query="pizza", limit=3, offset=3)
        third = await s.search(NS, query="pizza", limit=3, offset=6)
        keys = [h.key for h in first + second + third]
        assert len(keys) == len(set(keys)) == 7
        assert all(math.isclose(h.score, 1.0, rel_tol=1e-5) for h in first + second)
        assert keys[-1] == "single"

    async def test_one_embed_call_per_batch(self, open_store: Any) -> None:
        """A batch of puts makes one embedding call holding all their texts."""
        embed = HashingEmbed(DIMS)
        s = await open_store(index=index_config(embed, fields=["text"]))
        await s.batch([PutOp(NS, f"k{i}", {"text": f"memory {i}"}) for i in range(5)])
        assert len(embed.calls) == 1
        assert sorted(embed.calls[0]) == [f"memory {i}" for i in range(5)]

    @pytest.mark.parametrize(
        "faulty",
        [RaisingEmbed, WrongCountEmbed, WrongDimsEmbed, NaNEmbed, InfEmbed],
        ids=lambda cls: cls.__name__,
    )
    async def test_bad_embedder_fails_the_whole_put(self, open_store: Any, faulty: type) -> None:
        """An embedder that raises or returns unusable vectors fails the batch whole: nothing changes."""
        s = await open_store(index=index_config(faulty(DIMS, trigger="poison"), fields=["text"]))
        await s.put(NS, "kept", {"text": "original"})
        with pytest.raises(EmbeddingError):
            await s.batch(
                [
                    PutOp(NS, "kept", {"text": "changed"}),
                    PutOp(NS, "new", {"text": "fine"}),
                    PutOp(NS, "bad", {"text": "poison"}),
                ]
            )
        with pytest.raises(EmbeddingError):
            await s.put(NS, "bad", {"text": "poison"})
        assert (await s.get(NS, "kept")).value == {"text": "original"}
        assert await s.get(NS, "new") is None and await s.get(NS, "bad") is None
        assert await s.keys(NS, query="original") == ["kept"]

    async def test_async_embed_function_serves_the_async_api(self, open_store: Any) -> None:
        """An ``async def`` embedder works through aput and asearch."""
        s = await open_store(index=index_config(AsyncHashingEmbed(DIMS), fields=["text"]))
        if s.flavour == "sync" and not s.in_thread:
            # A sync call inside a running loop cannot wait for an async embedder:
            # it must say so clearly and store nothing.
            with pytest.raises(InvalidEmbedderError, match="async"):
                await s.put(NS, "pizza", {"text": "pizza night"})
            assert await s.get(NS, "pizza") is None
            return
        await s.put(NS, "pizza", {"text": "pizza night"})
        await s.put(NS, "bike", {"text": "bike ride"})
        assert (await s.search(NS, query="pizza", limit=1))[0].key == "pizza"

    @pytest.mark.parametrize(
        "faulty", [RaisingEmbed, WrongDimsEmbed, NaNEmbed], ids=lambda cls: cls.__name__
    )
    async def test_bad_query_embedding_is_an_error(self, open_store: Any, faulty: type) -> None:
        """A query the embedder fails on raises EmbeddingError, not an empty list."""
        s = await open_store(index=index_config(faulty(DIMS, trigger="poison"), fields=["text"]))
        await s.put(NS, "k", {"text": "fine"})
        with pytest.raises(EmbeddingError):
            await s.search(NS, query="poison")

    # --- list_namespaces and delete_namespace ------------------------------------

    async def _namespaces_store(self, open_store: Any) -> StoreClient:
        s = await open_store()
        for ns in [("a", "b", "c"), ("a", "b", "d"), ("a", "e"), ("x", "b", "c"), ("x",)]:
            await s.put(ns, "k", {})
        return s

    async def test_list_namespaces_sorted_with_prefix_suffix_and_wildcards(
        self, open_store: Any
    ) -> None:
        """Namespaces come sorted; prefix and suffix match whole labels; '*' matches any one label."""
        s = await self._namespaces_store(open_store)
        every = [("a", "b", "c"), ("a", "b", "d"), ("a", "e"), ("x",), ("x", "b", "c")]
        assert await s.list_namespaces() == every
        assert await s.list_namespaces(prefix=("a", "b")) == every[:2]
        assert await s.list_namespaces(suffix=("c",)) == [every[0], every[4]]
        assert await s.list_namespaces(prefix=("*", "b")) == [every[0], every[1], every[4]]
        assert await s.list_namespaces(suffix=("b", "*")) == [every[0], every[1], every[4]]
        assert await s.list_namespaces(prefix=("a",), suffix=("d",)) == [every[1]]

    async def test_list_namespaces_max_depth_limit_and_offset(self, open_store: Any) -> None:
        """max_depth truncates and de-duplicates; limit and offset page the sorted list."""
        s = await self._namespaces_store(open_store)
        assert await s.list_namespaces(max_depth=1) == [("a",), ("x",)]
        assert await s.list_namespaces(max_depth=2) == [("a", "b"), ("a", "e"), ("x",), ("x", "b")]
        assert await s.list_namespaces(limit=2, offset=1) == [("a", "b", "d"), ("a", "e")]
        assert await s.list_namespaces(offset=10) == []

    async def test_list_namespaces_shows_only_namespaces_with_items(self, open_store: Any) -> None:
        """A namespace whose last item is deleted disappears from list_namespaces."""
        s = await self._namespaces_store(open_store)
        await s.delete(("a", "e"), "k")
        assert ("a", "e") not in await s.list_namespaces()

    async def test_delete_namespace_removes_a_prefix_and_counts(self, open_store: Any) -> None:
        """delete_namespace removes every item under the prefix (and its vectors) and returns the count."""
        s = await open_store(index=index_config())
        await s.put(("u", "1"), "a", {"t": "pizza"})
        await s.put(("u", "1", "deep"), "b", {"t": "pizza"})
        await s.put(("u", "10"), "c", {"t": "pizza"})
        assert await s.delete_namespace(("u", "1")) == 2
        assert await s.list_namespaces() == [("u", "10")]
        assert await s.keys(("u",), query="pizza") == ["c"]
        assert await s.delete_namespace(("u", "1")) == 0
        with pytest.raises(InvalidNamespaceError):
            await s.delete_namespace(())

    # --- TTL --------------------------------------------------------------------

    async def test_expired_items_are_never_returned(self, open_store: Any) -> None:
        """Once its ttl passes, an item is gone from get, search and list_namespaces, swept or not."""
        s = await open_store(index=index_config())
        await s.put(NS, "short", {"t": "pizza"}, ttl=SHORT_TTL)
        await s.put(("other",), "long", {"t": "pizza"}, ttl=LONG_TTL)
        await asyncio.sleep(SHORT_TTL * 60 * 2.5)
        assert await s.get(NS, "short") is None
        assert await s.keys(()) == ["long"]
        assert await s.keys((), query="pizza") == ["long"]
        assert await s.list_namespaces() == [("other",)]

    async def test_default_ttl_applies_unless_put_says_none(self, open_store: Any) -> None:
        """TTLConfig.default_ttl applies to puts without ttl; ttl=None means never expire."""
        s = await open_store(ttl={"default_ttl": SHORT_TTL})
        await s.put(NS, "default", {})
        await s.put(NS, "forever", {}, ttl=None)
        await asyncio.sleep(SHORT_TTL * 60 * 2.5)
        assert await s.keys(NS) == ["forever"]

    async def test_reads_refresh_ttl_unless_told_not_to(self, open_store: Any) -> None:
        """get and search push the expiry back; refresh_ttl=False leaves it."""
        ttl = 0.02  # 1.2 s: wide margins, a loaded test machine stalls
        s = await open_store(ttl={"default_ttl": ttl, "refresh_on_read": True})
        for key in ("got", "searched", "peeked"):
            await s.put(NS, key, {"k": key})
        await asyncio.sleep(ttl * 60 * 0.6)
        await s.get(NS, "got")
        await s.search(NS, filter={"k": "searched"})
        await s.get(NS, "peeked", refresh_ttl=False)
        await asyncio.sleep(ttl * 60 * 0.6)
        assert sorted(await s.keys(NS, refresh_ttl=False)) == ["got", "searched"]

    async def test_sweep_ttl_deletes_expired_items(self, open_store: Any) -> None:
        """sweep_ttl() removes expired items and returns how many."""
        s = await open_store()
        if not hasattr(s.store, "sweep_ttl"):
            pytest.skip("store has no sweep_ttl()")
        await s.put(NS, "a", {}, ttl=SHORT_TTL)
        await s.put(NS, "b", {}, ttl=SHORT_TTL)
        await s.put(NS, "c", {})
        await asyncio.sleep(SHORT_TTL * 60 * 2.5)
        sweep = s.store.sweep_ttl
        swept = await sweep() if inspect.iscoroutinefunction(sweep) else sweep()
        assert swept == 2
        assert await s.keys(NS) == ["c"]

    # --- concurrency --------------------------------------------------------------

    async def test_concurrent_writers_and_readers(self, open_store: Any) -> None:
        """Threads putting, reading and searching at once lose nothing and raise nothing."""
        s = await open_store(index=index_config())
        store, errors = s.store, []
        if s.flavour == "async":
            await asyncio.gather(
                *(store.aput(("c", str(i % 3)), f"k{i}", {"t": f"word{i}"}) for i in range(60))
            )
        else:

            def work(worker: int) -> None:
                try:
                    for i in range(20):
                        store.put(("c", str(worker)), f"k{i}", {"t": f"word{i}"})
                        store.search(("c",), query=f"word{i}", limit=3)
                        store.get(("c", str(worker)), f"k{i}")
                except Exception as exc:  # collected and asserted below
                    errors.append(exc)

            def run() -> None:
                threads = [threading.Thread(target=work, args=(w,)) for w in range(3)]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()

            await asyncio.to_thread(run)
        assert errors == []
        assert len(await s.keys(("c",), limit=100)) == 60
        assert len(await s.search(("c",), query="word7", limit=100)) == 60
