"""Critical values, sparse-bin pooling and Brownian bridges against closed forms and Monte Carlo.

The Monte Carlo checks draw no-drift windows from a seeded generator and compare the realised
exceedance of each critical value with 1 - quantile. Draw counts are small (a few thousand) to
keep the file fast; each tolerance is several binomial standard deviations wide, so it holds
for the seed used and for almost any other. bench/bench_calibration.py runs the full grid.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

from exporter.stats import (
    brownian_bridges,
    compare_ecdfs,
    jensen_shannon,
    jensen_shannon_critical,
    pool_sparse_bins,
    pooled,
    psi,
    psi_critical,
    wasserstein_critical,
)
from exporter.stats.bridges import bridge_integral_quantile, bridge_weights
from exporter.stats.calibration import small_count_index


@pytest.fixture(scope="module")
def bridges() -> object:
    return brownian_bridges(draws=8192, seed=3)


def _zipf(k: int) -> np.ndarray:
    p = 1.0 / np.arange(1, k + 1)
    return p / p.sum()


# --------------------------------------------------------------------------- closed forms


@pytest.mark.parametrize(("n", "m", "bins", "q"), [(1, 1, 2, 0.5), (50, 1000, 10, 0.9995)])
def test_psi_critical_is_the_chi2_quantile_times_one_over_n_plus_one_over_m(
    n: int, m: int, bins: int, q: float
) -> None:
    expected = stats.chi2.ppf(q, bins - 1) * (1 / n + 1 / m)  # scipy, rtol 1e-12
    assert psi_critical(n, m, bins, q) == pytest.approx(expected, rel=1e-12)


def test_jensen_shannon_critical_is_the_square_root_of_psi_critical_over_8_ln_2() -> None:
    for n, bins, q in [(1, 2, 0.9), (200, 10, 0.99), (5000, 50, 0.9995)]:
        expected = math.sqrt(psi_critical(n, 10_000, bins, q) / (8 * math.log(2)))
        assert jensen_shannon_critical(n, 10_000, bins, q) == pytest.approx(expected, rel=1e-12)


def test_small_count_correction_only_raises_psi_critical_and_fades_with_n() -> None:
    p = _zipf(10)
    ratios = [
        psi_critical(n, 10_000, 10, 0.9995, reference_proportions=p)
        / psi_critical(n, 10_000, 10, 0.9995)
        for n in (200, 1000, 10_000, 1_000_000)
    ]
    assert all(r > 1.0 for r in ratios)
    assert ratios == sorted(ratios, reverse=True)
    assert ratios[-1] == pytest.approx(1.0, abs=1e-3)


def test_small_count_index_is_the_sum_of_inverse_expected_counts() -> None:
    # Expected counts 50 and 50 in the window, 5000 and 5000 in the reference.
    assert small_count_index(100, 10_000, [3, 3]) == pytest.approx(2 / 50 + 2 / 5000, rel=1e-12)


@pytest.mark.parametrize("q", [0.0, 1.0, -0.1, 1.5, float("nan")])
def test_critical_values_reject_a_quantile_outside_0_1_by_name(q: float) -> None:
    with pytest.raises(ValueError, match="quantile must be in"):
        psi_critical(100, 1000, 10, q)
    with pytest.raises(ValueError, match="quantile must be in"):
        jensen_shannon_critical(100, 1000, 10, q)
    with pytest.raises(ValueError, match="quantile must be in"):
        wasserstein_critical([0.0, 1.0], 0.5, 10, q)


def test_critical_values_reject_bad_sizes_and_a_single_bin_by_name() -> None:
    with pytest.raises(ValueError, match="window_n must be an integer >= 1"):
        psi_critical(0, 1000, 10, 0.99)
    with pytest.raises(ValueError, match="reference_n must be an integer >= 1"):
        jensen_shannon_critical(10, 0, 10, 0.99)
    with pytest.raises(ValueError, match="bins must be an integer >= 2"):
        psi_critical(10, 1000, 1, 0.99)
    with pytest.raises(ValueError, match="one entry per bin"):
        psi_critical(10, 1000, 3, 0.99, reference_proportions=[0.5, 0.5])
    with pytest.raises(ValueError, match=r"reference_proportions must be non-empty and > 0"):
        psi_critical(10, 1000, 2, 0.99, reference_proportions=[1.0, 0.0])
    with pytest.raises(ValueError, match="reference_std must be finite"):
        wasserstein_critical([0.0, 1.0], -1.0, 10, 0.99)
    with pytest.raises(ValueError, match="reference_sorted must be sorted"):
        wasserstein_critical([1.0, 0.0], 0.5, 10, 0.99)


# --------------------------------------------------------------------------- smoothing


def test_psi_with_jeffreys_pseudo_count_matches_the_hand_computed_value() -> None:
    r = np.array([50.5, 30.5, 20.5]) / 101.5
    c = np.array([30.5, 30.5, 40.5]) / 101.5
    expected = float(((c - r) * np.log(c / r)).sum())  # closed form
    assert psi([50, 30, 20], [30, 30, 40], pseudo_count=0.5) == pytest.approx(expected, rel=1e-12)


def test_an_empty_decile_weighs_less_as_the_window_fills_with_a_pseudo_count() -> None:
    reference = np.full(10, 1000)
    empty_one = [psi(reference, np.r_[0, np.full(9, n // 9)], pseudo_count=0.5) for n in (45, 450)]
    assert empty_one[0] < 0.3 and empty_one[1] > empty_one[0]  # more evidence, larger index
    legacy = psi(reference, np.r_[0, np.full(9, 5)])
    assert legacy > 0.69  # the floor's 0.1 ln(0.1 / 1e-4) whatever the size


def test_jensen_shannon_with_pseudo_count_is_scipy_on_the_smoothed_proportions() -> None:
    r, c = np.array([7.0, 0.0, 3.0]), np.array([0.0, 2.0, 9.0])
    expected = jensenshannon((r + 0.5) / 11.5, (c + 0.5) / 12.5, base=2)  # scipy, rtol 1e-12
    assert jensen_shannon(r, c, pseudo_count=0.5) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("a", [0.0, -1.0, float("inf"), float("nan")])
def test_a_pseudo_count_must_be_finite_and_positive(a: float) -> None:
    with pytest.raises(ValueError, match="pseudo_count must be finite and > 0"):
        psi([1, 2], [2, 1], pseudo_count=a)
    with pytest.raises(ValueError, match="pseudo_count must be finite and > 0"):
        jensen_shannon([1, 2], [2, 1], pseudo_count=a)


# --------------------------------------------------------------------------- pooling


def test_sparse_categories_pool_into_the_overflow_bin() -> None:
    pooling = pool_sparse_bins([500, 300, 150, 40, 10, 0], 100, overflow_index=5)
    assert pooling.grouping.tolist() == [0, 1, 2, 3, 3, 3]
    assert pooling.bins == 4 and pooling.judged
    assert pooled([1, 2, 3, 4, 5, 6], pooling).tolist() == [1.0, 2.0, 3.0, 15.0]


def test_a_thin_pool_takes_the_smallest_other_bins_until_it_holds_min_expected() -> None:
    # Expected 60, 30, 7, 3: the pool {3} (3) is too thin, so bin 2 (7) joins it.
    pooling = pool_sparse_bins([60, 30, 7, 3], 100)
    assert pooling.grouping.tolist() == [0, 1, 2, 2]


def test_a_window_value_where_the_reference_has_none_is_counted_in_the_pool() -> None:
    pooling = pool_sparse_bins([100, 100, 0], 100, overflow_index=2)
    assert pooling.bins == 2
    assert pooled([40, 50, 10], pooling).sum() == 100.0


def test_ordered_bins_merge_neighbours_and_a_short_tail_joins_its_left_neighbour() -> None:
    pooling = pool_sparse_bins([1] * 10, 12, ordered=True)  # 1.2 expected per bin
    assert pooling.grouping.tolist() == [0] * 5 + [1] * 5
    assert pool_sparse_bins([1] * 10, 1000, ordered=True).bins == 10


def test_one_remaining_bin_means_the_feature_is_not_judged() -> None:
    assert not pool_sparse_bins([1, 1, 1], 4).judged
    assert not pool_sparse_bins([0, 0, 0], 100).judged  # an empty reference
    assert pool_sparse_bins([5, 5], 0).bins == 1  # an empty window


def test_pooling_validates_its_arguments_by_name() -> None:
    with pytest.raises(ValueError, match="reference_counts must have at least one bin"):
        pool_sparse_bins([], 10)
    with pytest.raises(ValueError, match="window_n must be an integer >= 0"):
        pool_sparse_bins([1, 2], -1)
    with pytest.raises(ValueError, match="min_expected must be finite"):
        pool_sparse_bins([1, 2], 10, min_expected=float("nan"))
    with pytest.raises(ValueError, match="overflow_index 2 is out of range for 2 bins"):
        pool_sparse_bins([1, 2], 10, overflow_index=2)
    with pytest.raises(ValueError, match="counts and grouping must have the same length"):
        pooled([1, 2, 3], np.array([0, 1]))


# --------------------------------------------------------------------------- Monte Carlo


def _exceedance(values: list[float], critical: float, q: float) -> float:
    return float(np.mean(np.asarray(values) >= critical)) / (1.0 - q)


def test_psi_critical_holds_its_level_for_pooled_zipf_categories_at_a_small_window() -> None:
    rng = np.random.default_rng(20240613)
    pi = np.append(_zipf(50), 0.0)  # 50 categories and an empty "other" bin
    n, m, q, draws = 100, 10_000, 0.995, 8000
    pooling = pool_sparse_bins(pi * m, n, overflow_index=50)
    critical = psi_critical(n, m, pooling.bins, q, reference_proportions=pooled(pi * m, pooling))
    values = [
        psi(pooled(r, pooling), pooled(c, pooling), pseudo_count=0.5)
        for r, c in zip(
            rng.multinomial(m, pi, size=draws), rng.multinomial(n, pi, size=draws), strict=True
        )
    ]
    # 40 exceedances expected; the bounds are about -4 and +4 binomial sd away.
    assert 0.35 <= _exceedance(values, critical, q) <= 1.6


def test_psi_and_js_critical_hold_their_level_for_equal_mass_deciles() -> None:
    rng = np.random.default_rng(7)
    pi = np.full(10, 0.1)
    n, m, q, draws = 1000, 10_000, 0.99, 8000
    reference = rng.multinomial(m, pi, size=draws)
    window = rng.multinomial(n, pi, size=draws)
    psis = [psi(r, c, pseudo_count=0.5) for r, c in zip(reference, window, strict=True)]
    jss = [jensen_shannon(r, c, pseudo_count=0.5) for r, c in zip(reference, window, strict=True)]
    # 80 exceedances expected each; bounds about 4 sd away.
    assert 0.6 <= _exceedance(psis, psi_critical(n, m, 10, q), q) <= 1.45
    assert 0.6 <= _exceedance(jss, jensen_shannon_critical(n, m, 10, q), q) <= 1.45


@pytest.mark.parametrize("kind", ["normal", "poisson"])
def test_wasserstein_critical_holds_its_level_as_the_evaluator_computes_the_distance(
    kind: str, bridges: object
) -> None:
    rng = np.random.default_rng({"normal": 1, "lognormal": 2, "poisson": 3}[kind])

    def draw(size: int) -> np.ndarray:
        if kind == "normal":
            return rng.normal(size=size)
        if kind == "lognormal":
            return rng.lognormal(size=size)
        return rng.poisson(3.0, size=size).astype(float)

    n, m, q, references, windows = 50, 200, 0.95, 40, 50
    exceeded = 0
    for _ in range(references):
        reference = np.sort(draw(m))
        std = float(reference.std())
        critical = wasserstein_critical(reference, std, n, q, bridges=bridges)  # type: ignore[arg-type]
        for _ in range(windows):
            distance = compare_ecdfs(reference, draw(n)).wasserstein / std
            exceeded += distance >= critical
    # 100 exceedances expected; bounds about 4 sd away. (Lognormal features are not
    # calibrated at small n yet: see docs/statistics.md.)
    assert 0.6 <= exceeded / (references * windows) / (1 - q) <= 1.45


# --------------------------------------------------------------------------- bridges


def test_the_bridge_table_is_the_same_for_the_same_seed() -> None:
    a, b = brownian_bridges(draws=200, grid_size=16, seed=5), brownian_bridges(200, 16, 5)
    assert np.array_equal(a.absolute, b.absolute) and np.array_equal(a.grid, b.grid)
    assert not np.array_equal(a.absolute, brownian_bridges(200, 16, 6).absolute)


def test_the_mean_bridge_integral_matches_its_closed_form(bridges: object) -> None:
    # E int |B| dQ = sqrt(2 / pi) * sum_k sqrt(u_k (1 - u_k)) (z_k - z_{k-1}), u_k = k / m.
    for reference in (
        np.linspace(0.0, 1.0, 1001),
        np.sort(stats.lognorm.rvs(1.0, size=2000, random_state=1)),
    ):
        u = np.arange(1, reference.size) / reference.size
        expected = math.sqrt(2 / math.pi) * float(np.sqrt(u * (1 - u)) @ np.diff(reference))
        table = bridges.absolute  # type: ignore[attr-defined]
        simulated = float((table @ bridge_weights(reference, bridges.grid)).mean())  # type: ignore[attr-defined]
        assert simulated == pytest.approx(expected, rel=0.02)  # Monte Carlo, 8192 draws


def test_a_constant_or_single_value_reference_has_critical_value_zero(bridges: object) -> None:
    assert wasserstein_critical([3.0, 3.0, 3.0], 0.0, 10, 0.99, bridges=bridges) == 0.0  # type: ignore[arg-type]
    assert wasserstein_critical([3.0], 0.0, 1, 0.99, bridges=bridges) == 0.0  # type: ignore[arg-type]
    assert bridge_integral_quantile([1.0, 2.0], 0.5, bridges) > 0.0  # type: ignore[arg-type]


def test_the_critical_value_scales_with_the_square_root_of_one_over_n_plus_one_over_m(
    bridges: object,
) -> None:
    reference = np.sort(np.random.default_rng(0).normal(size=1000))
    a = wasserstein_critical(reference, 1.0, 100, 0.99, bridges=bridges)  # type: ignore[arg-type]
    b = wasserstein_critical(reference, 1.0, 400, 0.99, bridges=bridges)  # type: ignore[arg-type]
    assert a / b == pytest.approx(math.sqrt((1 / 100 + 1 / 1000) / (1 / 400 + 1 / 1000)), rel=1e-9)
