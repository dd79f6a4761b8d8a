"""JsonPlusSerializer: typed JSON that round-trips state values and refuses what it cannot keep."""

from __future__ import annotations

import dataclasses
import json
import math
import sys
import types
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    ChatMessage,
    FunctionMessage,
    HumanMessageChunk,
    RemoveMessage,
    ToolMessage,
    ToolMessageChunk,
)
from pydantic import BaseModel, ConfigDict, PrivateAttr

from threadloom.checkpoint.base import DeltaChain, DeltaValue
from threadloom.checkpoint.serde import JsonPlusSerializer, register_type
from threadloom.errors import SerializationError
from threadloom.testing.checkpoint import rich_value


@pytest.fixture
def serde() -> JsonPlusSerializer:
    return JsonPlusSerializer()


def roundtrip(serde: JsonPlusSerializer, value: Any) -> Any:
    return serde.loads_typed(serde.dumps_typed(value))


@dataclasses.dataclass
class Counter:
    """A dataclass whose __post_init__ must not run again on load."""

    n: int
    seen: list[int] = dataclasses.field(default_factory=list)
    doubled: int = dataclasses.field(init=False, default=0)

    def __post_init__(self) -> None:
        self.doubled = self.n * 2
        self.seen.append(self.n)


@dataclasses.dataclass(frozen=True, slots=True)
class Slotted:
    """A frozen dataclass with slots."""

    a: int


class Loose(BaseModel):
    """A pydantic model with extras and a private attribute."""

    model_config = ConfigDict(extra="allow")
    name: str = "x"
    _secret: int = PrivateAttr(default=0)


class Point3:
    """A plain class, supported only through register_type."""

    def __init__(self, x: int) -> None:
        self.x = x

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Point3) and other.x == self.x


def test_every_promised_type_round_trips(serde: JsonPlusSerializer) -> None:
    """The conformance value (messages, models, datetimes, sets, enums, ...) reads back equal and same-typed."""
    value = rich_value()
    back = roundtrip(serde, value)
    assert back == value
    for key in value:
        assert type(back[key]) is type(value[key]), key


def test_every_message_class_round_trips_with_its_fields(serde: JsonPlusSerializer) -> None:
    """Message and chunk classes keep their class, id, tool calls, chunks, extras and kwargs."""
    messages = [
        AIMessage("a", id="1", additional_kwargs={"k": [1]}, response_metadata={"model": "m"}, custom=5),
        AIMessageChunk("b", id="2", tool_call_chunks=[{"name": "f", "args": '{"a"', "id": "c", "index": 0}]),
        HumanMessageChunk("c"),
        ChatMessage("d", role="critic"),
        FunctionMessage("e", name="fn"),
        ToolMessage("f", tool_call_id="c", status="error"),
        ToolMessageChunk("g", tool_call_id="c"),
        RemoveMessage(id="1"),
    ]
    back = roundtrip(serde, messages)
    assert back == messages
    assert [type(m) for m in back] == [type(m) for m in messages]
    assert back[0].custom == 5
    assert back[1].tool_call_chunks[0]["args"] == '{"a"'


def test_message_chunks_still_add_after_loading(serde: JsonPlusSerializer) -> None:
    """Loaded chunks behave like fresh ones (they concatenate)."""
    a, b = roundtrip(serde, [AIMessageChunk("he", id="1"), AIMessageChunk("llo", id="1")])
    assert (a + b).content == "hello"


def test_aware_datetimes_keep_their_zone(serde: JsonPlusSerializer) -> None:
    """A datetime with a ZoneInfo zone reads back with that zone, not just its offset."""
    when = datetime(2026, 11, 1, 1, 30, tzinfo=ZoneInfo("America/New_York"), fold=1)
    back = roundtrip(serde, when)
    assert back == when and back.tzinfo == ZoneInfo("America/New_York") and back.fold == 1


def test_special_numbers_and_keys_keep_their_types(serde: JsonPlusSerializer) -> None:
    """NaN, infinities, huge ints, int and tuple keys, and our tag as a key are kept exactly."""
    back = roundtrip(serde, {"nan": float("nan"), "ninf": -math.inf, "huge": -(2**100), 7: (1,), "__tl": "x"})
    assert math.isnan(back["nan"]) and back["ninf"] == -math.inf and back["huge"] == -(2**100)
    assert back[7] == (1,) and back["__tl"] == "x"


def test_dataclasses_load_through_their_init(serde: JsonPlusSerializer) -> None:
    """A dataclass is rebuilt by calling it with its __init__ fields: __post_init__ runs again.

    ``doubled`` (init=False) is not stored but recomputed; ``seen`` shows that a
    non-idempotent __post_init__ sees the stored fields (register such classes
    with to_data/from_data).
    """
    back = roundtrip(serde, [Counter(3), Slotted(1)])
    assert back[0].doubled == 6 and back[0].seen == [3, 3]
    assert back[1] == Slotted(1)


def test_pydantic_extras_private_and_fields_set_are_kept(serde: JsonPlusSerializer) -> None:
    """A pydantic model keeps its extra fields, private attributes and which fields were set."""
    model = Loose(other=1)
    model._secret = 42
    back = roundtrip(serde, model)
    assert back == model and back.other == 1 and back._secret == 42
    assert back.model_dump(exclude_unset=True) == {"other": 1}


def test_delta_types_round_trip(serde: JsonPlusSerializer) -> None:
    """DeltaValue and DeltaChain (threadloom's own dataclasses) round-trip."""
    value = [DeltaValue(1.5, (["a"],)), DeltaChain(["s"], (["w"],), 1, True)]
    assert roundtrip(serde, value) == value


def test_output_is_plain_json(serde: JsonPlusSerializer) -> None:
    """Stored bytes are JSON that any tool can read; plain values are stored as themselves."""
    type_tag, data = serde.dumps_typed({"a": [1, "x", None, True]})
    assert type_tag == "json"
    assert json.loads(data) == {"a": [1, "x", None, True]}


def test_unsupported_type_names_the_type_and_its_path(serde: JsonPlusSerializer) -> None:
    """An unsupported value raises SerializationError naming its type and where it is."""
    with pytest.raises(SerializationError, match=r"builtins\.builtin_function_or_method at value\['m'\]\[1\]\.additional_kwargs\['fn'\]"):
        serde.dumps_typed({"m": [AIMessage("a"), AIMessage("b", additional_kwargs={"fn": len})]})


def test_subclasses_of_builtins_are_not_silently_coerced(serde: JsonPlusSerializer) -> None:
    """A str or dict subclass is refused rather than stored as its base type."""

    class Tagged(str):
        pass

    with pytest.raises(SerializationError, match="Tagged"):
        serde.dumps_typed(Tagged("x"))


def test_classes_defined_in_functions_are_refused_at_write_time(serde: JsonPlusSerializer) -> None:
    """A dataclass defined inside a function cannot be re-imported, so writing it fails."""

    @dataclasses.dataclass
    class Local:
        a: int

    with pytest.raises(SerializationError, match="inside a function"):
        serde.dumps_typed({"x": Local(1)})


def test_cyclic_values_are_refused(serde: JsonPlusSerializer) -> None:
    """A value that contains itself raises SerializationError, not a crash."""
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(SerializationError, match="contains itself"):
        serde.dumps_typed(loop)


def test_loading_never_imports_unknown_modules(serde: JsonPlusSerializer) -> None:
    """A stored class from a module that is not imported (and not allowed) is refused, not imported."""
    payload = json.dumps({"__tl": "dc", "c": "some_unimported_module_xyz:Thing", "v": {}}).encode()
    with pytest.raises(SerializationError, match="not imported"):
        serde.loads_typed(("json", payload))
    assert "some_unimported_module_xyz" not in sys.modules


def test_loading_refuses_classes_of_the_wrong_kind(serde: JsonPlusSerializer) -> None:
    """A stored name that resolves to a function or a non-dataclass class is refused."""
    for name in ("os:system", "subprocess:Popen"):
        payload = json.dumps({"__tl": "dc", "c": name, "v": {}}).encode()
        with pytest.raises(SerializationError):
            serde.loads_typed(("json", payload))


def test_corrupt_data_raises_serialization_error(serde: JsonPlusSerializer) -> None:
    """Truncated bytes, unknown tags and unknown type tags raise SerializationError."""
    with pytest.raises(SerializationError):
        serde.loads_typed(("json", b'{"a": [1, 2'))
    with pytest.raises(SerializationError, match="newer"):
        serde.loads_typed(("json", b'{"__tl": "future-kind"}'))
    with pytest.raises(SerializationError):
        serde.loads_typed(("pickle", b"\x80"))


def test_registered_types_round_trip_through_their_converters(serde: JsonPlusSerializer) -> None:
    """register_type(cls, to_data=, from_data=) makes a plain class storable."""
    register_type(Point3, to_data=lambda p: p.x, from_data=Point3)
    assert roundtrip(serde, {"p": Point3(4)}) == {"p": Point3(4)}


def test_registered_dataclasses_load_from_modules_not_yet_imported(serde: JsonPlusSerializer) -> None:
    """A registered dataclass loads even when its module is no longer in sys.modules."""
    module = types.ModuleType("tl_fake_user_models")
    sys.modules["tl_fake_user_models"] = module
    try:
        exec("import dataclasses\n@dataclasses.dataclass\nclass Note:\n    text: str\n", module.__dict__)
        data = serde.dumps_typed(module.Note("hi"))
        register_type(module.Note)
    finally:
        del sys.modules["tl_fake_user_models"]
    assert roundtrip(serde, module.Note("x")).text == "x"
    assert JsonPlusSerializer().loads_typed(data).text == "hi"


def test_register_type_checks_its_arguments() -> None:
    """register_type needs a class, and both converters or neither."""
    with pytest.raises(TypeError):
        register_type(len)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        register_type(Point3, to_data=lambda p: p.x)


def test_engine_types_round_trip(serde: JsonPlusSerializer) -> None:
    """threadloom.types Send, Command and Interrupt round-trip (Send is a plain slotted class)."""
    from threadloom.types import Command, Interrupt, Send

    value = [Send("worker", {"item": (1, 2)}), Command(update={"x": 1}, goto="n"), Interrupt("ask?")]
    back = roundtrip(serde, value)
    assert back == value and [type(v) for v in back] == [Send, Command, Interrupt]


class Unregistered:
    """A plain user class nobody registers."""

    def __init__(self) -> None:
        self.a = 1


def test_plain_classes_outside_threadloom_are_refused(serde: JsonPlusSerializer) -> None:
    """A plain class from the user's code is refused at write time with a hint to register it."""
    with pytest.raises(SerializationError, match=r"Unregistered at value\[0\]: .*register_type"):
        serde.dumps_typed([Unregistered()])


@pytest.mark.parametrize(
    "tricky",
    [float("inf"), 2**64, (1, 2), {1: "a"}, {"__tl": 1}, b"bytes", {"x"}],
    ids=["inf", "huge-int", "tuple", "int-key", "tag-key", "bytes", "set"],
)
def test_values_that_look_plain_at_the_top_keep_their_types_deep_inside(serde: JsonPlusSerializer, tricky: Any) -> None:
    """A non-JSON value nested deep in plain lists and dicts still reads back with its exact type."""
    value = {"a": [1, "x", {"b": [None, True, 2.5, {"c": tricky}]}]}
    back = roundtrip(serde, value)
    assert back == value and type(back["a"][2]["b"][3]["c"]) is type(tricky)


def test_sentinels_come_back_as_the_same_object(serde: JsonPlusSerializer) -> None:
    """A module-level instance of a threadloom class (the MISSING sentinel) loads as that very object."""
    from threadloom.channels.base import MISSING

    assert roundtrip(serde, {"v": MISSING})["v"] is MISSING


def test_message_text_is_stored_as_its_text(serde: JsonPlusSerializer) -> None:
    """``message.text`` (langchain-core's callable str subclass) is stored and loads as a plain str."""
    text = AIMessage("hello").text
    back = roundtrip(serde, {"t": text})["t"]
    assert back == "hello" and type(back) is str
