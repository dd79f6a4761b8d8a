"""Loading never imports a module, and never runs a code path of an application class that a blob chooses."""

from __future__ import annotations

import dataclasses
import enum
import json
import os
import pkgutil
import subprocess
import sys
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from hostile import CONFIG, seed, sqlite_rows
from langchain_core.messages import AIMessage
from pydantic import BaseModel, ConfigDict, PrivateAttr, field_validator, model_validator

from threadloom.checkpoint.serde import JsonPlusSerializer, register_type
from threadloom.checkpoint.sqlite import SqliteSaver
from threadloom.errors import SerializationError
from threadloom.types import Send

KINDS = ["dc", "pyd", "enum", "nt", "obj", "const", "reg", "lc"]


@pytest.fixture
def serde() -> JsonPlusSerializer:
    return JsonPlusSerializer()


def load(serde: JsonPlusSerializer, tree: Any) -> Any:
    return serde.loads_typed(("json", json.dumps(tree).encode()))


def module_names(package: str) -> list[str]:
    """Every module under ``package``, found on disk by name only (nothing is imported)."""
    names: list[str] = []

    def walk(paths: list[str], prefix: str) -> None:
        for info in pkgutil.iter_modules(paths, prefix):
            names.append(info.name)
            if info.ispkg:
                folder = os.path.join(info.module_finder.path, info.name.rpartition(".")[2])  # type: ignore[union-attr]
                walk([folder], info.name + ".")

    walk(list(sys.modules[package].__path__), package + ".")
    return names


def test_no_stored_class_path_imports_anything(serde: JsonPlusSerializer) -> None:
    """Every module of threadloom and langchain_core, named as a class path of every kind, imports nothing and is refused."""
    names = module_names("threadloom") + module_names("langchain_core")
    assert "threadloom.cli.__main__" in names and len(names) > 200
    before = set(sys.modules)
    for name in names:
        parent, _, child = name.rpartition(".")
        for path in (f"{name}:Thing", f"{name}:__main__", f"{parent}:{child}"):
            for kind in KINDS:
                with pytest.raises(SerializationError):
                    load(serde, {"__tl": kind, "c": path, "v": {}})
    assert set(sys.modules) - before == set()


def test_a_cli_main_class_path_in_a_sqlite_file_runs_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The blob that once ran the CLI inside the host process is refused by get_tuple; the module stays unimported."""
    monkeypatch.delitem(sys.modules, "threadloom.cli.__main__", raising=False)
    path = str(tmp_path / "threads.db")
    with SqliteSaver.from_conn_string(path) as saver:
        saver.setup()
        seed(saver)
        rows = sqlite_rows(path)
        blob = json.dumps({"__tl": "obj", "c": "threadloom.cli.__main__:x", "v": {}}).encode()
        for payload in rows.payloads():
            if payload.kind in ("channel data", "metadata"):
                rows.replace(payload, "json", blob)
        with pytest.raises(SerializationError, match=r"threadloom\.cli\.__main__"):
            saver.get_tuple(CONFIG)
    assert "threadloom.cli.__main__" not in sys.modules


def test_importing_the_cli_main_module_does_nothing() -> None:
    """``import threadloom.cli.__main__`` has no side effect (it runs the CLI only as ``python -m``)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run([sys.executable, "-c", "import threadloom.cli.__main__; print('imported')"], capture_output=True, text=True, env=env, timeout=120)
    assert (done.returncode, done.stdout, done.stderr) == (0, "imported\n", "")


def test_lazy_module_attributes_are_not_reached(serde: JsonPlusSerializer) -> None:
    """A class path through a package's lazy ``__getattr__`` is refused without importing the submodule."""
    import langchain_core.messages

    lazy = [n for n in langchain_core.messages.__all__ if n not in vars(langchain_core.messages)]
    assert lazy  # names the package imports only when asked for them
    before = set(sys.modules)
    for name in lazy[:50]:
        with pytest.raises(SerializationError):
            load(serde, {"__tl": "pyd", "c": f"langchain_core.messages:{name}", "v": {}})
    assert set(sys.modules) - before == set()


# --- one rule for building objects: the class's own constructor, declared fields only ---------

CALLS: list[str] = []


@dataclasses.dataclass
class SafePath:
    """A dataclass whose __post_init__ refuses system paths."""

    path: str

    def __post_init__(self) -> None:
        CALLS.append("post_init")
        if self.path.startswith("/etc"):
            raise ValueError("system path")

    @property
    def target(self) -> str:
        return self.path

    @target.setter
    def target(self, value: str) -> None:
        CALLS.append("setter")


class SafeModel(BaseModel):
    """A pydantic model with a field validator, a model validator and a private attribute."""

    model_config = ConfigDict(validate_assignment=True)
    path: str
    tags: list[str] = []
    _note: str = PrivateAttr(default="")

    @field_validator("path")
    @classmethod
    def no_system_paths(cls, value: str) -> str:
        if value.startswith("/etc"):
            raise ValueError("system path")
        return value.strip()

    @model_validator(mode="after")
    def count(self) -> SafeModel:
        CALLS.append("model_validator")
        return self

    @property
    def upper(self) -> str:
        return self.path.upper()

    @upper.setter
    def upper(self, value: str) -> None:
        CALLS.append("setter")


class Mood(enum.Enum):
    """An enum whose _missing_ would accept anything."""

    CALM = "calm"

    @classmethod
    def _missing_(cls, value: object) -> Mood:
        CALLS.append("missing")
        return cls.CALM


class Perm(enum.Flag):
    """A flag enum: combinations of members are values too."""

    R = 1
    W = 2


class Pair(NamedTuple):
    """A named tuple."""

    a: int
    b: int


@pytest.fixture(autouse=True)
def _clear_calls() -> None:
    CALLS.clear()


def test_dataclasses_are_built_by_their_init_so_post_init_validates(serde: JsonPlusSerializer) -> None:
    """A stored dataclass goes through __init__/__post_init__: a value it rejects is refused."""
    value = SafePath("/tmp/x")
    CALLS.clear()
    assert serde.loads_typed(serde.dumps_typed(value)) == value
    assert CALLS == ["post_init"]
    with pytest.raises(SerializationError, match="system path"):
        load(serde, {"__tl": "dc", "c": f"{__name__}:SafePath", "v": {"path": "/etc/shadow"}})


def test_dataclass_fields_the_class_does_not_declare_are_refused(serde: JsonPlusSerializer) -> None:
    """A stored field that is a property, a dunder or unknown is refused; no setter runs."""
    for field in ("target", "__class__", "__dict__", "other"):
        with pytest.raises(SerializationError, match="undeclared"):
            load(serde, {"__tl": "dc", "c": f"{__name__}:SafePath", "v": {"path": "/tmp", field: "x"}})
    assert "setter" not in CALLS


def test_dataclass_without_a_required_field_is_refused(serde: JsonPlusSerializer) -> None:
    """A stored dataclass missing a required field fails in its constructor, as a SerializationError."""
    with pytest.raises(SerializationError):
        load(serde, {"__tl": "dc", "c": f"{__name__}:SafePath", "v": {}})


def test_pydantic_models_are_validated_on_load(serde: JsonPlusSerializer) -> None:
    """A stored model goes through model_validate: field and model validators run, rejected values are refused."""
    model = SafeModel(path="/tmp/a")
    model._note = "kept"
    back = serde.loads_typed(serde.dumps_typed(model))
    assert back == model and back._note == "kept" and CALLS == ["model_validator", "model_validator"]
    with pytest.raises(SerializationError, match="system path"):
        load(serde, {"__tl": "pyd", "c": f"{__name__}:SafeModel", "v": {"path": "/etc/shadow"}})


def test_pydantic_undeclared_fields_privates_and_extras_are_refused(serde: JsonPlusSerializer) -> None:
    """Unknown fields, properties, undeclared private names and extras of a non-extra model are refused; no setter runs."""
    name = f"{__name__}:SafeModel"
    bad = [
        {"v": {"path": "/tmp", "upper": "X"}},
        {"v": {"path": "/tmp"}, "p": {"upper": "X"}},
        {"v": {"path": "/tmp"}, "p": {"path": "/etc/shadow"}},
        {"v": {"path": "/tmp"}, "x": {"extra": 1}},
        {"v": {"path": "/tmp"}, "s": ["nope"]},
    ]
    for case in bad:
        with pytest.raises(SerializationError):
            load(serde, {"__tl": "pyd", "c": name, **case})
    assert "setter" not in CALLS


def test_pydantic_base_model_itself_is_not_a_storable_model(serde: JsonPlusSerializer) -> None:
    """``pydantic.main:BaseModel`` (no fields, not a user's model) loads as an empty model or is refused, never crashes."""
    try:
        load(serde, {"__tl": "pyd", "c": "pydantic.main:BaseModel", "v": {"a": 1}})
    except SerializationError:
        pass
    else:
        pytest.fail("a field BaseModel does not declare was accepted")


def test_enums_load_only_declared_members(serde: JsonPlusSerializer) -> None:
    """A stored enum value must be a member's value: _missing_ is never asked; Flag combinations still load."""
    assert serde.loads_typed(serde.dumps_typed(Mood.CALM)) is Mood.CALM
    with pytest.raises(SerializationError, match="not a member"):
        load(serde, {"__tl": "enum", "c": f"{__name__}:Mood", "v": "furious"})
    assert CALLS == []
    assert serde.loads_typed(serde.dumps_typed(Perm.R | Perm.W)) == Perm.R | Perm.W


def test_named_tuples_need_exactly_their_fields(serde: JsonPlusSerializer) -> None:
    """A stored named tuple with too few or too many items, or not a list, is refused."""
    assert serde.loads_typed(serde.dumps_typed(Pair(1, 2))) == Pair(1, 2)
    for v in ([1], [1, 2, 3], {"a": 1, "b": 2}):
        with pytest.raises(SerializationError):
            load(serde, {"__tl": "nt", "c": f"{__name__}:Pair", "v": v})


def test_plain_threadloom_types_are_a_fixed_list_built_by_their_constructor(serde: JsonPlusSerializer) -> None:
    """Send loads through Send(node, arg); extra attributes, other threadloom classes and constants are refused."""
    assert serde.loads_typed(serde.dumps_typed(Send("n", {"a": 1}))) == Send("n", {"a": 1})
    refused = [
        {"__tl": "obj", "c": "threadloom.types:Send", "v": {"node": "n", "arg": 1, "__dict__": {}}},
        {"__tl": "obj", "c": "threadloom.checkpoint.sqlite:SqliteSaver", "v": {"conn": "x.db"}},
        {"__tl": "const", "c": "os:environ"},
        {"__tl": "const", "c": "threadloom.channels.base:shallow_copy"},
    ]
    for tree in refused:
        with pytest.raises(SerializationError):
            load(serde, tree)


def test_registered_converters_are_the_only_code_for_their_type(serde: JsonPlusSerializer) -> None:
    """A registered class loads through from_data only; its failure is a SerializationError."""

    class Box:
        def __init__(self, v: int) -> None:
            if v < 0:
                raise ValueError("negative")
            self.v = v

    register_type(Box, name="tests.Box", to_data=lambda b: b.v, from_data=Box)
    assert serde.loads_typed(serde.dumps_typed(Box(3))).v == 3
    with pytest.raises(SerializationError, match="negative"):
        load(serde, {"__tl": "reg", "c": "tests.Box", "v": -1})


def test_messages_are_validated_like_models(serde: JsonPlusSerializer) -> None:
    """A stored message is built by model_validate: junk fields or missing content are refused."""
    message = AIMessage("hi", id="1", tool_calls=[{"name": "f", "args": {}, "id": "c", "type": "tool_call"}])
    assert serde.loads_typed(serde.dumps_typed(message)) == message
    for v in ({"junk": 1}, {"content": 5, "type": "ai"}, {"content": "x", "type": "ai", "tool_calls": "nope"}):
        with pytest.raises(SerializationError):
            load(serde, {"__tl": "lc", "c": "AIMessage", "v": v})


def test_allowed_modules_narrows_which_classes_load() -> None:
    """With allowed_modules, only classes of those modules (and registered ones) load; nothing is imported."""
    stored = JsonPlusSerializer().dumps_typed(Pair(1, 2))
    assert JsonPlusSerializer(allowed_modules=[__name__]).loads_typed(stored) == Pair(1, 2)
    with pytest.raises(SerializationError, match="allowed_modules"):
        JsonPlusSerializer(allowed_modules=["myapp"]).loads_typed(stored)


def test_langgraph_loader_options_are_accepted_and_never_widen_loading() -> None:
    """``allowed_msgpack_modules``/``allowed_json_modules`` (even ``True``: "any module")
    change nothing: a blob naming an unknown module still loads nothing. Pickle is refused."""
    stored = JsonPlusSerializer().dumps_typed(Pair(1, 2))
    options_tried: list[dict[str, Any]] = [
        {"allowed_msgpack_modules": None},
        {"allowed_msgpack_modules": True},
        {"allowed_json_modules": [("os", "system")]},
    ]
    for options in options_tried:
        serde = JsonPlusSerializer(**options)
        assert serde.loads_typed(stored) == Pair(1, 2)
        with pytest.raises(SerializationError):
            load(serde, {"__tl": "obj", "m": "os", "c": "system", "v": {}})
    with pytest.raises(SerializationError, match="pickle"):
        JsonPlusSerializer(pickle_fallback=True)


def test_with_allowlist_copies_the_saver_and_widens_only_a_narrowed_serializer() -> None:
    """``saver.with_allowlist(pairs)`` returns a copy; its serializer loads those modules'
    classes too when it had been narrowed with ``allowed_modules``."""
    from threadloom.checkpoint.memory import InMemorySaver

    stored = JsonPlusSerializer().dumps_typed(Pair(1, 2))
    narrowed = InMemorySaver(serde=JsonPlusSerializer(allowed_modules=["myapp"]))
    with pytest.raises(SerializationError):
        narrowed.serde.loads_typed(stored)
    widened = narrowed.with_allowlist([(__name__, "Pair")])
    assert type(widened) is InMemorySaver and widened is not narrowed
    assert widened.serde.loads_typed(stored) == Pair(1, 2)
    with pytest.raises(SerializationError):
        narrowed.serde.loads_typed(stored)  # the original is unchanged
    plain = InMemorySaver()
    assert plain.with_allowlist([(__name__, "Pair")]).serde is plain.serde
