"""Odd input, one behaviour: the part of the store conformance suite about text and sizes.

Mixed into :class:`threadloom.testing.store.StoreConformance`, so every
backend runs it. The rules it checks (docs/store.md, "What a store accepts"):

* Every string a store keeps or compares (namespace labels, keys, the strings
  and dict keys of values, filter paths and operands, queries) must be valid
  Unicode without NUL: ``"\\x00"`` and lone surrogates (``"\\ud800"``) raise a
  typed error on reads and writes alike, and nothing is written.
* Any other Unicode (astral characters, noncharacters) round-trips unchanged.
* ``limit`` and ``offset`` may be any non-negative integer, however large.
* ``$in``/``$nin`` lists and ``$or``/``$and`` branches may be long.
"""

from __future__ import annotations

from typing import Any

import pytest

from threadloom.errors import (
    InvalidFilterError,
    InvalidNamespaceError,
    InvalidStoreInputError,
    InvalidValueError,
)
from threadloom.store.base import GetOp, ListNamespacesOp, PutOp, SearchOp
from threadloom.testing.embeddings import HashingEmbed

__all__ = ["BAD_TEXTS", "InputConformance"]

NS = ("memories", "u1")
DIMS = 64

#: Strings no backend can keep faithfully: NUL (PostgreSQL text and jsonb
#: refuse it) and lone surrogates (not encodable as UTF-8).
BAD_TEXTS: list[str] = ["a\x00b", "\x00", "\ud800", "x\udfffy", "\udbff\udc00"]
#: What the error message says about each kind.
_NAMED = r"NUL|surrogate"

#: Valid Unicode that every backend keeps unchanged.
ODD_BUT_VALID = [
    "\U0001f9f5 thread",
    "\U0010ffff",
    "\ufffe\uffff",
    "e\u0301",
    "\u2028\u200b",
    "\x01\x1f\x7f",
]

#: Larger than any 64-bit integer a database can bind.
HUGE = [2**63 - 1, 2**63, 2**64 + 5, 10**30]


def _index() -> dict[str, Any]:
    return {"dims": DIMS, "embed": HashingEmbed(DIMS), "fields": ["text"]}


class InputConformance:
    """Text and size limits every store shares; mixed into ``StoreConformance``."""

    # --- text that cannot be stored: refused everywhere, nothing written --------

    @pytest.mark.parametrize("bad", BAD_TEXTS, ids=repr)
    async def test_bad_text_in_a_namespace_is_refused_on_every_path(
        self, open_store: Any, bad: str
    ) -> None:
        """A namespace label with NUL or a lone surrogate: InvalidNamespaceError on reads and writes."""
        s = await open_store()
        namespace = ("memories", bad)
        with pytest.raises(InvalidNamespaceError, match=_NAMED):
            await s.put(namespace, "k", {"v": 1})
        with pytest.raises(InvalidNamespaceError, match=_NAMED):
            await s.batch([PutOp(NS, "ok", {"v": 1}), PutOp(namespace, "k", {"v": 1})])
        with pytest.raises(InvalidNamespaceError, match=_NAMED):
            await s.delete(namespace, "k")
        with pytest.raises(InvalidNamespaceError, match=_NAMED):
            await s.get(namespace, "k")
        with pytest.raises(InvalidNamespaceError, match=_NAMED):
            await s.search(namespace)
        with pytest.raises(InvalidNamespaceError, match=_NAMED):
            await s.list_namespaces(prefix=("memories", bad))
        with pytest.raises(InvalidNamespaceError, match=_NAMED):
            await s.list_namespaces(suffix=(bad,))
        with pytest.raises(InvalidNamespaceError, match=_NAMED):
            await s.delete_namespace(namespace)
        assert await s.get(NS, "ok") is None
        assert await s.list_namespaces() == []

    @pytest.mark.parametrize("bad", BAD_TEXTS, ids=repr)
    async def test_bad_text_in_a_key_is_refused_on_every_path(
        self, open_store: Any, bad: str
    ) -> None:
        """A key (or a put's index path) with NUL or a lone surrogate: InvalidStoreInputError
        on put, get and delete."""
        s = await open_store()
        with pytest.raises(InvalidStoreInputError, match=_NAMED):
            await s.put(NS, bad, {"v": 1})
        with pytest.raises(InvalidStoreInputError, match=_NAMED):
            await s.batch([PutOp(NS, "ok", {"v": 1}), PutOp(NS, bad, {"v": 1})])
        with pytest.raises(InvalidStoreInputError, match=_NAMED):
            await s.get(NS, bad)
        with pytest.raises(InvalidStoreInputError, match=_NAMED):
            await s.batch([GetOp(NS, bad)])
        with pytest.raises(InvalidStoreInputError, match=_NAMED):
            await s.delete(NS, bad)
        with pytest.raises(InvalidStoreInputError, match=_NAMED):
            await s.put(NS, "k", {"text": "x"}, index=["text", bad])
        assert await s.list_namespaces() == []

    @pytest.mark.parametrize("bad", BAD_TEXTS, ids=repr)
    @pytest.mark.parametrize(
        "shape",
        ["string", "dict key", "nested list", "deep dict key"],
    )
    async def test_bad_text_in_a_value_is_refused(
        self, open_store: Any, bad: str, shape: str
    ) -> None:
        """A value holding NUL or a lone surrogate in a string or a dict key: InvalidValueError."""
        shapes: dict[str, dict[str, Any]] = {
            "string": {"text": bad},
            "dict key": {bad: 1},
            "nested list": {"a": [1, {"b": ["ok", bad]}]},
            "deep dict key": {"a": {"b": {bad: None}}},
        }
        value = shapes[shape]
        s = await open_store(index=_index())
        with pytest.raises(InvalidValueError, match=_NAMED):
            await s.put(NS, "k", value)
        with pytest.raises(InvalidValueError, match=_NAMED):
            await s.batch([PutOp(NS, "ok", {"text": "fine"}), PutOp(NS, "k", value)])
        assert await s.get(NS, "k") is None
        assert await s.get(NS, "ok") is None

    @pytest.mark.parametrize("bad", BAD_TEXTS, ids=repr)
    @pytest.mark.parametrize(
        "shape",
        ["key", "dotted key", "nested key", "eq", "ne", "in", "nin", "gt", "eq dict", "or"],
    )
    async def test_bad_text_in_a_filter_is_refused(
        self, open_store: Any, bad: str, shape: str
    ) -> None:
        """A filter path or operand with NUL or a lone surrogate: InvalidFilterError, no search runs."""
        shapes: dict[str, dict[str, Any]] = {
            "key": {bad: 1},
            "dotted key": {f"meta.{bad}": 1},
            "nested key": {"meta": {bad: {"$exists": True}}},
            "eq": {"text": bad},
            "ne": {"text": {"$ne": bad}},
            "in": {"text": {"$in": ["ok", bad]}},
            "nin": {"text": {"$nin": [bad]}},
            "gt": {"text": {"$gt": bad}},
            "eq dict": {"meta": {"$eq": {"lang": bad}}},
            "or": {"$or": [{"text": "ok"}, {"text": bad}]},
        }
        filter = shapes[shape]
        s = await open_store()
        await s.put(NS, "k", {"text": "ok", "meta": {"lang": "en"}})
        with pytest.raises(InvalidFilterError, match=_NAMED):
            await s.search(NS, filter=filter)
        with pytest.raises(InvalidFilterError, match=_NAMED):
            await s.batch([PutOp(NS, "k2", {"v": 1}), SearchOp(NS, filter)])
        assert await s.get(NS, "k2") is None

    @pytest.mark.parametrize("bad", BAD_TEXTS, ids=repr)
    async def test_bad_text_in_a_query_is_refused(self, open_store: Any, bad: str) -> None:
        """A query with NUL or a lone surrogate: InvalidStoreInputError in every search mode."""
        s = await open_store(index=_index())
        await s.put(NS, "k", {"text": "pizza"})
        for mode in s.store.supported_search_modes:
            with pytest.raises(InvalidStoreInputError, match=_NAMED):
                await s.search(NS, query=f"pizza {bad}", mode=mode)

    # --- valid but unusual Unicode: kept unchanged everywhere ------------------

    async def test_unusual_valid_unicode_round_trips_everywhere(self, open_store: Any) -> None:
        """Astral characters, noncharacters, combining marks and control characters other
        than NUL are kept unchanged in namespaces, keys, values and filters."""
        s = await open_store()
        for n, text in enumerate(ODD_BUT_VALID):
            await s.put(("odd", text), text, {"text": text, text: n})
        for n, text in enumerate(ODD_BUT_VALID):
            item = await s.get(("odd", text), text)
            assert item is not None and item.value == {"text": text, text: n}, repr(text)
            assert await s.keys(("odd", text)) == [text]
            assert await s.keys(("odd",), filter={"text": text}) == [text]
            assert await s.keys(("odd",), filter={text: {"$eq": n}}) == [text]
        namespaces = await s.list_namespaces(prefix=("odd",))
        assert sorted(namespaces) == sorted(("odd", text) for text in ODD_BUT_VALID)

    @pytest.mark.parametrize("label", [1, None, ["x"], ("x",)], ids=repr)
    async def test_a_label_that_is_not_a_string_is_refused_on_reads(
        self, open_store: Any, label: Any
    ) -> None:
        """get, search, list_namespaces and batched reads name a non-string label with
        InvalidNamespaceError, as writes do; what is stored stays."""
        s = await open_store()
        await s.put(NS, "k", {"text": "kept"})
        odd = (NS[0], label)
        for read in (
            lambda: s.get(odd, "k"),
            lambda: s.search(odd),
            lambda: s.list_namespaces(prefix=odd),
            lambda: s.batch([GetOp(NS, "k"), GetOp(odd, "k")]),
            lambda: s.batch([SearchOp(odd)]),
        ):
            with pytest.raises(InvalidNamespaceError, match="must be strings"):
                await read()
        assert (await s.get(NS, "k")).value == {"text": "kept"}

    # --- sizes -------------------------------------------------------------------

    @pytest.mark.parametrize("big", HUGE, ids=lambda n: f"2**{n.bit_length()}")
    async def test_huge_limit_and_offset_are_accepted(self, open_store: Any, big: int) -> None:
        """limit and offset beyond 64 bits behave as Python slices do: everything, or nothing."""
        s = await open_store()
        for key in ("a", "b", "c"):
            await s.put(NS, key, {"text": key})
        assert await s.keys(NS, limit=big) == ["c", "b", "a"]
        assert await s.keys(NS, limit=big, offset=1) == ["b", "a"]
        assert await s.keys(NS, offset=big) == []
        assert await s.keys(NS, limit=big, offset=big) == []
        assert await s.keys(NS, filter={"text": {"$ne": "b"}}, limit=big) == ["c", "a"]
        assert await s.list_namespaces(limit=big) == [NS]
        assert await s.list_namespaces(limit=big, offset=big) == []
        results = await s.batch(
            [SearchOp(NS, limit=big, offset=big), ListNamespacesOp(limit=big, offset=1)]
        )
        assert results == [[], []]

    @pytest.mark.parametrize("big", HUGE, ids=lambda n: f"2**{n.bit_length()}")
    async def test_huge_limit_and_offset_in_query_searches(self, open_store: Any, big: int) -> None:
        """A query search with a huge limit returns every match, with a huge offset none, in every mode."""
        s = await open_store(index=_index())
        for key in ("a", "b", "c"):
            await s.put(NS, key, {"text": f"pizza {key}"})
        for mode in s.store.supported_search_modes:
            hits = await s.search(NS, query="pizza", mode=mode, limit=big)
            assert sorted(h.key for h in hits) == ["a", "b", "c"], mode
            assert await s.search(NS, query="pizza", mode=mode, offset=big) == [], mode
            assert await s.search(NS, query="pizza", mode=mode, limit=big, offset=big) == [], mode
            filtered = await s.search(
                NS, query="pizza", mode=mode, filter={"text": {"$ne": "pizza b"}}, limit=big
            )
            assert sorted(h.key for h in filtered) == ["a", "c"], mode

    @pytest.mark.parametrize("count", [999, 5000])
    async def test_long_in_and_nin_lists_are_accepted(self, open_store: Any, count: int) -> None:
        """$in and $nin with thousands of operands select as short lists do."""
        s = await open_store()
        await s.put(NS, "int", {"n": 7, "s": "x7"})
        await s.put(NS, "float", {"n": 9.0, "s": "x9"})
        await s.put(NS, "bool", {"n": True, "s": "nope"})
        await s.put(NS, "none", {"n": None})
        numbers = [*range(10, count), 7, 9]
        texts = [f"x{i}" for i in range(count)]
        assert sorted(await s.keys(NS, filter={"n": {"$in": numbers}})) == ["float", "int"]
        assert sorted(await s.keys(NS, filter={"n": {"$nin": numbers}})) == ["bool", "none"]
        assert sorted(await s.keys(NS, filter={"s": {"$in": texts}})) == ["float", "int"]
        assert sorted(await s.keys(NS, filter={"s": {"$nin": texts}})) == ["bool", "none"]
        mixed = [*texts, True, None, 7.0]
        assert sorted(await s.keys(NS, filter={"n": {"$in": mixed}})) == ["bool", "int", "none"]
        with_dicts = [*numbers, {"a": 1}, [1, 2]]
        assert sorted(await s.keys(NS, filter={"n": {"$in": with_dicts}})) == ["float", "int"]

    @pytest.mark.parametrize("count", [999, 3000])
    async def test_long_or_and_and_lists_are_accepted(self, open_store: Any, count: int) -> None:
        """$or and $and with thousands of branches select as short ones do."""
        s = await open_store()
        await s.put(NS, "a", {"n": 3, "s": "a"})
        await s.put(NS, "b", {"n": 5, "s": "b"})
        either = {"$or": [{"n": i} for i in range(count)]}
        assert sorted(await s.keys(NS, filter=either)) == ["a", "b"]
        ranges = {"$or": [{"n": {"$gt": i, "$lt": i + 1}} for i in range(count)]}
        assert await s.keys(NS, filter=ranges) == []
        both = {"$and": [{"n": {"$ne": i}} for i in range(4, count)]}
        assert await s.keys(NS, filter=both) == ["a"]
        fields = {f"f{i}": {"$exists": False} for i in range(count)}
        assert sorted(await s.keys(NS, filter=fields)) == ["a", "b"]

    async def test_deeply_nested_filters_are_refused(self, open_store: Any) -> None:
        """A filter nested beyond 32 levels raises InvalidFilterError (not RecursionError)."""
        s = await open_store()
        await s.put(NS, "a", {"n": 3})
        nested: dict[str, Any] = {"n": 3}
        for _ in range(33):
            nested = {"$or": [nested]}
        with pytest.raises(InvalidFilterError, match="nest"):
            await s.search(NS, filter=nested)
        for _ in range(3000):
            nested = {"$and": [nested]}
        with pytest.raises(InvalidFilterError, match="nest"):
            await s.search(NS, filter=nested)
        path: dict[str, Any] = {"n": 3}
        for i in range(3000):
            path = {f"p{i}": path}
        with pytest.raises(InvalidFilterError, match="nest"):
            await s.search(NS, filter=path)
        shallow: dict[str, Any] = {"n": 3}
        for _ in range(31):
            shallow = {"$and": [shallow]}
        assert await s.keys(NS, filter=shallow) == ["a"]
