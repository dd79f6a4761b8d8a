"""Read a ``.safetensors`` file into numpy arrays, with numpy alone.

The format: an 8-byte little-endian header length, a JSON header mapping each
tensor name to its dtype, shape and byte range, then the raw little-endian data.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import numpy as np

from threadloom.errors import EmbeddingError

__all__ = ["load_safetensors"]

_DTYPES: dict[str, str] = {
    "F64": "<f8",
    "F32": "<f4",
    "F16": "<f2",
    "I64": "<i8",
    "I32": "<i4",
    "I16": "<i2",
    "I8": "i1",
    "U8": "u1",
    "BOOL": "?",
}

# A sane upper bound: real headers are a few kB, and a corrupt length must not allocate gigabytes.
_MAX_HEADER = 100 * 1024 * 1024


def load_safetensors(path: Path) -> dict[str, np.ndarray[Any, Any]]:
    """Return every tensor in ``path`` as a read-only numpy array (BF16 widened to float32).

    The data is memory-mapped, not read: tensors used as they are (such as an
    embedding table) stay in the page cache, loaded lazily and shared between
    processes.
    """
    size = path.stat().st_size
    with path.open("rb") as f:
        prefix = f.read(8)
        if len(prefix) < 8:
            raise EmbeddingError(f"{path}: too short to be a safetensors file")
        (header_len,) = struct.unpack("<Q", prefix)
        if header_len > min(_MAX_HEADER, size - 8):
            raise EmbeddingError(f"{path}: header length {header_len} exceeds the file")
        raw_header = f.read(header_len)
    try:
        header = json.loads(raw_header)
    except ValueError as exc:
        raise EmbeddingError(f"{path}: header is not JSON: {exc}") from exc
    if not isinstance(header, dict):
        raise EmbeddingError(f"{path}: header is not a JSON object")
    start = 8 + header_len
    body: np.ndarray[Any, Any] = (
        # asarray: plain ndarray views (they keep the mapping alive), not np.memmap objects.
        np.asarray(np.memmap(path, dtype=np.uint8, mode="r", offset=start))
        if size > start
        else np.zeros(0, dtype=np.uint8)
    )
    tensors: dict[str, np.ndarray[Any, Any]] = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        tensors[name] = _tensor(path, name, info, body)
    return tensors


def _tensor(
    path: Path, name: str, info: Any, body: np.ndarray[Any, Any]
) -> np.ndarray[Any, Any]:
    try:
        dtype_name = info["dtype"]
        shape = tuple(int(d) for d in info["shape"])
        start, end = (int(o) for o in info["data_offsets"])
    except (KeyError, TypeError, ValueError) as exc:
        raise EmbeddingError(f"{path}: bad header entry for {name!r}: {info!r}") from exc
    if not 0 <= start <= end <= len(body):
        raise EmbeddingError(f"{path}: {name!r} byte range {start}..{end} is outside the file")
    raw = body[start:end]
    itemsize = 2 if dtype_name == "BF16" else np.dtype(_DTYPES.get(dtype_name, "u1")).itemsize
    if raw.size % itemsize:
        raise EmbeddingError(f"{path}: {name!r} spans {raw.size} bytes, not whole {dtype_name} values")
    if dtype_name == "BF16":
        # bfloat16 is the top half of a float32: widen by shifting into the high bits.
        halves = raw.view("<u2")
        array = (halves.astype("<u4") << 16).view("<f4")
    elif dtype_name in _DTYPES:
        array = raw.view(_DTYPES[dtype_name])
    else:
        raise EmbeddingError(f"{path}: {name!r} has unsupported dtype {dtype_name}")
    if array.size != int(np.prod(shape, dtype=np.int64)):
        raise EmbeddingError(f"{path}: {name!r} holds {array.size} values, shape says {shape}")
    return array.reshape(shape)
