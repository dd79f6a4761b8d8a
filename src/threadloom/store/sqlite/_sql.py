"""Namespaces and filters as SQL over the ``store_items`` table.

A namespace is stored as its labels joined with ``"."`` (labels never contain
one), so the items under a prefix are one index range: ``prefix = 'a.b'`` or
``'a.b.' <= prefix < 'a.b/'`` (``'/'`` follows ``'.'``).

Filters compile to ``json_type``/``json_extract`` expressions that agree
exactly with :func:`threadloom.store._filters.evaluate`: a value's JSON type
is checked before comparing, so numbers compare with numbers, strings with
strings, ``true`` is not ``1``, and a missing field (``json_type`` NULL)
never matches a range. Each condition is wrapped in ``COALESCE(..., 0)`` so
SQL's three-valued logic never leaks into ``NOT``/``OR``. What SQL cannot
express the same way (equality with a dict or list, keys that JSON escapes
such as a double quote or a control character, integers beyond 64 bits) makes :func:`compile_where` return ``None``
and the caller evaluates the filter in Python instead.
"""

from __future__ import annotations

import json
import re
import sqlite3
from typing import Any

from threadloom.store._filters import AllOf, Clause, Condition

__all__ = [
    "any_expired",
    "compile_where",
    "join_namespace",
    "prefix_where",
    "readable",
    "split_namespace",
]

_INT64 = 2**63
#: Terms joined in one flat chain before :func:`_balanced` nests them.
_CHAIN = 8
#: Beyond this many parameters a filter is evaluated in Python (SQLite's cap is 32766).
_MAX_PARAMS = 20_000
_ESCAPED = re.compile(r'["\\\x00-\x1f]')
_RANGE_SQL = {"$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}


def join_namespace(namespace: tuple[str, ...]) -> str:
    """The stored form of a (validated) namespace."""
    return ".".join(namespace)


def split_namespace(prefix: str) -> tuple[str, ...]:
    """The namespace tuple of a stored prefix."""
    return tuple(prefix.split("."))


def readable(namespace: tuple[Any, ...]) -> bool:
    """Whether a read may look ``namespace`` up (a label with '.' would alias another)."""
    return all(isinstance(label, str) and label and "." not in label for label in namespace)


def prefix_where(
    namespace_prefix: tuple[str, ...], column: str = "prefix"
) -> tuple[str, list[Any]]:
    """SQL selecting the namespaces equal to or under ``namespace_prefix``."""
    if not namespace_prefix:
        return "1", []
    joined = join_namespace(namespace_prefix)
    return (
        f"({column} = ? OR ({column} >= ? AND {column} < ?))",
        [joined, joined + ".", joined + "/"],
    )


def any_expired(conn: sqlite3.Connection, namespace_prefix: tuple[str, ...], now: float) -> bool:
    """Whether an expired, not yet swept item lies under the prefix (via the expiry index)."""
    where, params = prefix_where(namespace_prefix)
    row = conn.execute(
        # The expiry index holds only items with a TTL: the prefix index would
        # walk every item under the prefix instead.
        "SELECT 1 FROM store_items INDEXED BY store_items_expiry "
        "WHERE expires_at IS NOT NULL AND expires_at <= ? "
        f"AND {where} LIMIT 1",
        [now, *params],
    ).fetchone()
    return row is not None


class _NotExpressible(Exception):
    pass


def compile_where(tree: AllOf, column: str = "value") -> tuple[str, list[Any]] | None:
    """SQL equivalent to ``tree`` over the JSON ``column``, or ``None`` if not expressible."""
    params: list[Any] = []
    try:
        sql = _clause(tree, column, params)
    except _NotExpressible:
        return None
    if len(params) > _MAX_PARAMS:
        return None  # SQLite binds at most 32766 parameters per statement
    return sql, params


def _clause(clause: Clause, column: str, params: list[Any]) -> str:
    if isinstance(clause, Condition):
        return f"COALESCE({_condition(clause, column, params)}, 0)"
    parts = [_clause(c, column, params) for c in clause.clauses]
    if not parts:
        return "1" if isinstance(clause, AllOf) else "0"
    return _balanced(parts, " AND " if isinstance(clause, AllOf) else " OR ")


def _balanced(parts: list[str], joiner: str) -> str:
    """``parts`` joined as a balanced tree: a flat chain of a thousand terms is deeper
    than SQLite's expression depth limit (1000); this tree is ``log2`` as deep."""
    if len(parts) <= _CHAIN:
        return "(" + joiner.join(parts) + ")"
    middle = len(parts) // 2
    return (
        "(" + _balanced(parts[:middle], joiner) + joiner + _balanced(parts[middle:], joiner) + ")"
    )


def _path(path: tuple[str, ...]) -> str:
    # SQLite matches a path label against the key as written in the JSON text, so a key
    # that JSON escapes (a quote, a backslash, a control character) is left to Python.
    if any(_ESCAPED.search(part) for part in path):
        raise _NotExpressible
    return "$" + "".join(f'."{part}"' for part in path)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _equals(path: str, column: str, operand: Any, params: list[Any]) -> str:
    typ = f"json_type({column}, ?)"
    if operand is None:
        params.append(path)
        return f"({typ} = 'null')"
    if isinstance(operand, bool):
        params.extend([path, "true" if operand else "false"])
        return f"({typ} = ?)"
    if _is_number(operand):
        if isinstance(operand, int) and not -_INT64 <= operand < _INT64:
            raise _NotExpressible
        params.extend([path, path, operand])
        return f"({typ} IN ('integer', 'real') AND json_extract({column}, ?) = ?)"
    if isinstance(operand, str):
        params.extend([path, path, operand])
        return f"({typ} = 'text' AND json_extract({column}, ?) = ?)"
    raise _NotExpressible  # dicts and lists: element-wise equality stays in Python


def _any_of(path: str, column: str, operands: list[Any], params: list[Any]) -> str:
    """``$in``: numbers and strings each test membership in one bound JSON array
    (``json_each``), so a list of any length is one parameter and one shallow term."""
    numbers = [v for v in operands if _is_number(v)]
    texts = [v for v in operands if isinstance(v, str)]
    others = [v for v in operands if not _is_number(v) and not isinstance(v, str)]
    options = [f"COALESCE({_equals(path, column, v, params)}, 0)" for v in others]
    for kinds, members in (("'integer', 'real'", numbers), ("'text'", texts)):
        if not members:
            continue
        if any(isinstance(v, int) and not -_INT64 <= v < _INT64 for v in members):
            raise _NotExpressible
        params.extend([path, path, json.dumps(members, ensure_ascii=False)])
        options.append(
            f"COALESCE(json_type({column}, ?) IN ({kinds}) AND json_extract({column}, ?) "
            "IN (SELECT value FROM json_each(?)), 0)"
        )
    return _balanced(options, " OR ") if options else "0"


def _condition(condition: Condition, column: str, params: list[Any]) -> str:
    path = _path(condition.path)
    op, operand = condition.op, condition.operand
    if op == "$exists":
        params.append(path)
        return f"(json_type({column}, ?) IS {'NOT ' if operand else ''}NULL)"
    if op == "$eq":
        return _equals(path, column, operand, params)
    if op == "$ne":
        return f"(NOT COALESCE({_equals(path, column, operand, params)}, 0))"
    if op in ("$in", "$nin"):
        any_sql = _any_of(path, column, operand, params)
        return any_sql if op == "$in" else f"(NOT {any_sql})"
    symbol = _RANGE_SQL[op]
    if _is_number(operand):
        if isinstance(operand, int) and not -_INT64 <= operand < _INT64:
            raise _NotExpressible
        params.extend([path, path, operand])
        return f"(json_type({column}, ?) IN ('integer', 'real') AND json_extract({column}, ?) {symbol} ?)"
    params.extend([path, path, operand])
    return f"(json_type({column}, ?) = 'text' AND json_extract({column}, ?) {symbol} ?)"
