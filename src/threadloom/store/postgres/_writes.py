"""How a PostgreSQL store writes vectors and keyword rows: statement parameters or binary COPY.

A single put is one statement (:func:`one_put`): the item, its keyword rows
and its vectors (with BEGIN and COMMIT, three round trips); with an indexer
running, its vectors skip the HNSW index until the indexer takes them. A run of a few vectors sends them as parameters of one
INSERT that also carries the items' keyword rows; a bulk put streams them
with binary ``COPY`` (nothing formatted as text on either side).
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import psycopg

from threadloom._postgres import Plan, Query
from threadloom.errors import IndexConfigMismatchError, InvalidValueError
from threadloom.store._text import index_text
from threadloom.store.base import PutOp, get_text_at_path
from threadloom.store.postgres._schema import VectorLayout

__all__ = [
    "UPSERT_ITEMS",
    "VECTORS_AS_PARAMETERS",
    "binary_copy_rows",
    "dims_mismatch",
    "indexed_bodies",
    "insert_vectors",
    "one_put",
    "texts_insert",
]

#: Up to this many vectors, a put sends them as INSERT parameters; beyond, as binary COPY.
VECTORS_AS_PARAMETERS = 8

_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0)
_COPY_TRAILER = struct.pack("!h", -1)
_EMPTY_FIELD = struct.pack("!i", 0)  # the field column: '' (one vector per item for now)


def binary_copy_rows(layout: VectorLayout, items: Iterable[tuple[str, str, Any]]) -> bytes | None:
    """``COPY ... (FORMAT BINARY)`` data for vector rows ``(namespace, key, '', seq, vector)``.

    ``items`` holds ``(namespace, key, rows)`` with ``rows`` an ``(n, dims)``
    float32 matrix or ``None``. A vector travels in pgvector's binary form:
    int16 dims, int16 zero, then big-endian float32 (``vector``) or float16
    (``halfvec``) values. Returns ``None`` when there is no row.
    """
    dtype = ">f4" if layout.vector_type == "vector" else ">f2"
    width = 4 + layout.dims * (4 if layout.vector_type == "vector" else 2)
    vector_head = struct.pack("!ihh", width, layout.dims, 0)
    parts = [_COPY_HEADER]
    for ns, key, rows in items:
        if rows is None or len(rows) == 0:
            continue
        ns_bytes, key_bytes = ns.encode(), key.encode()
        prefix = (
            struct.pack("!hi", 5, len(ns_bytes))
            + ns_bytes
            + struct.pack("!i", len(key_bytes))
            + key_bytes
            + _EMPTY_FIELD
        )
        _check_dims(layout, rows)
        values = np.ascontiguousarray(rows, dtype=dtype)
        for seq in range(len(values)):
            parts += (prefix, struct.pack("!ii", 4, seq), vector_head, values[seq].tobytes())
    if len(parts) == 1:
        return None
    parts.append(_COPY_TRAILER)
    return b"".join(parts)


def insert_vectors(
    layout: VectorLayout,
    vectors: list[tuple[str, str, Any]],
    texts: Query | None,
    *,
    defer: bool = False,
) -> Plan[None]:
    """One INSERT of ``(namespace, key, rows)`` vectors, with ``texts``' rows in a CTE
    (``defer``: outside the HNSW index until the indexer takes them)."""
    values: list[str] = []
    params: list[Any] = list(texts.params) if texts is not None else []
    indexed = "FALSE" if defer else "TRUE"
    for ns, key, rows in vectors:
        if rows is None:
            continue
        _check_dims(layout, rows)
        for seq, row in enumerate(rows.tolist()):
            # float8[] in binary form (exact for float32 values), cast by pgvector.
            values.append(f"(%s, %s, '', %s, %b::float8[]::{layout.vector_type}, {indexed})")
            params += (ns, key, seq, row)
    if not values:
        if texts is not None:
            yield texts
        return
    prelude = f"WITH new_texts AS ({texts.sql}) " if texts is not None else ""
    try:
        yield Query(
            f"{prelude}INSERT INTO threadloom_store_vectors "
            f"(namespace, key, field, seq, embedding, indexed) VALUES {', '.join(values)}",
            params,
        )
    except psycopg.DataError as error:
        raise dims_mismatch(layout, error) from None


#: Upserts items from arrays of namespaces, keys, JSON values and TTLs (minutes or NULL).
UPSERT_ITEMS = """
    INSERT INTO threadloom_store AS s
        (namespace, key, value, created_at, updated_at, expires_at, ttl_minutes)
    SELECT t.ns, t.k, t.v::jsonb, clock_timestamp(), clock_timestamp(),
           now() + t.ttl * interval '1 minute', t.ttl
    FROM unnest(%s::text[], %s::text[], %s::text[], %s::float8[]) AS t(ns, k, v, ttl)
    ON CONFLICT (namespace, key) DO UPDATE SET
        value = EXCLUDED.value,
        updated_at = EXCLUDED.updated_at,
        expires_at = EXCLUDED.expires_at,
        ttl_minutes = EXCLUDED.ttl_minutes,
        -- an expired item is gone: putting it again starts a new life
        created_at = CASE WHEN s.expires_at IS NOT NULL AND s.expires_at <= now()
                          THEN EXCLUDED.created_at ELSE s.created_at END"""


def one_put(
    layout: VectorLayout | None,
    namespace: str,
    key: str,
    op: PutOp,
    bodies: list[str] | None,
    rows: Any,
    *,
    defer: bool = False,
) -> Plan[None]:
    """A put of one value as one statement: the item, its keyword rows and its vectors.

    ``bodies`` is ``None`` when the store keeps no keyword index; ``rows`` the
    put's ``(n, dims)`` vectors or ``None``. The old keyword rows and vectors
    the put does not overwrite are deleted, and the ones it does are updated in
    place (an INSERT next to a DELETE of the same key in one statement would
    collide with the row not yet deleted). The keyword and vector rows refer to
    the item inserted by the same statement: foreign keys are checked at its end.
    With ``defer`` the vectors stay out of the HNSW index until the indexer takes them.
    """
    address = (namespace, key)
    texts = bodies or []
    # Every store clears keyword rows on a re-put, indexed or not: no stale terms linger.
    parts = [
        f"item AS ({UPSERT_ITEMS})",
        "old_texts AS (DELETE FROM threadloom_store_texts "
        "WHERE namespace = %s AND key = %s AND seq >= %s)",
    ]
    params: list[Any] = [
        [namespace],
        [key],
        [json.dumps(op.value, allow_nan=False)],
        [op.ttl],
        *address,
        len(texts),
    ]
    if texts:
        parts.append(
            "new_texts AS (INSERT INTO threadloom_store_texts AS t "
            "(namespace, key, seq, body, length) "
            "SELECT %s, %s, b.n - 1, b.body, b.length "
            "FROM unnest(%s::text[], %s::int[]) WITH ORDINALITY AS b(body, length, n) "
            "ON CONFLICT (namespace, key, seq) DO UPDATE "
            "SET body = EXCLUDED.body, length = EXCLUDED.length "
            # The same text again (a re-put of an unchanged memory): no GIN upkeep.
            "WHERE t.body <> EXCLUDED.body)"
        )
        params += (*address, texts, [body.count(" ") + 1 for body in texts])
    main = "SELECT 1"
    if layout is not None:
        count = 0 if rows is None else len(rows)
        parts.append(
            "old_vectors AS (DELETE FROM threadloom_store_vectors "
            "WHERE namespace = %s AND key = %s AND NOT (field = '' AND seq < %s))"
        )
        params += (*address, count)
        if count:
            _check_dims(layout, rows)
            indexed = "FALSE" if defer else "TRUE"
            values = ", ".join(
                f"(%s, %s, '', {seq}, %b::float8[]::{layout.vector_type}, {indexed})"
                for seq in range(count)
            )
            main = (
                "INSERT INTO threadloom_store_vectors "
                "(namespace, key, field, seq, embedding, indexed) "
                f"VALUES {values} ON CONFLICT (namespace, key, field, seq) "
                "DO UPDATE SET embedding = EXCLUDED.embedding, indexed = EXCLUDED.indexed"
            )
            for row in rows.tolist():
                params += (*address, row)
    try:
        yield Query(f"WITH {', '.join(parts)} {main}", params)
    except psycopg.DataError as error:
        if layout is not None and "dimensions" in str(error):
            raise dims_mismatch(layout, error) from None
        # e.g. a NUL character inside a string: jsonb cannot hold it.
        raise InvalidValueError(f"PostgreSQL cannot store this value: {error}") from None


def texts_insert(items: Iterable[tuple[str, str, list[str]]]) -> Query | None:
    """One statement inserting keyword rows ``(namespace, key, bodies)``; ``None``: no row."""
    names: list[str] = []
    keys: list[str] = []
    seqs: list[int] = []
    bodies: list[str] = []
    lengths: list[int] = []
    for ns, key, texts in items:
        for seq, body in enumerate(texts):
            names.append(ns)
            keys.append(key)
            seqs.append(seq)
            bodies.append(body)
            lengths.append(body.count(" ") + 1)
    if not names:
        return None
    return Query(
        "INSERT INTO threadloom_store_texts (namespace, key, seq, body, length) "
        "SELECT * FROM unnest(%s::text[], %s::text[], %s::int[], %s::text[], %s::int[])",
        (names, keys, seqs, bodies, lengths),
    )


def indexed_bodies(op: PutOp, fields: Sequence[str]) -> list[str]:
    """The keyword rows of a put: ``index_text`` of each text the vectors are built from.

    The configured ``fields`` unless the put names its own paths; nothing for
    ``index=False``. Texts without terms are left out (they can never match).
    """
    if op.value is None or op.index is False:
        return []
    paths = fields if op.index is None else op.index
    bodies = []
    for path in paths:
        for text in get_text_at_path(op.value, path):
            body = index_text(text)
            if body:
                bodies.append(body)
    return bodies


def _check_dims(layout: VectorLayout, rows: Any) -> None:
    if rows.shape[1] != layout.dims:
        # The embedder was checked against the configured dims; a mismatch is a bug.
        raise IndexConfigMismatchError(
            f"Got vectors of {rows.shape[1]} dims for an index of dims={layout.dims}"
        )


def dims_mismatch(layout: VectorLayout, error: psycopg.DataError) -> Exception:
    """The error for a vector the table refuses: its size, or the database's own error."""
    if "dimensions" not in str(error):
        return error
    return IndexConfigMismatchError(
        f"The vectors table holds vectors of another size than index dims={layout.dims}: {error}"
    )
