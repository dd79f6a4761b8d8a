"""Store names and options LangGraph users rely on: async stores at the package, ``text_fields``."""

from __future__ import annotations

import pytest

from threadloom.errors import InvalidStoreInputError
from threadloom.store.memory import InMemoryStore
from threadloom.store.sqlite import AsyncSqliteStore, SqliteStore
from threadloom.store.sqlite.aio import AsyncSqliteStore as FromAio
from threadloom.testing.embeddings import HashingEmbed


def test_async_sqlite_store_is_exported_from_the_package():
    assert AsyncSqliteStore is FromAio


@pytest.mark.parametrize("fields", [["text"], "text"])
def test_text_fields_is_the_sqlite_spelling_of_fields(tmp_path, fields):
    index = {"dims": 16, "embed": HashingEmbed(16), "text_fields": fields}
    with SqliteStore.from_conn_string(str(tmp_path / "s.db"), index=index) as store:
        store.setup()
        store.put(("ns",), "a", {"text": "pizza", "other": "zzz"})
        assert store.index_config["fields"] == ["text"]
        assert [h.key for h in store.search(("ns",), query="pizza")] == ["a"]


def test_text_fields_conflicting_with_fields_is_refused():
    with pytest.raises(InvalidStoreInputError, match="text_fields"):
        InMemoryStore(
            index={"dims": 4, "embed": HashingEmbed(4), "fields": ["a"], "text_fields": ["b"]}
        )
