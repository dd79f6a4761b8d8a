"""Key fingerprints: how the in-process indexes join on integer arrays instead of strings.

Hybrid fusion in one namespace matches the vector index's candidates with the
keyword index's matches. Looking each key up in a dict touches a few cold
objects per candidate; comparing arrays of fingerprints does not. A
fingerprint is two integers: ``hash(key)``, and the hash of the key with a
salt drawn at start-up. Two different keys that share both would need a
collision of two independent 64-bit hashes, one of them secret even when
``PYTHONHASHSEED`` is fixed.

>>> fingerprint("m1") == fingerprint("m1"), fingerprint("m1") == fingerprint("m2")
(True, False)
"""

from __future__ import annotations

import secrets

import numpy as np
import numpy.typing as npt

__all__ = ["MAX_ADDED", "KeyLookup", "fingerprint", "fingerprints"]

IntArray = npt.NDArray[np.int64]

_SALT = "\x00" + secrets.token_hex(8)
# Keys a lookup takes in one by one before it is dropped and sorted again.
MAX_ADDED = 64


def fingerprint(key: str) -> tuple[int, int]:
    """The two 64-bit integers that stand for ``key`` in array joins."""
    return hash(key), hash(key + _SALT)


def fingerprints(keys: list[str]) -> IntArray:
    """:func:`fingerprint` of each key, as an ``(n, 2)`` array (in C-level loops)."""
    out = np.empty((len(keys), 2), dtype=np.int64)
    out[:, 0] = np.fromiter(map(hash, keys), np.int64, len(keys))
    out[:, 1] = np.fromiter(map(hash, [key + _SALT for key in keys]), np.int64, len(keys))
    return out


class KeyLookup:
    """Keys' fingerprints sorted by hash, with the place (slot, row) of each.

    Built once, then kept up to date for a few new keys at a time (:meth:`add`:
    a put of a new key must not pay for a sort); :meth:`find` is one binary
    search per key, plus a look at the keys added since. It declines (``None``)
    when two of its keys share a hash (a 64-bit collision): the caller then
    compares keys itself.
    """

    __slots__ = ("_added", "_ambiguous", "_checked", "_checks", "_count", "_hashes", "_places")

    def __init__(self, keys: IntArray, places: IntArray) -> None:
        """From an ``(n, 2)`` array of distinct keys' fingerprints and the place of each."""
        order = np.argsort(keys[:, 0])  # keys are distinct: no order among equals matters
        self._hashes = keys[order, 0]
        self._checks = keys[order, 1]
        self._places = places[order]
        hashes = self._hashes
        self._ambiguous = bool(len(hashes) > 1 and (hashes[1:] == hashes[:-1]).any())
        # Keys added since, as rows (hash, check, place): in an array, so that a put
        # leaves no Python object behind (the collector's passes grow with them).
        self._added = np.empty((MAX_ADDED, 3), dtype=np.int64)
        self._count = 0
        self._checked = 0  # how many added keys were checked for a hash clash

    @property
    def added(self) -> int:
        """How many keys were added since the sort (a version of what it holds)."""
        return self._count

    def added_places(self, since: int) -> IntArray:
        """The places of the keys added after the first ``since`` added ones, in order."""
        return self._added[since : self._count, 2].copy()

    def add(self, key: tuple[int, int], place: int) -> bool:
        """Take in a key that is new here; ``False`` when too many were added since the
        sort (then drop this lookup, and build a new one when next needed)."""
        count = self._count
        if count == MAX_ADDED:
            return False
        self._added[count] = (key[0], key[1], place)
        self._count = count + 1
        return True

    def find(self, wanted: IntArray) -> IntArray | None:
        """The place of each wanted ``(n, 2)`` fingerprint (``-1``: not there), or
        ``None`` when the lookup is ambiguous."""
        if self._ambiguous:
            return None
        hashes = self._hashes
        wanted_hashes, wanted_checks = wanted[:, 0], wanted[:, 1]
        if len(hashes):
            at = np.minimum(np.searchsorted(hashes, wanted_hashes), len(hashes) - 1)
            # Equal hashes with different check values are different keys.
            same = (hashes[at] == wanted_hashes) & (self._checks[at] == wanted_checks)
            found = np.where(same, self._places[at], -1)
        else:
            found = np.full(len(wanted), -1, dtype=np.int64)
        if self._count:
            if self._checked != self._count and self._added_clash():
                self._ambiguous = True
                return None
            added = self._added[: self._count]
            same = (wanted_hashes[:, None] == added[:, 0]) & (wanted_checks[:, None] == added[:, 1])
            hit = same.any(axis=1)
            found[hit] = added[same[hit].argmax(axis=1), 2]
        return found

    def _added_clash(self) -> bool:
        """Whether a hash among the added keys repeats, or is in the sorted part."""
        self._checked = self._count
        new = self._added[: self._count, 0]
        if len(np.unique(new)) < len(new):
            return True
        hashes = self._hashes
        if not len(hashes):
            return False
        at = np.minimum(np.searchsorted(hashes, new), len(hashes) - 1)
        return bool((hashes[at] == new).any())
