"""The conformance cases for odd inputs: one typed error on every saver, and nothing changed.

Mixed into :class:`threadloom.testing.checkpoint.CheckpointerConformance`.
"""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import HumanMessage
from langchain_core.runnables import RunnableConfig

from threadloom.errors import InvalidCheckpointInputError, MissingThreadIdError, SerializationError
from threadloom.testing._saver_driver import SaverDriver, make_checkpoint, thread

__all__ = ["OddInputCases"]


def _at(checkpoint_id: Any, thread_id: Any = "t", ns: Any = "") -> RunnableConfig:
    return {"configurable": {"thread_id": thread_id, "checkpoint_ns": ns, "checkpoint_id": checkpoint_id}}


class OddInputCases:
    """Bad ids, limits and strings give typed errors; what is stored stays as it was."""

    async def _one_checkpoint(self, api: SaverDriver) -> RunnableConfig:
        v = api.next_version(None)
        saved = await api.put(thread("t"), make_checkpoint({"n": 1}, {"n": v}))
        await api.put_writes(saved, [("n", 2)], "task")
        return saved

    async def _assert_unchanged(self, api: SaverDriver, saved: RunnableConfig) -> None:
        """Only the thread "t" with its one checkpoint and one write is stored."""
        everything = await api.list(None)
        assert [t.config for t in everything] == [saved]
        assert everything[0].checkpoint["channel_values"] == {"n": 1}
        assert everything[0].pending_writes == [("task", "n", 2)]

    @pytest.mark.parametrize("bad_id", [5, ["x"], {"id": "x"}])
    async def test_a_checkpoint_id_that_is_not_a_string_is_refused(self, api: SaverDriver, bad_id: Any) -> None:
        """A checkpoint_id that is an int, a list or a dict raises InvalidCheckpointInputError naming
        checkpoint_id, on every method that takes one."""
        saved = await self._one_checkpoint(api)
        v = api.next_version(None)
        with pytest.raises(InvalidCheckpointInputError, match="checkpoint_id"):
            await api.get_tuple(_at(bad_id))
        with pytest.raises(InvalidCheckpointInputError, match="checkpoint_id"):
            await api.list(_at(bad_id))
        with pytest.raises(InvalidCheckpointInputError, match="checkpoint_id"):
            await api.list(thread("t"), before=_at(bad_id))
        with pytest.raises(InvalidCheckpointInputError, match="checkpoint_id"):
            await api.put(_at(bad_id), make_checkpoint({"n": 9}, {"n": v}))
        with pytest.raises(InvalidCheckpointInputError, match="id"):
            await api.put(saved, make_checkpoint({"n": 9}, {"n": v}, checkpoint_id=bad_id))
        with pytest.raises(InvalidCheckpointInputError, match="checkpoint_id"):
            await api.put_writes(_at(bad_id), [("n", 9)], "task-2")
        await self._assert_unchanged(api, saved)

    @pytest.mark.parametrize("bad_limit", ["x", "3", 1.5, [1]])
    async def test_a_limit_that_is_not_an_integer_is_refused(self, api: SaverDriver, bad_limit: Any) -> None:
        """list(limit=...) with a string, float or list raises InvalidCheckpointInputError naming limit."""
        saved = await self._one_checkpoint(api)
        with pytest.raises(InvalidCheckpointInputError, match="limit"):
            await api.list(thread("t"), limit=bad_limit)
        with pytest.raises(InvalidCheckpointInputError, match="limit"):
            await api.list(None, limit=bad_limit)
        await self._assert_unchanged(api, saved)

    async def test_a_limit_beyond_64_bits_lists_everything(self, api: SaverDriver) -> None:
        """A limit of 2**63 or more (more than any database counts) lists every checkpoint."""
        config, version = thread("t"), None
        for step in range(3):
            version = api.next_version(version)
            source = "input" if step == 0 else "loop"
            config = await api.put(config, make_checkpoint({"n": step}, {"n": version}), {"source": source, "step": step})
        for huge in (2**63 - 1, 2**63, 2**80):
            assert len(await api.list(thread("t"), limit=huge)) == 3
            assert len(await api.list(None, limit=huge, filter={"source": "loop"})) == 2

    async def test_a_lone_surrogate_in_a_value_is_a_serialization_error(self, api: SaverDriver) -> None:
        """A lone surrogate (not encodable as UTF-8) in message content, metadata or a write raises
        SerializationError; nothing is written."""
        saved = await self._one_checkpoint(api)
        v = api.next_version(None)
        broken = HumanMessage("half a pair: \ud800", id="m1")
        with pytest.raises(SerializationError):
            await api.put(saved, make_checkpoint({"messages": [broken]}, {"messages": v}))
        with pytest.raises(SerializationError):
            await api.put(saved, make_checkpoint({"n": 3}, {"n": v}), {"source": "loop", "step": 1, "note": "\udc00"})
        with pytest.raises(SerializationError):
            await api.put_writes(saved, [("messages", [broken])], "task-2")
        await self._assert_unchanged(api, saved)

    async def test_a_filter_that_is_not_a_dict_is_refused(self, api: SaverDriver) -> None:
        """list(filter=...) with a string or a list raises InvalidCheckpointInputError naming filter."""
        saved = await self._one_checkpoint(api)
        for bad in ("source", [("source", "loop")]):
            with pytest.raises(InvalidCheckpointInputError, match="filter"):
                await api.list(None, filter=bad)
        await self._assert_unchanged(api, saved)

    async def test_a_filter_that_no_metadata_can_hold_matches_nothing(self, api: SaverDriver) -> None:
        """Filters with NUL or lone surrogates in a key or value match nothing (no error); a 70-bit
        integer matches the metadata that holds it."""
        v = api.next_version(None)
        meta = {"source": "loop", "step": 0, "k": "v", "big": 2**70}
        saved = await api.put(thread("t"), make_checkpoint({"n": 1}, {"n": v}), meta)
        for odd in ({"k": "\ud800"}, {"\ud800": "v"}, {"k": "v\x00"}, {"k\x00": "v"}, {"big": 2**71}):
            assert await api.list(None, filter=odd) == []
            assert await api.list(thread("t"), filter=odd, limit=5) == []
        assert [t.config for t in await api.list(None, filter={"big": 2**70})] == [saved]

    async def test_metadata_with_a_nul_character_is_refused(self, api: SaverDriver) -> None:
        """Metadata holding NUL in a key or a string value raises SerializationError; nothing is written."""
        saved = await self._one_checkpoint(api)
        v = api.next_version(None)
        for meta in ({"note": "a\x00b"}, {"a\x00b": 1}, {"tags": ["ok", "\x00"]}):
            with pytest.raises(SerializationError, match="NUL"):
                await api.put(saved, make_checkpoint({"n": 9}, {"n": v}), {"source": "loop", "step": 1, **meta})
        await self._assert_unchanged(api, saved)

    @pytest.mark.parametrize("bad", ["nul\x00inside", "half \ud800 pair"])
    async def test_ids_with_nul_or_a_lone_surrogate_are_refused(self, api: SaverDriver, bad: str) -> None:
        """A thread_id, checkpoint_ns, checkpoint_id, task_id or channel name holding NUL or a lone
        surrogate (which no database column can hold everywhere) raises InvalidCheckpointInputError
        on reads and writes."""
        saved = await self._one_checkpoint(api)
        v = api.next_version(None)
        cid = saved["configurable"]["checkpoint_id"]
        cases = [  # (what is bad, config of the latest, config of one checkpoint)
            ("thread_id", thread(bad), _at(cid, bad)),
            ("checkpoint_ns", thread("t", bad), _at(cid, "t", bad)),
            ("checkpoint_id", _at(bad), _at(bad)),
        ]
        for name, latest, addressed in cases:
            with pytest.raises(InvalidCheckpointInputError, match=name):
                await api.get_tuple(latest)
            with pytest.raises(InvalidCheckpointInputError, match=name):
                await api.list(latest)
            with pytest.raises(InvalidCheckpointInputError, match=name):
                await api.put(latest, make_checkpoint({"n": 9}, {"n": v}))
            with pytest.raises(InvalidCheckpointInputError, match=name):
                await api.put_writes(addressed, [("n", 9)], "task-2")
        with pytest.raises(InvalidCheckpointInputError, match="id"):
            await api.put(saved, make_checkpoint({"n": 9}, {"n": v}, checkpoint_id=bad))
        with pytest.raises(InvalidCheckpointInputError, match="task_id"):
            await api.put_writes(saved, [("n", 9)], bad)
        with pytest.raises(InvalidCheckpointInputError, match="thread_id"):
            await api.delete_thread(bad)
        with pytest.raises(InvalidCheckpointInputError, match="channel"):
            await api.put(saved, make_checkpoint({bad: 9}, {bad: v}))
        with pytest.raises(InvalidCheckpointInputError, match="channel"):
            await api.put_writes(saved, [("n", 8), (bad, 9)], "task-2")
        await self._assert_unchanged(api, saved)

    @pytest.mark.parametrize("bad", [None, ["t"], 1.5])
    async def test_delete_thread_needs_a_thread_id(self, api: SaverDriver, bad: Any) -> None:
        """delete_thread(None) (or a list, a float) raises MissingThreadIdError; a thread named "None"
        and every other thread are kept."""
        v = api.next_version(None)
        await api.put(thread("None"), make_checkpoint({"n": 1}, {"n": v}))
        saved = await api.put(thread("t"), make_checkpoint({"n": 1}, {"n": v}))
        with pytest.raises(MissingThreadIdError):
            await api.delete_thread(bad)
        assert await api.get_tuple(thread("None")) is not None
        assert await api.get_tuple(saved) is not None
