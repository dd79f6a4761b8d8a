"""JsonPlusSerializer: typed JSON for checkpoints, never pickle (the rules: see the package docs)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from threadloom.checkpoint.serde._decode import Decoder, check_depth, parse
from threadloom.checkpoint.serde._encode import Unsupported, describe, encode, is_plain
from threadloom.checkpoint.serde._format import MAX_DEPTH, TAG
from threadloom.errors import SerializationError

__all__ = ["JsonPlusSerializer"]

_orjson: Any
try:  # orjson is faster; the stdlib encoder produces the same bytes for our normalised trees
    import orjson as _orjson
except ImportError:  # pragma: no cover - depends on the environment
    _orjson = None

_TAG_BYTES = f'"{TAG}"'.encode()
_dumps_json: Callable[[Any], bytes]

if _orjson is not None:
    _dumps_json = _orjson.dumps
else:  # pragma: no cover - depends on the environment

    def _dumps_json(tree: Any) -> bytes:
        check_depth(tree)  # orjson refuses deeper trees itself
        return json.dumps(tree, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


def _check_plain_depth(tree: Any) -> None:
    """Refuse a plain tree nested deeper than ``MAX_DEPTH``.

    orjson's writer stops at exactly that depth and costs a fraction of the parse,
    far less than walking the tree in Python.
    """
    if _orjson is None:  # pragma: no cover - depends on the environment
        check_depth(tree)
        return
    try:
        _orjson.dumps(tree)
    except TypeError:
        raise SerializationError(f"stored value is nested more than {MAX_DEPTH} levels deep") from None


class JsonPlusSerializer:
    """Typed-JSON serializer for checkpoints (see :mod:`threadloom.checkpoint.serde` for the rules).

    ``allowed_modules`` (module prefixes), when given, narrows which classes load:
    only those of these modules (and registered ones). Loading never imports
    anything either way. LangGraph's ``allowed_json_modules`` and
    ``allowed_msgpack_modules`` are accepted and change nothing (no module a blob
    names is ever imported); ``pickle_fallback=True`` is refused.

    Example::

        from datetime import datetime, timezone
        from langchain_core.messages import AIMessage
        from threadloom.checkpoint.serde.jsonplus import JsonPlusSerializer

        serde = JsonPlusSerializer()
        value = {"at": datetime(2026, 1, 1, tzinfo=timezone.utc), "m": AIMessage("hi", id="1")}
        assert serde.loads_typed(serde.dumps_typed(value)) == value
    """

    def __init__(
        self,
        *,
        allowed_modules: Iterable[str] | None = None,
        pickle_fallback: bool = False,
        allowed_json_modules: Any = None,
        allowed_msgpack_modules: Any = None,
    ) -> None:
        # LangGraph's options for its msgpack/JSON loaders are accepted so its code runs:
        # this serializer loads only the types it knows and never imports what a blob
        # names, which is at least as strict as any allowlist they could give.
        del allowed_json_modules, allowed_msgpack_modules
        if pickle_fallback:
            raise SerializationError(
                "pickle_fallback=True is not supported: threadloom never stores or loads pickle "
                "(a pickle in a checkpoint runs code when loaded); register the type instead"
            )
        self._decoder = Decoder(tuple(allowed_modules or ()))

    def with_modules(self, modules: Iterable[str]) -> JsonPlusSerializer:
        """This serializer, or a copy that also loads classes of ``modules`` when it was
        narrowed with ``allowed_modules`` (an unnarrowed one loads them already)."""
        allowed = self._decoder.allowed
        if not allowed:
            return self
        return JsonPlusSerializer(allowed_modules=(*allowed, *modules))

    def dumps_typed(self, obj: Any) -> tuple[str, bytes]:
        """Encode ``obj``; raises :class:`SerializationError` naming any unsupported part."""
        try:
            return "json", _dumps_json(obj if is_plain(obj) else encode(obj))
        except Unsupported as e:
            raise SerializationError(describe(e)) from None
        except RecursionError:
            raise SerializationError("cannot serialize value: it is nested too deeply or contains itself") from None
        except TypeError as e:  # orjson: too deep, or text that is not valid Unicode (lone surrogates)
            if "Recursion limit" in str(e):
                raise SerializationError(f"cannot serialize value: it is nested more than {MAX_DEPTH} levels deep") from None
            raise SerializationError(f"cannot serialize value: {e}") from None

    def loads_typed(self, data: tuple[str, bytes]) -> Any:
        """Decode ``(type_tag, data)`` written by :meth:`dumps_typed`.

        Any data it cannot load, corrupt or hostile, raises :class:`SerializationError`.
        """
        try:
            type_tag, payload = data
        except (TypeError, ValueError):
            raise SerializationError("stored value is not a (type, data) pair") from None
        if type_tag != "json":
            raise SerializationError(f"unknown serialization type {type_tag!r}")
        if isinstance(payload, str):
            payload = payload.encode("utf-8", "surrogatepass")
        elif isinstance(payload, (memoryview, bytearray)):
            payload = bytes(payload)
        elif not isinstance(payload, bytes):
            raise SerializationError(f"stored data is {type(payload).__name__}, not bytes")
        try:
            tree = parse(payload)
        except (ValueError, TypeError) as e:
            raise SerializationError(f"stored value is corrupt or not JSON: {e}") from None
        if _TAG_BYTES not in payload:  # no tagged object: plain JSON, nothing to revive
            if payload.count(b"[") + payload.count(b"{") > MAX_DEPTH:
                _check_plain_depth(tree)
            return tree
        try:
            return self._decoder.revive(tree)
        except RecursionError:  # the caller's own stack was already deep
            raise SerializationError("stored value is nested too deeply to load here") from None

    # Plain (untyped) helpers, used for metadata that should stay readable JSON.
    def dumps(self, obj: Any) -> bytes:
        """Encode ``obj`` as bytes (the type tag is always ``json``)."""
        return self.dumps_typed(obj)[1]

    def loads(self, data: bytes) -> Any:
        """Decode bytes written by :meth:`dumps`."""
        return self.loads_typed(("json", data))
