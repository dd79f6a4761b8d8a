"""The checkpointer conformance suite: one specification every saver passes.

A backend's test file subclasses :class:`CheckpointerConformance` and defines
a ``saver`` fixture that yields a fresh, empty saver (a sync or an async
fixture). Every test runs once through the sync methods and once through the
async twins; a saver that only works asynchronously sets
``flavours = ("async",)``.

A saver that several processes share subclasses
:class:`SharedCheckpointerConformance` instead and also defines a
``saver_opener`` fixture (see there).

Example (``tests/checkpoint/test_memory.py``)::

    import pytest
    from threadloom.checkpoint.memory import InMemorySaver
    from threadloom.testing.checkpoint import CheckpointerConformance

    class TestInMemorySaver(CheckpointerConformance):
        @pytest.fixture
        def saver(self):
            return InMemorySaver()

Needs ``pytest`` and ``pytest-asyncio`` (the ``test`` extra).
"""

from __future__ import annotations

import dataclasses
import enum
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any, ClassVar, NamedTuple
from uuid import UUID

try:
    import pytest
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError("threadloom.testing.checkpoint needs pytest: pip install 'threadloom[test]'") from e

from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.runnables import RunnableConfig
from pydantic import BaseModel

from threadloom.checkpoint.base import (
    ERROR,
    INTERRUPT,
    BaseCheckpointSaver,
    ChannelVersion,
    DeltaChain,
    DeltaValue,
)
from threadloom.checkpoint.serde.types import TASKS
from threadloom.errors import MissingThreadIdError, SerializationError
from threadloom.testing._checkpoint_inputs import OddInputCases
from threadloom.testing._checkpoint_races import ConcurrencyCases, SharedConcurrencyCases
from threadloom.testing._saver_driver import SaverDriver, make_checkpoint, thread

__all__ = ["CheckpointerConformance", "SaverDriver", "SharedCheckpointerConformance", "make_checkpoint"]

# --- types the serializer must round-trip (module level, so they can be re-imported) ---


class Colour(enum.Enum):
    """An enum stored in state."""

    RED = "red"
    BLUE = "blue"


@dataclasses.dataclass(frozen=True)
class Point:
    """A frozen dataclass stored in state."""

    x: int
    y: float
    tags: tuple[str, ...] = ()


class Span(NamedTuple):
    """A named tuple stored in state."""

    start: int
    end: int


class Profile(BaseModel):
    """A pydantic model stored in state."""

    name: str
    born: date
    home: Point | None = None
    likes: set[str] = set()


def rich_value() -> dict[str, Any]:
    """A value holding every type the checkpoint serializer promises to round-trip."""
    return {
        "messages": [
            SystemMessage("be brief", id="s1"),
            HumanMessage("hi", id="h1", name="bob", additional_kwargs={"lang": "en"}),
            AIMessage(
                "",
                id="a1",
                tool_calls=[{"name": "search", "args": {"q": "x"}, "id": "call-1", "type": "tool_call"}],
                usage_metadata={"input_tokens": 3, "output_tokens": 4, "total_tokens": 7},
            ),
            ToolMessage("found", tool_call_id="call-1", id="t1", artifact={"rows": [1, 2]}),
            AIMessageChunk(content="partial", id="c1"),
        ],
        "profile": Profile(name="Bob", born=date(1990, 5, 17), home=Point(1, 2.5, ("a",)), likes={"tea"}),
        "when": datetime(2026, 3, 1, 12, 30, tzinfo=timezone(timedelta(hours=2))),
        "naive": datetime(2026, 3, 1, 12, 30, 15, 123456),
        "day": date(2026, 3, 1),
        "clock": time(8, 15, tzinfo=timezone.utc),
        "wait": timedelta(days=1, seconds=5, microseconds=7),
        "uid": UUID("12345678-1234-5678-1234-567812345678"),
        "sets": ({1, 2}, frozenset({"a"})),
        "colour": Colour.BLUE,
        "span": Span(3, 9),
        "raw": b"\x00\xff",
        "money": Decimal("10.25"),
        "keys": {1: "int key", (1, 2): "tuple key", "__tl": "our tag as a key"},
        "nested": [[{"deep": (None, True, 1.5, float("inf"))}]],
        "big": 2**80,
    }


class CheckpointerConformance(ConcurrencyCases, OddInputCases):
    """Subclass this and define a ``saver`` fixture; see the module docstring."""

    flavours: ClassVar[tuple[str, ...]] = ("sync", "async")

    def pytest_generate_tests(self, metafunc: Any) -> None:
        """Run every test once per flavour the saver supports."""
        if "flavour" in metafunc.fixturenames:
            metafunc.parametrize("flavour", list(self.flavours))

    @pytest.fixture
    def api(self, flavour: str, saver: BaseCheckpointSaver) -> SaverDriver:
        """The saver under test, driven through one flavour of its methods."""
        return SaverDriver(saver, flavour)

    # --- put and get ---

    async def test_unknown_thread_reads_as_nothing(self, api: SaverDriver) -> None:
        """A thread with no checkpoints has no latest checkpoint, lists nothing, and peeks as None."""
        assert await api.get_tuple(thread("nobody")) is None
        assert await api.list(thread("nobody")) == []
        assert await api.peek_latest(thread("nobody")) is None

    async def test_put_then_get_latest_returns_the_checkpoint(self, api: SaverDriver) -> None:
        """The latest checkpoint reads back with its values, versions, metadata and config."""
        v = api.next_version(None)
        ckpt = make_checkpoint({"count": 1, "name": "x"}, {"count": v, "name": v}, versions_seen={"node": {"count": v}})
        saved = await api.put(thread("t1"), ckpt, {"source": "input", "step": -1, "run_id": "r"})
        assert saved["configurable"] == {"thread_id": "t1", "checkpoint_ns": "", "checkpoint_id": ckpt["id"]}
        got = await api.get_tuple(thread("t1"))
        assert got is not None
        assert got.config["configurable"]["checkpoint_id"] == ckpt["id"]
        assert got.checkpoint["channel_values"] == {"count": 1, "name": "x"}
        assert got.checkpoint["channel_versions"] == {"count": v, "name": v}
        assert got.checkpoint["versions_seen"] == {"node": {"count": v}}
        assert got.checkpoint["ts"] == ckpt["ts"]
        assert got.metadata == {"source": "input", "step": -1, "run_id": "r"}
        assert got.parent_config is None
        assert got.pending_writes == []

    async def test_get_by_id_returns_that_checkpoint(self, api: SaverDriver) -> None:
        """A config with checkpoint_id reads that checkpoint; an unknown id reads as None."""
        v1 = api.next_version(None)
        v2 = api.next_version(v1)
        first = make_checkpoint({"n": 1}, {"n": v1})
        c1 = await api.put(thread("t"), first)
        await api.put(c1, make_checkpoint({"n": 2}, {"n": v2}))
        got = await api.get_tuple(c1)
        assert got is not None and got.checkpoint["channel_values"] == {"n": 1}
        missing: RunnableConfig = {"configurable": {"thread_id": "t", "checkpoint_ns": "", "checkpoint_id": "0"}}
        assert await api.get_tuple(missing) is None

    async def test_parent_config_names_the_previous_checkpoint(self, api: SaverDriver) -> None:
        """A checkpoint put on top of another records it as its parent."""
        v1 = api.next_version(None)
        c1 = await api.put(thread("t"), make_checkpoint({"n": 1}, {"n": v1}))
        c2 = await api.put(c1, make_checkpoint({"n": 2}, {"n": api.next_version(v1)}))
        got = await api.get_tuple(c2)
        assert got is not None and got.parent_config is not None
        assert got.parent_config["configurable"] == c1["configurable"]

    async def test_unchanged_channels_are_read_from_their_earlier_version(self, api: SaverDriver) -> None:
        """A channel left out of new_versions keeps the value stored at its version."""
        v1 = api.next_version(None)
        c1 = await api.put(thread("t"), make_checkpoint({"a": "kept", "b": 1}, {"a": v1, "b": v1}))
        v2 = api.next_version(v1)
        await api.put(c1, make_checkpoint({"a": "kept", "b": 2}, {"a": v1, "b": v2}), new_versions={"b": v2})
        got = await api.get_tuple(thread("t"))
        assert got is not None and got.checkpoint["channel_values"] == {"a": "kept", "b": 2}

    async def test_a_channel_without_a_value_reads_as_absent(self, api: SaverDriver) -> None:
        """A channel with a new version but no value (emptied) is absent on read."""
        v1 = api.next_version(None)
        c1 = await api.put(thread("t"), make_checkpoint({"a": 1}, {"a": v1}))
        v2 = api.next_version(v1)
        await api.put(c1, make_checkpoint({}, {"a": v2}), new_versions={"a": v2})
        got = await api.get_tuple(thread("t"))
        assert got is not None and got.checkpoint["channel_values"] == {}

    async def test_returned_values_are_copies(self, api: SaverDriver) -> None:
        """Mutating a value that was put or read never changes what is stored."""
        v = api.next_version(None)
        value = {"items": [1, 2]}
        await api.put(thread("t"), make_checkpoint({"state": value}, {"state": v}))
        value["items"].append(3)
        got = await api.get_tuple(thread("t"))
        assert got is not None
        got.checkpoint["channel_values"]["state"]["items"].append(4)
        again = await api.get_tuple(thread("t"))
        assert again is not None and again.checkpoint["channel_values"]["state"] == {"items": [1, 2]}

    async def test_next_versions_increase_and_do_not_repeat(self, api: SaverDriver) -> None:
        """get_next_version is above its input, and two forks of one version get different versions."""
        v1 = api.next_version(None)
        v2 = api.next_version(v1)
        assert v2 > v1  # type: ignore[operator]
        assert api.next_version(v1) != v2

    # --- list ---

    async def _history(self, api: SaverDriver, thread_id: str, n: int, ns: str = "") -> list[RunnableConfig]:
        configs: list[RunnableConfig] = []
        config = thread(thread_id, ns)
        version: ChannelVersion | None = None
        for step in range(n):
            version = api.next_version(version)
            config = await api.put(
                config,
                make_checkpoint({"step": step}, {"step": version}),
                {"source": "input" if step == 0 else "loop", "step": step - 1, "parity": step % 2},
            )
            configs.append(config)
        return configs

    async def test_list_returns_newest_first(self, api: SaverDriver) -> None:
        """list yields a thread's checkpoints newest first, each with its metadata."""
        configs = await self._history(api, "t", 4)
        listed = await api.list(thread("t"))
        assert [t.config["configurable"]["checkpoint_id"] for t in listed] == [
            c["configurable"]["checkpoint_id"] for c in reversed(configs)
        ]
        assert [t.metadata["step"] for t in listed] == [2, 1, 0, -1]

    async def test_list_limit_and_before_page_through_history(self, api: SaverDriver) -> None:
        """limit caps the count and before keeps only checkpoints older than the one named."""
        configs = await self._history(api, "t", 5)
        ids = [c["configurable"]["checkpoint_id"] for c in configs]
        assert [t.checkpoint["id"] for t in await api.list(thread("t"), limit=2)] == [ids[4], ids[3]]
        older = await api.list(thread("t"), before=configs[2])
        assert [t.checkpoint["id"] for t in older] == [ids[1], ids[0]]
        assert [t.checkpoint["id"] for t in await api.list(thread("t"), before=configs[3], limit=1)] == [ids[2]]

    async def test_list_filter_matches_metadata_by_equality(self, api: SaverDriver) -> None:
        """filter keeps checkpoints whose metadata has all the given key/value pairs."""
        await self._history(api, "t", 5)
        listed = await api.list(thread("t"), filter={"source": "loop", "parity": 1})
        assert [t.metadata["step"] for t in listed] == [2, 0]
        assert await api.list(thread("t"), filter={"source": "fork"}) == []
        assert await api.list(thread("t"), filter={"no-such-key": 1}) == []

    async def test_a_dotted_filter_key_reaches_into_nested_metadata(self, api: SaverDriver) -> None:
        """A filter key with dots that the metadata lacks as such is a path into nested dicts;
        a key held as such (dots included) matches as it is."""
        v = api.next_version(None)
        meta = {"source": "loop", "step": 0, "user": {"access-level": "admin", "9x": 1}, "a.b": "flat"}
        saved = await api.put(thread("t"), make_checkpoint({"n": 1}, {"n": v}), meta)
        for found in ({"user.access-level": "admin"}, {"user.9x": 1}, {"a.b": "flat"}):
            assert [t.config for t in await api.list(None, filter=found)] == [saved]
        for missed in ({"user.access-level": "guest"}, {"user.none": 1}, {"source.x": "loop"}):
            assert await api.list(thread("t"), filter=missed) == []

    async def test_put_keeps_the_callers_plain_config_values_in_metadata(self, api: SaverDriver) -> None:
        """Plain values of config["metadata"] and config["configurable"] are stored in the
        metadata (unless it holds the key), addressing and ``__`` keys and objects are not."""
        config: RunnableConfig = {
            "configurable": {"thread_id": "t", "checkpoint_ns": "", "user_id": "u1", "__secret": "x", "obj": [1]},
            "metadata": {"run_id": "r1", "step": 99},
        }
        v = api.next_version(None)
        await api.put(config, make_checkpoint({"n": 1}, {"n": v}), {"source": "loop", "step": 0})
        got = await api.get_tuple(thread("t"))
        assert got is not None
        assert got.metadata == {"source": "loop", "step": 0, "run_id": "r1", "user_id": "u1"}
        assert len(await api.list(None, filter={"user_id": "u1"})) == 1

    async def test_list_without_config_spans_threads(self, api: SaverDriver) -> None:
        """list(None) yields checkpoints of every thread; a thread config only its own."""
        await self._history(api, "a", 2)
        await self._history(api, "b", 3)
        assert len(await api.list(None)) == 5
        assert {t.config["configurable"]["thread_id"] for t in await api.list(None)} == {"a", "b"}
        assert len(await api.list(thread("b"))) == 3

    # --- pending writes ---

    async def test_pending_writes_are_read_with_their_checkpoint(self, api: SaverDriver) -> None:
        """Writes put against a checkpoint come back in pending_writes, in the order they were stored."""
        v = api.next_version(None)
        c1 = await api.put(thread("t"), make_checkpoint({"n": 1}, {"n": v}))
        await api.put_writes(c1, [("n", 2), ("msgs", HumanMessage("hi", id="1"))], "task-a")
        await api.put_writes(c1, [("n", 3)], "task-b", "path-b")
        got = await api.get_tuple(thread("t"))
        assert got is not None
        assert got.pending_writes == [
            ("task-a", "n", 2),
            ("task-a", "msgs", HumanMessage("hi", id="1")),
            ("task-b", "n", 3),
        ]
        assert await api.peek_latest(thread("t")) == (c1["configurable"]["checkpoint_id"], True)

    async def test_repeated_put_writes_does_not_duplicate(self, api: SaverDriver) -> None:
        """Putting the same task's writes twice (a retry) keeps the first copy once."""
        v = api.next_version(None)
        c1 = await api.put(thread("t"), make_checkpoint({"n": 1}, {"n": v}))
        await api.put_writes(c1, [("n", 2)], "task-a")
        await api.put_writes(c1, [("n", 99)], "task-a")
        got = await api.get_tuple(c1)
        assert got is not None and got.pending_writes == [("task-a", "n", 2)]

    async def test_special_writes_replace_earlier_ones(self, api: SaverDriver) -> None:
        """An error or interrupt write replaces the task's earlier write to that special channel."""
        v = api.next_version(None)
        c1 = await api.put(thread("t"), make_checkpoint({"n": 1}, {"n": v}))
        await api.put_writes(c1, [(ERROR, "first failure")], "task-a")
        await api.put_writes(c1, [(ERROR, "second failure")], "task-a")
        await api.put_writes(c1, [(INTERRUPT, ["ask the user"])], "task-b")
        got = await api.get_tuple(c1)
        assert got is not None
        assert got.pending_writes == [("task-a", ERROR, "second failure"), ("task-b", INTERRUPT, ["ask the user"])]

    async def test_writes_belong_to_one_checkpoint(self, api: SaverDriver) -> None:
        """A new checkpoint starts with no pending writes; the old one keeps its own."""
        v = api.next_version(None)
        c1 = await api.put(thread("t"), make_checkpoint({"n": 1}, {"n": v}))
        await api.put_writes(c1, [("n", 2)], "task-a")
        c2 = await api.put(c1, make_checkpoint({"n": 2}, {"n": api.next_version(v)}))
        latest = await api.get_tuple(thread("t"))
        assert latest is not None and latest.pending_writes == []
        assert await api.peek_latest(thread("t")) == (c2["configurable"]["checkpoint_id"], False)
        old = await api.get_tuple(c1)
        assert old is not None and old.pending_writes == [("task-a", "n", 2)]

    async def test_put_step_stores_the_writes_on_the_parent_and_the_child(self, api: SaverDriver) -> None:
        """``put_step``: each task's writes go to the checkpoint the step started from, in task
        order, and the step's checkpoint becomes the latest, with no writes of its own."""
        v = api.next_version(None)
        c1 = await api.put(thread("t"), make_checkpoint({"n": 1}, {"n": v}))
        c2 = await api.put_step(
            c1,
            make_checkpoint({"n": 3}, {"n": api.next_version(v)}),
            [("task-a", "path-a", [("n", 2), ("branch:to:b", None)]), ("task-b", "path-b", [("n", 1)])],
        )
        latest = await api.get_tuple(thread("t"))
        assert latest is not None and latest.config["configurable"]["checkpoint_id"] == c2["configurable"]["checkpoint_id"]
        assert latest.checkpoint["channel_values"] == {"n": 3} and latest.pending_writes == []
        parent = await api.get_tuple(c1)
        assert parent is not None
        assert parent.pending_writes == [("task-a", "n", 2), ("task-a", "branch:to:b", None), ("task-b", "n", 1)]

    async def test_an_older_checkpoint_gets_its_parents_pending_sends(self, api: SaverDriver) -> None:
        """The pending sends migration: a checkpoint of a format before 4 (LangGraph's older ones)
        that has a parent reads the parent's writes to ``TASKS``, in write order, as its ``TASKS``
        value at its highest channel version, in ``get_tuple`` and ``list``; the parent is unchanged."""
        v1 = api.next_version(None)
        v2 = api.next_version(v1)
        c0 = await api.put(thread("t"), make_checkpoint({}, {}, v=1))
        await api.put_writes(c0, [(TASKS, "send-1"), ("other", 0), (TASKS, "send-2")], "task-1")
        await api.put_writes(c0, [(TASKS, {"node": "b", "arg": 3})], "task-2")
        c1 = await api.put(c0, make_checkpoint({"a": 1, "b": 2}, {"a": v1, "b": v2}, v=1))
        sends = ["send-1", "send-2", {"node": "b", "arg": 3}]
        got = await api.get_tuple(c1)
        assert got is not None
        assert got.checkpoint["channel_values"] == {"a": 1, "b": 2, TASKS: sends}
        assert got.checkpoint["channel_versions"] == {"a": v1, "b": v2, TASKS: v2}
        assert got.pending_writes == []
        newest, parent = await api.list(thread("t"))
        assert newest.checkpoint["channel_values"] == {"a": 1, "b": 2, TASKS: sends}
        assert newest.checkpoint["channel_versions"][TASKS] == v2
        assert parent.checkpoint["channel_values"] == {} and parent.checkpoint["channel_versions"] == {}
        assert [w[1] for w in parent.pending_writes or []] == [TASKS, "other", TASKS, TASKS]
        # Without versions of its own, the checkpoint's TASKS gets a first version.
        bare = await api.get_tuple(await api.put(c0, make_checkpoint({}, {}, v=1)))
        assert bare is not None and bare.checkpoint["channel_values"] == {TASKS: sends}
        assert TASKS in bare.checkpoint["channel_versions"]

    async def test_checkpoints_of_the_current_format_get_no_pending_sends(self, api: SaverDriver) -> None:
        """A checkpoint in the engine's format (4), or one without a parent, or whose parent
        has no writes to ``TASKS``, reads as it was stored."""
        v = api.next_version(None)
        c0 = await api.put(thread("t"), make_checkpoint({}, {}, v=1))
        await api.put_writes(c0, [(TASKS, "send-1")], "task-1")
        current = await api.get_tuple(await api.put(c0, make_checkpoint({"a": 1}, {"a": v})))
        assert current is not None and current.checkpoint["channel_values"] == {"a": 1}
        assert current.checkpoint["channel_versions"] == {"a": v}
        root = await api.get_tuple(await api.put(thread("u"), make_checkpoint({"a": 1}, {"a": v}, v=1)))
        assert root is not None and TASKS not in root.checkpoint["channel_values"]
        c1 = await api.put(thread("w"), make_checkpoint({}, {}, v=1))
        await api.put_writes(c1, [("other", 1)], "task-1")
        quiet = await api.get_tuple(await api.put(c1, make_checkpoint({"a": 1}, {"a": v}, v=1)))
        assert quiet is not None and quiet.checkpoint["channel_versions"] == {"a": v}

    # --- delta chains ---

    async def _put_chain(self, api: SaverDriver, values: list[Any]) -> list[RunnableConfig]:
        """Put one checkpoint per item: a list is a full value, a tuple a DeltaValue of its writes."""
        configs: list[RunnableConfig] = []
        config = thread("t")
        version: ChannelVersion | None = None
        for item in values:
            new = api.next_version(version)
            value = DeltaValue(version, tuple(item)) if isinstance(item, tuple) and version is not None else item
            config = await api.put(config, make_checkpoint({"messages": value}, {"messages": new}))
            configs.append(config)
            version = new
        return configs

    async def test_delta_chain_reads_as_snapshot_and_every_write_in_order(self, api: SaverDriver) -> None:
        """A full value followed by deltas reads back as that snapshot plus all their writes, oldest first."""
        m = [HumanMessage(str(i), id=str(i)) for i in range(5)]
        await self._put_chain(api, [[m[0]], ([m[1]],), ([m[2]], [m[3]]), ([m[4]],)])
        got = await api.get_tuple(thread("t"))
        assert got is not None
        value = got.checkpoint["channel_values"]["messages"]
        assert value == m  # the plain value, as LangGraph's savers return it
        assert value.chain == DeltaChain(
            snapshot=[m[0]], writes=([m[1]], [m[2]], [m[3]], [m[4]]), depth=3, has_snapshot=True
        )

    async def test_a_full_value_resets_the_chain(self, api: SaverDriver) -> None:
        """After a full value, the chain starts again from it."""
        configs = await self._put_chain(api, [["a"], (["b"],), ["a", "b"], (["c"],)])
        got = await api.get_tuple(thread("t"))
        assert got is not None
        assert got.checkpoint["channel_values"]["messages"] == ["a", "b", "c"]
        assert got.checkpoint["channel_values"]["messages"].chain == DeltaChain(["a", "b"], (["c"],), 1, True)
        full = await api.get_tuple(configs[2])
        assert full is not None and full.checkpoint["channel_values"]["messages"] == ["a", "b"]

    async def test_earlier_checkpoints_keep_their_own_chain(self, api: SaverDriver) -> None:
        """Reading an older checkpoint replays only the deltas up to it."""
        configs = await self._put_chain(api, [["a"], (["b"],), (["c"],)])
        got = await api.get_tuple(configs[1])
        assert got is not None
        assert got.checkpoint["channel_values"]["messages"] == ["a", "b"]
        assert got.checkpoint["channel_values"]["messages"].chain == DeltaChain(["a"], (["b"],), 1, True)

    async def test_a_delta_on_an_empty_channel_has_no_snapshot(self, api: SaverDriver) -> None:
        """A delta whose base version holds no value reads with has_snapshot False."""
        v1 = api.next_version(None)
        c1 = await api.put(thread("t"), make_checkpoint({}, {"messages": v1}), new_versions={"messages": v1})
        v2 = api.next_version(v1)
        await api.put(c1, make_checkpoint({"messages": DeltaValue(v1, (["x"],))}, {"messages": v2}))
        got = await api.get_tuple(thread("t"))
        assert got is not None
        value = got.checkpoint["channel_values"]["messages"]
        assert value == ["x"]
        assert (value.chain.has_snapshot, value.chain.writes, value.chain.depth) == (False, (["x"],), 1)

    async def test_forks_of_one_checkpoint_keep_separate_chains(self, api: SaverDriver) -> None:
        """Two deltas put on the same parent (a fork) read back independently."""
        configs = await self._put_chain(api, [["root"]])
        base = (await api.get_tuple(configs[0]))
        assert base is not None
        v = base.checkpoint["channel_versions"]["messages"]
        left_v, right_v = api.next_version(v), api.next_version(v)
        left = await api.put(configs[0], make_checkpoint({"messages": DeltaValue(v, (["left"],))}, {"messages": left_v}))
        right = await api.put(configs[0], make_checkpoint({"messages": DeltaValue(v, (["right"],))}, {"messages": right_v}))
        got_left, got_right = await api.get_tuple(left), await api.get_tuple(right)
        assert got_left is not None and got_right is not None
        assert got_left.checkpoint["channel_values"]["messages"] == ["root", "left"]
        assert got_right.checkpoint["channel_values"]["messages"] == ["root", "right"]
        assert got_left.checkpoint["channel_values"]["messages"].chain.writes == (["left"],)
        assert got_right.checkpoint["channel_values"]["messages"].chain.writes == (["right"],)

    async def test_a_stored_chain_is_the_root_of_later_deltas(self, api: SaverDriver) -> None:
        """A DeltaChain put back as a full value (a fork) is extended by later deltas."""
        v1 = api.next_version(None)
        c1 = await api.put(thread("t"), make_checkpoint({"messages": DeltaChain(["a"], (["b"],), 1)}, {"messages": v1}))
        v2 = api.next_version(v1)
        await api.put(c1, make_checkpoint({"messages": DeltaValue(v1, (["c"],))}, {"messages": v2}))
        got = await api.get_tuple(thread("t"))
        assert got is not None
        assert got.checkpoint["channel_values"]["messages"] == ["a", "b", "c"]
        assert got.checkpoint["channel_values"]["messages"].chain == DeltaChain(["a"], (["b"], ["c"]), 2, True)

    async def test_a_value_read_back_and_put_again_keeps_its_chain(self, api: SaverDriver) -> None:
        """A read value put back as it is (a fork) is stored as its chain, not re-serialized in full."""
        await self._put_chain(api, [["a"], (["b"],)])
        read = await api.get_tuple(thread("t"))
        assert read is not None
        v1 = read.checkpoint["channel_versions"]["messages"]
        v2 = api.next_version(v1)
        forked = make_checkpoint({"messages": read.checkpoint["channel_values"]["messages"]}, {"messages": v2})
        c2 = await api.put(read.config, forked)
        v3 = api.next_version(v2)
        await api.put(c2, make_checkpoint({"messages": DeltaValue(v2, (["c"],))}, {"messages": v3}))
        got = await api.get_tuple(thread("t"))
        assert got is not None
        assert got.checkpoint["channel_values"]["messages"] == ["a", "b", "c"]
        assert got.checkpoint["channel_values"]["messages"].chain == DeltaChain(["a"], (["b"], ["c"]), 2, True)

    # --- isolation and deletion ---

    async def test_threads_are_kept_apart(self, api: SaverDriver) -> None:
        """Each thread reads only its own checkpoints."""
        v = api.next_version(None)
        await api.put(thread("a"), make_checkpoint({"who": "a"}, {"who": v}))
        await api.put(thread("b"), make_checkpoint({"who": "b"}, {"who": v}))
        got_a, got_b = await api.get_tuple(thread("a")), await api.get_tuple(thread("b"))
        assert got_a is not None and got_a.checkpoint["channel_values"] == {"who": "a"}
        assert got_b is not None and got_b.checkpoint["channel_values"] == {"who": "b"}

    async def test_namespaces_are_kept_apart(self, api: SaverDriver) -> None:
        """A subgraph namespace of a thread has its own latest checkpoint and history."""
        v = api.next_version(None)
        await api.put(thread("t"), make_checkpoint({"n": "root"}, {"n": v}))
        await api.put(thread("t", "child:1"), make_checkpoint({"n": "child"}, {"n": v}))
        root, child = await api.get_tuple(thread("t")), await api.get_tuple(thread("t", "child:1"))
        assert root is not None and root.checkpoint["channel_values"] == {"n": "root"}
        assert child is not None and child.checkpoint["channel_values"] == {"n": "child"}
        assert child.config["configurable"]["checkpoint_ns"] == "child:1"
        assert len(await api.list(thread("t", "child:1"))) == 1
        assert len(await api.list({"configurable": {"thread_id": "t"}})) == 2

    async def test_delete_thread_removes_it_in_every_namespace(self, api: SaverDriver) -> None:
        """delete_thread removes all of a thread's checkpoints and writes, and nothing of other threads."""
        v = api.next_version(None)
        c1 = await api.put(thread("gone"), make_checkpoint({"n": 1}, {"n": v}))
        await api.put_writes(c1, [("n", 2)], "task")
        await api.put(thread("gone", "sub"), make_checkpoint({"n": 1}, {"n": v}))
        await api.put(thread("kept"), make_checkpoint({"n": 1}, {"n": v}))
        await api.delete_thread("gone")
        assert await api.get_tuple(thread("gone")) is None
        assert await api.get_tuple(thread("gone", "sub")) is None
        assert await api.list({"configurable": {"thread_id": "gone"}}) == []
        assert await api.get_tuple(thread("kept")) is not None
        # The thread id can be used again from scratch.
        await api.put(thread("gone"), make_checkpoint({"n": 5}, {"n": v}))
        again = await api.get_tuple(thread("gone"))
        assert again is not None and again.checkpoint["channel_values"] == {"n": 5} and again.pending_writes == []

    # --- serialization ---

    async def test_values_of_every_supported_type_round_trip(self, api: SaverDriver) -> None:
        """Messages, models, dataclasses, datetimes, UUIDs, sets, enums, bytes, ... read back equal."""
        v = api.next_version(None)
        value = rich_value()
        c1 = await api.put(thread("t"), make_checkpoint({"state": value}, {"state": v}), {"source": "input", "step": -1, "at": value["when"]})
        await api.put_writes(c1, [("state", value)], "task")
        got = await api.get_tuple(thread("t"))
        assert got is not None
        back = got.checkpoint["channel_values"]["state"]
        assert back == value
        assert [type(m) for m in back["messages"]] == [type(m) for m in value["messages"]]
        assert back["messages"][2].tool_calls[0]["id"] == "call-1"
        assert isinstance(back["sets"], tuple) and isinstance(back["span"], Span)
        assert dict(got.metadata)["at"] == value["when"]
        assert got.pending_writes == [("task", "state", value)]

    # --- bad input ---

    async def test_a_config_without_thread_id_is_refused(self, api: SaverDriver) -> None:
        """put, get_tuple, put_writes and peek_latest without a thread_id raise MissingThreadIdError."""
        no_thread: RunnableConfig = {"configurable": {}}
        v = api.next_version(None)
        with pytest.raises(MissingThreadIdError):
            await api.put(no_thread, make_checkpoint({"n": 1}, {"n": v}))
        with pytest.raises(MissingThreadIdError):
            await api.get_tuple(no_thread)
        with pytest.raises(MissingThreadIdError):
            await api.put_writes({"configurable": {"checkpoint_id": "1"}}, [("n", 1)], "task")
        with pytest.raises(MissingThreadIdError):
            await api.peek_latest({})
        assert await api.list(None) == []

    async def test_an_unserializable_value_is_refused_and_nothing_is_written(self, api: SaverDriver) -> None:
        """A value the serializer cannot encode raises SerializationError naming it; the thread is unchanged."""
        v1 = api.next_version(None)
        c1 = await api.put(thread("t"), make_checkpoint({"n": 1}, {"n": v1}))
        v2 = api.next_version(v1)
        bad = make_checkpoint({"n": 2, "fine": "x", "z": {"deep": [object()]}}, {"n": v2, "fine": v2, "z": v2})
        with pytest.raises(SerializationError, match=r"object.*\['deep'\]\[0\]"):
            await api.put(c1, bad)
        got = await api.get_tuple(thread("t"))
        assert got is not None and got.checkpoint["id"] == c1["configurable"]["checkpoint_id"]
        assert got.checkpoint["channel_values"] == {"n": 1}
        assert len(await api.list(thread("t"))) == 1

    async def test_unserializable_writes_are_refused_and_none_are_stored(self, api: SaverDriver) -> None:
        """put_writes with one bad value raises SerializationError and stores none of the task's writes."""
        v = api.next_version(None)
        c1 = await api.put(thread("t"), make_checkpoint({"n": 1}, {"n": v}))
        with pytest.raises(SerializationError):
            await api.put_writes(c1, [("n", 2), ("n", lambda: None)], "task")
        got = await api.get_tuple(c1)
        assert got is not None and got.pending_writes == []
        assert await api.peek_latest(thread("t")) == (c1["configurable"]["checkpoint_id"], False)


class SharedCheckpointerConformance(SharedConcurrencyCases, CheckpointerConformance):
    """The suite for a saver that several processes share (a file, a database server).

    Besides ``saver``, define a ``saver_opener`` fixture: a picklable callable
    (e.g. ``functools.partial(SqliteSaver.from_conn_string, path)``) that opens
    another saver on the same storage as a (sync or async) context manager; the
    suite calls it in other processes.
    """
