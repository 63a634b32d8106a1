"""PSI and Jensen-Shannon distance against closed forms and scipy."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.spatial.distance import jensenshannon

from exporter.stats import bin_counts, jensen_shannon, psi, quantile_edges


def _evidently_psi(reference_counts: np.ndarray, current_counts: np.ndarray) -> float:
    """Evidently's PSI (evidently.calculations.stattests.psi + utils.get_binned_data).

    Proportions with exact zeros replaced by 0.0001 (np.place), then
    sum((ref - cur) * ln(ref / cur)). Agrees with the floor max(p, 1e-4) whenever every
    non-zero proportion is at least 1e-4.
    """
    r = reference_counts / reference_counts.sum()
    c = current_counts / current_counts.sum()
    np.place(r, r == 0, 0.0001)
    np.place(c, c == 0, 0.0001)
    return float(np.sum((r - c) * np.log(r / c)))


def _shifted_normal_histograms(shift: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    reference = rng.normal(size=10_000)
    current = rng.normal(shift, 1.0, size=5_000)
    edges = quantile_edges(reference, bins=10)
    return bin_counts(reference, edges), bin_counts(current, edges)


# psi


def test_psi_matches_the_hand_computed_three_bin_value() -> None:
    # Proportions r = (0.5, 0.3, 0.2), c = (0.3, 0.3, 0.4):
    #   (0.3 - 0.5) ln(0.3 / 0.5) = 0.2 ln(5/3) = 0.102165...
    #   (0.3 - 0.3) ln(1)         = 0
    #   (0.4 - 0.2) ln(0.4 / 0.2) = 0.2 ln 2   = 0.138629...
    # PSI = 0.2 ln(10/3) = 0.240794560865187
    expected = 0.2 * math.log(10.0 / 3.0)
    assert psi([50, 30, 20], [30, 30, 40]) == pytest.approx(expected, rel=1e-12)  # closed form


def test_psi_floors_an_empty_bin_at_the_smoothing_value() -> None:
    # r = (0.5, 0.5, 0 -> 1e-4), c = (0.4, 0.4, 0.2); the floor only touches the empty bin:
    #   2 * (0.4 - 0.5) ln(0.4 / 0.5) = 0.2 ln 1.25
    #   (0.2 - 1e-4) ln(0.2 / 1e-4)   = 0.1999 ln 2000
    expected = 0.2 * math.log(1.25) + 0.1999 * math.log(2000.0)
    assert psi([50, 50, 0], [40, 40, 20]) == pytest.approx(expected, rel=1e-12)  # closed form


def test_psi_floors_small_proportions_not_only_zeros() -> None:
    # r = (1e-5 -> 1e-4, 0.99999), c = (0.5, 0.5): the documented max(p, s) convention.
    expected = (0.5 - 1e-4) * math.log(0.5 / 1e-4) + (0.5 - 0.99999) * math.log(0.5 / 0.99999)
    assert psi([1, 99_999], [1, 1]) == pytest.approx(expected, rel=1e-12)  # closed form


def test_psi_uses_the_smoothing_argument() -> None:
    # r = (0.5, 0.5), c = (1, 0 -> s): PSI = 0.5 ln(2) + (s - 0.5) ln(2 s).
    s = 1e-3
    expected = 0.5 * math.log(2.0) + (s - 0.5) * math.log(2.0 * s)
    assert psi([1, 1], [1, 0], smoothing=s) == pytest.approx(expected, rel=1e-12)  # closed form


def test_psi_is_zero_for_identical_histograms() -> None:
    assert psi([10, 0, 25, 3], [10, 0, 25, 3]) == 0.0


def test_psi_is_zero_for_proportional_histograms() -> None:
    assert psi([1, 2, 3], [100, 200, 300]) == pytest.approx(0.0, abs=1e-15)


def test_psi_is_zero_for_a_single_category() -> None:
    assert psi([7], [1_000]) == 0.0


def test_psi_is_symmetric() -> None:
    assert psi([50, 30, 20], [30, 30, 40]) == psi([30, 30, 40], [50, 30, 20])


def test_psi_matches_evidentlys_convention_on_random_histograms() -> None:
    rng = np.random.default_rng(21)
    for _ in range(50):
        reference = rng.integers(0, 500, size=12).astype(float)
        current = rng.integers(0, 500, size=12).astype(float)
        reference[rng.integers(0, 12)] = 0.0  # at least one empty bin per side
        current[rng.integers(0, 12)] = 0.0
        # Independent implementation above; rtol 1e-12 (same formula, other rounding order).
        assert psi(reference, current) == pytest.approx(
            _evidently_psi(reference, current), rel=1e-12
        )


def test_psi_grows_with_a_mean_shift() -> None:
    values = [psi(*_shifted_normal_histograms(shift, seed=3)) for shift in (0.0, 0.25, 1.0)]
    assert values[0] < 0.01  # sampling noise only, 10 deciles at n = 10,000 / 5,000
    assert values[0] < values[1] < values[2]
    assert values[2] > 0.25  # the conventional "major shift" threshold


@pytest.mark.parametrize(("reference", "current"), [([0, 0], [1, 2]), ([1, 2], [0, 0]), ([], [])])
def test_psi_is_nan_when_either_histogram_is_empty(
    reference: list[int], current: list[int]
) -> None:
    assert math.isnan(psi(reference, current))


def test_psi_rejects_histograms_of_different_lengths() -> None:
    with pytest.raises(ValueError, match="same length, got 2 and 3"):
        psi([1, 2], [1, 2, 3])


def test_psi_rejects_negative_counts() -> None:
    with pytest.raises(ValueError, match=r"current_counts\[0\] is -1.0"):
        psi([1, 2], [-1, 2])


@pytest.mark.parametrize("smoothing", [0.0, -1e-4, 1.0, math.nan])
def test_psi_rejects_smoothing_outside_the_open_unit_interval(smoothing: float) -> None:
    with pytest.raises(ValueError, match="smoothing must be in"):
        psi([1, 2], [2, 1], smoothing=smoothing)


# jensen_shannon


def test_jensen_shannon_matches_scipy_on_random_histograms_with_empty_bins() -> None:
    rng = np.random.default_rng(22)
    for _ in range(200):
        reference = rng.integers(0, 20, size=15)
        current = rng.integers(0, 20, size=15)
        reference[0] = current[1] = 0
        expected = jensenshannon(reference, current, base=2)
        # scipy.spatial.distance.jensenshannon(base=2), rtol=1e-12
        assert jensen_shannon(reference, current) == pytest.approx(expected, rel=1e-12, abs=0)


def test_jensen_shannon_matches_scipy_on_binned_normal_and_shifted_normal() -> None:
    reference, current = _shifted_normal_histograms(0.5, seed=4)
    expected = jensenshannon(reference, current, base=2)
    # scipy.spatial.distance.jensenshannon(base=2), rtol=1e-12
    assert jensen_shannon(reference, current) == pytest.approx(expected, rel=1e-12)


def test_jensen_shannon_matches_the_hand_computed_two_bin_value() -> None:
    # p = (1, 0), q = (1/2, 1/2), m = (3/4, 1/4):
    #   KL2(p||m) = log2(4/3); KL2(q||m) = 1/2 log2(2/3) + 1/2 log2(2) = 1/2 log2(4/3)
    # JS^2 = 1/2 (3/2 log2(4/3)) = 3/4 log2(4/3)
    expected = math.sqrt(0.75 * math.log2(4.0 / 3.0))
    assert jensen_shannon([4, 0], [3, 3]) == pytest.approx(expected, rel=1e-12)  # closed form


def test_jensen_shannon_is_zero_for_identical_histograms() -> None:
    assert jensen_shannon([10, 0, 25, 3], [10, 0, 25, 3]) == 0.0


def test_jensen_shannon_is_zero_for_a_single_category() -> None:
    assert jensen_shannon([7], [1_000]) == 0.0


def test_jensen_shannon_is_one_for_disjoint_supports() -> None:
    # JS^2 = 1/2 (sum p log2(2) + sum q log2(2)) = 1 exactly in real arithmetic.
    assert jensen_shannon([3, 5, 0, 0], [0, 0, 2, 9]) == pytest.approx(1.0, abs=1e-15)


def test_jensen_shannon_is_symmetric_and_within_the_unit_interval() -> None:
    rng = np.random.default_rng(23)
    for _ in range(100):
        a = rng.integers(0, 5, size=6)
        b = rng.integers(0, 5, size=6)
        a[0] = b[1] = 1  # non-empty totals
        forward = jensen_shannon(a, b)
        assert forward == pytest.approx(jensen_shannon(b, a), rel=1e-12, abs=1e-15)
        assert 0.0 <= forward <= 1.0


@pytest.mark.parametrize(("reference", "current"), [([0, 0], [1, 2]), ([1, 2], [0, 0])])
def test_jensen_shannon_is_nan_when_either_histogram_is_empty(
    reference: list[int], current: list[int]
) -> None:
    assert math.isnan(jensen_shannon(reference, current))


def test_jensen_shannon_rejects_histograms_of_different_lengths() -> None:
    with pytest.raises(ValueError, match="same length"):
        jensen_shannon([1, 2], [1, 2, 3])
