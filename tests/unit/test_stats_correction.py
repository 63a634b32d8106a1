"""Multiple-testing correction against hand-worked examples, closed forms and scipy."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from exporter.stats import adjust_pvalues


def test_bonferroni_multiplies_by_the_number_of_tests_and_caps_at_one() -> None:
    p = np.array([0.001, 0.01, 0.2, 0.4, 0.9])
    # Closed form min(m p, 1) with m = 5: 0.005, 0.05, 1.0 (from 1.0), 1.0 (2.0), 1.0 (4.5).
    np.testing.assert_allclose(
        adjust_pvalues(p, "bonferroni"), [0.005, 0.05, 1.0, 1.0, 1.0], rtol=1e-15
    )


def test_benjamini_hochberg_matches_the_hand_worked_example() -> None:
    # p = (0.5, 0.01, 0.025, 0.02), m = 4. Sorted with ranks j:
    #   j=1: 0.01  -> 4 * 0.01  / 1 = 0.04
    #   j=2: 0.02  -> 4 * 0.02  / 2 = 0.04
    #   j=3: 0.025 -> 4 * 0.025 / 3 = 0.0333...
    #   j=4: 0.5   -> 4 * 0.5   / 4 = 0.5
    # Running minimum from the largest rank down: 0.5, 0.0333, min(0.04, 0.0333) = 0.0333,
    # min(0.04, 0.0333) = 0.0333. Back in input order: (0.5, 1/30, 1/30, 1/30).
    adjusted = adjust_pvalues([0.5, 0.01, 0.025, 0.02], "benjamini_hochberg")
    np.testing.assert_allclose(adjusted, [0.5, 1 / 30, 1 / 30, 1 / 30], rtol=1e-12)


def test_benjamini_hochberg_matches_scipy_false_discovery_control() -> None:
    rng = np.random.default_rng(61)
    for size in (1, 2, 8, 50):
        p = np.concatenate([rng.uniform(size=size), rng.uniform(0, 1e-3, size=size)])
        # scipy.stats.false_discovery_control(method="bh"), rtol=1e-15
        np.testing.assert_allclose(
            adjust_pvalues(p, "benjamini_hochberg"),
            stats.false_discovery_control(p, method="bh"),
            rtol=1e-15,
        )


def test_benjamini_hochberg_lies_between_the_raw_and_bonferroni_values() -> None:
    p = np.random.default_rng(62).uniform(size=30) ** 3
    bh = adjust_pvalues(p, "benjamini_hochberg")
    assert np.all(bh >= p)
    assert np.all(bh <= adjust_pvalues(p, "bonferroni") + 1e-15)


@pytest.mark.parametrize("method", ["bonferroni", "benjamini_hochberg", "none"])
def test_a_single_pvalue_is_unchanged(method: str) -> None:
    np.testing.assert_array_equal(adjust_pvalues([0.03], method), [0.03])  # type: ignore[arg-type]


def test_none_returns_an_unchanged_copy() -> None:
    p = np.array([0.2, 0.01, 1.0])
    adjusted = adjust_pvalues(p, "none")
    np.testing.assert_array_equal(adjusted, p)
    adjusted[0] = 0.0
    assert p[0] == 0.2


@pytest.mark.parametrize("method", ["bonferroni", "benjamini_hochberg", "none"])
def test_empty_input_gives_empty_output(method: str) -> None:
    adjusted = adjust_pvalues([], method)  # type: ignore[arg-type]
    assert adjusted.shape == (0,)
    assert adjusted.dtype == np.float64


@pytest.mark.parametrize("bad", [-0.1, 1.5, math.nan])
def test_pvalues_outside_the_unit_interval_are_rejected(bad: float) -> None:
    with pytest.raises(ValueError, match=r"pvalues\[1\]"):
        adjust_pvalues([0.5, bad], "bonferroni")


def test_an_unknown_method_is_rejected() -> None:
    with pytest.raises(ValueError, match="method must be"):
        adjust_pvalues([0.5], "holm")  # type: ignore[arg-type]
