"""Filter parsing and evaluation shared by every backend."""

from __future__ import annotations

import math
from typing import Any

import pytest

from threadloom.errors import InvalidFilterError
from threadloom.store._filters import (
    AllOf,
    AnyOf,
    Condition,
    compile_filter,
    json_equal,
    parse_filter,
)


def matches(filter: dict[str, Any], value: dict[str, Any]) -> bool:
    predicate = compile_filter(filter)
    return True if predicate is None else predicate(value)


def test_parse_gives_a_tree_backends_can_compile() -> None:
    """Plain values become $eq; nested dicts become dotted paths; $or becomes AnyOf."""
    tree = parse_filter(
        {"a": 1, "m": {"lang": "en"}, "$or": [{"n": {"$gt": 2}}, {"x": {"$exists": False}}]}
    )
    assert tree == AllOf(
        (
            Condition(("a",), "$eq", 1),
            Condition(("m", "lang"), "$eq", "en"),
            AnyOf(
                (
                    AllOf((Condition(("n",), "$gt", 2),)),
                    AllOf((Condition(("x",), "$exists", False),)),
                )
            ),
        )
    )


def test_an_empty_filter_accepts_everything() -> None:
    """None and {} compile to no predicate at all."""
    assert compile_filter(None) is None and compile_filter({}) is None


def test_numbers_compare_as_numbers_and_bools_are_not_numbers() -> None:
    """1 equals 1.0; True equals neither 1 nor matches a numeric range."""
    assert matches({"n": 1}, {"n": 1.0})
    assert not matches({"n": 1}, {"n": True})
    assert not matches({"n": True}, {"n": 1})
    assert not matches({"n": {"$gte": 0}}, {"n": True})
    assert matches({"n": {"$in": [2, 3]}}, {"n": 3.0})


def test_strings_compare_as_strings_and_never_against_numbers() -> None:
    """String ranges are lexicographic; a number never matches a string range and vice versa."""
    assert matches({"s": {"$gte": "b", "$lt": "c"}}, {"s": "banana"})
    assert not matches({"s": {"$gt": "a"}}, {"s": 5})
    assert not matches({"n": {"$gt": 1}}, {"n": "5"})


def test_missing_fields_never_crash_and_never_match_a_range() -> None:
    """A missing path (or one through a non-dict) fails ranges and $eq, passes $ne and $nin."""
    for value in ({}, {"a": 5}, {"a": {"b": [1]}}):
        assert not matches({"a.b.c": {"$gt": 0}}, value)
        assert not matches({"a.b.c": {"$lt": "z"}}, value)
        assert not matches({"a.b.c": None}, value)
        assert matches({"a.b.c": {"$ne": 1}}, value)
        assert matches({"a.b.c": {"$nin": [1]}}, value)
        assert matches({"a.b.c": {"$exists": False}}, value)


def test_null_exists_and_equals_none() -> None:
    """A field holding null exists and equals None."""
    assert matches({"x": {"$exists": True}}, {"x": None})
    assert matches({"x": None}, {"x": None})


def test_containers_compare_element_wise() -> None:
    """Lists and dicts in $eq compare whole, with the same number rules."""
    assert matches({"l": [1, "a"]}, {"l": [1.0, "a"]})
    assert not matches({"l": [1]}, {"l": [True]})
    assert matches({"d": {}}, {"d": {}})
    assert not matches({"d": {}}, {"d": {"x": 1}})
    assert json_equal({"a": [1, {"b": None}]}, {"a": [1.0, {"b": None}]})
    assert not json_equal({"a": 1}, {"b": 1})


def test_nan_and_infinities_follow_ieee_754_instead_of_raising() -> None:
    """No stored value is NaN or infinite, so equality with one never holds, inequality
    always does, and a range against NaN holds for nothing; against an infinity it is an
    ordinary bound."""
    doc = {"a": 1.0}
    assert not matches({"a": math.nan}, doc)
    assert not matches({"a": {"$eq": math.inf}}, doc)
    assert matches({"a": {"$ne": math.nan}}, doc) and matches({"b": {"$ne": math.nan}}, doc)
    assert not matches({"a": {"$gte": math.nan}}, doc)
    assert matches({"a": {"$in": [math.nan, 1]}}, doc)
    assert matches({"a": {"$nin": [math.nan]}}, doc)
    assert matches({"a": {"$lt": math.inf}}, doc) and matches({"a": {"$gt": -math.inf}}, doc)


def test_logical_operators_nest() -> None:
    """$and and $or combine sub-filters, to any depth."""
    f = {"$or": [{"a": 1}, {"$and": [{"b": {"$gt": 1}}, {"b": {"$lt": 3}}]}]}
    assert matches(f, {"a": 1}) and matches(f, {"b": 2})
    assert not matches(f, {"b": 3})


@pytest.mark.parametrize(
    ("filter", "named"),
    [
        ({"a": {"$like": "x"}}, r"\$like"),
        ({"$nor": [{"a": 1}]}, r"\$nor"),
        ({"a": {"$in": "xy"}}, r"\$in"),
        ({"a": {"$nin": 1}}, r"\$nin"),
        ({"a": {"$gt": [1]}}, r"\$gt"),
        ({"a": {"$eq": object()}}, r"\$eq"),
        ({"a": {"$exists": 1}}, r"\$exists"),
        ({"$and": {"a": 1}}, r"\$and"),
        ({"$or": [1]}, "dict"),
        ({"a..b": 1}, "path"),
        ({"": 1}, "path"),
        ({1: 1}, "strings"),
        ({"a": {"$gt": 1, "b": 2}}, "mixes"),
        ({"a": {"b": {"$eq": 1}, "$gt": 1}}, "mixes"),
    ],
    ids=repr,
)
def test_malformed_filters_raise_naming_the_problem(filter: Any, named: str) -> None:
    """Every malformed filter raises InvalidFilterError (a ValueError) whose message names it."""
    with pytest.raises(InvalidFilterError, match=named) as info:
        compile_filter(filter)
    assert isinstance(info.value, ValueError)


def test_a_filter_that_is_not_a_dict_is_rejected() -> None:
    """A list or string filter is an error, not a match-all."""
    with pytest.raises(InvalidFilterError, match="dict"):
        parse_filter(["a"])  # type: ignore[arg-type]
