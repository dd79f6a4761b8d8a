"""The store interface: text extraction, validation, Item and SearchItem, the op-building conveniences."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any

import pytest

from threadloom.errors import InvalidNamespaceError, InvalidStoreInputError, InvalidValueError
from threadloom.store import base
from threadloom.store.base import (
    BaseStore,
    GetOp,
    Item,
    ListNamespacesOp,
    MatchCondition,
    Op,
    PutOp,
    Result,
    SearchItem,
    SearchOp,
    get_text_at_path,
    tokenize_path,
)

DOC = {
    "title": "Notes",
    "meta": {"lang": "en", "n": 3},
    "tags": ["red", "green", "blue"],
    "sections": [{"text": "one", "sub": {"x": "a"}}, {"text": "two", "sub": {"x": "b"}}],
    "empty": None,
}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("title", ["Notes"]),
        ("meta.lang", ["en"]),
        ("meta.n", ["3"]),
        ("tags[0]", ["red"]),
        ("tags[-1]", ["blue"]),
        ("tags[*]", ["red", "green", "blue"]),
        ("sections[*].text", ["one", "two"]),
        ("sections[1].sub.x", ["b"]),
        ("meta.*", ["en", "3"]),
        ("{title,meta.lang}", ["Notes", "en"]),
        ("sections[*].{text,sub.x}", ["one", "a", "two", "b"]),
        ("missing", []),
        ("tags[9]", []),
        ("tags[x]", []),
        ("title.deeper", []),
        ("empty", []),
        ("meta", ['{"lang": "en", "n": 3}']),
    ],
)
def test_get_text_at_path(path: str, expected: list[str]) -> None:
    """Each path syntax yields the texts it addresses; missing paths yield nothing."""
    assert get_text_at_path(DOC, path) == expected


@pytest.mark.parametrize("path", ["{unclosed", "a[0", "nested[{invalid}]", "items[].value"])
def test_a_malformed_path_finds_nothing(path: str) -> None:
    """get_text_at_path with a malformed path yields nothing, as LangGraph's (tokenize_path,
    which index configs go through, still refuses it)."""
    assert get_text_at_path(DOC, path) == []


def test_dollar_path_is_the_whole_value_as_json() -> None:
    """'$' embeds the whole value, serialized with sorted keys."""
    assert get_text_at_path({"b": 1, "a": "x"}, "$") == ['{"a": "x", "b": 1}']


def test_tokenize_path_and_its_errors() -> None:
    """Paths split into keys, index tokens and alternatives; unclosed brackets are errors."""
    assert tokenize_path("a.b[0].{c,d.e}") == ["a", "b", "[0]", "{c,d.e}"]
    with pytest.raises(InvalidStoreInputError, match=r"\["):
        tokenize_path("a[0")
    with pytest.raises(InvalidStoreInputError, match=r"\{"):
        tokenize_path("a.{b")


def test_a_malformed_path_finds_nothing_but_is_refused_as_a_put_index() -> None:
    """``get_text_at_path`` treats a malformed path as missing; ``put(index=...)`` refuses it."""
    assert get_text_at_path(DOC, "{unclosed") == []
    assert get_text_at_path(DOC, "a[0") == []
    with pytest.raises(InvalidStoreInputError, match="Unclosed"):
        base.validate_ops([PutOp(("ok",), "k", {"a": "x"}, index=["a[0"])])


def test_item_and_search_item() -> None:
    """Items compare by content, parse ISO timestamps, and render as dicts with the score."""
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    item = Item(
        value={"v": 1}, key="k", namespace=("a",), created_at=now.isoformat(), updated_at=now
    )
    assert item.created_at == now and item.namespace == ("a",)
    assert item == Item(value={"v": 1}, key="k", namespace=("a",), created_at=now, updated_at=now)
    assert item.dict()["namespace"] == ["a"] and "Item(" in repr(item)
    hit = SearchItem(("a",), "k", {"v": 1}, now, now, score=0.5)
    assert hit.dict()["score"] == 0.5
    assert hit != SearchItem(("a",), "k", {"v": 1}, now, now, score=0.4)
    assert hash(hit) == hash(item)


@pytest.mark.parametrize(
    "op",
    [
        PutOp(("a.b",), "k", {}),
        PutOp(("threadloom",), "k", None),
        PutOp(("a",), "", {}),
        PutOp(("a",), "k", []),  # type: ignore[arg-type]
        PutOp(("a",), "k", {"x": {1, 2}}),
        PutOp(("a",), "k", {}, ttl=-1),
        PutOp(("a",), "k", {}, index="text"),  # type: ignore[arg-type]
        GetOp(["a"], "k"),  # type: ignore[arg-type]
        SearchOp(("a",), limit=-1),
        SearchOp(("a",), query=3),  # type: ignore[arg-type]
        ListNamespacesOp(max_depth=0),
        base.DeleteNamespaceOp(()),
        "not an op",
    ],
    ids=repr,
)
def test_validate_ops_rejects_bad_operations(op: Any) -> None:
    """validate_ops raises a typed ValueError/TypeError for every malformed op."""
    with pytest.raises(
        (InvalidNamespaceError, InvalidStoreInputError, InvalidValueError, ValueError)
    ):
        base.validate_ops([PutOp(("ok",), "k", {}), op])


def test_reads_may_name_the_reserved_namespace() -> None:
    """The reserved first label is refused for writes only."""
    base.validate_ops([GetOp(("threadloom",), "k"), SearchOp(("threadloom",))])
    base.validate_ops([GetOp(("langgraph",), "k"), SearchOp(("langgraph",))])


class Recorder(BaseStore):
    """A backend that records the ops it is given."""

    def __init__(self) -> None:
        self.ops: list[Op] = []

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        self.ops.extend(ops)
        return [None]

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        return self.batch(ops)


async def test_conveniences_build_ops_from_two_abstract_methods() -> None:
    """get/put/search/list_namespaces and their twins become ops; ttl defaults come from ttl_config."""
    store = Recorder()
    store.ttl_config = {"default_ttl": 5, "refresh_on_read": False}
    store.put(("a",), "k", {"v": 1})
    store.put(("a",), "k", {"v": 1}, ttl=None)
    await store.aget(("a",), "k")
    store.search(("a",), query="q", filter={"x": 1}, limit=3, offset=1)
    await store.alist_namespaces(prefix=("a", "*"), suffix=("z",), max_depth=2)
    assert store.ops == [
        PutOp(("a",), "k", {"v": 1}, None, 5),
        PutOp(("a",), "k", {"v": 1}, None, None),
        GetOp(("a",), "k", False),
        SearchOp(("a",), {"x": 1}, 3, 1, "q", False),
        ListNamespacesOp(
            (MatchCondition("prefix", ("a", "*")), MatchCondition("suffix", ("z",))), 2, 100, 0
        ),
    ]


def test_plain_json_copy_copies_plain_values_and_declines_the_rest() -> None:
    """Plain JSON values are deep-copied; anything JSON would change or reject gives None."""
    value = {"a": [1, {"b": None}], "s": "x", "f": 1.5, "t": True}
    copy = base.plain_json_copy(value)
    assert copy == value and copy is not value and copy["a"] is not value["a"]
    for odd in ({"t": (1, 2)}, {1: "int key"}, {"f": float("inf")}, {"o": object()}):
        assert base.plain_json_copy(odd) is None
    base.validate_value({"t": (1, 2), 1: "int keys are JSON too"})
    with pytest.raises(InvalidValueError, match="JSON"):
        base.validate_value({"f": float("nan")})


def test_validate_ops_hands_back_normalized_copies_of_put_values() -> None:
    """Put values come back as JSON would return them, and detached from the caller's dict."""
    value: dict[str, Any] = {"t": (1, 2), "nested": {"x": [1]}}
    [op] = base.validate_ops([PutOp(("a",), "k", value)])
    assert isinstance(op, PutOp) and op.value == {"t": [1, 2], "nested": {"x": [1]}}
    value["nested"]["x"].append(2)
    assert op.value["nested"]["x"] == [1]


def test_search_takes_a_namespace_prefix_given_as_a_list() -> None:
    """store.search(["docs"]) is store.search(("docs",)), as LangGraph's stores accept it."""
    from threadloom.store.memory import InMemoryStore

    store = InMemoryStore()
    store.put(("docs", "a"), "k", {"v": 1})
    assert [i.key for i in store.search(["docs"])] == ["k"]  # type: ignore[arg-type]


def test_a_filter_key_with_an_empty_path_segment_is_an_invalid_filter_key() -> None:
    """The message starts as LangGraph's SQLite store's for such keys ("Invalid filter key")."""
    from threadloom.errors import InvalidFilterError
    from threadloom.store.memory import InMemoryStore

    with pytest.raises(InvalidFilterError, match="Invalid filter key"):
        InMemoryStore().search(("docs",), filter={"access') OR json_extract(value, '$.": 1})
