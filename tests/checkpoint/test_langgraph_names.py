"""LangGraph's checkpoint helpers under threadloom's names: ids, empty/create/copy checkpoints."""

from __future__ import annotations

from threadloom.channels import LastValue
from threadloom.checkpoint.base import (
    LATEST_VERSION,
    copy_checkpoint,
    create_checkpoint,
    empty_checkpoint,
)
from threadloom.checkpoint.id import uuid6
from threadloom.checkpoint.memory import InMemorySaver


def test_uuid6_ids_are_version_6_and_increase():
    ids = [uuid6() for _ in range(1000)]
    assert all(u.version == 6 for u in ids)
    assert [str(u) for u in ids] == sorted(str(u) for u in ids)
    assert len(set(ids)) == len(ids)


def test_uuid6_is_also_where_langgraph_keeps_it():
    """``from langgraph.checkpoint.base.id import uuid6`` runs with threadloom's name."""
    from threadloom.checkpoint.base.id import uuid6 as at_langgraphs_path

    assert at_langgraphs_path is uuid6


def test_uuid6_keeps_the_given_clock_seq_and_node():
    u = uuid6(node=0xABC, clock_seq=5)
    assert u.node == 0xABC and u.clock_seq == 5


def test_empty_checkpoint_has_no_channels():
    c = empty_checkpoint()
    assert c["v"] == LATEST_VERSION and c["channel_values"] == {} and c["versions_seen"] == {}
    assert empty_checkpoint()["id"] > c["id"]


def test_create_checkpoint_keeps_versioned_non_empty_channels():
    base = empty_checkpoint()
    base["channel_versions"].update({"a": 1, "b": 1})
    a = LastValue(int, "a")
    a.update([3])
    made = create_checkpoint(base, {"a": a, "b": LastValue(int, "b"), "z": a}, 1)
    assert made["channel_values"] == {"a": 3} and made["id"] > base["id"]
    assert create_checkpoint(base, None, 2, id="x")["id"] == "x"


def test_copy_checkpoint_is_independent():
    c = empty_checkpoint()
    c["versions_seen"]["n"] = {"a": 1}
    copy = copy_checkpoint(c)
    copy["versions_seen"]["n"]["a"] = 2
    copy["channel_values"]["a"] = 1
    assert c["versions_seen"]["n"] == {"a": 1} and c["channel_values"] == {}


def test_a_saver_stores_a_hand_made_checkpoint():
    saver = InMemorySaver()
    c = empty_checkpoint()
    config = {"configurable": {"thread_id": "t", "checkpoint_ns": ""}}
    saved = saver.put(config, c, {"source": "input", "step": -1}, {})
    assert saver.get_tuple(saved).checkpoint["id"] == c["id"]


def test_excluded_metadata_keys_are_the_config_keys_a_saver_never_copies():
    """EXCLUDED_METADATA_KEYS (LangGraph's name): the address and run keys of a config, which
    get_checkpoint_metadata leaves out of the stored metadata."""
    from threadloom.checkpoint.base import EXCLUDED_METADATA_KEYS, get_checkpoint_metadata

    assert {"thread_id", "checkpoint_ns", "checkpoint_id", "langgraph_node"} <= EXCLUDED_METADATA_KEYS
    config = {"configurable": {key: "x" for key in EXCLUDED_METADATA_KEYS} | {"user": "u"}}
    assert get_checkpoint_metadata(config, {"step": 1}) == {"step": 1, "user": "u"}


def test_a_saver_class_can_name_its_version_type():
    """``class Mine(BaseCheckpointSaver[str])`` works, as with LangGraph's generic base."""
    from threadloom.checkpoint.base import BaseCheckpointSaver

    class Mine(InMemorySaver, BaseCheckpointSaver[float]):
        pass

    saver = Mine()
    config = saver.put({"configurable": {"thread_id": "t"}}, empty_checkpoint(), {}, {})
    assert saver.get_tuple(config) is not None


async def test_a_saver_may_implement_only_the_sync_methods():
    """A saver overriding only the sync methods can be built and used; an async method it
    lacks raises NotImplementedError naming itself, as LangGraph's base does."""
    import pytest

    from threadloom.checkpoint.base import BaseCheckpointSaver

    class SyncOnly(BaseCheckpointSaver[float]):
        def __init__(self) -> None:
            super().__init__()
            self.inner = InMemorySaver()

        def get_tuple(self, config):
            return self.inner.get_tuple(config)

        def put(self, config, checkpoint, metadata, new_versions):
            return self.inner.put(config, checkpoint, metadata, new_versions)

    saver = SyncOnly()
    config = saver.put({"configurable": {"thread_id": "t"}}, empty_checkpoint(), {}, {})
    assert saver.get(config) is not None
    with pytest.raises(NotImplementedError, match="aget_tuple"):
        await saver.aget_tuple(config)
    with pytest.raises(NotImplementedError, match="delete_thread"):
        saver.delete_thread("t")
