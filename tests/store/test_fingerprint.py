"""Key fingerprints and their sorted lookup: what hybrid fusion joins the two indexes on."""

from __future__ import annotations

import numpy as np

from threadloom.store._fingerprint import MAX_ADDED, KeyLookup, fingerprint


def keys_of(*pairs: tuple[int, int]) -> np.ndarray:
    return np.array(pairs, dtype=np.int64).reshape(-1, 2)


def places(*numbers: int) -> np.ndarray:
    return np.array(numbers, dtype=np.int64)


def test_equal_keys_have_equal_fingerprints_and_different_keys_do_not() -> None:
    assert fingerprint("memory-1") == fingerprint("-".join(["memory", "1"]))
    seen = {fingerprint(f"m{i}") for i in range(10_000)}
    assert len(seen) == 10_000


def test_find_gives_each_wanted_fingerprint_its_place_or_minus_one() -> None:
    lookup = KeyLookup(keys_of((30, 3), (10, 1), (20, 2)), places(7, 5, 6))
    found = lookup.find(keys_of((10, 1), (20, 2), (25, 0), (30, 3), (99, 9), (5, 5)))
    assert found is not None
    assert found.tolist() == [5, 6, -1, 7, -1, -1]


def test_an_equal_hash_with_another_check_value_is_another_key() -> None:
    lookup = KeyLookup(keys_of((10, 1), (20, 2)), places(0, 1))
    lookup.add((30, 3), 2)
    found = lookup.find(keys_of((10, 2), (20, 2), (30, 4), (30, 3)))
    assert found is not None
    assert found.tolist() == [-1, 1, -1, 2]


def test_a_lookup_whose_keys_share_a_hash_declines() -> None:
    lookup = KeyLookup(keys_of((10, 1), (10, 2), (20, 3)), places(0, 1, 2))
    assert lookup.find(keys_of((20, 3))) is None


def test_added_keys_are_found_until_one_shares_a_hash() -> None:
    lookup = KeyLookup(keys_of((10, 1), (20, 2)), places(0, 1))
    assert lookup.add((15, 5), 8) and lookup.add((25, 6), 9)
    found = lookup.find(keys_of((15, 5), (20, 2), (25, 6), (26, 6)))
    assert found is not None and found.tolist() == [8, 1, 9, -1]
    # A new key whose hash is already there (sorted part or added): the lookup declines.
    lookup.add((20, 7), 10)
    assert lookup.find(keys_of((15, 5))) is None
    twice = KeyLookup(keys_of((10, 1)), places(0))
    twice.add((40, 1), 1)
    twice.add((40, 2), 2)
    assert twice.find(keys_of((10, 1))) is None


def test_a_lookup_takes_a_bounded_number_of_new_keys() -> None:
    lookup = KeyLookup(keys_of(), places())
    assert all(lookup.add((i, i), i) for i in range(MAX_ADDED))
    assert not lookup.add((MAX_ADDED, 0), MAX_ADDED)
    found = lookup.find(keys_of((3, 3), (MAX_ADDED - 1, MAX_ADDED - 1)))
    assert found is not None and found.tolist() == [3, MAX_ADDED - 1]


def test_empty_sides() -> None:
    empty = KeyLookup(keys_of(), places())
    found = empty.find(keys_of((1, 1)))
    assert found is not None and found.tolist() == [-1]
    found = KeyLookup(keys_of((1, 1)), places(4)).find(keys_of())
    assert found is not None and found.tolist() == []
