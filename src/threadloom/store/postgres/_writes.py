"""How a PostgreSQL store writes vectors and keyword rows: statement parameters or binary COPY.

A put of a few vectors sends them as parameters of one INSERT that also
carries the item's keyword rows (one round trip); a bulk put streams them
with binary ``COPY`` (nothing formatted as text on either side).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from typing import Any

import numpy as np
import psycopg

from threadloom._postgres import Plan, Query
from threadloom.errors import IndexConfigMismatchError
from threadloom.store.postgres._schema import VectorLayout

__all__ = [
    "VECTORS_AS_PARAMETERS",
    "binary_copy_rows",
    "dims_mismatch",
    "insert_vectors",
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
    layout: VectorLayout, vectors: list[tuple[str, str, Any]], texts: Query | None
) -> Plan[None]:
    """One INSERT of ``(namespace, key, rows)`` vectors, with ``texts``' rows in a CTE."""
    values: list[str] = []
    params: list[Any] = list(texts.params) if texts is not None else []
    for ns, key, rows in vectors:
        if rows is None:
            continue
        _check_dims(layout, rows)
        for seq, row in enumerate(rows.tolist()):
            # float8[] in binary form (exact for float32 values), cast by pgvector.
            values.append(f"(%s, %s, '', %s, %b::float8[]::{layout.vector_type})")
            params += (ns, key, seq, row)
    if not values:
        if texts is not None:
            yield texts
        return
    prelude = f"WITH new_texts AS ({texts.sql}) " if texts is not None else ""
    try:
        yield Query(
            f"{prelude}INSERT INTO threadloom_store_vectors "
            f"(namespace, key, field, seq, embedding) VALUES {', '.join(values)}",
            params,
        )
    except psycopg.DataError as error:
        raise dims_mismatch(layout, error) from None


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
