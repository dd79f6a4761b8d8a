"""Deterministic fake embedders for tests: no model, no network, same vectors every run.

:class:`HashingEmbed` is a bag-of-words embedder: texts that share words get
similar vectors, so semantic-search tests have predictable rankings. It records
every call, so a test can check how many embed calls a batch made. The others
misbehave on purpose, to test that a store rejects bad vectors whole:

>>> embed = HashingEmbed(16)
>>> len(embed(["hello world"])[0]), embed.calls
(16, [['hello world']])

Each misbehaving embedder behaves like :class:`HashingEmbed` until it sees a
text containing ``trigger`` (default: every text), then fails its way.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Sequence

__all__ = [
    "AsyncHashingEmbed",
    "HashingEmbed",
    "InfEmbed",
    "NaNEmbed",
    "RaisingEmbed",
    "WrongCountEmbed",
    "WrongDimsEmbed",
]

_WORD = re.compile(r"[a-z0-9]+")


def _bucket(word: str, dims: int) -> tuple[int, float]:
    digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
    number = int.from_bytes(digest, "little")
    return number % dims, 1.0 if (number >> 63) & 1 else -1.0


class HashingEmbed:
    """A sync embed function: lower-cased words hashed into ``dims`` buckets, normalized.

    A text without words embeds to a fixed unit vector, never to zeros.
    """

    def __init__(self, dims: int = 64, *, trigger: str = "") -> None:
        self.dims = dims
        self.trigger = trigger
        self.calls: list[list[str]] = []

    def vector(self, text: str) -> list[float]:
        """The embedding of one text."""
        vector = [0.0] * self.dims
        for word in _WORD.findall(text.lower()):
            bucket, sign = _bucket(word, self.dims)
            vector[bucket] += sign
        norm = math.sqrt(sum(x * x for x in vector))
        if norm == 0:
            vector[0] = 1.0
            return vector
        return [x / norm for x in vector]

    def triggered(self, texts: Sequence[str]) -> bool:
        """Whether any text contains the trigger (misbehaving subclasses fail then)."""
        return any(self.trigger in text for text in texts)

    def __call__(self, texts: Sequence[str]) -> list[list[float]]:
        self.calls.append(list(texts))
        return [self.vector(text) for text in texts]


class AsyncHashingEmbed(HashingEmbed):
    """:class:`HashingEmbed` as an ``async`` function."""

    async def __call__(self, texts: Sequence[str]) -> list[list[float]]:  # type: ignore[override]
        self.calls.append(list(texts))
        return [self.vector(text) for text in texts]


class RaisingEmbed(HashingEmbed):
    """Raises ``RuntimeError`` (like a provider outage) when triggered."""

    def __call__(self, texts: Sequence[str]) -> list[list[float]]:
        if self.triggered(texts):
            self.calls.append(list(texts))
            raise RuntimeError("embedding service unavailable")
        return super().__call__(texts)


class WrongCountEmbed(HashingEmbed):
    """Returns one vector too few when triggered."""

    def __call__(self, texts: Sequence[str]) -> list[list[float]]:
        vectors = super().__call__(texts)
        return vectors[:-1] if self.triggered(texts) else vectors


class WrongDimsEmbed(HashingEmbed):
    """Returns vectors one element short when triggered."""

    def __call__(self, texts: Sequence[str]) -> list[list[float]]:
        vectors = super().__call__(texts)
        return [v[:-1] for v in vectors] if self.triggered(texts) else vectors


class NaNEmbed(HashingEmbed):
    """Puts a NaN in the first vector when triggered."""

    def __call__(self, texts: Sequence[str]) -> list[list[float]]:
        vectors = super().__call__(texts)
        if self.triggered(texts):
            vectors[0][0] = math.nan
        return vectors


class InfEmbed(HashingEmbed):
    """Puts an infinity in the last vector when triggered."""

    def __call__(self, texts: Sequence[str]) -> list[list[float]]:
        vectors = super().__call__(texts)
        if self.triggered(texts):
            vectors[-1][-1] = math.inf
        return vectors
