"""1-Wasserstein distance, raw and in reference standard deviations."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from exporter.stats import compare_ecdfs, wasserstein_normalized

RTOL = 1e-10  # agreement required with scipy.stats.wasserstein_distance


def test_wasserstein_matches_scipy_for_normal_vs_shifted_normal() -> None:
    rng = np.random.default_rng(51)
    reference = rng.normal(size=10_000)
    current = rng.normal(0.3, 1.2, size=5_000)
    expected = stats.wasserstein_distance(reference, current)
    # scipy.stats.wasserstein_distance, rtol=1e-10
    assert compare_ecdfs(np.sort(reference), current).wasserstein == pytest.approx(
        expected, rel=RTOL
    )


def test_wasserstein_matches_scipy_on_heavily_tied_data() -> None:
    rng = np.random.default_rng(52)
    reference = rng.integers(0, 5, size=5_000).astype(float)
    current = rng.integers(0, 3, size=700).astype(float)
    expected = stats.wasserstein_distance(reference, current)
    # scipy.stats.wasserstein_distance, rtol=1e-10
    assert compare_ecdfs(np.sort(reference), current).wasserstein == pytest.approx(
        expected, rel=RTOL
    )


def test_wasserstein_of_a_constant_shift_is_the_shift() -> None:
    # Every unit of mass moves by 2.5: W1 = 2.5 (closed form).
    reference = np.linspace(-1.0, 1.0, 101)
    assert compare_ecdfs(reference, reference + 2.5).wasserstein == pytest.approx(2.5, rel=1e-12)


def test_wasserstein_of_a_single_value_window_is_the_mean_absolute_deviation_to_it() -> None:
    # Against one point c, W1 = mean |x_i - c| (closed form): here mean |(0, 1, 2, 3) - 1| = 1.
    assert compare_ecdfs(
        np.array([0.0, 1.0, 2.0, 3.0]), np.array([1.0])
    ).wasserstein == pytest.approx(1.0)


def test_wasserstein_normalized_divides_by_the_reference_std() -> None:
    rng = np.random.default_rng(54)
    reference = np.sort(rng.normal(10.0, 4.0, size=5_000))
    current = rng.normal(12.0, 4.0, size=2_000)
    std = float(reference.std())
    expected = stats.wasserstein_distance(reference, current) / std
    # scipy.stats.wasserstein_distance / np.std, rtol=1e-10
    assert wasserstein_normalized(reference, current, std) == pytest.approx(expected, rel=RTOL)


def test_wasserstein_normalized_is_invariant_to_the_feature_units() -> None:
    # W1 scales linearly with the data, and so does the std: metres and millimetres agree.
    rng = np.random.default_rng(55)
    reference = np.sort(rng.normal(size=2_000))
    current = rng.normal(0.4, 1.0, size=1_000)
    in_metres = wasserstein_normalized(reference, current, float(reference.std()))
    in_mm = wasserstein_normalized(reference * 1e3, current * 1e3, float(reference.std() * 1e3))
    assert in_mm == pytest.approx(in_metres, rel=1e-12)


def test_wasserstein_normalized_reports_raw_units_for_a_constant_reference() -> None:
    # reference_std == 0: divide by 1. Constant 5 against constant 7: W1 = 2 (closed form).
    assert wasserstein_normalized(np.full(10, 5.0), np.full(4, 7.0), 0.0) == 2.0


def test_wasserstein_normalized_is_zero_for_identical_samples() -> None:
    values = np.sort(np.random.default_rng(56).normal(size=100))
    assert wasserstein_normalized(values, values[::-1], float(values.std())) == 0.0


@pytest.mark.parametrize("std", [-1.0, math.nan, math.inf])
def test_wasserstein_normalized_rejects_an_invalid_reference_std(std: float) -> None:
    with pytest.raises(ValueError, match="reference_std must be finite and >= 0"):
        wasserstein_normalized(np.array([0.0, 1.0]), np.array([1.0]), std)


def test_wasserstein_rejects_an_empty_window() -> None:
    with pytest.raises(ValueError, match="must be non-empty"):
        compare_ecdfs(np.array([0.0, 1.0]), np.array([]))
