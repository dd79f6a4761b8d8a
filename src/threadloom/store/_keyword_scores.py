"""The matches of one keyword query, scored: picking the best, ties by address.

:meth:`~threadloom.store._keyword.KeywordIndex.scored` gives a
:class:`KeywordScores`; the keyword search takes its :meth:`~KeywordScores.top`
hits, and hybrid fusion also asks it for given items' scores.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from functools import cached_property, partial
from itertools import repeat
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from threadloom.store._keyword import KeywordPartition

__all__ = ["KeywordHit", "KeywordScores", "by_score_then_address", "new_hit", "top_order"]

# Beyond this many extra ties at a search's cut-off, they are picked by address
# without building a hit for each (see _pick_ties).
_TIES_BEFORE_PICKING = 64

_Namespace = tuple[str, ...]


class KeywordHit(NamedTuple):
    """One item matched by a keyword search, with its BM25 score."""

    namespace: _Namespace
    key: str
    score: float


# KeywordHit from a (namespace, key, score) tuple, without the Python-level __new__.
new_hit = partial(tuple.__new__, KeywordHit)


class KeywordScores:
    """The matches of one keyword query in one scope, scored: the best of them, or any one's score.

    Made by :meth:`KeywordIndex.scored`; valid until the index changes.
    """

    def __init__(
        self,
        owners: list[tuple[_Namespace, KeywordPartition, npt.NDArray[np.int64]]],
        chunks: list[npt.NDArray[np.float64]],
    ) -> None:
        self._owners = owners
        # One flat array of every match's score; partition i's matches sit at
        # [offsets[i], offsets[i + 1]), in slot order.
        self.flat = chunks[0] if len(chunks) == 1 else np.concatenate(chunks)
        self._slots = (
            owners[0][2] if len(owners) == 1 else np.concatenate([s for _, _, s in owners])
        )

    # Made when first needed: a search in one namespace (the usual) never needs them.
    @cached_property
    def _offsets(self) -> npt.NDArray[np.int64]:
        return np.cumsum([0] + [len(slots) for _, _, slots in self._owners])

    @cached_property
    def _owner_of(self) -> dict[_Namespace, int]:
        return {namespace: number for number, (namespace, _, _) in enumerate(self._owners)}

    def scores_of(self, addresses: Sequence[tuple[_Namespace, str]]) -> list[float]:
        """Each address's BM25 score, ``0.0`` for an item that does not match."""
        owners, owner_of = self._owners, self._owner_of
        out = [0.0] * len(addresses)
        asked: list[int] = []
        targets: list[int] = []
        for position, (namespace, key) in enumerate(addresses):
            number = owner_of.get(namespace)
            if number is None:
                continue
            slot = owners[number][1].item_slot.get(key)
            if slot is not None:
                asked.append(position)
                targets.append(number << 32 | slot)
        if not targets:
            return out
        # Each asked item's place in the flat array: its partition's offset plus its
        # slot's place among the partition's (sorted) matching slots, in one search.
        keyed = self._keyed()
        goal = np.array(targets, dtype=np.int64)
        at = np.minimum(np.searchsorted(keyed, goal), len(keyed) - 1)
        found = keyed[at] == goal
        for position, score, ok in zip(asked, self.flat[at].tolist(), found.tolist(), strict=True):
            if ok:
                out[position] = score
        return out

    def _keyed(self) -> npt.NDArray[np.int64]:
        """Partition number << 32 | slot of every match, ascending (flat array order)."""
        sizes = np.diff(self._offsets)
        owner = np.repeat(np.arange(len(self._owners), dtype=np.int64), sizes)
        return np.asarray(self._slots, dtype=np.int64) + (owner << 32)

    def single(self) -> tuple[_Namespace, KeywordPartition, npt.NDArray[np.int64]] | None:
        """``(namespace, partition, matching slots)`` when every match is in one namespace."""
        return self._owners[0] if len(self._owners) == 1 else None

    def best_positions(self, limit: int | None) -> npt.NDArray[np.int64]:
        """Of one namespace's matches (:meth:`single`): the best ``limit`` (all with
        ``None``), best first, ties by key, as positions in :attr:`flat`."""
        assert len(self._owners) == 1, "best_positions needs the matches of one namespace"
        scores, slots, partition = self.flat, self._slots, self._owners[0][1]
        total = len(scores)
        if limit is None or limit >= total:
            order: npt.NDArray[np.int64] = np.arange(total)
        elif limit <= 0:
            return np.empty(0, dtype=np.int64)
        else:
            threshold = scores[np.argpartition(-scores, limit - 1)[limit - 1]]
            above = np.flatnonzero(scores > threshold)
            tied = np.flatnonzero(scores == threshold)
            need = limit - len(above)
            if need < len(tied):
                # The ties with the smallest keys (a common word ties many items).
                if partition.ranks_pay_off(len(tied)):
                    ranks = partition.key_ranks()[slots[tied]]
                    tied = tied[np.argpartition(ranks, need - 1)[:need]]
                else:
                    keys = partition.item_keys
                    firsts = heapq.nsmallest(
                        need,
                        zip([keys[s] for s in slots[tied].tolist()], tied.tolist(), strict=True),
                    )
                    tied = np.array([position for _, position in firsts], dtype=np.int64)
            order = np.concatenate((above, tied))
        if partition.ranks_pay_off(len(order)):
            by_key = partition.key_ranks()[slots[order]]
        else:
            keys = partition.item_keys
            names = [keys[slot] for slot in slots[order].tolist()]
            by_key = np.empty(len(names), dtype=np.int64)
            by_key[sorted(range(len(names)), key=names.__getitem__)] = np.arange(len(names))
        return order[np.lexsort((by_key, -scores[order]))]

    def top(self, limit: int | None) -> list[KeywordHit]:
        """The best ``limit`` hits (all with ``None``), best first, ties by address."""
        owners, all_scores, all_slots, offsets = self._owners, self.flat, self._slots, self._offsets
        if len(owners) == 1:
            namespace, partition, _ = owners[0]
            best = self.best_positions(limit)
            keys = partition.item_keys
            return list(
                map(
                    new_hit,
                    zip(
                        repeat(namespace),
                        map(keys.__getitem__, all_slots[best].tolist()),
                        all_scores[best].tolist(),
                    ),
                )
            )
        order = top_order(all_scores, limit)
        if limit is not None and len(order) > 2 * limit + _TIES_BEFORE_PICKING:
            order = _pick_ties(owners, offsets, all_slots, all_scores, order, limit)
        if not len(order):
            return []
        slots_of = all_slots[order].tolist()
        which = np.searchsorted(offsets, order, side="right") - 1
        names = [
            owners[owner][1].item_keys[slot]
            for owner, slot in zip(which.tolist(), slots_of, strict=True)
        ]
        # Best score first, ties by (namespace, key): the keys are sorted alone (a list
        # of str sorts much faster than tuples), then numpy orders by score.
        by_key = np.empty(len(names), dtype=np.int64)
        by_key[sorted(range(len(names)), key=names.__getitem__)] = np.arange(len(names))
        namespace_rank = np.empty(len(owners), dtype=np.int64)
        namespace_rank[sorted(range(len(owners)), key=lambda i: owners[i][0])] = np.arange(
            len(owners)
        )
        ranked = np.lexsort((by_key, namespace_rank[which], -all_scores[order]))
        if limit is not None:
            ranked = ranked[:limit]
        picked = ranked.tolist()
        scores = all_scores[order[ranked]].tolist()
        owner_of = which[ranked].tolist()
        return [
            new_hit((owners[owner][0], names[i], score))
            for owner, i, score in zip(owner_of, picked, scores, strict=True)
        ]


def top_order(scores: npt.NDArray[np.floating], limit: int | None) -> npt.NDArray[np.int64]:
    """Indices of the best ``limit`` scores plus any tied with the last of them."""
    if limit is not None and limit < len(scores):
        threshold = scores[np.argpartition(-scores, limit - 1)[limit - 1]]
        return np.flatnonzero(scores >= threshold)
    return np.arange(len(scores))


def _pick_ties(
    owners: list[tuple[_Namespace, KeywordPartition, npt.NDArray[np.int64]]],
    offsets: npt.NDArray[np.int64],
    all_slots: npt.NDArray[np.int64],
    all_scores: npt.NDArray[np.float64],
    order: npt.NDArray[np.int64],
    limit: int,
) -> npt.NDArray[np.int64]:
    """The ``limit`` best of ``order`` (the best scores and every tie with the last one),
    ties going to the smallest ``(namespace, key)``, without making a hit of every tie.

    A common word in short texts ties thousands of items; only the namespaces
    that come first are read, and in them only the tied items' keys.
    """
    scores = all_scores[order]
    threshold = np.min(scores)
    above = order[scores > threshold]
    tied = order[scores == threshold]  # ascending: each partition's ties are contiguous
    need = limit - len(above)
    bounds = np.searchsorted(tied, offsets)
    chosen = [above]
    for owner in sorted(range(len(owners)), key=lambda i: owners[i][0]):
        if need <= 0:
            break
        positions = tied[bounds[owner] : bounds[owner + 1]]
        if not len(positions):
            continue
        partition = owners[owner][1]
        if partition.ranks_pay_off(len(positions)):
            # The smallest keys are the smallest ranks: no strings compared.
            ranks = partition.key_ranks()[all_slots[positions]]
            if need < len(ranks):
                positions = positions[np.argpartition(ranks, need - 1)[:need]]
            chosen.append(positions)
            need -= len(positions)
            continue
        keys = partition.item_keys
        slots = all_slots[positions].tolist()
        picked = heapq.nsmallest(
            need, zip([keys[s] for s in slots], positions.tolist(), strict=True)
        )
        chosen.append(np.array([position for _, position in picked], dtype=np.int64))
        need -= len(picked)
    return np.concatenate(chosen)


def by_score_then_address(hits: list[KeywordHit], limit: int | None) -> list[KeywordHit]:
    """Best first; equal scores by (namespace, key), so every backend orders ties alike."""
    hits.sort(key=lambda hit: (-hit.score, hit.namespace, hit.key))
    return hits if limit is None else hits[:limit]
