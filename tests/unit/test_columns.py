"""Raw JSON/CSV values -> numeric arrays and category keys, with value-quality counts."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from exporter.ingest.values import ABSENT, boolean_key, category_key
from exporter.window.columns import categorical_column, category_codes, numeric_column

# numeric_column


def test_numeric_column_of_finite_numbers_keeps_every_value_as_float() -> None:
    column = numeric_column([1, 2.5, -3, 0])
    assert column.values.dtype == np.float64
    np.testing.assert_array_equal(column.values, [1.0, 2.5, -3.0, 0.0])
    assert (column.missing, column.nan, column.type_mismatch) == (0, 0, 0)


def test_numeric_column_counts_nan_and_both_infinities_as_nan() -> None:
    column = numeric_column([1.0, math.nan, math.inf, -math.inf, 2])
    np.testing.assert_array_equal(column.values, [1.0, 2.0])
    assert (column.missing, column.nan, column.type_mismatch) == (0, 3, 0)


def test_numeric_column_splits_a_mixed_column_into_values_missing_nan_and_mismatches() -> None:
    raw = [1, None, ABSENT, math.nan, math.inf, True, False, "3", [1], {"a": 1}, 4.5]
    column = numeric_column(raw)
    np.testing.assert_array_equal(column.values, [1.0, 4.5])
    assert column.missing == 2  # None, ABSENT
    assert column.nan == 2  # nan, inf
    assert column.type_mismatch == 5  # True, False, "3", [1], {"a": 1}


def test_numeric_column_treats_booleans_as_type_mismatches_not_as_0_and_1() -> None:
    column = numeric_column([True, False, True])
    assert column.values.size == 0
    assert column.type_mismatch == 3


@pytest.mark.parametrize(
    "numbers",
    [
        [1, 2, 3],
        [0.5, -1.25, 1e300],
        [1.0, math.nan, 2, -math.inf, math.inf, 7],
        [math.nan, math.nan],
    ],
)
def test_numeric_column_fast_and_slow_paths_agree(numbers: list[Any]) -> None:
    # All-number columns take the one-np.array fast path; one None forces the per-value path.
    fast = numeric_column(numbers)
    slow = numeric_column([*numbers, None])
    np.testing.assert_array_equal(fast.values, slow.values)
    assert fast.values.dtype == slow.values.dtype == np.float64
    assert fast.nan == slow.nan
    assert fast.type_mismatch == slow.type_mismatch == 0
    assert (fast.missing, slow.missing) == (0, 1)


def test_numeric_column_of_nothing_is_empty() -> None:
    column = numeric_column([])
    assert column.values.shape == (0,)
    assert (column.missing, column.nan, column.type_mismatch) == (0, 0, 0)


def test_absent_is_distinct_from_none_and_reads_as_absent() -> None:
    assert ABSENT is not None
    assert repr(ABSENT) == "ABSENT"


# category_key


@pytest.mark.parametrize("value", [1, 1.0, "1"])
def test_category_key_spells_1_and_1_0_and_the_string_1_the_same(value: Any) -> None:
    assert category_key(value) == "1"


@pytest.mark.parametrize(
    ("value", "key"),
    [
        (True, "true"),
        (False, "false"),
        (0, "0"),
        (-0.0, "0"),
        (-7, "-7"),
        (1.5, "1.5"),
        (10**20, "100000000000000000000"),
        (1e20, "100000000000000000000"),
        ("red", "red"),
        ("", ""),
        ("true", "true"),
    ],
)
def test_category_key_spells_values_as_json_would(value: Any, key: str) -> None:
    assert category_key(value) == key


@pytest.mark.parametrize("value", [[1], {"a": 1}, None, ABSENT, math.nan, math.inf, -math.inf])
def test_category_key_is_none_for_values_without_a_category(value: Any) -> None:
    assert category_key(value) is None


# boolean_key


@pytest.mark.parametrize("value", [True, 1, "true", "TRUE", " True "])
def test_boolean_key_reads_true(value: Any) -> None:
    assert boolean_key(value) == "true"


@pytest.mark.parametrize("value", [False, 0, "false", "FALSE", "False\n"])
def test_boolean_key_reads_false(value: Any) -> None:
    assert boolean_key(value) == "false"


@pytest.mark.parametrize("value", [2, -1, "yes", "1", "", None, [True], {"a": True}])
def test_boolean_key_is_none_for_anything_else(value: Any) -> None:
    assert boolean_key(value) is None


# categorical_column


def test_categorical_column_counts_missing_and_type_mismatches() -> None:
    raw = ["a", None, ABSENT, 1, 1.0, "1", [1], True, {"k": 2}, math.nan]
    column = categorical_column(raw)
    assert column.keys == ["a", None, None, "1", "1", "1", None, "true", None, None]
    assert column.missing == 2  # None and ABSENT
    assert column.type_mismatch == 3  # the list, the object and NaN


def test_categorical_column_in_boolean_mode_uses_boolean_keys() -> None:
    raw = [True, "false", 0, 1, "x", None, 2, ABSENT]
    column = categorical_column(raw, boolean=True)
    assert column.keys == ["true", "false", "false", "true", None, None, None, None]
    assert column.missing == 2
    assert column.type_mismatch == 2  # "x" and 2


def test_categorical_column_of_nothing_counts_nothing() -> None:
    column = categorical_column([])
    assert column.keys == []
    assert (column.missing, column.type_mismatch) == (0, 0)


# category_codes


def test_category_codes_map_known_keys_and_send_the_rest_to_overflow() -> None:
    index = {"a": 0, "b": 1}
    codes = category_codes(["a", "b", None, "z", "a", None, "y"], index, overflow=2)
    assert codes.dtype == np.intp
    np.testing.assert_array_equal(codes, [0, 1, 2, 0, 2])


def test_category_codes_leave_out_none_keys_so_length_counts_usable_values() -> None:
    codes = category_codes([None, None], {"a": 0}, overflow=1)
    assert codes.shape == (0,)
    assert codes.dtype == np.intp


def test_category_codes_bincount_gives_category_counts_with_overflow_last() -> None:
    keys = categorical_column(["red", "blue", "red", "green", "mauve", None]).keys
    codes = category_codes(keys, {"red": 0, "blue": 1}, overflow=2)
    np.testing.assert_array_equal(np.bincount(codes, minlength=3), [2, 1, 2])
