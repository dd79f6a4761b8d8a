"""The memory-layer conformance suite: tools, manager, history and dedup on any store.

Subclass :class:`MemoryConformance` with a ``make_store`` fixture returning a
factory ``make_store(index=None, ttl=None)`` of fresh, empty, synchronous
stores, as for :class:`threadloom.testing.store.StoreConformance`.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from langchain_core.runnables import RunnableConfig
from pydantic import BaseModel

from threadloom.errors import (
    MemoryImportError,
    MemoryNamespaceError,
    MemoryNotFoundError,
)
from threadloom.memory import (
    HISTORY_LABEL,
    DedupConfig,
    MemoryChange,
    apply_changes,
    create_manage_memory_tool,
    create_memory_store_manager,
    create_search_memory_tool,
    get_history,
    search_memories,
)
from threadloom.memory.export import (
    FORMAT,
    FORMAT_VERSION,
    export_lines,
    header,
    import_memories,
    to_jsonl,
)
from threadloom.memory.reflection import ReflectionExecutor
from threadloom.store.base import BaseStore, IndexConfig, Item
from threadloom.testing.embeddings import HashingEmbed
from threadloom.testing.memory import ScriptedMemoryModel, delete, insert, turn, update

__all__ = ["MemoryConformance"]

NS = ("memories", "u1")
CONFIG: RunnableConfig = {"configurable": {"user_id": "u1"}}
TEMPLATE = ("memories", "{user_id}")


class Preference(BaseModel):
    """A structured memory used by the suite."""

    topic: str
    likes: bool


def _index() -> IndexConfig:
    return {"embed": HashingEmbed(64), "dims": 64, "fields": ["content"]}


def _key(reply: str) -> str:
    return reply.split()[2]


def _get(store: BaseStore, key: str) -> Item:
    item = store.get(NS, key)
    assert item is not None, f"memory {key} is missing"
    return item


class MemoryConformance:
    """The memory layer behaves the same on every store backend."""

    @pytest.fixture
    def store(self, make_store: Callable[..., BaseStore]) -> BaseStore:
        return make_store(index=_index())

    @pytest.fixture
    def plain_store(self, make_store: Callable[..., BaseStore]) -> BaseStore:
        return make_store()

    # --- tools -------------------------------------------------------------

    def test_manage_tool_creates_updates_and_deletes(self, store: BaseStore) -> None:
        """The tool's three actions change the memory in the namespace the config names."""
        tool = create_manage_memory_tool(TEMPLATE, store=store)
        key = _key(tool.invoke({"content": "User likes tea"}, config=CONFIG))
        assert _get(store, key).value == {"kind": "Memory", "content": "User likes tea"}
        reply = tool.invoke({"action": "update", "id": key, "content": "User likes coffee"}, CONFIG)
        assert reply == f"updated memory {key}"
        assert _get(store, key).value["content"] == "User likes coffee"
        assert tool.invoke({"action": "delete", "id": key}, CONFIG) == f"deleted memory {key}"
        assert store.get(NS, key) is None

    def test_a_missing_template_value_writes_nothing(self, store: BaseStore) -> None:
        """Without the user id the tool raises and no namespace is created."""
        tool = create_manage_memory_tool(TEMPLATE, store=store)
        with pytest.raises(MemoryNamespaceError, match="user_id"):
            tool.invoke({"content": "User likes tea"}, config={"configurable": {}})
        assert store.list_namespaces() == []

    def test_structured_memories_follow_their_schema(self, store: BaseStore) -> None:
        """A pydantic schema makes the stored content a dict of its fields."""
        tool = create_manage_memory_tool(TEMPLATE, store=store, schema=Preference)
        key = _key(tool.invoke({"content": {"topic": "tea", "likes": True}}, CONFIG))
        assert _get(store, key).value == {
            "kind": "Preference",
            "content": {"topic": "tea", "likes": True},
        }

    def test_search_tool_finds_by_meaning_in_its_namespace_only(self, store: BaseStore) -> None:
        """The search tool ranks the user's memories and never returns another user's."""
        store.put(NS, "a", {"kind": "Memory", "content": "User lives in Paris"})
        store.put(NS, "b", {"kind": "Memory", "content": "User plays chess on Sundays"})
        store.put(("memories", "u2"), "c", {"kind": "Memory", "content": "User lives in Rome"})
        search = create_search_memory_tool(TEMPLATE, store=store)
        found = json.loads(search.invoke({"query": "where does the user live"}, CONFIG))
        assert [item["key"] for item in found] == ["a", "b"]

    # --- history -----------------------------------------------------------

    def test_updates_and_deletes_keep_the_previous_versions(self, store: BaseStore) -> None:
        """Each superseded version keeps its value, times, reason and replacement."""
        tool = create_manage_memory_tool(TEMPLATE, store=store)
        key = _key(tool.invoke({"content": "User lives in Paris"}, CONFIG))
        first = _get(store, key)
        tool.invoke({"action": "update", "id": key, "content": "User lives in Berlin"}, CONFIG)
        tool.invoke({"action": "delete", "id": key}, CONFIG)
        history = get_history(store, NS, key)
        assert [v.value["content"] for v in history] == [
            "User lives in Paris",
            "User lives in Berlin",
        ]
        assert [v.reason for v in history] == ["update", "delete"]
        assert history[0].replaced_by == {"kind": "Memory", "content": "User lives in Berlin"}
        assert history[1].replaced_by is None
        assert history[0].created_at == first.created_at
        assert history[0].updated_at == first.updated_at
        assert history[0].superseded_at <= history[1].superseded_at

    def test_superseded_facts_are_hidden_from_search_unless_asked(self, store: BaseStore) -> None:
        """Search returns the current fact; with include_superseded also the old one."""
        tool = create_manage_memory_tool(TEMPLATE, store=store)
        key = _key(tool.invoke({"content": "User lives in Paris"}, CONFIG))
        tool.invoke({"action": "update", "id": key, "content": "User lives in Berlin"}, CONFIG)
        current = search_memories(store, NS, query="where does the user live")
        assert [item.value["content"] for item in current] == ["User lives in Berlin"]
        assert [item.value["content"] for item in store.search(NS)] == ["User lives in Berlin"]
        both = search_memories(store, NS, query="user lives", include_superseded=True)
        assert {item.value["content"] for item in both} == {
            "User lives in Paris",
            "User lives in Berlin",
        }
        search = create_search_memory_tool(TEMPLATE, store=store)
        found = json.loads(search.invoke({"query": "Paris", "include_superseded": True}, CONFIG))
        old = [item for item in found if item["namespace"][0] == HISTORY_LABEL]
        assert [item["value"]["content"] for item in old] == ["User lives in Paris"]

    def test_a_change_to_a_missing_memory_writes_nothing(self, store: BaseStore) -> None:
        """An update of an unknown id raises, and the batch's other changes are not applied."""
        changes = [MemoryChange("create", "User likes tea"), MemoryChange("update", "x", "nope")]
        with pytest.raises(MemoryNotFoundError, match="nope"):
            apply_changes(store, NS, changes)
        assert store.search(NS) == []

    # --- dedup -------------------------------------------------------------

    def test_an_exact_duplicate_adds_nothing(self, plain_store: BaseStore) -> None:
        """The same text is recognised even without a vector index."""
        tool = create_manage_memory_tool(TEMPLATE, store=plain_store)
        key = _key(tool.invoke({"content": "User likes tea"}, CONFIG))
        assert tool.invoke({"content": "User likes tea"}, CONFIG) == f"unchanged memory {key}"
        assert len(plain_store.search(NS)) == 1
        assert get_history(plain_store, NS, key) == []

    def test_case_and_spacing_do_not_make_a_new_memory(self, store: BaseStore) -> None:
        """With an index, text that differs only in case or spacing is the same memory."""
        tool = create_manage_memory_tool(TEMPLATE, store=store, dedup=DedupConfig(threshold=None))
        key = _key(tool.invoke({"content": "User likes tea"}, CONFIG))
        assert tool.invoke({"content": "user  likes TEA"}, CONFIG) == f"unchanged memory {key}"
        assert [item.value["content"] for item in store.search(NS)] == ["User likes tea"]

    def test_a_near_duplicate_updates_the_existing_memory(self, store: BaseStore) -> None:
        """Above the threshold, a new memory replaces the close one and history keeps it."""
        dedup = DedupConfig(threshold=0.85)
        tool = create_manage_memory_tool(TEMPLATE, store=store, dedup=dedup)
        key = _key(tool.invoke({"content": "User lives in Paris"}, CONFIG))
        reply = tool.invoke({"content": "The user lives in Paris"}, CONFIG)
        assert reply.startswith(f"updated memory {key}")
        assert [item.value["content"] for item in store.search(NS)] == ["The user lives in Paris"]
        assert [v.reason for v in get_history(store, NS, key)] == ["dedup"]

    def test_the_threshold_decides_what_is_a_duplicate(self, store: BaseStore) -> None:
        """Below the threshold, or with dedup off, a second memory is created."""
        strict = create_manage_memory_tool(TEMPLATE, store=store, dedup=DedupConfig(threshold=0.95))
        strict.invoke({"content": "User lives in Paris"}, CONFIG)
        strict.invoke({"content": "The user lives in Paris"}, CONFIG)
        assert len(store.search(NS)) == 2
        off = create_manage_memory_tool(TEMPLATE, store=store, dedup=DedupConfig(enabled=False))
        off.invoke({"content": "User lives in Paris"}, CONFIG)
        assert len(store.search(NS)) == 3

    # --- manager -----------------------------------------------------------

    def test_store_manager_inserts_updates_and_deletes(self, store: BaseStore) -> None:
        """The model's operations land in the store; changed facts are superseded, not lost."""
        model = ScriptedMemoryModel(
            script=[
                turn(insert("User lives in Paris"), insert("User works as a baker")),
                turn(update("lives in", "User lives in Berlin")),
                turn(delete("baker")),
            ]
        )
        manager = create_memory_store_manager(model, namespace=TEMPLATE, store=store)
        manager.invoke({"messages": [("user", "I live in Paris and bake bread")]}, CONFIG)
        manager.invoke({"messages": [("user", "I moved to Berlin")]}, CONFIG)
        manager.invoke({"messages": [("user", "I quit the bakery")]}, CONFIG)
        items = store.search(NS)
        assert [item.value["content"] for item in items] == ["User lives in Berlin"]
        key = items[0].key
        assert [v.value["content"] for v in get_history(store, NS, key)] == ["User lives in Paris"]
        assert model.structured_calls == 3

    def test_store_manager_shows_the_model_the_related_memories(self, store: BaseStore) -> None:
        """The prompt lists the stored memories with their ids, so the model can update them."""
        store.put(NS, "k1", {"kind": "Memory", "content": "User lives in Paris"})
        model = ScriptedMemoryModel(script=[turn()])
        manager = create_memory_store_manager(model, namespace=TEMPLATE, store=store)
        assert manager.invoke({"messages": [("user", "Paris is lovely")]}, CONFIG) == []
        system = model.calls[0][0].text
        assert "[k1] User lives in Paris" in system

    def test_store_manager_structured_memories(self, plain_store: BaseStore) -> None:
        """Schemas validate the model's content; content that fails its schema is dropped."""
        model = ScriptedMemoryModel(
            script=[
                turn(
                    insert({"topic": "tea", "likes": True}, kind="Preference"),
                    insert({"topic": "tea"}, kind="Preference"),
                )
            ]
        )
        manager = create_memory_store_manager(
            model, namespace=TEMPLATE, store=plain_store, schemas=[Preference]
        )
        applied = manager.invoke([("user", "I love tea")], CONFIG)
        assert [change.action for change in applied] == ["create"]
        values = [item.value for item in plain_store.search(NS)]
        assert values == [{"kind": "Preference", "content": {"topic": "tea", "likes": True}}]

    # --- reflection --------------------------------------------------------

    def test_pending_reflection_is_kept_in_the_store(self, store: BaseStore) -> None:
        """A job submitted to an executor that never runs it is done by the next executor."""
        model = ScriptedMemoryModel(script=[turn(insert("User lives in Paris"))])
        manager = create_memory_store_manager(model, namespace=TEMPLATE)
        config: RunnableConfig = {"configurable": {"user_id": "u1", "thread_id": "t1"}}
        first = ReflectionExecutor(manager, store=store, delay=0, start=False)
        first.submit({"messages": [("user", "I live in Paris")]}, config)
        assert [job.thread_id for job in first.pending()] == ["t1"]
        with ReflectionExecutor(manager, store=store, poll_interval=0.02) as second:
            assert second.wait_idle(timeout=10)
            assert second.pending() == []
        assert [item.value["content"] for item in store.search(NS)] == ["User lives in Paris"]
        assert model.structured_calls == 1

    # --- export / import ---------------------------------------------------

    def test_export_then_import_gives_back_the_same_bytes(self, store: BaseStore) -> None:
        """An export imported into the emptied store exports the same bytes; searches score the same."""
        tool = create_manage_memory_tool(TEMPLATE, store=store)
        key = _key(tool.invoke({"content": "User lives in Paris"}, CONFIG))
        tool.invoke({"action": "update", "id": key, "content": "User lives in Berlin"}, CONFIG)
        store.put(("notes", "u1", "deep"), "n", {"text": "déjà vu", "n": [1, 2.5, None]}, ttl=60)
        store.put(("notes", "u1"), "quiet", {"text": "never embedded"}, index=False)
        query = "where does the user live"
        history = [(v.value, v.superseded_at, v.updated_at) for v in get_history(store, NS, key)]
        hits = [(i.key, i.score, i.updated_at) for i in search_memories(store, NS, query=query)]
        for vectors in (True, False):
            lines = list(export_lines(store, vectors=vectors))
            assert json.loads(lines[0]) == {"format": FORMAT, "version": FORMAT_VERSION}
            assert len(lines) == 1 + 4
            _wipe(store)
            assert import_memories(store, lines) == 4
            assert list(export_lines(store, vectors=vectors)) == lines
        assert [(v.value, v.superseded_at, v.updated_at) for v in get_history(store, NS, key)] == history
        again = [(i.key, i.score, i.updated_at) for i in search_memories(store, NS, query=query)]
        assert [(k, u) for k, _, u in again] == [(k, u) for k, _, u in hits]
        assert [s for _, s, _ in again] == pytest.approx([s for _, s, _ in hits], abs=1e-6)

    @pytest.mark.parametrize(
        ("line", "problem"),
        [
            ("not json", "not JSON"),
            ('{"namespace": "memories"}', "unknown field|missing field|namespace must"),
            ('{"namespace": ["m"], "key": "k", "value": {}, "colour": 1}', "unknown field"),
            ('{"namespace": ["m"], "key": "k", "value": {}, "vectors": [[1.0, 2.0]]}', "dims"),
            ('{"namespace": ["m.x"], "key": "k", "value": {}}', "m.x"),
            ('{"namespace": ["m"], "key": "k", "value": {}, "created_at": "May"}', "ISO 8601"),
            ('{"format": "threadloom-memories", "version": 2}', "header"),
        ],
    )
    def test_a_bad_import_line_writes_nothing(
        self, store: BaseStore, line: str, problem: str
    ) -> None:
        """A bad record anywhere in the input is a typed error naming its line; nothing is written."""
        good = to_jsonl({"namespace": ["memories", "u1"], "key": "a", "value": {"content": "x"}})
        with pytest.raises(MemoryImportError, match=problem) as raised:
            import_memories(store, [to_jsonl(header()), good, "", line, good])
        assert raised.value.line == 4 and "line 4" in str(raised.value)
        assert isinstance(raised.value, ValueError)
        assert store.list_namespaces() == []

    def test_a_file_from_a_newer_format_is_refused(self, store: BaseStore) -> None:
        """A header with a newer version names the version and writes nothing."""
        newer = to_jsonl({"format": FORMAT, "version": FORMAT_VERSION + 1})
        good = to_jsonl({"namespace": ["memories", "u1"], "key": "a", "value": {"content": "x"}})
        with pytest.raises(MemoryImportError, match=f"version {FORMAT_VERSION + 1}.*newer"):
            import_memories(store, [newer, good])
        assert store.list_namespaces() == []

    def test_a_file_without_header_is_read_as_version_1(self, store: BaseStore) -> None:
        """threadloom's first exports (no header, values and timestamps) still import."""
        old = {
            "namespace": ["memories", "u1"],
            "key": "a",
            "value": {"content": "User lives in Paris"},
            "created_at": "2025-01-02T03:04:05+00:00",
            "updated_at": "2025-01-03T03:04:05+00:00",
        }
        assert import_memories(store, [to_jsonl(old)]) == 1
        item = _get(store, "a")
        assert item.updated_at.isoformat() == old["updated_at"]
        with pytest.raises(MemoryImportError, match=r"unknown field.*ttl_minutes"):
            import_memories(store, [to_jsonl({**old, "ttl_minutes": 5})])


def _wipe(store: BaseStore) -> None:
    for namespace in store.list_namespaces(max_depth=1):
        store.delete_namespace(namespace)
    assert store.list_namespaces() == []
