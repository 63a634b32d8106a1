"""KS, Wasserstein (via compare_ecdfs) and chi-squared against scipy and closed forms."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import scipy
from scipy import stats

from exporter.stats import Chi2Result, chi2, compare_ecdfs

# Fisher's iris data, sepal length in cm, 50 flowers per species: Anderson (1935), Fisher (1936)
# "The use of multiple measurements in taxonomic problems", Annals of Eugenics 7(2), 179-188;
# as distributed in the UCI Machine Learning Repository (rows 51-100 and 101-150).
# Measured to 0.1 cm, so both samples are heavily tied.
IRIS_VERSICOLOR_SEPAL_LENGTH = [
    7.0, 6.4, 6.9, 5.5, 6.5, 5.7, 6.3, 4.9, 6.6, 5.2, 5.0, 5.9, 6.0, 6.1, 5.6, 6.7, 5.6,
    5.8, 6.2, 5.6, 5.9, 6.1, 6.3, 6.1, 6.4, 6.6, 6.8, 6.7, 6.0, 5.7, 5.5, 5.5, 5.8, 6.0,
    5.4, 6.0, 6.7, 6.3, 5.6, 5.5, 5.5, 6.1, 5.8, 5.0, 5.6, 5.7, 5.7, 6.2, 5.1, 5.7,
]  # fmt: skip
IRIS_VIRGINICA_SEPAL_LENGTH = [
    6.3, 5.8, 7.1, 6.3, 6.5, 7.6, 4.9, 7.3, 6.7, 7.2, 6.5, 6.4, 6.8, 5.7, 5.8, 6.4, 6.5,
    7.7, 7.7, 6.0, 6.9, 5.6, 7.7, 6.3, 6.7, 7.2, 6.2, 6.1, 6.4, 7.2, 7.4, 7.9, 6.4, 6.3,
    6.1, 7.7, 6.3, 6.4, 6.0, 6.9, 6.7, 6.9, 5.8, 6.8, 6.7, 6.7, 6.3, 6.5, 6.2, 5.9,
]  # fmt: skip

RTOL = 1e-10  # agreement required with scipy.stats.ks_2samp / wasserstein_distance


def _assert_matches_scipy(reference: np.ndarray, current: np.ndarray) -> None:
    result = compare_ecdfs(np.sort(reference), current)
    with np.errstate(divide="ignore"):  # scipy warns for 1 vs 1 value, where p is nan
        expected = stats.ks_2samp(reference, current, method="asymp")
    # scipy.stats.ks_2samp(method="asymp"), rtol=1e-10; in the tail (p < 0.01 at n_e >= 500)
    # the Stephens-corrected Kolmogorov limit: rtol 0.05 down to 1e-8, then only both < 1e-8.
    assert result.ks_statistic == pytest.approx(expected.statistic, rel=RTOL, abs=0)
    if expected.pvalue >= 0.01 or np.isnan(expected.pvalue):
        assert result.ks_pvalue == pytest.approx(expected.pvalue, rel=RTOL, abs=0, nan_ok=True)
    elif expected.pvalue >= 1e-8:
        assert result.ks_pvalue == pytest.approx(expected.pvalue, rel=0.05, abs=0)
    else:
        assert result.ks_pvalue < 1e-7
    # scipy.stats.wasserstein_distance, rtol=1e-10
    expected_w = stats.wasserstein_distance(reference, current)
    assert result.wasserstein == pytest.approx(expected_w, rel=RTOL, abs=0)


# compare_ecdfs: synthetic data against scipy


@pytest.mark.parametrize("shift", [0.0, 0.02, 0.05, 0.1, 0.5, 2.0])
def test_compare_ecdfs_matches_scipy_for_normal_vs_shifted_normal(shift: float) -> None:
    rng = np.random.default_rng(31)
    _assert_matches_scipy(rng.normal(size=10_000), rng.normal(shift, 1.0, size=5_000))


def test_compare_ecdfs_matches_scipy_for_a_scale_change_and_unequal_sizes() -> None:
    rng = np.random.default_rng(32)
    _assert_matches_scipy(rng.normal(size=997), rng.normal(0.0, 1.5, size=3_001))
    _assert_matches_scipy(rng.exponential(size=3_001), rng.exponential(1.2, size=997))


def test_compare_ecdfs_matches_scipy_on_heavily_tied_integer_data() -> None:
    rng = np.random.default_rng(33)
    reference = rng.integers(0, 4, size=10_000).astype(float)
    _assert_matches_scipy(reference, rng.integers(0, 4, size=5_000).astype(float))
    _assert_matches_scipy(reference, rng.integers(1, 6, size=5_000).astype(float))
    _assert_matches_scipy(reference, rng.poisson(1.5, size=5_000).astype(float))


def test_compare_ecdfs_matches_scipy_on_many_small_tied_samples() -> None:
    rng = np.random.default_rng(34)
    for _ in range(300):
        reference = rng.integers(0, 6, size=int(rng.integers(1, 40))).astype(float)
        current = rng.integers(0, 6, size=int(rng.integers(1, 40))).astype(float)
        _assert_matches_scipy(reference, current)


@pytest.mark.parametrize("size", [1, 2, 3, 4, 5])
def test_compare_ecdfs_matches_scipy_for_tiny_windows(size: int) -> None:
    rng = np.random.default_rng(35 + size)
    _assert_matches_scipy(rng.normal(size=200), rng.normal(0.3, 1.0, size=size))


def test_compare_ecdfs_matches_scipy_with_a_single_reference_value() -> None:
    _assert_matches_scipy(np.array([0.0]), np.array([-1.0, 0.0, 0.0, 2.0]))


def test_compare_ecdfs_pvalue_is_nan_for_one_value_against_one_like_scipy() -> None:
    # n_e = round(1 * 1 / 2) = 0: no asymptotic distribution; scipy's ks_2samp gives nan too.
    result = compare_ecdfs(np.array([0.0]), np.array([1.0]))
    assert (result.ks_statistic, result.wasserstein) == (1.0, 1.0)  # closed form
    assert math.isnan(result.ks_pvalue)


def test_compare_ecdfs_is_unchanged_by_the_order_of_current() -> None:
    rng = np.random.default_rng(36)
    reference = np.sort(rng.normal(size=500))
    current = rng.normal(size=300)
    assert compare_ecdfs(reference, current) == compare_ecdfs(reference, np.sort(current))


def test_compare_ecdfs_does_not_modify_its_inputs() -> None:
    rng = np.random.default_rng(37)
    reference = np.sort(rng.normal(size=100))
    current = rng.normal(size=50)
    reference_copy, current_copy = reference.copy(), current.copy()
    compare_ecdfs(reference, current)
    np.testing.assert_array_equal(reference, reference_copy)
    np.testing.assert_array_equal(current, current_copy)


# compare_ecdfs: closed forms


def test_compare_ecdfs_of_identical_samples_is_zero_with_pvalue_one() -> None:
    values = np.random.default_rng(38).normal(size=1_000)
    result = compare_ecdfs(np.sort(values), values)
    assert result == (0.0, 1.0, 0.0)  # D = 0 and W = 0 exactly; kstwo.sf(0, n) = 1


def test_compare_ecdfs_of_an_integer_shift_has_closed_form_statistics() -> None:
    # Reference 0..99, current shifted by k = 7: F_ref - F_cur = k/n on [7, 99], so D = 7/100;
    # every unit of mass moves 7, so W = 7.
    reference = np.arange(100.0)
    result = compare_ecdfs(reference, reference + 7.0)
    assert result.ks_statistic == pytest.approx(0.07, rel=1e-12)  # closed form
    assert result.wasserstein == pytest.approx(7.0, rel=1e-12)  # closed form
    # p-value: P(D_n >= 0.07) with n = round(100 * 100 / 200) = 50, scipy.stats.kstwo, rtol 1e-12
    assert result.ks_pvalue == pytest.approx(stats.kstwo.sf(0.07, 50), rel=1e-12)


def test_compare_ecdfs_of_disjoint_constant_features_is_one_and_the_gap() -> None:
    # Reference constant at 0, current constant at 3: the ECDFs differ by 1 on [0, 3).
    result = compare_ecdfs(np.zeros(40), np.full(10, 3.0))
    assert result.ks_statistic == 1.0  # closed form
    assert result.wasserstein == pytest.approx(3.0, rel=1e-15)  # closed form
    # n = round(40 * 10 / 50) = 8; a continuous D_n never reaches 1, so kstwo.sf(1, 8) = 0.
    assert result.ks_pvalue == 0.0


def test_compare_ecdfs_of_the_same_constant_feature_is_zero() -> None:
    assert compare_ecdfs(np.full(20, 5.0), np.full(3, 5.0)) == (0.0, 1.0, 0.0)


def test_compare_ecdfs_of_a_constant_reference_against_a_spread_window() -> None:
    # Reference all 0; current (-1, 0, 1, 2): F_ref - F_cur = -1/4 on [-1, 0), 1/2 on [0, 1),
    # 1/4 on [1, 2); D = 1/2; W = 1/4 + 1/2 + 1/4 = 1.
    result = compare_ecdfs(np.zeros(8), np.array([2.0, -1.0, 1.0, 0.0]))
    assert result.ks_statistic == 0.5  # closed form
    assert result.wasserstein == pytest.approx(1.0, rel=1e-15)  # closed form


def test_compare_ecdfs_wasserstein_recovers_a_location_shift() -> None:
    # For a pure location shift d, W1 = |d|; 0.02 allows for sampling error at these sizes.
    rng = np.random.default_rng(39)
    reference = np.sort(rng.normal(size=10_000))
    assert compare_ecdfs(reference, rng.normal(0.5, 1.0, size=5_000)).wasserstein == (
        pytest.approx(0.5, abs=0.02)
    )


def test_compare_ecdfs_pvalue_detects_a_shift_and_not_its_absence() -> None:
    rng = np.random.default_rng(40)
    reference = np.sort(rng.normal(size=10_000))
    assert compare_ecdfs(reference, rng.normal(0.0, 1.0, size=5_000)).ks_pvalue > 0.01
    assert compare_ecdfs(reference, rng.normal(0.2, 1.0, size=5_000)).ks_pvalue < 1e-10


# compare_ecdfs: real data


def test_compare_ecdfs_matches_scipy_on_iris_sepal_lengths() -> None:
    versicolor = np.array(IRIS_VERSICOLOR_SEPAL_LENGTH)
    virginica = np.array(IRIS_VIRGINICA_SEPAL_LENGTH)
    # Transcription check: the published species means are 5.936 and 6.588 cm.
    assert versicolor.mean() == pytest.approx(5.936, abs=1e-12)
    assert virginica.mean() == pytest.approx(6.588, abs=1e-12)
    _assert_matches_scipy(versicolor, virginica)
    _assert_matches_scipy(virginica, versicolor)
    assert compare_ecdfs(np.sort(versicolor), virginica).ks_pvalue < 1e-4  # species differ


def test_iris_literal_matches_the_copy_bundled_with_scipy() -> None:
    bundled = Path(scipy.__file__).parent / "spatial" / "tests" / "data" / "iris.txt"
    if not bundled.exists():
        pytest.skip("scipy installed without its test data")
    sepal_length = np.loadtxt(bundled)[:, 0]
    np.testing.assert_allclose(sepal_length[50:100], IRIS_VERSICOLOR_SEPAL_LENGTH, rtol=1e-15)
    np.testing.assert_allclose(sepal_length[100:150], IRIS_VIRGINICA_SEPAL_LENGTH, rtol=1e-15)


# compare_ecdfs: invalid input


@pytest.mark.parametrize(("reference", "current"), [([], [1.0]), ([1.0], []), ([], [])])
def test_compare_ecdfs_rejects_an_empty_sample(
    reference: list[float], current: list[float]
) -> None:
    with pytest.raises(ValueError, match="must be non-empty"):
        compare_ecdfs(np.array(reference), np.array(current))


def test_compare_ecdfs_rejects_an_unsorted_reference() -> None:
    with pytest.raises(ValueError, match="reference_sorted must be sorted ascending"):
        compare_ecdfs(np.array([0.0, 2.0, 1.0]), np.array([1.0]))


def test_compare_ecdfs_rejects_missing_values_in_the_window() -> None:
    with pytest.raises(ValueError, match=r"current\[1\] is nan"):
        compare_ecdfs(np.array([0.0, 1.0]), np.array([1.0, np.nan]))


# ks


# chi2


def test_chi2_matches_the_hand_computed_textbook_table() -> None:
    # Table [[30, 20, 50], [20, 30, 50]]: row totals 100, 100; column totals 50, 50, 100;
    # N = 200; expected E = row * col / N = (25, 25, 50) in both rows.
    # chi2 = (5^2 + 5^2 + 0 + 5^2 + 5^2 + 0) / 25 = 4; dof = (2 - 1)(3 - 1) = 2.
    # With 2 dof the chi-squared survival function is exp(-x / 2), so p = exp(-2).
    result = chi2([30, 20, 50], [20, 30, 50])
    assert result.statistic == pytest.approx(4.0, rel=1e-12)  # closed form
    assert result.pvalue == pytest.approx(math.exp(-2.0), rel=1e-12)  # closed form
    assert result.dof == 2


def test_chi2_of_a_two_by_two_table_has_no_yates_correction() -> None:
    # [[10, 20], [20, 10]]: E = 15 everywhere; chi2 = 4 * 5^2 / 15 = 20/3 (Yates would give
    # 4 * 4.5^2 / 15 = 5.4). 1 dof: p = erfc(sqrt(chi2 / 2)).
    result = chi2([10, 20], [20, 10])
    assert result.statistic == pytest.approx(20.0 / 3.0, rel=1e-12)  # closed form
    assert result.pvalue == pytest.approx(math.erfc(math.sqrt(10.0 / 3.0)), rel=1e-12)
    assert result.dof == 1


def test_chi2_matches_scipy_chi2_contingency_on_random_tables() -> None:
    rng = np.random.default_rng(42)
    for _ in range(50):
        reference = rng.integers(1, 200, size=8)
        current = rng.integers(1, 200, size=8)
        expected = stats.chi2_contingency(np.vstack([reference, current]), correction=False)
        result = chi2(reference, current)
        # scipy.stats.chi2_contingency(correction=False), rtol=1e-12
        assert result.statistic == pytest.approx(expected.statistic, rel=1e-12)
        assert result.pvalue == pytest.approx(expected.pvalue, rel=1e-12)
        assert result.dof == expected.dof


def test_chi2_drops_categories_empty_in_both_rows() -> None:
    assert chi2([30, 0, 20, 50, 0], [20, 0, 30, 50, 0]) == chi2([30, 20, 50], [20, 30, 50])


def test_chi2_keeps_a_category_empty_in_only_one_row() -> None:
    expected = stats.chi2_contingency([[10, 5, 0], [10, 5, 4]], correction=False)
    result = chi2([10, 5, 0], [10, 5, 4])
    assert result.statistic == pytest.approx(expected.statistic, rel=1e-12)  # scipy, rtol 1e-12
    assert result.dof == 2


@pytest.mark.parametrize(("reference", "current"), [([5], [7]), ([0, 9, 0], [0, 3, 0])])
def test_chi2_of_a_single_category_is_zero_with_pvalue_one(
    reference: list[int], current: list[int]
) -> None:
    assert chi2(reference, current) == Chi2Result(0.0, 1.0, 0)


def test_chi2_of_proportional_rows_is_zero_with_pvalue_one() -> None:
    result = chi2([10, 20, 30], [20, 40, 60])
    assert result.statistic == pytest.approx(0.0, abs=1e-12)
    assert result.pvalue == pytest.approx(1.0, rel=1e-12)


@pytest.mark.parametrize(("reference", "current"), [([0, 0], [1, 2]), ([1, 2], [0, 0])])
def test_chi2_rejects_an_empty_row(reference: list[int], current: list[int]) -> None:
    with pytest.raises(ValueError, match="positive total"):
        chi2(reference, current)


def test_chi2_rejects_rows_of_different_lengths() -> None:
    with pytest.raises(ValueError, match="same length"):
        chi2([1, 2], [1, 2, 3])


@pytest.mark.parametrize("effective_n", [500, 1_000, 3_333, 10_000, 50_000])
def test_ks_tail_pvalue_is_within_the_stated_error_of_kstwo(effective_n: int) -> None:
    from exporter.stats.two_sample import _ks_asymptotic_pvalue

    # Reference: scipy.stats.kstwo.sf(D, n_e), the distribution ks_2samp(method="asymp") uses.
    # Samples of sizes (2 n_e, 2 n_e) have the effective size n_e.
    checked = 0
    for statistic in np.linspace(0.001, 0.5, 600):
        exact = float(stats.kstwo.sf(statistic, effective_n))
        ours = _ks_asymptotic_pvalue(float(statistic), 2 * effective_n, 2 * effective_n)
        if exact >= 0.01:
            assert ours == pytest.approx(exact, rel=1e-10)
        elif exact >= 1e-4:
            assert ours == pytest.approx(exact, rel=0.03)
            checked += 1
        elif exact >= 1e-8:
            assert ours == pytest.approx(exact, rel=0.05)
        elif exact >= 1e-12:
            assert ours == pytest.approx(exact, rel=0.06)
    assert checked > 0
