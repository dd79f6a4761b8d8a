"""Search filters: one parser and one evaluator that every backend agrees with.

A filter is a dict. Each field entry is ``"path": value`` (equality) or
``"path": {"$op": operand, ...}`` (every operator must hold). ``$and`` and
``$or`` take a non-empty list of filters. Paths are dotted keys into nested
dicts (``"meta.lang"``). Example::

    {"kind": "fact", "score": {"$gte": 3}, "$or": [{"lang": "en"}, {"lang": {"$exists": False}}]}

Operators and their meaning (backends that compile filters to SQL must agree):

=========  =================================================================
``$eq``    equal; numbers compare as numbers (``1 == 1.0``), bools are not
           numbers (``True != 1``), dicts and lists compare element-wise.
           A missing field is not equal to anything, ``None`` included.
``$ne``    not ``$eq``; a missing field matches.
``$gt``    range operators: operand is a number or a string; numbers compare
``$gte``   with numbers and strings with strings. A missing field or a value
``$lt``    of another type (a bool, a string against a number, ...) never
``$lte``   matches.
``$in``    operand is a list; matches when ``$eq`` holds for one element.
``$nin``   operand is a list; matches when ``$in`` does not (missing matches).
``$exists``  operand is a bool; a field holding ``null`` exists.
=========  =================================================================

A nested dict without ``$`` keys is read as dotted paths:
``{"meta": {"lang": "en"}}`` is ``{"meta.lang": "en"}``. An empty dict value
means equality with ``{}``. Anything else (an unknown ``$`` operator, a bad
operand, mixed operator and field keys) raises :class:`InvalidFilterError`,
as do a path or string operand holding NUL or a lone surrogate (nothing
stored can hold one: see :mod:`threadloom.store._validate`) and a filter
nested deeper than :data:`MAX_FILTER_DEPTH` levels (each ``$and``/``$or``
branch, nested field dict and operand dict or list is one level).

Backends use :func:`parse_filter` to validate and get a small tree of
:class:`Condition`, :class:`AllOf` and :class:`AnyOf` nodes (easy to compile
to SQL), or :func:`compile_filter` for a Python predicate over stored values.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from threadloom.errors import InvalidFilterError
from threadloom.store._validate import bad_text

__all__ = [
    "COMPARISON_OPERATORS",
    "MAX_FILTER_DEPTH",
    "AllOf",
    "AnyOf",
    "Clause",
    "Condition",
    "compile_filter",
    "evaluate",
    "json_equal",
    "parse_filter",
]

COMPARISON_OPERATORS = frozenset(
    {"$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$exists"}
)
_RANGE_OPERATORS = frozenset({"$gt", "$gte", "$lt", "$lte"})
_LOGICAL_OPERATORS = frozenset({"$and", "$or"})
_MISSING: Any = object()
#: How deep a filter may nest; deeper ones would exhaust the stack or SQL's expression limits.
MAX_FILTER_DEPTH = 32


@dataclass(frozen=True)
class Condition:
    """``path`` (tuple of dict keys) compared by ``op`` with ``operand``."""

    path: tuple[str, ...]
    op: str
    operand: Any


@dataclass(frozen=True)
class AllOf:
    """Every clause holds (an empty ``AllOf`` always holds)."""

    clauses: tuple[Clause, ...]


@dataclass(frozen=True)
class AnyOf:
    """At least one clause holds."""

    clauses: tuple[Clause, ...]


Clause = Condition | AllOf | AnyOf


# --- parsing -----------------------------------------------------------------


def parse_filter(filter: Mapping[str, Any] | None) -> AllOf:
    """Validate ``filter`` and return it as a clause tree.

    >>> parse_filter({"score": {"$gte": 3}})
    AllOf(clauses=(Condition(path=('score',), op='$gte', operand=3),))
    """
    if filter is None:
        return AllOf(())
    return _parse_mapping(filter, (), 1)


def _nesting(depth: int) -> None:
    if depth > MAX_FILTER_DEPTH:
        raise InvalidFilterError(
            f"A filter may nest at most {MAX_FILTER_DEPTH} levels deep (each $and/$or "
            "branch, nested field dict and operand dict or list is a level)"
        )


def _checked_text(text: str, what: str) -> str:
    problem = bad_text(text)
    if problem is not None:
        raise InvalidFilterError(
            f"Filter {what} {text!r:.80} holds {problem}; no stored item can hold one"
        )
    return text


def _parse_mapping(filter: Any, base: tuple[str, ...], depth: int) -> AllOf:
    _nesting(depth)
    if not isinstance(filter, Mapping):
        raise InvalidFilterError(
            f"A filter must be a dict, got {type(filter).__name__}: {filter!r}"
        )
    clauses: list[Clause] = []
    for raw_key, spec in filter.items():
        if not isinstance(raw_key, str):
            raise InvalidFilterError(f"Filter keys must be strings, got {raw_key!r}")
        if raw_key.startswith("$"):
            if base:
                raise InvalidFilterError(
                    f"Operator {raw_key!r} cannot be mixed with field names under "
                    f"{'.'.join(base)!r}"
                )
            clauses.append(_parse_logical(raw_key, spec, depth))
            continue
        clauses.extend(_parse_field(base + _split_path(raw_key), spec, depth))
    return AllOf(tuple(clauses))


def _parse_logical(op: str, spec: Any, depth: int) -> Clause:
    if op not in _LOGICAL_OPERATORS:
        known = ", ".join(sorted(COMPARISON_OPERATORS | _LOGICAL_OPERATORS))
        raise InvalidFilterError(
            f"Unknown filter operator {op!r} at the top level; a field name was expected, "
            f"or one of $and, $or (field operators: {known})"
        )
    if not isinstance(spec, (list, tuple)) or not spec:
        raise InvalidFilterError(f"{op} takes a non-empty list of filters, got {spec!r}")
    parts = tuple(_parse_mapping(sub, (), depth + 1) for sub in spec)
    return AllOf(parts) if op == "$and" else AnyOf(parts)


def _split_path(key: str) -> tuple[str, ...]:
    parts = tuple(_checked_text(key, "field").split("."))
    if not key or any(not part for part in parts):
        raise InvalidFilterError(f"Invalid filter key {key!r}: its field path has an empty segment")
    return parts


def _parse_field(path: tuple[str, ...], spec: Any, depth: int) -> list[Clause]:
    if isinstance(spec, Mapping) and spec:
        op_keys = [k for k in spec if isinstance(k, str) and k.startswith("$")]
        if not op_keys:
            # A nested dict of fields: the same as dotted paths.
            return list(_parse_mapping(spec, path, depth + 1).clauses)
        if len(op_keys) != len(spec):
            raise InvalidFilterError(
                f"Filter on {'.'.join(path)!r} mixes operators and field names: {dict(spec)!r}"
            )
        return [_parse_condition(path, op, operand, depth + 1) for op, operand in spec.items()]
    return [_parse_condition(path, "$eq", spec, depth + 1)]


class _Unmatchable(Exception):
    """An operand holding NaN or an infinity: no stored value equals it (stored numbers are
    finite), so equality with it never holds and inequality always does, as in IEEE 754."""


# With an empty list these match nothing and everything on every backend.
_NEVER, _ALWAYS = "$in", "$nin"


def _parse_condition(path: tuple[str, ...], op: str, operand: Any, depth: int) -> Condition:
    field = ".".join(path)
    if op not in COMPARISON_OPERATORS:
        raise InvalidFilterError(
            f"Unknown filter operator {op!r} on field {field!r}; "
            f"supported: {', '.join(sorted(COMPARISON_OPERATORS))}"
        )
    if op in _RANGE_OPERATORS:
        if not (_is_number(operand) or isinstance(operand, str)):
            raise InvalidFilterError(
                f"{op} on {field!r} needs a number or a string, got {operand!r}"
            )
        if isinstance(operand, float) and math.isnan(operand):
            return Condition(path, _NEVER, [])  # nothing is above or below NaN
        if isinstance(operand, str):
            _checked_text(operand, f"{op} operand")
    elif op in ("$in", "$nin"):
        if not isinstance(operand, (list, tuple)):
            raise InvalidFilterError(f"{op} on {field!r} needs a list, got {operand!r}")
        kept = []
        for value in operand:
            # A value no stored item equals changes neither $in nor $nin.
            with contextlib.suppress(_Unmatchable):
                kept.append(_check_json_operand(path, op, value, depth + 1))
        operand = kept
    elif op == "$exists":
        if not isinstance(operand, bool):
            raise InvalidFilterError(f"$exists on {field!r} needs true or false, got {operand!r}")
    else:
        try:
            operand = _check_json_operand(path, op, operand, depth)
        except _Unmatchable:
            return Condition(path, _NEVER if op == "$eq" else _ALWAYS, [])
    return Condition(path, op, operand)


def _check_json_operand(path: tuple[str, ...], op: str, operand: Any, depth: int) -> Any:
    """Operands of equality must be JSON values, or they could never match anything stored."""
    if isinstance(operand, str):
        return _checked_text(operand, f"{op} operand")
    if operand is None or isinstance(operand, bool) or _is_number(operand):
        if isinstance(operand, float) and not math.isfinite(operand):
            raise _Unmatchable
        return operand
    _nesting(depth + 1)
    if isinstance(operand, (list, tuple)):
        return [_check_json_operand(path, op, v, depth + 1) for v in operand]
    if isinstance(operand, Mapping):
        if not all(isinstance(k, str) for k in operand):
            raise InvalidFilterError(f"{op} on {'.'.join(path)!r}: dict keys must be strings")
        return {
            _checked_text(k, f"{op} operand key"): _check_json_operand(path, op, v, depth + 1)
            for k, v in operand.items()
        }
    raise InvalidFilterError(
        f"{op} on {'.'.join(path)!r} cannot compare with a {type(operand).__name__}: {operand!r}"
    )


# --- evaluation ----------------------------------------------------------------


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def json_equal(a: Any, b: Any) -> bool:
    """Equality of JSON values as filters define it (``1 == 1.0``, ``True != 1``)."""
    if _is_number(a):
        return _is_number(b) and a == b
    if isinstance(a, bool) or a is None or isinstance(a, str):
        return type(a) is type(b) and a == b
    if isinstance(a, dict):
        return (
            isinstance(b, dict)
            and a.keys() == b.keys()
            and all(json_equal(v, b[k]) for k, v in a.items())
        )
    if isinstance(a, (list, tuple)):
        return (
            isinstance(b, (list, tuple))
            and len(a) == len(b)
            and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
        )
    return False


def _lookup(value: Any, path: tuple[str, ...]) -> Any:
    for part in path:
        if not isinstance(value, dict):
            return _MISSING
        value = value.get(part, _MISSING)
        if value is _MISSING:
            return _MISSING
    return value


def _range(found: Any, op: str, operand: Any) -> bool:
    if _is_number(operand):
        if not _is_number(found):
            return False
    elif not isinstance(found, str):
        return False
    if op == "$gt":
        return bool(found > operand)
    if op == "$gte":
        return bool(found >= operand)
    if op == "$lt":
        return bool(found < operand)
    return bool(found <= operand)


def _check(condition: Condition, value: Any) -> bool:
    found = _lookup(value, condition.path)
    op, operand = condition.op, condition.operand
    if op == "$exists":
        return (found is not _MISSING) is operand
    if found is _MISSING:
        return op in ("$ne", "$nin")
    if op == "$eq":
        return json_equal(found, operand)
    if op == "$ne":
        return not json_equal(found, operand)
    if op == "$in":
        return any(json_equal(found, v) for v in operand)
    if op == "$nin":
        return not any(json_equal(found, v) for v in operand)
    return _range(found, op, operand)


def evaluate(clause: Clause, value: Any) -> bool:
    """Whether ``value`` (a stored dict) satisfies ``clause``."""
    if isinstance(clause, Condition):
        return _check(clause, value)
    if isinstance(clause, AllOf):
        return all(evaluate(c, value) for c in clause.clauses)
    return any(evaluate(c, value) for c in clause.clauses)


def compile_filter(filter: Mapping[str, Any] | None) -> Callable[[Any], bool] | None:
    """A predicate over stored values, or ``None`` when the filter accepts everything.

    Raises :class:`InvalidFilterError` for a malformed filter.

    >>> matches = compile_filter({"tags": {"$in": ["a", "b"]}, "n": {"$gt": 1}})
    >>> matches({"tags": "a", "n": 2}), matches({"tags": "a", "n": True})
    (True, False)
    """
    tree = parse_filter(filter)
    if not tree.clauses:
        return None
    if len(tree.clauses) == 1 and isinstance(tree.clauses[0], Condition):
        only = tree.clauses[0]
        return lambda value: _check(only, value)
    return lambda value: evaluate(tree, value)
