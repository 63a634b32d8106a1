"""Input validation: every statistic rejects bad arrays with a message naming the argument."""

from __future__ import annotations

import numpy as np
import pytest

from exporter.stats import as_counts, as_sample, as_sorted_sample, check_same_length


def test_as_counts_converts_integer_lists_to_float64() -> None:
    counts = as_counts([3, 0, 5], "reference_counts")
    assert counts.dtype == np.float64
    np.testing.assert_array_equal(counts, [3.0, 0.0, 5.0])


def test_as_counts_accepts_an_empty_histogram() -> None:
    assert as_counts([], "reference_counts").shape == (0,)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ([1.0, -2.0], r"reference_counts must be non-negative, but reference_counts\[1\] is -2.0"),
        ([1.0, np.nan], r"reference_counts must be finite, but reference_counts\[1\] is nan"),
        ([np.inf, 1.0], r"reference_counts must be finite, but reference_counts\[0\] is inf"),
        ([[1.0, 2.0]], r"reference_counts must be 1-D, got shape \(1, 2\)"),
        (3.0, r"reference_counts must be 1-D, got shape \(\)"),
        (["a", "b"], r"reference_counts must be real numbers"),
        ([1 + 2j], r"reference_counts must be real numbers"),
        ([1.0, None], r"reference_counts must be real numbers"),
    ],
)
def test_as_counts_rejects_bad_input_naming_the_argument(bad: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        as_counts(bad, "reference_counts")  # type: ignore[arg-type]


def test_as_sample_returns_float64_arrays_without_copying() -> None:
    values = np.array([1.0, 2.0, 3.0])
    assert np.shares_memory(as_sample(values, "current"), values)


def test_as_sample_accepts_negative_values_and_empty_input() -> None:
    np.testing.assert_array_equal(as_sample([-1, 0, 1], "current"), [-1.0, 0.0, 1.0])
    assert as_sample(np.array([]), "current").size == 0


@pytest.mark.parametrize("missing", [np.nan, np.inf, -np.inf])
def test_as_sample_rejects_missing_and_infinite_values(missing: float) -> None:
    with pytest.raises(ValueError, match=r"current\[2\]"):
        as_sample([0.0, 1.0, missing], "current")


def test_as_sorted_sample_accepts_ties() -> None:
    np.testing.assert_array_equal(as_sorted_sample([1, 1, 2, 2], "ref"), [1.0, 1.0, 2.0, 2.0])


def test_as_sorted_sample_rejects_a_descent_naming_its_position() -> None:
    with pytest.raises(ValueError, match=r"ref\[3\] < ref\[2\]"):
        as_sorted_sample([0.0, 1.0, 2.0, 1.5], "ref")


def test_check_same_length_names_both_arguments() -> None:
    check_same_length(np.zeros(2), np.zeros(2), "a", "b")
    with pytest.raises(ValueError, match="a and b must have the same length, got 2 and 3"):
        check_same_length(np.zeros(2), np.zeros(3), "a", "b")
