"""Loading a blob costs time linear in its size: hash floods, deep nesting and huge numbers are refused."""

from __future__ import annotations

import json
import random
import time
from typing import Any
from uuid import UUID

import pytest

from threadloom.checkpoint.serde import JsonPlusSerializer
from threadloom.errors import SerializationError

P = 2**61 - 1  # CPython hashes integers modulo this prime: k * P + 1 all hash to 1


@pytest.fixture
def serde() -> JsonPlusSerializer:
    return JsonPlusSerializer()


def load(serde: JsonPlusSerializer, tree: Any) -> Any:
    return serde.loads_typed(("json", json.dumps(tree).encode()))


def colliding_ints(n: int) -> list[dict[str, str]]:
    return [{"__tl": "int", "v": str(k * P + 1)} for k in range(1, n + 1)]


@pytest.mark.parametrize(
    "tree",
    [
        {"__tl": "set", "v": colliding_ints(40_000)},
        {"__tl": "fset", "v": colliding_ints(40_000)},
        {"__tl": "dict", "v": [[k, 0] for k in colliding_ints(40_000)]},
        {"__tl": "set", "v": [{"__tl": "uuid", "v": UUID(int=k * P + 1).hex} for k in range(1, 40_001)]},
        {"__tl": "set", "v": [{"__tl": "tuple", "v": [k]} for k in colliding_ints(40_000)]},
    ],
    ids=["set", "frozenset", "dict-keys", "uuids", "tuples"],
)
def test_a_hash_flood_is_refused_quickly(serde: JsonPlusSerializer, tree: Any) -> None:
    """A 1 MB blob of 40,000 distinct values with one hash (8.5 s to load before, ~100x an
    ordinary set of that size) is refused at a cost of the order of loading an ordinary one.

    Costs are compared as CPU time within this process, so a busy machine slows both sides."""
    data = json.dumps(tree).encode()
    assert len(data) > 1_000_000
    ordinary = json.dumps({"__tl": "set", "v": [{"__tl": "int", "v": str(k)} for k in range(40_000)]})
    started = time.process_time()
    serde.loads_typed(("json", ordinary.encode()))
    baseline = time.process_time() - started
    started = time.process_time()
    with pytest.raises(SerializationError, match="one hash"):
        serde.loads_typed(("json", data))
    assert time.process_time() - started < 20 * baseline + 0.2


def test_large_real_sets_and_int_keyed_dicts_still_load(serde: JsonPlusSerializer) -> None:
    """Ordinary big sets and dicts (random big ints, small ints, text) are not mistaken for a flood."""
    rng = random.Random(7)
    value = {
        "big": {rng.getrandbits(100) for _ in range(40_000)},
        "small": frozenset(range(-20_000, 20_000)),
        "keys": {i: str(i) for i in range(40_000)},
        "text": {f"item-{i}" for i in range(40_000)},
    }
    assert serde.loads_typed(serde.dumps_typed(value)) == value


@pytest.mark.parametrize("depth", [255, 1_000, 100_000])
def test_over_deep_nesting_is_a_serialization_error(serde: JsonPlusSerializer, depth: int) -> None:
    """Nesting deeper than 254 levels, plain or around a tag, is refused (never a RecursionError)."""
    for inner in (b"1", b'{"__tl": "set", "v": []}'):
        with pytest.raises(SerializationError, match=r"nested|depth"):
            serde.loads_typed(("json", b"[" * depth + inner + b"]" * depth))


def test_the_deepest_writable_value_loads_and_deeper_ones_are_refused_on_write(serde: JsonPlusSerializer) -> None:
    """What can be written can be read: 254 levels round-trip; 255 are refused at write time."""
    value: Any = (1,)
    for _ in range(126):  # a tuple is two JSON levels: {"__tl": "tuple", "v": [...]}
        value = [value]
    assert serde.loads_typed(serde.dumps_typed(value)) == value
    too_deep: Any = 1
    for _ in range(255):
        too_deep = [too_deep]
    with pytest.raises(SerializationError, match="254 levels"):
        serde.dumps_typed(too_deep)


def test_numbers_are_bounded(serde: JsonPlusSerializer) -> None:
    """A stored int or Decimal longer than 4300 digits is refused; a timedelta out of range is a SerializationError."""
    assert load(serde, {"__tl": "int", "v": "9" * 4300}) == int("9" * 4300)
    for tree in (
        {"__tl": "int", "v": "9" * 5000},
        {"__tl": "dec", "v": "9" * 5000},
        {"__tl": "td", "v": [10**10, 0, 0]},
        {"__tl": "float", "v": "1e999"},
    ):
        with pytest.raises(SerializationError):
            load(serde, tree)
