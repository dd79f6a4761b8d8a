"""The server's configuration: a ``langgraph.json``-compatible file, and loading its graphs."""

from __future__ import annotations

import copy
import importlib
import importlib.util
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from threadloom.errors import ServerConfigError

__all__ = ["ServerConfig", "load_config", "load_graph", "load_object"]


@dataclass
class ServerConfig:
    """What ``langgraph.json`` says, in the parts threadloom serves.

    ``graphs`` maps a graph id to ``"path/to/file.py:attribute"`` (or
    ``"package.module:attribute"``), or to the graph object itself; ``store_index``
    and ``store_ttl`` configure the store as ``IndexConfig``/``TTLConfig`` do;
    ``auth`` is an ``Auth`` object, a ``"file.py:attribute"`` path to one, or ``None``;
    ``api_keys`` maps API keys to the identity of the user each one authenticates.
    """

    graphs: dict[str, Any]
    base_dir: Path = field(default_factory=Path.cwd)
    env: dict[str, str] = field(default_factory=dict)
    store_index: dict[str, Any] | None = None
    store_ttl: dict[str, Any] | None = None
    checkpointer_ttl: dict[str, Any] | None = None
    auth: Any = None
    api_keys: dict[str, str] = field(default_factory=dict)
    max_body_bytes: int = 10 * 1024 * 1024

    def __post_init__(self) -> None:
        if not isinstance(self.graphs, dict) or not self.graphs:
            raise ServerConfigError(
                'the config names no graphs: give \'graphs\': {"id": "file.py:graph"}'
            )
        for graph_id in self.graphs:
            if not isinstance(graph_id, str) or not graph_id:
                raise ServerConfigError(f"graph ids must be non-empty strings, got {graph_id!r}")
        for key, identity in self.api_keys.items():
            if not key or not isinstance(identity, str) or not identity:
                raise ServerConfigError("api_keys must map non-empty keys to non-empty identities")


def _read_env(value: Any, base_dir: Path) -> dict[str, str]:
    if value is None:
        return {}
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items()}
    if isinstance(value, str):  # a .env file: KEY=VALUE lines
        path = base_dir / value
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise ServerConfigError(f"cannot read the env file {path}: {exc}") from exc
        env = {}
        for line in lines:
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                key, _, val = line.partition("=")
                env[key.strip()] = val.strip().strip("'\"")
        return env
    raise ServerConfigError(f"'env' must be an object or a file name, got {type(value).__name__}")


def load_config(path: str | os.PathLike[str]) -> ServerConfig:
    """Read a ``langgraph.json``-compatible file; raise :class:`ServerConfigError` if unusable."""
    file = Path(path)
    try:
        raw = json.loads(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ServerConfigError(f"cannot read the config file {file}: {exc}") from exc
    except ValueError as exc:
        raise ServerConfigError(f"{file} is not valid JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise ServerConfigError(f"{file} must hold a JSON object")
    base_dir = file.resolve().parent
    store = raw.get("store") or {}
    checkpointer = raw.get("checkpointer") or {}
    auth = raw.get("auth") or {}
    if not all(isinstance(x, dict) for x in (store, checkpointer, auth)):
        raise ServerConfigError("'store', 'checkpointer' and 'auth' must be JSON objects")
    return ServerConfig(
        graphs=dict(raw.get("graphs") or {}),
        base_dir=base_dir,
        env=_read_env(raw.get("env"), base_dir),
        store_index=store.get("index"),
        store_ttl=store.get("ttl"),
        checkpointer_ttl=checkpointer.get("ttl"),
        auth=auth.get("path"),
        api_keys=dict(auth.get("api_keys") or {}),
    )


def load_object(spec: str, base_dir: Path) -> Any:
    """The object a ``"file.py:name"`` or ``"package.module:name"`` spec points at."""
    target, sep, name = spec.rpartition(":")
    if not sep or not target or not name:
        raise ServerConfigError(f"{spec!r} must look like 'path/to/file.py:name'")
    try:
        if target.endswith(".py") or "/" in target:
            path = (base_dir / target).resolve()
            module_name = f"threadloom_user_{abs(hash(str(path)))}"
            module_spec = importlib.util.spec_from_file_location(module_name, path)
            if module_spec is None or module_spec.loader is None or not path.exists():
                raise ServerConfigError(f"no Python file at {path} (from {spec!r})")
            module = importlib.util.module_from_spec(module_spec)
            sys.modules[module_name] = module  # dataclasses and pickling look modules up here
            module_spec.loader.exec_module(module)
        else:
            module = importlib.import_module(target)
    except ServerConfigError:
        raise
    except Exception as exc:
        raise ServerConfigError(f"cannot load {spec!r}: {type(exc).__name__}: {exc}") from exc
    try:
        return getattr(module, name)
    except AttributeError:
        raise ServerConfigError(f"{target} has no attribute {name!r} (from {spec!r})") from None


def load_graph(spec: Any, base_dir: Path, *, checkpointer: Any, store: Any) -> Any:
    """A compiled graph for ``spec``, persisting with ``checkpointer`` and ``store``.

    ``spec`` (or the object it names) may be a compiled graph, a builder with
    ``compile()``, or a function of no arguments returning either.
    """
    obj = load_object(spec, base_dir) if isinstance(spec, str) else spec
    if callable(obj) and not hasattr(obj, "invoke") and not hasattr(obj, "compile"):
        obj = obj()
    if hasattr(obj, "compile") and not hasattr(obj, "invoke"):
        return obj.compile(checkpointer=checkpointer, store=store)
    if not hasattr(obj, "stream") or not hasattr(obj, "get_state"):
        raise ServerConfigError(f"{spec!r} is not a graph (got {type(obj).__name__})")
    # A copy, so the user's module-level graph keeps its own persistence settings.
    graph = copy.copy(obj)
    graph.checkpointer = checkpointer
    graph.store = store
    return graph
