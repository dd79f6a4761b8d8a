"""Rules for text and sizes that every store backend shares (docs/store.md, "What a store accepts").

* **Text.** Every string a store keeps or compares must be valid Unicode
  without NUL. PostgreSQL ``text`` and ``jsonb`` cannot hold ``U+0000``, and a
  lone surrogate (``U+D800``..``U+DFFF`` outside a pair, which a Python ``str``
  can hold) has no UTF-8 form, so no database can store either faithfully.
  They are refused on every backend, the in-memory one included, before
  anything runs: reads too, since what cannot be stored cannot be found.
* **Namespaces, keys, values.** :func:`validate_namespace`, :func:`validate_key`
  and :func:`normalized_value` (the deep copy a put stores) apply the text
  rule along with the structural ones (tuples of non-empty labels without
  ``'.'``, string keys, JSON-serializable dict values).
* **Operations.** :func:`validate_ops` checks a whole batch (each op by
  :func:`validate_op`) before a backend runs any of it, and hands back each
  put's value as its normalized copy.
* **Pages.** ``limit`` and ``offset`` may be any non-negative integer; like a
  Python slice, a number beyond the data means "all of it" or "nothing". They
  are capped at :data:`PAGE_CAP` before a backend sees them, so sums such as
  ``offset + limit`` still fit a 64-bit SQL integer.

The checks are cheap for ordinary text: ``"\\x00" in s`` and ``s.isascii()``
run in C, and only non-ASCII strings are searched for surrogates.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from functools import partial
from typing import Any, cast

from threadloom.errors import InvalidNamespaceError, InvalidStoreInputError, InvalidValueError
from threadloom.store._ops import (
    SEARCH_MODES,
    DeleteNamespaceOp,
    GetOp,
    ListNamespacesOp,
    Op,
    PutOp,
    SearchOp,
)
from threadloom.store._paths import tokenize_path

__all__ = [
    "PAGE_CAP",
    "RESERVED_NAMESPACE_LABEL",
    "bad_text",
    "capped",
    "check_read_namespace",
    "find_bad_text",
    "find_surrogate",
    "normalized_value",
    "plain_json_copy",
    "validate_index_arg",
    "validate_key",
    "validate_namespace",
    "validate_op",
    "validate_ops",
    "validate_page",
    "validate_search_mode",
    "validate_ttl",
    "validate_value",
    "validated_put",
]

#: The first namespace label that belongs to threadloom itself.
RESERVED_NAMESPACE_LABEL = "threadloom"
#: First labels no write may use: ours, and LangGraph's, which LangGraph refuses as
#: well (so no LangGraph data holds it, and a program expecting the refusal gets it).
_RESERVED_FIRST_LABELS = frozenset({RESERVED_NAMESPACE_LABEL, "langgraph"})

#: Largest limit or offset a backend is handed; any larger one means the same.
PAGE_CAP = 2**62 - 1

_SURROGATE = re.compile("[\ud800-\udfff]")
#: ``find_surrogate(text)`` is a match for a lone surrogate in ``text``, or ``None``.
find_surrogate = _SURROGATE.search


def bad_text(text: str) -> str | None:
    """What makes ``text`` unstorable (``"a NUL character"``, ``"a lone surrogate"``), or ``None``."""
    if "\x00" in text:
        return "a NUL character (U+0000)"
    if not text.isascii():
        match = _SURROGATE.search(text)
        if match is not None:
            return f"a lone surrogate (U+{ord(match.group()):04X})"
    return None


def find_bad_text(value: Any, path: str = "$") -> tuple[str, str] | None:
    """The first unstorable string in a JSON-like ``value``: ``(where, what)``, or ``None``.

    Dict keys count as strings. Used to word an error message once a fast
    check has found that something is wrong.
    """
    stack: list[tuple[Any, str]] = [(value, path)]
    while stack:
        node, where = stack.pop()
        if isinstance(node, str):
            problem = bad_text(node)
            if problem is not None:
                return where, problem
        elif isinstance(node, dict):
            for key, child in node.items():
                if isinstance(key, str):
                    problem = bad_text(key)
                    if problem is not None:
                        return f"{where} (a key)", problem
                stack.append((child, f"{where}.{key!r}"))
        elif isinstance(node, (list, tuple)):
            stack.extend((child, f"{where}[{i}]") for i, child in enumerate(node))
    return None


def capped(number: int) -> int:
    """A validated limit or offset, capped at :data:`PAGE_CAP`."""
    return number if number <= PAGE_CAP else PAGE_CAP


# --- namespaces, keys and values ----------------------------------------------


# Namespaces already accepted for writing: a batch usually repeats a few of them.
_WRITABLE_NAMESPACES: set[tuple[str, ...]] = set()
_WRITABLE_NAMESPACES_MAX = 4096


def validate_namespace(namespace: tuple[str, ...], *, for_write: bool = True) -> None:
    """Raise :class:`InvalidNamespaceError` unless ``namespace`` may hold items."""
    if type(namespace) is tuple and _is_known_writable(namespace):
        return
    if not isinstance(namespace, tuple):
        raise InvalidNamespaceError(
            f"Namespace must be a tuple of strings, got {type(namespace).__name__}: {namespace!r}"
        )
    if not namespace:
        raise InvalidNamespaceError("Namespace cannot be empty.")
    for label in namespace:
        _check_label_type(label, namespace)
        if not label:
            raise InvalidNamespaceError(f"Namespace labels cannot be empty strings: {namespace!r}")
        if "." in label:
            raise InvalidNamespaceError(
                f"Namespace labels cannot contain periods ('.'): {label!r} in {namespace!r}"
            )
        _check_label_text(label, namespace)
    if for_write and namespace[0] in _RESERVED_FIRST_LABELS:
        raise InvalidNamespaceError(
            f"The first namespace label {namespace[0]!r} is reserved: {namespace!r}"
        )
    if for_write and type(namespace) is tuple:
        if len(_WRITABLE_NAMESPACES) >= _WRITABLE_NAMESPACES_MAX:
            _WRITABLE_NAMESPACES.clear()
        _WRITABLE_NAMESPACES.add(namespace)


def _check_label_type(label: Any, namespace: tuple[Any, ...]) -> None:
    if not isinstance(label, str):
        raise InvalidNamespaceError(
            f"Namespace labels must be strings, got {type(label).__name__} "
            f"{label!r} in {namespace!r}"
        )


def _check_label_text(label: str, namespace: tuple[Any, ...]) -> None:
    problem = bad_text(label)
    if problem is not None:
        raise InvalidNamespaceError(
            f"Namespace labels cannot contain {problem}: {label!r} in {namespace!r}"
        )


def check_read_namespace(namespace: tuple[Any, ...]) -> None:
    """Reads take any string label (one no write accepts just finds nothing), but not a
    label of another type, nor unstorable text."""
    for label in namespace:
        _check_label_type(label, namespace)
        _check_label_text(label, namespace)


def _is_known_writable(namespace: tuple[str, ...]) -> bool:
    try:
        return namespace in _WRITABLE_NAMESPACES
    except TypeError:  # an unhashable label; the full check reports it
        return False


def validate_key(key: str) -> None:
    if not isinstance(key, str):
        raise InvalidStoreInputError(f"Key must be a string, got {type(key).__name__}: {key!r}")
    if not key:
        raise InvalidStoreInputError("Key cannot be an empty string.")
    problem = bad_text(key)
    if problem is not None:
        raise InvalidStoreInputError(f"Keys cannot contain {problem}: {key!r}")


def validate_value(value: Any) -> None:
    """A value must be a dict that round-trips through JSON."""
    normalized_value(value)


def normalized_value(value: Any) -> dict[str, Any]:
    """A deep copy of ``value`` as JSON gives it back (tuples become lists, keys strings).

    Raises :class:`InvalidValueError` unless ``value`` is a dict that JSON can encode.
    """
    if not isinstance(value, dict):
        raise InvalidValueError(f"Value must be a dict, got {type(value).__name__}: {value!r:.200}")
    copy = plain_json_copy(value)
    if copy is not None:
        return copy
    try:
        copy = cast("dict[str, Any]", json.loads(json.dumps(value, allow_nan=False)))
    except (TypeError, ValueError, RecursionError) as exc:
        raise InvalidValueError(f"Value is not JSON-serializable: {exc}") from exc
    # The fast copy declined, perhaps because of its text. Look at the caller's value,
    # not the copy: JSON would turn a pair of lone surrogates into one other character.
    found = find_bad_text(value)
    if found is not None:
        where, problem = found
        raise InvalidValueError(
            f"Values cannot hold strings with {problem}; found at {where}. "
            "No backend can store it faithfully; nothing was written."
        )
    return copy


class _NotPlain(Exception):
    pass


class _BadText(Exception):
    """A string (or dict key) of the value holds NUL or a lone surrogate."""


_SCALARS = frozenset({int, bool, type(None)})


def _plain(value: Any) -> Any:
    kind = type(value)
    if kind is str:
        if "\x00" in value or (not value.isascii() and find_surrogate(value)):
            raise _BadText
        return value
    if kind in _SCALARS:
        return value
    if kind is float:
        if value != value or value in (math.inf, -math.inf):
            raise _NotPlain
        return value
    if kind is dict:
        out = {}
        for key, item in value.items():
            if type(key) is not str:
                raise _NotPlain
            if "\x00" in key or (not key.isascii() and find_surrogate(key)):
                raise _BadText
            # Strings and scalars inline: most values are flat dicts, and calls cost more
            # than checks (the text check is bad_text's, spelled out for speed).
            item_kind = type(item)
            if item_kind is str:
                if "\x00" in item or (not item.isascii() and find_surrogate(item)):
                    raise _BadText
                out[key] = item
            else:
                out[key] = item if item_kind in _SCALARS else _plain(item)
        return out
    if kind is list:
        return [_plain(item) for item in value]
    raise _NotPlain


def plain_json_copy(value: dict[str, Any]) -> dict[str, Any] | None:
    """A deep copy of ``value`` if it holds only plain JSON types, else ``None``.

    Plain means dicts with string keys, lists, str, int, bool, None and finite
    floats; such a value round-trips through JSON unchanged, so copying it is
    the same as (and much faster than) ``json.loads(json.dumps(value))``.
    Strings holding NUL or a lone surrogate are not plain either.
    """
    try:
        return cast("dict[str, Any]", _plain(value))
    except (_NotPlain, _BadText, RecursionError):
        return None


# --- operations ------------------------------------------------------------------


def validate_ttl(ttl: float | None) -> None:
    if ttl is None:
        return
    if (
        isinstance(ttl, bool)
        or not isinstance(ttl, (int, float))
        or not math.isfinite(ttl)
        or ttl <= 0
    ):
        raise InvalidStoreInputError(
            f"ttl must be a positive number of minutes or None, got {ttl!r}"
        )


def validate_index_arg(index: Any) -> None:
    if index is None or index is False:
        return
    if not isinstance(index, list) or not all(isinstance(p, str) and p for p in index):
        raise InvalidStoreInputError(
            f"index must be None, False or a list of non-empty path strings, got {index!r}"
        )
    for path in index:
        problem = bad_text(path)
        if problem is not None:
            raise InvalidStoreInputError(f"index paths cannot contain {problem}: {path!r}")
        tokenize_path(path)  # a malformed path is an error here, not an item left unindexed


def validate_search_mode(mode: Any) -> None:
    """Raise :class:`InvalidStoreInputError` unless ``mode`` is ``None`` or a known mode."""
    if mode is not None and (not isinstance(mode, str) or mode not in SEARCH_MODES):
        raise InvalidStoreInputError(
            f"Unknown search mode {mode!r}; use one of {', '.join(SEARCH_MODES)} (or None)"
        )


def validate_page(limit: Any, offset: Any) -> None:
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise InvalidStoreInputError(f"limit must be a non-negative integer, got {limit!r}")
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise InvalidStoreInputError(f"offset must be a non-negative integer, got {offset!r}")


def validate_op(op: Op) -> None:
    """Check one operation the way every backend must, before anything is written.

    Backends call this (through :func:`validate_ops`) at the top of ``batch``, so
    direct ``batch`` calls get the same errors as the convenience methods.
    """
    if isinstance(op, PutOp):
        validate_namespace(op.namespace)
        validate_key(op.key)
        if op.value is not None:
            validate_value(op.value)
            validate_index_arg(op.index)
            validate_ttl(op.ttl)
    elif isinstance(op, GetOp):
        if not isinstance(op.namespace, tuple):
            raise InvalidNamespaceError(f"Namespace must be a tuple, got {op.namespace!r}")
        check_read_namespace(op.namespace)
        validate_key(op.key)
    elif isinstance(op, SearchOp):
        if not isinstance(op.namespace_prefix, tuple):
            raise InvalidNamespaceError(
                f"Namespace prefix must be a tuple, got {op.namespace_prefix!r}"
            )
        check_read_namespace(op.namespace_prefix)
        validate_page(op.limit, op.offset)
        if op.query is not None and not isinstance(op.query, str):
            raise InvalidStoreInputError(f"query must be a string, got {type(op.query).__name__}")
        problem = bad_text(op.query) if op.query else None
        if problem is not None:
            raise InvalidStoreInputError(f"A query cannot contain {problem}: {op.query!r:.200}")
        validate_search_mode(op.mode)
        if op.filter is not None and not isinstance(op.filter, dict):
            from threadloom.errors import InvalidFilterError

            raise InvalidFilterError(f"filter must be a dict, got {type(op.filter).__name__}")
    elif isinstance(op, ListNamespacesOp):
        validate_page(op.limit, op.offset)
        for condition in op.match_conditions or ():
            path = getattr(condition, "path", None)
            if isinstance(path, (tuple, list)):
                check_read_namespace(tuple(path))
        if op.max_depth is not None and (
            isinstance(op.max_depth, bool) or not isinstance(op.max_depth, int) or op.max_depth < 1
        ):
            raise InvalidStoreInputError(
                f"max_depth must be a positive integer, got {op.max_depth!r}"
            )
    elif isinstance(op, DeleteNamespaceOp):
        if not isinstance(op.namespace_prefix, tuple) or not op.namespace_prefix:
            raise InvalidNamespaceError(
                "delete_namespace needs a non-empty namespace prefix tuple, "
                f"got {op.namespace_prefix!r}"
            )
        validate_namespace(op.namespace_prefix)
    else:
        raise InvalidStoreInputError(f"Unknown store operation: {op!r}")


_CAP = capped(2**63)
# PutOp from its five fields without the NamedTuple's Python-level __new__ (single puts).
_new_put = partial(tuple.__new__, PutOp)


def validated_put(
    namespace: tuple[str, ...], key: str, value: Any, index: Any, ttl: float | None
) -> PutOp:
    """The put of a value (not ``None``), checked, holding the value's normalized copy."""
    validate_namespace(namespace)
    validate_key(key)
    if index is not None:  # the usual put passes neither: no calls for them
        validate_index_arg(index)
    if ttl is not None:
        validate_ttl(ttl)
    # normalized_value's fast path, without its two calls (a single put's hot path).
    try:
        copy = _plain(value) if type(value) is dict else normalized_value(value)
    except (_NotPlain, _BadText, RecursionError):
        copy = normalized_value(value)  # the JSON route, or an error naming the problem
    return _new_put((namespace, key, copy, index, ttl))


def validate_ops(ops: Iterable[Op]) -> list[Op]:
    """Materialize and validate a batch; raises before any operation runs.

    Each put's value comes back replaced by :func:`normalized_value` (a deep
    copy, as JSON would return it), so a caller mutating its dict later, or
    during the embedding call, cannot change what is stored; a search's empty
    query (``""``) comes back as ``None``, no query; a limit or offset beyond
    ``PAGE_CAP`` comes back capped (the same page, in numbers SQL can bind).
    """
    ops = list(ops)
    for position, op in enumerate(ops):
        if type(op) is PutOp and op.value is not None:
            ops[position] = validated_put(*op)
        else:
            validate_op(op)
            if type(op) is SearchOp and op.query == "":
                # As in the reference API, an empty query means no query.
                ops[position] = op = op._replace(query=None)
            if isinstance(op, (SearchOp, ListNamespacesOp)) and max(op.limit, op.offset) > _CAP:
                ops[position] = op._replace(limit=capped(op.limit), offset=capped(op.offset))
    return ops
