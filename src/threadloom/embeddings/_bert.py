"""The BERT encoder forward pass in numpy (inference only, float32)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from threadloom.errors import EmbeddingError

__all__ = ["BertConfig", "BertEncoder", "erf", "gelu"]

F32 = np.float32
Array = np.ndarray[Any, np.dtype[np.float32]]


@dataclass(frozen=True)
class BertConfig:
    """The few ``config.json`` fields the forward pass needs."""

    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    intermediate_size: int
    max_position_embeddings: int
    layer_norm_eps: float = 1e-12
    hidden_act: str = "gelu"

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> BertConfig:
        """Pick the known fields out of a Hugging Face ``config.json``."""
        try:
            config = cls(
                hidden_size=int(raw["hidden_size"]),
                num_hidden_layers=int(raw["num_hidden_layers"]),
                num_attention_heads=int(raw["num_attention_heads"]),
                intermediate_size=int(raw["intermediate_size"]),
                max_position_embeddings=int(raw["max_position_embeddings"]),
                layer_norm_eps=float(raw.get("layer_norm_eps", 1e-12)),
                hidden_act=str(raw.get("hidden_act", "gelu")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise EmbeddingError(f"config.json lacks a BERT field: {exc}") from exc
        if config.hidden_act != "gelu":
            raise EmbeddingError(f"unsupported activation {config.hidden_act!r}; expected 'gelu'")
        if config.hidden_size % config.num_attention_heads:
            raise EmbeddingError("hidden_size is not a multiple of num_attention_heads")
        return config


# Abramowitz & Stegun 7.1.26: erfc(z) ~ poly(t) * t * exp(-z^2), t = 1 / (1 + p z), z >= 0,
# with |error| < 1.5e-7, below float32 resolution for GELU's outputs.
_P = 0.3275911
_A = (1.061405429, -1.453152027, 1.421413741, -0.284496736, 0.254829592)
# For GELU, z = |x| / sqrt(2): fold the sqrt(2) into p and GELU's 1/2 into the coefficients.
_P_GELU = F32(_P / math.sqrt(2.0))
_A_GELU = tuple(F32(a / 2) for a in _A)
# Elements per chunk: the temporaries then stay in the CPU cache (measured ~4x faster
# than whole-array passes); much smaller chunks pay Python overhead per call.
_CHUNK = 65536


def erf(x: Array) -> Array:
    """The error function, vectorized (numpy has none); accurate to ~1.5e-7."""
    ax = np.abs(x).astype(F32, copy=False)
    t = F32(1.0) / (F32(1.0) + F32(_P) * ax)
    poly = np.full_like(t, F32(_A[0]))
    for a in _A[1:]:
        poly = poly * t + F32(a)
    y = F32(1.0) - poly * t * np.exp(-ax * ax)
    return np.copysign(y, x).astype(F32, copy=False)


def gelu(x: Array) -> Array:
    """Exact (erf) GELU, as BERT uses: ``x * (1 + erf(x / sqrt 2)) / 2``.

    Written as ``relu(x) - |x| * erfc(|x| / sqrt 2) / 2``, which needs no sign
    juggling, and evaluated chunk by chunk in place.
    """
    out = np.empty_like(x)
    flat, flat_out = x.reshape(-1), out.reshape(-1)
    size = min(_CHUNK, flat.size)
    a, t, q = np.empty(size, F32), np.empty(size, F32), np.empty(size, F32)
    for start in range(0, flat.size, _CHUNK):
        xs = flat[start : start + _CHUNK]
        n = xs.size
        ac, tc, qc, oc = a[:n], t[:n], q[:n], flat_out[start : start + n]
        np.abs(xs, out=ac)
        np.multiply(ac, _P_GELU, out=tc)
        tc += F32(1.0)
        np.reciprocal(tc, out=tc)
        np.multiply(tc, _A_GELU[0], out=qc)
        for coef in _A_GELU[1:]:
            qc += coef
            qc *= tc
        # qc = erfc-polynomial * t / 2; times exp(-x^2 / 2) and |x|.
        np.multiply(ac, ac, out=tc)
        tc *= F32(-0.5)
        np.exp(tc, out=tc)
        qc *= tc
        qc *= ac
        np.maximum(xs, F32(0.0), out=oc)
        oc -= qc
    return out


def _layer_norm_(x: Array, weight: Array, bias: Array, eps: float) -> Array:
    """LayerNorm over the last axis of a 2-D array, in place (x is a temporary)."""
    x -= x.mean(axis=-1, keepdims=True)
    inv_std = np.einsum("ij,ij->i", x, x)[:, None]
    inv_std *= F32(1.0 / x.shape[-1])
    inv_std += F32(eps)
    np.sqrt(inv_std, out=inv_std)
    np.reciprocal(inv_std, out=inv_std)
    x *= inv_std
    x *= weight
    x += bias
    return x


@dataclass(frozen=True)
class _Layer:
    qkv_w: Array  # (hidden, 3*hidden): query, key and value fused into one matmul
    qkv_b: Array
    out_w: Array
    out_b: Array
    ln1_w: Array
    ln1_b: Array
    up_w: Array
    up_b: Array
    down_w: Array
    down_b: Array
    ln2_w: Array
    ln2_b: Array


class BertEncoder:
    """BERT embeddings + encoder layers; weights are copied into float32, laid out for ``x @ W``."""

    def __init__(self, config: BertConfig, tensors: dict[str, np.ndarray[Any, Any]]) -> None:
        self.config = config
        prefix = "bert." if "bert.embeddings.word_embeddings.weight" in tensors else ""

        def get(name: str) -> Array:
            key = prefix + name
            if key not in tensors:
                raise EmbeddingError(f"the model file has no tensor {key!r}")
            return np.ascontiguousarray(tensors[key], dtype=F32)

        def linear(name: str) -> tuple[Array, Array]:
            # Torch stores Linear weights as (out, in); transpose once so inference is x @ W.
            return np.ascontiguousarray(get(name + ".weight").T), get(name + ".bias")

        self.word = get("embeddings.word_embeddings.weight")
        self.position = get("embeddings.position_embeddings.weight")
        self.token_type0 = get("embeddings.token_type_embeddings.weight")[0]
        self.ln_w = get("embeddings.LayerNorm.weight")
        self.ln_b = get("embeddings.LayerNorm.bias")
        self.layers: list[_Layer] = []
        for i in range(config.num_hidden_layers):
            p = f"encoder.layer.{i}."
            q_w, q_b = linear(p + "attention.self.query")
            # Fold attention's 1/sqrt(head_dim) into the query projection.
            scale = F32(1.0 / math.sqrt(config.hidden_size // config.num_attention_heads))
            q_w, q_b = q_w * scale, q_b * scale
            k_w, k_b = linear(p + "attention.self.key")
            v_w, v_b = linear(p + "attention.self.value")
            out_w, out_b = linear(p + "attention.output.dense")
            up_w, up_b = linear(p + "intermediate.dense")
            down_w, down_b = linear(p + "output.dense")
            self.layers.append(
                _Layer(
                    qkv_w=np.ascontiguousarray(np.concatenate([q_w, k_w, v_w], axis=1)),
                    qkv_b=np.concatenate([q_b, k_b, v_b]),
                    out_w=out_w,
                    out_b=out_b,
                    ln1_w=get(p + "attention.output.LayerNorm.weight"),
                    ln1_b=get(p + "attention.output.LayerNorm.bias"),
                    up_w=up_w,
                    up_b=up_b,
                    down_w=down_w,
                    down_b=down_b,
                    ln2_w=get(p + "output.LayerNorm.weight"),
                    ln2_b=get(p + "output.LayerNorm.bias"),
                )
            )
        if self.word.shape[1] != config.hidden_size:
            raise EmbeddingError(
                f"word embeddings are {self.word.shape[1]}-d, config says {config.hidden_size}"
            )

    def __call__(self, ids: np.ndarray[Any, np.dtype[np.int64]], mask: Array) -> Array:
        """Hidden states ``(batch, length, hidden)`` for padded ``ids`` and a 0/1 ``mask``."""
        cfg = self.config
        batch, length = ids.shape
        heads = cfg.num_attention_heads
        head_dim = cfg.hidden_size // heads
        eps = cfg.layer_norm_eps
        tokens, hidden_size = batch * length, cfg.hidden_size
        x = self.word[ids.reshape(-1)]
        x.reshape(batch, length, hidden_size)[...] += self.position[:length] + self.token_type0
        x = _layer_norm_(x, self.ln_w, self.ln_b, eps)
        # Padding positions get a large negative score, so softmax gives them ~0 weight.
        bias = ((F32(1.0) - mask) * F32(-1e9))[:, None, None, :]
        # Temporaries are updated in place (bias, residual, LayerNorm): fewer passes over memory.
        for layer in self.layers:
            qkv = x @ layer.qkv_w
            qkv += layer.qkv_b
            # (batch, length, 3, heads, head_dim) -> 3 x (batch, heads, length, head_dim)
            qkv = qkv.reshape(batch, length, 3, heads, head_dim).transpose(2, 0, 3, 1, 4)
            scores = qkv[0] @ qkv[1].transpose(0, 1, 3, 2)
            scores += bias
            scores -= scores.max(axis=-1, keepdims=True)
            np.exp(scores, out=scores)
            scores /= scores.sum(axis=-1, keepdims=True)
            context = (scores @ qkv[2]).transpose(0, 2, 1, 3).reshape(tokens, hidden_size)
            y = context @ layer.out_w
            y += layer.out_b
            y += x
            x = _layer_norm_(y, layer.ln1_w, layer.ln1_b, eps)
            h = x @ layer.up_w
            h += layer.up_b
            y = gelu(h) @ layer.down_w
            y += layer.down_b
            y += x
            x = _layer_norm_(y, layer.ln2_w, layer.ln2_b, eps)
        return x.reshape(batch, length, hidden_size)
