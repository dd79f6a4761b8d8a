"""Conformance cases for ``dump_items`` / ``load_items``: whole items out and back, exactly.

Mixed into :class:`~threadloom.testing.store.StoreConformance`, so every
backend shows that a dump loaded into an emptied store dumps the same again
(values, timestamps, TTL and expiry, index paths, vectors), that searches
then give the same hits and scores, and that a bad item writes nothing.
"""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from threadloom.errors import IndexConfigMismatchError, InvalidNamespaceError
from threadloom.store.base import StoredItem
from threadloom.testing._store_client import DIMS, LONG_TTL, NS, SHORT_TTL, index_config

__all__ = ["DumpConformance"]


async def _fill(s: Any) -> None:
    await s.put(NS, "paris", {"text": "User lives in Paris", "n": 1})
    await s.put(NS, "job", {"text": "User works as a baker"}, ttl=LONG_TTL)
    await s.put(("memories", "u2"), "quiet", {"text": "not embedded"}, index=False)
    await s.put(
        ("notes", "u1", "deep"), "own", {"text": "x", "title": "own paths"}, index=["title"]
    )
    await asyncio.sleep(0.002)
    await s.put(NS, "paris", {"text": "User lives in Berlin", "n": 2})


def _hits(found: list[Any]) -> list[tuple[Any, ...]]:
    return [(i.namespace, i.key, i.value, i.created_at, i.updated_at, i.score) for i in found]


class DumpConformance:
    """Whole-item dump and load, the same on every store; mixed into ``StoreConformance``."""

    async def test_a_dump_loaded_into_an_empty_store_dumps_the_same(self, open_store: Any) -> None:
        """Values, times, TTL, expiry, index paths and vectors survive; searches score the same."""
        s = await open_store(index=index_config(fields=["text"]))
        await _fill(s)
        before = await s.dump_items(vectors=True)
        assert [item.key for item in before][-1] == "paris"  # oldest update first
        assert all(len(row) == DIMS for item in before for row in item.vectors or [])
        job = next(item for item in before if item.key == "job")
        assert job.ttl == LONG_TTL and job.expires_at is not None
        query = {"query": "where does the user live", "limit": 10}
        searched = _hits(await s.search(("memories",), refresh_ttl=False, **query))
        listed = _hits(await s.search((), refresh_ttl=False, limit=10))
        await s.wipe()
        assert await s.dump_items() == []
        assert await s.load_items(before) == len(before)
        assert await s.dump_items(vectors=True) == before
        assert _hits(await s.search(("memories",), refresh_ttl=False, **query)) == searched
        assert _hits(await s.search((), refresh_ttl=False, limit=10)) == listed
        await s.put(NS, "later", {"text": "a new fact"})
        assert (await s.search(()))[0].key == "later"  # later puts sort after loaded items

    async def test_a_dump_without_vectors_is_embedded_again_on_load(self, open_store: Any) -> None:
        """Items without vectors get them from the store's embedder, as a put would."""
        s = await open_store(index=index_config(fields=["text"]))
        await _fill(s)
        query = {"query": "where does the user live", "limit": 10, "refresh_ttl": False}
        expected = [(i.key, i.score) for i in await s.search(("memories",), **query)]
        dump = await s.dump_items(NS)
        assert all(item.vectors is None for item in dump)
        await s.wipe()
        await s.load_items(dump)
        # Embedded again (a batch here, maybe single puts before): equal up to float32 rounding.
        again = [(i.key, i.score) for i in await s.search(("memories",), **query)]
        assert [key for key, _ in again] == [key for key, _ in expected if key != "quiet"]
        assert [score for _, score in again] == pytest.approx(
            [score for key, score in expected if key != "quiet"], abs=1e-6
        )
        assert [item.key for item in await s.dump_items()] == [item.key for item in dump]

    async def test_a_bad_item_writes_nothing(self, open_store: Any) -> None:
        """Wrong vector dims or a bad namespace anywhere in a load: a typed error, nothing written."""
        s = await open_store(index=index_config(fields=["text"]))
        now = datetime.now(timezone.utc)
        good = StoredItem(NS, "a", {"text": "fine"}, now, now)
        wrong = dataclasses.replace(good, key="b", vectors=[[1.0, 0.0]])
        with pytest.raises(IndexConfigMismatchError, match="item 1"):
            await s.load_items([good, wrong])
        with pytest.raises(InvalidNamespaceError, match="item 1"):
            await s.load_items([good, dataclasses.replace(good, namespace=("a.b",))])
        assert await s.dump_items() == []

    async def test_expired_items_are_neither_dumped_nor_loaded(self, open_store: Any) -> None:
        """A dump skips expired items; a load skips items whose expiry has passed."""
        s = await open_store()
        await s.put(NS, "brief", {"text": "gone soon"}, ttl=SHORT_TTL)
        await s.put(NS, "stays", {"text": "kept"})
        await asyncio.sleep(SHORT_TTL * 60 * 1.5)
        assert [item.key for item in await s.dump_items()] == ["stays"]
        past = datetime.now(timezone.utc) - timedelta(minutes=1)
        stale = StoredItem(NS, "old", {"v": 1}, past, past, ttl=0.5, expires_at=past)
        assert await s.load_items([stale]) == 0
        assert await s.get(NS, "old") is None
