"""The numpy building blocks: the safetensors reader, erf and GELU."""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path

import numpy as np
import pytest

from threadloom.embeddings import _blas
from threadloom.embeddings._bert import erf, gelu
from threadloom.embeddings._safetensors import load_safetensors
from threadloom.errors import EmbeddingError


def write_safetensors(path: Path, header: dict[str, object], body: bytes) -> Path:
    """Write a safetensors file from a header dict and raw bytes."""
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + body)
    return path


def test_safetensors_tensors_round_trip(tmp_path: Path) -> None:
    """Tensors come back with their dtype, shape and values; metadata is skipped."""
    a = np.arange(6, dtype="<f4").reshape(2, 3)
    b = np.array([7, -8], dtype="<i8")
    header = {
        "__metadata__": {"format": "pt"},
        "a": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]},
        "b": {"dtype": "I64", "shape": [2], "data_offsets": [24, 40]},
    }
    tensors = load_safetensors(write_safetensors(tmp_path / "m.safetensors", header, a.tobytes() + b.tobytes()))
    assert set(tensors) == {"a", "b"}
    np.testing.assert_array_equal(tensors["a"], a)
    np.testing.assert_array_equal(tensors["b"], b)


def test_bfloat16_is_widened_to_float32(tmp_path: Path) -> None:
    """BF16 tensors load as the float32 values they encode."""
    values = np.array([1.5, -2.0, 0.0], dtype="<f4")
    bf16 = (values.view("<u4") >> 16).astype("<u2")
    header = {"x": {"dtype": "BF16", "shape": [3], "data_offsets": [0, 6]}}
    tensors = load_safetensors(write_safetensors(tmp_path / "m.safetensors", header, bf16.tobytes()))
    np.testing.assert_array_equal(tensors["x"], values)


@pytest.mark.parametrize(
    ("header", "body", "message"),
    [
        ({"x": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}, b"\0" * 8, "outside the file"),
        ({"x": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, b"\0" * 8, "shape says"),
        ({"x": {"dtype": "Q4", "shape": [1], "data_offsets": [0, 1]}}, b"\0", "unsupported dtype"),
        ({"x": {"shape": [1]}}, b"", "bad header entry"),
    ],
)
def test_malformed_safetensors_are_embedding_errors(
    tmp_path: Path, header: dict[str, object], body: bytes, message: str
) -> None:
    """A corrupt model file fails with a message naming the problem."""
    with pytest.raises(EmbeddingError, match=message):
        load_safetensors(write_safetensors(tmp_path / "m.safetensors", header, body))


def test_truncated_or_non_json_files_are_embedding_errors(tmp_path: Path) -> None:
    """Too-short files and headers that are not JSON are rejected."""
    (tmp_path / "short").write_bytes(b"\1\0")
    with pytest.raises(EmbeddingError, match="too short"):
        load_safetensors(tmp_path / "short")
    (tmp_path / "big").write_bytes(struct.pack("<Q", 10**9) + b"{}")
    with pytest.raises(EmbeddingError, match="exceeds the file"):
        load_safetensors(tmp_path / "big")
    (tmp_path / "nojson").write_bytes(struct.pack("<Q", 3) + b"abc")
    with pytest.raises(EmbeddingError, match="not JSON"):
        load_safetensors(tmp_path / "nojson")


def test_erf_matches_the_standard_library() -> None:
    """The vectorized erf agrees with math.erf to float32 precision."""
    x = np.linspace(-6, 6, 20001, dtype=np.float32)
    expected = np.array([math.erf(float(v)) for v in x])
    assert np.abs(erf(x) - expected).max() < 1e-6


def test_gelu_is_the_exact_erf_form() -> None:
    """GELU matches x * (1 + erf(x / sqrt 2)) / 2, not the tanh approximation."""
    x = np.linspace(-12, 12, 210000, dtype=np.float32).reshape(-1, 7)[:, :5]  # > one chunk
    xd = x.astype(np.float64)
    exact = xd * 0.5 * (1 + np.vectorize(math.erf)(xd / math.sqrt(2)))
    tanh_form = 0.5 * xd * (1 + np.tanh(math.sqrt(2 / math.pi) * (xd + 0.044715 * xd**3)))
    got = gelu(np.ascontiguousarray(x))
    assert got.dtype == np.float32 and got.shape == x.shape
    assert np.abs(got - exact).max() < 2e-6
    assert np.abs(tanh_form - exact).max() > 1e-4  # the check can tell the two apart


def test_a_byte_range_that_splits_a_value_is_rejected(tmp_path: Path) -> None:
    """A tensor whose bytes are not a whole number of values is a corrupt file."""
    header = {"x": {"dtype": "F32", "shape": [1], "data_offsets": [0, 6]}}
    with pytest.raises(EmbeddingError, match="not whole F32 values"):
        load_safetensors(write_safetensors(tmp_path / "m.safetensors", header, b"\0" * 8))


def test_a_file_with_only_empty_tensors_loads(tmp_path: Path) -> None:
    """Zero-size tensors need no data bytes."""
    header = {"x": {"dtype": "F32", "shape": [0, 4], "data_offsets": [0, 0]}}
    tensors = load_safetensors(write_safetensors(tmp_path / "m.safetensors", header, b""))
    assert tensors["x"].shape == (0, 4)


def test_blas_runs_single_threaded_inside_the_block_and_is_restored_after() -> None:
    """Within single_threaded_blas OpenBLAS uses one thread; nested blocks restore it once."""
    with _blas.single_threaded_blas():
        pass  # the first use looks the library up
    if _blas._api is None:
        pytest.skip("numpy does not use OpenBLAS here")
    set_threads, get_threads = _blas._api
    before = get_threads()
    set_threads(2)
    try:
        with _blas.single_threaded_blas():
            assert get_threads() == 1
            with _blas.single_threaded_blas():
                assert get_threads() == 1
            assert get_threads() == 1
        assert get_threads() == 2
    finally:
        set_threads(before)
