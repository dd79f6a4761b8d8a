"""SQL pieces every PostgreSQL store plan uses: named parameters, filters, namespace
prefixes, vectors as literals, and rows read back as items.

Every value that comes from a caller travels as a parameter (:class:`Params`);
the SQL text holds only fixed words, operators chosen from a table and
validated integers.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from psycopg.types.json import Jsonb

from threadloom.store._filters import AllOf, AnyOf, Clause, Condition
from threadloom.store.base import Item, SearchItem

__all__ = [
    "ITEM_COLUMNS",
    "LIVE",
    "SEP",
    "Params",
    "compile_filter_sql",
    "item_from_row",
    "ns_text",
    "prefix_sql",
    "readable",
    "search_item_from_row",
    "vector_literal",
]

LIVE = "(s.expires_at IS NULL OR s.expires_at > now())"
ITEM_COLUMNS = "s.namespace, s.key, s.value, s.created_at, s.updated_at"

# --- parameters -------------------------------------------------------------------


class Params(dict[str, Any]):
    """Named query parameters: :meth:`add` stores a value and returns its placeholder."""

    def add(self, value: Any) -> str:
        name = f"p{len(self)}"
        self[name] = value
        return f"%({name})s"


# --- filters -----------------------------------------------------------------------


def compile_filter_sql(clause: Clause, params: Params, column: str = "s.value") -> str:
    """SQL for a parsed filter over the jsonb ``column``; operands become parameters.

    Mirrors :mod:`threadloom.store._filters` exactly: numbers compare as
    numbers, strings as strings (code-point order, hence ``COLLATE "C"``),
    bools are not numbers, and a missing field never matches a range.
    """
    if isinstance(clause, AllOf):
        if not clause.clauses:
            return "TRUE"
        return (
            "(" + " AND ".join(compile_filter_sql(c, params, column) for c in clause.clauses) + ")"
        )
    if isinstance(clause, AnyOf):
        return (
            "(" + " OR ".join(compile_filter_sql(c, params, column) for c in clause.clauses) + ")"
        )
    return _condition(clause, params, column)


def _field(path: tuple[str, ...], params: Params, column: str) -> str:
    """The jsonb at ``path`` (SQL NULL when missing); paths walk dicts only."""
    found = f"({column} #> {params.add(list(path))}::text[])"
    # `#>` would also index a list with a numeric segment; the reference never does.
    guards = [
        f"jsonb_typeof({column} #> {params.add(list(path[:i]))}::text[]) = 'object'"
        for i, part in enumerate(path)
        if part.lstrip("-").isdigit()
    ]
    if guards:
        return f"(CASE WHEN {' AND '.join(guards)} THEN {found} END)"
    return found


def _condition(condition: Condition, params: Params, column: str) -> str:
    op, operand = condition.op, condition.operand
    found = _field(condition.path, params, column)
    if op == "$exists":
        return f"({found} IS NOT NULL)" if operand else f"({found} IS NULL)"
    if op == "$eq":
        return f"coalesce({found} = {params.add(Jsonb(operand))}::jsonb, FALSE)"
    if op == "$ne":
        return f"coalesce({found} <> {params.add(Jsonb(operand))}::jsonb, TRUE)"
    if op in ("$in", "$nin"):
        values = params.add([Jsonb(v) for v in operand])
        if op == "$in":
            return f"coalesce({found} = ANY({values}::jsonb[]), FALSE)"
        return f"coalesce(NOT ({found} = ANY({values}::jsonb[])), TRUE)"
    sign = {"$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}[op]
    if isinstance(operand, str):
        return (
            f"(CASE WHEN jsonb_typeof({found}) = 'string' "
            f"THEN ({found} #>> '{{}}') COLLATE \"C\" {sign} {params.add(operand)} "
            "ELSE FALSE END)"
        )
    number = Decimal(repr(operand)) if isinstance(operand, float) else operand
    return (
        f"(CASE WHEN jsonb_typeof({found}) = 'number' "
        f"THEN ({found})::numeric {sign} {params.add(number)}::numeric ELSE FALSE END)"
    )


# --- helpers -----------------------------------------------------------------------

SEP = "."


def ns_text(namespace: tuple[str, ...]) -> str:
    return SEP.join(namespace)


def readable(labels: tuple[str, ...]) -> bool:
    """Whether a namespace read could match anything (stored labels never hold '.' or NUL)."""
    return all(isinstance(x, str) and x and SEP not in x and "\x00" not in x for x in labels)


def prefix_sql(prefix: tuple[str, ...], params: Params, column: str) -> str:
    if not prefix:
        return "TRUE"
    text = ns_text(prefix)
    exact, low, high = params.add(text), params.add(text + "."), params.add(text + "/")
    return f"({column} = {exact} OR ({column} >= {low} AND {column} < {high}))"


def vector_literal(row: Any) -> str:
    """pgvector's text form of one vector (float32 precision)."""
    return "[" + ",".join([f"{x:.7g}" for x in row.tolist()]) + "]"


def item_from_row(row: tuple[Any, ...]) -> Item:
    namespace, key, value, created_at, updated_at = row[:5]
    return Item(
        value=value,
        key=key,
        namespace=tuple(namespace.split(SEP)),
        created_at=created_at,
        updated_at=updated_at,
    )


def search_item_from_row(row: tuple[Any, ...], score: float | None = None) -> SearchItem:
    namespace, key, value, created_at, updated_at = row[:5]
    return SearchItem(tuple(namespace.split(SEP)), key, value, created_at, updated_at, score)
