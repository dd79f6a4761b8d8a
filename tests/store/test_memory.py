"""InMemoryStore: the shared conformance suite, plus what only the memory store promises."""

from __future__ import annotations

import gc
import threading
import time
from typing import Any

import pytest

from threadloom.errors import InvalidEmbedderError, InvalidStoreInputError, StoreError
from threadloom.store.base import GetOp, IndexConfig, TTLConfig
from threadloom.store.memory import InMemoryStore
from threadloom.testing.embeddings import AsyncHashingEmbed, HashingEmbed
from threadloom.testing.store import SearchModeConformance, StoreConformance


class TestInMemoryStore(StoreConformance, SearchModeConformance):
    @pytest.fixture
    def make_store(self) -> Any:
        def factory(
            index: IndexConfig | None = None, ttl: TTLConfig | None = None
        ) -> InMemoryStore:
            return InMemoryStore(index=index, ttl=ttl)

        return factory


DIMS = 32


def test_the_guide_calls_behave_as_the_guide_shows() -> None:
    """The cross-thread persistence guide's store calls: index config, put, search with and without query."""
    import uuid

    store = InMemoryStore(index={"embed": HashingEmbed(DIMS), "dims": DIMS})
    namespace = ("memories", "1")
    store.put(namespace, str(uuid.uuid4()), {"data": "User name is Bob"})
    store.put(("memories", "2"), str(uuid.uuid4()), {"data": "User likes sushi"})
    memories = store.search(namespace, query="what is my name?")
    assert "\n".join(d.value["data"] for d in memories) == "User name is Bob"
    assert [m.value for m in store.search(namespace)] == [{"data": "User name is Bob"}]


async def test_async_embedder_works_through_the_async_api() -> None:
    """An async embed function serves aput and asearch."""
    embed = AsyncHashingEmbed(DIMS)
    store = InMemoryStore(index={"embed": embed, "dims": DIMS})
    await store.aput(("n",), "a", {"t": "pizza"})
    [hit] = await store.asearch(("n",), query="pizza")
    assert hit.key == "a" and len(embed.calls) == 2


async def test_async_methods_do_not_block_the_loop_while_embedding() -> None:
    """A slow sync embedder runs off the event loop: other tasks keep running during aput."""
    import asyncio

    class SlowEmbed(HashingEmbed):
        def __call__(self, texts: Any) -> list[list[float]]:
            time.sleep(0.3)
            return super().__call__(texts)

    store = InMemoryStore(index={"embed": SlowEmbed(DIMS), "dims": DIMS})
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    task = asyncio.create_task(ticker())
    await store.aput(("n",), "a", {"t": "pizza"})
    task.cancel()
    assert ticks >= 10


def test_sweeper_thread_removes_expired_items_and_stops() -> None:
    """With sweep_interval_minutes set, a daemon thread deletes expired items; stop_ttl_sweeper ends it."""
    store = InMemoryStore(ttl={"default_ttl": 0.001, "sweep_interval_minutes": 0.001})
    store.put(("n",), "a", {})
    store.put(("n",), "b", {}, ttl=None)
    sweeper = store._sweeper
    assert sweeper is not None and sweeper.daemon
    deadline = time.monotonic() + 3
    while store.sweep_ttl() == 0 and ("a" in store._data.get(("n",), {})):
        assert time.monotonic() < deadline, "the sweeper never ran"
        time.sleep(0.02)
    assert "a" not in store._data[("n",)]
    assert store.stop_ttl_sweeper(timeout=2)
    assert not sweeper.is_alive()


def test_sweeper_stops_when_the_store_is_garbage_collected() -> None:
    """The sweeper holds no strong reference: dropping the store ends its thread."""
    store = InMemoryStore(ttl={"sweep_interval_minutes": 0.0005})
    sweeper = store._sweeper
    assert sweeper is not None
    del store
    gc.collect()
    sweeper.join(timeout=2)
    assert not sweeper.is_alive()


def test_start_ttl_sweeper_needs_an_interval() -> None:
    """Starting a sweeper without any interval is a clear error."""
    with pytest.raises(InvalidStoreInputError, match="interval"):
        InMemoryStore().start_ttl_sweeper()
    assert threading.active_count() >= 1


@pytest.mark.parametrize(
    ("index", "message"),
    [
        ({"dims": 0, "embed": HashingEmbed(4)}, "dims"),
        ({"dims": "4", "embed": HashingEmbed(4)}, "dims"),
        ({"dims": 4}, "embed"),
        ({"dims": 4, "embed": HashingEmbed(4), "fields": "text"}, "fields"),
        ({"dims": 4, "embed": HashingEmbed(4), "fields": ["a["]}, r"\["),
        ({"dims": 4, "embed": HashingEmbed(4), "colour": 1}, "colour"),
        ({"dims": 4, "embed": HashingEmbed(4), "distance_type": "l2"}, "cosine"),
    ],
    ids=repr,
)
def test_bad_index_config_is_rejected(index: Any, message: str) -> None:
    """A malformed index config fails at construction, naming the problem."""
    with pytest.raises(InvalidStoreInputError, match=message):
        InMemoryStore(index=index)


@pytest.mark.parametrize(
    ("ttl", "message"),
    [
        ({"default_ttl": -1}, "default_ttl"),
        ({"sweep_interval_minutes": 0}, "sweep_interval_minutes"),
        ({"refresh_on_read": "yes"}, "refresh_on_read"),
        ({"default": 5}, "default"),
    ],
    ids=repr,
)
def test_bad_ttl_config_is_rejected(ttl: Any, message: str) -> None:
    """A malformed TTL config fails at construction, naming the problem."""
    with pytest.raises(InvalidStoreInputError, match=message):
        InMemoryStore(ttl=ttl)


def test_refresh_on_read_false_in_config_is_the_default_for_reads() -> None:
    """ttl={'refresh_on_read': False} makes get() leave the expiry alone unless asked."""
    store = InMemoryStore(ttl={"default_ttl": 0.01, "refresh_on_read": False})
    store.put(("n",), "a", {})
    expiry = store._data[("n",)]["a"].expires_at
    time.sleep(0.01)
    store.get(("n",), "a")
    assert store._data[("n",)]["a"].expires_at == expiry
    store.get(("n",), "a", refresh_ttl=True)
    assert store._data[("n",)]["a"].expires_at > expiry  # type: ignore[operator]


def test_deleting_and_overwriting_keep_the_vector_index_in_step() -> None:
    """The vector index holds exactly one entry per indexed live item, whatever the history."""
    store = InMemoryStore(index={"embed": HashingEmbed(DIMS), "dims": DIMS, "fields": ["t[*]"]})
    for i in range(50):
        store.put(("n", str(i % 5)), f"k{i % 20}", {"t": [f"w{i}", f"v{i}"]})
    store.delete(("n", "0"), "k0")
    store.put(("n", "1"), "k1", {"t": []})
    store.delete_namespace(("n", "2"))
    vectors = store._vectors
    assert vectors is not None
    live = {
        (ns, key) for ns, items in store._data.items() for key, r in items.items() if r.value["t"]
    }
    assert {(ns, key) for ns in vectors.namespaces() for key in store._data[ns]} >= live
    assert len(vectors) == len(live)
    assert vectors.rows == 2 * len(live)


def test_an_embedder_of_the_wrong_kind_is_rejected() -> None:
    """index['embed'] must be an Embeddings, a function or a 'provider:model' string."""
    with pytest.raises(InvalidEmbedderError):
        InMemoryStore(index={"dims": 4, "embed": 42})


def test_random_batches_keep_search_exact() -> None:
    """After random batches of puts, re-puts, deletes and prefix deletes, query search equals brute force."""
    import random

    import numpy as np

    from threadloom.store.base import DeleteNamespaceOp, PutOp, SearchOp

    embed = HashingEmbed(DIMS)
    store = InMemoryStore(index={"embed": embed, "dims": DIMS, "fields": ["t[*]"]})
    rng = random.Random(3)
    words = [f"w{i}" for i in range(30)]
    model: dict[tuple[tuple[str, ...], str], list[str]] = {}
    for _ in range(40):
        ops: list[Any] = []
        for _ in range(rng.randint(1, 12)):
            ns, key = ("u", str(rng.randint(0, 3))), f"k{rng.randint(0, 9)}"
            roll = rng.random()
            if roll < 0.6:
                texts = [" ".join(rng.sample(words, 2)) for _ in range(rng.randint(0, 3))]
                ops.append(PutOp(ns, key, {"t": texts}))
                model[(ns, key)] = texts
            elif roll < 0.9:
                ops.append(PutOp(ns, key, None))
                model.pop((ns, key), None)
            else:
                ops.append(DeleteNamespaceOp(ns))
                for address in [a for a in model if a[0] == ns]:
                    del model[address]
        if rng.random() < 0.3:
            ops.insert(rng.randrange(len(ops) + 1), SearchOp(("u",), query="w1 w2"))
        store.batch(ops)
    query = np.array(embed.vector("w3 w4"))
    expected = sorted(
        (
            (-max(float(np.dot(embed.vector(t), query)) for t in texts), address)
            for address, texts in model.items()
            if texts
        ),
    )
    hits = store.search(("u",), query="w3 w4", limit=100)
    assert len(hits) == len(expected)
    assert [round(h.score, 4) for h in hits] == [round(-s, 4) for s, _ in expected]
    assert {(h.namespace, h.key) for h in hits} == {a for _, a in expected}


def test_keyword_index_is_built_on_first_need_from_each_puts_own_paths() -> None:
    """Vector-only use never builds the keyword index; the first keyword search builds it
    from what each put indexed (its own ``index`` paths included), and later writes keep it in step."""
    store = InMemoryStore(index={"dims": 16, "embed": HashingEmbed(16), "fields": ["text"]})
    ns = ("memories", "u1")
    store.put(ns, "default", {"text": "walrus sighting", "note": "penguin"})
    store.put(ns, "override", {"text": "nothing here", "note": "walrus parade"}, index=["note"])
    store.put(ns, "hidden", {"text": "walrus"}, index=False)
    store.search(ns, query="walrus")  # vector mode: no keyword index yet
    assert store._keywords is None
    found = [item.key for item in store.search(ns, query="walrus", mode="keyword")]
    assert sorted(found) == ["default", "override"]
    assert store.search(ns, query="penguin", mode="keyword") == []
    store.put(ns, "later", {"text": "walrus again"})
    store.delete(ns, "default")
    found = [item.key for item in store.search(ns, query="walrus", mode="keyword")]
    assert sorted(found) == ["later", "override"]


def test_a_single_put_embeds_every_indexed_path_and_index_false_drops_vectors() -> None:
    """put(): several texts give several vectors (best one scores), index=False removes them."""
    store = InMemoryStore(index={"embed": HashingEmbed(DIMS), "dims": DIMS, "fields": ["a"]})
    ns = ("memories", "1")
    store.put(ns, "k", {"a": "red apples", "b": "green pears"}, index=["a", "b"])
    assert store._vectors is not None and store._vectors.rows == 2
    [hit] = store.search(ns, query="green pears", limit=1)
    assert hit.key == "k" and hit.score == pytest.approx(1.0, abs=1e-5)
    store.put(ns, "k", {"a": "red apples"}, index=False)
    assert store._vectors.rows == 0 and store.search(ns, query="red apples") == []
    store.put(ns, "k", {"b": "no text at the field"})
    assert store.search(ns, query="red apples") == []


def test_a_single_put_with_a_bad_vector_changes_nothing() -> None:
    """An embedder answering a single put with NaN fails it whole: the old item stays."""
    from threadloom.errors import EmbeddingError

    calls = {"bad": False}

    def embed(texts: list[str]) -> Any:
        import numpy as np

        vectors = np.ones((len(texts), DIMS), dtype=np.float32)
        if calls["bad"]:
            vectors[0, 3] = np.nan
        return vectors

    store = InMemoryStore(index={"embed": embed, "dims": DIMS})
    store.put(("m",), "k", {"text": "first"})
    calls["bad"] = True
    with pytest.raises(EmbeddingError, match="nan"):
        store.put(("m",), "k", {"text": "second"})
    item = store.get(("m",), "k")
    assert item is not None and item.value == {"text": "first"}
    calls["bad"] = False
    assert [h.key for h in store.search(("m",), query="x")] == ["k"]


def test_a_single_put_takes_an_embedders_list_of_float32_rows_as_is() -> None:
    """The usual LangChain-style answer (a list of float32 arrays): a single put scales the
    row into the index without touching the embedder's array, refuses NaN or inf, and keeps
    a zero vector zero."""
    import numpy as np

    from threadloom.errors import EmbeddingError

    answers: dict[str, np.ndarray] = {
        "a": np.full(DIMS, 2.0, dtype=np.float32),
        "zero": np.zeros(DIMS, dtype=np.float32),
        "nan": np.full(DIMS, np.nan, dtype=np.float32),
        "inf": np.full(DIMS, np.inf, dtype=np.float32),
    }
    returned: list[np.ndarray] = []

    def embed(texts: list[str]) -> list[np.ndarray]:
        rows = [answers[t] for t in texts]
        returned.extend(rows)
        return rows

    store = InMemoryStore(index={"embed": embed, "dims": DIMS, "fields": ["text"]})
    store.put(("m",), "one", {"text": "a"})
    store.put(("m",), "none", {"text": "zero"})
    assert (answers["a"] == 2.0).all() and not answers["zero"].any()
    for bad in ("nan", "inf"):
        with pytest.raises(EmbeddingError):
            store.put(("m",), "one", {"text": bad})
    assert store.get(("m",), "one").value == {"text": "a"}  # type: ignore[union-attr]
    hits = {h.key: h.score for h in store.search(("m",), query="a", limit=3)}
    assert hits["one"] == pytest.approx(1.0, abs=1e-6)
    assert hits["none"] == 0.0


def test_a_function_embedders_array_reaches_the_store_unchanged_and_unmodified() -> None:
    """The numpy-native path: a plain function's float32 array is used as is, never scaled in place."""
    import numpy as np

    returned: list[np.ndarray] = []

    def embed(texts: list[str]) -> np.ndarray:
        vectors = np.full((len(texts), DIMS), 2.0, dtype=np.float32)
        returned.append(vectors)
        return vectors

    store = InMemoryStore(index={"embed": embed, "dims": DIMS})
    store.put(("m",), "one", {"text": "a"})
    store.batch([])  # nothing to embed
    from threadloom.store.base import PutOp

    store.batch([PutOp(("m",), "two", {"text": "b"}), PutOp(("m",), "three", {"text": "c"})])
    assert all((array == 2.0).all() for array in returned)
    hits = store.search(("m",), query="q", limit=3)
    assert sorted(h.key for h in hits) == ["one", "three", "two"]
    assert all(h.score == pytest.approx(1.0, abs=1e-5) for h in hits)


class _Labels(tuple):  # type: ignore[type-arg]
    """A tuple subclass: a valid namespace that takes get's general route."""


@pytest.mark.parametrize(
    ("namespace", "key"),
    [
        (("a", "b"), "k"),
        (("a", "b"), "other"),
        (("a",), "k"),
        (_Labels(("a", "b")), "k"),
    ],
    ids=repr,
)
def test_get_answers_as_a_batched_get_does(namespace: Any, key: str) -> None:
    """get's shortcut for stored addresses gives what a GetOp in a batch gives."""
    store = InMemoryStore()
    store.put(("a", "b"), "k", {"n": [1]})
    single = store.get(namespace, key)
    [batched] = store.batch([GetOp(namespace, key)])
    assert single == batched
    if single is not None:
        assert type(single.namespace) is tuple and single.namespace == ("a", "b")


@pytest.mark.parametrize(
    ("namespace", "key"),
    [
        (("a\x00",), "k"),
        (["a", "b"], "k"),
        (("a", "b"), 3),
        (("a", "b"), ""),
        (("a", "\ud800"), "k"),
        (("a", ["x"]), "k"),
        (("a", 1), "k"),
    ],
    ids=repr,
)
def test_get_reports_bad_input_though_nothing_is_stored_there(namespace: Any, key: Any) -> None:
    """A miss is no excuse: get raises the typed error a batched get raises."""
    store = InMemoryStore()
    store.put(("a", "b"), "k", {"n": 1})
    with pytest.raises(StoreError) as single:
        store.get(namespace, key)
    with pytest.raises(StoreError) as batched:
        store.batch([GetOp(namespace, key)])
    assert type(single.value) is type(batched.value)
    assert str(single.value) == str(batched.value)
