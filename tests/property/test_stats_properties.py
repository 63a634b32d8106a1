"""Properties of the statistics core that must hold for every input, not just the chosen ones.

Counts and samples come from hypothesis: finite floats with ties, zeros (both signs), tiny
(subnormal) and huge magnitudes. Where a property is an identity with scipy, scipy is the
oracle and the tolerance is written beside it; elsewhere the property is a bound or a symmetry
that follows from the formula in the function's docstring.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st
from scipy import stats

from exporter.stats import (
    adjust_pvalues,
    bin_counts,
    chi2,
    compare_ecdfs,
    jensen_shannon,
    psi,
    quantile_edges,
    wasserstein_normalized,
)
from exporter.stats.two_sample import TAIL_MIN_EFFECTIVE_N, TAIL_PVALUE

# --------------------------------------------------------------------------- strategies

#: Finite floats of every magnitude, subnormals and both zeros included.
ANY_FINITE = st.floats(allow_nan=False, allow_infinity=False)
#: Finite floats whose pairwise differences and sums of a few dozen of them cannot overflow:
#: what an oracle comparison needs (scipy overflows in the same places we do).
BOUNDED = st.floats(min_value=-1e300, max_value=1e300, allow_nan=False, allow_infinity=False)
#: A handful of values drawn often, so samples are heavily tied.
TIED = st.sampled_from([-1.5, -0.0, 0.0, 1e-300, 5e-324, 1.0, 2.0, 2.0, 1e300])


def samples(elements: st.SearchStrategy[float] = BOUNDED, min_size: int = 1, max_size: int = 60):
    """1-D float64 samples mixing arbitrary values with tied ones."""
    return st.lists(elements | TIED, min_size=min_size, max_size=max_size).map(
        lambda values: np.asarray(values, dtype=np.float64)
    )


#: Non-negative counts: integers as the store produces them, and non-negative weights.
COUNT = st.one_of(
    st.integers(min_value=0, max_value=10**12).map(float),
    st.floats(min_value=0.0, max_value=1e12, allow_nan=False, allow_infinity=False),
    st.just(0.0),
)


#: Whole counts, as the window store keeps them (int64 bin counts).
WHOLE_COUNT = st.integers(min_value=0, max_value=10**12).map(float)


@st.composite
def count_pairs(
    draw: st.DrawFn, positive: bool = True, count: st.SearchStrategy[float] = COUNT
) -> tuple[np.ndarray, np.ndarray]:
    """Two histograms over the same bins; with `positive`, each has a positive total."""
    bins = draw(st.integers(min_value=1, max_value=25))
    reference = np.asarray(draw(st.lists(count, min_size=bins, max_size=bins)))
    current = np.asarray(draw(st.lists(count, min_size=bins, max_size=bins)))
    if positive:
        assume(reference.sum() > 0 and current.sum() > 0)
    return reference, current


SMOOTHING = st.floats(min_value=1e-12, max_value=0.49)
PVALUES = st.lists(
    st.one_of(
        st.floats(min_value=0.0, max_value=1.0),
        st.sampled_from([0.0, 5e-324, 1e-300, 0.05, 0.5, 1.0]),
    ),
    min_size=0,
    max_size=40,
)


# --------------------------------------------------------------------------- PSI


@settings(max_examples=300)
@given(count_pairs(), SMOOTHING)
def test_psi_is_non_negative(pair: tuple[np.ndarray, np.ndarray], smoothing: float) -> None:
    reference, current = pair
    # Every term (c - r) ln(c / r) is >= 0, so the sum is; no tolerance needed.
    assert psi(reference, current, smoothing=smoothing) >= 0.0


@settings(max_examples=200)
@given(count_pairs(), SMOOTHING)
def test_psi_of_a_histogram_with_itself_is_zero(
    pair: tuple[np.ndarray, np.ndarray], smoothing: float
) -> None:
    reference, _ = pair
    assert psi(reference, reference, smoothing=smoothing) == 0.0


@settings(max_examples=200)
@given(count_pairs(), st.integers(min_value=2, max_value=1_000))
def test_psi_depends_only_on_proportions(pair: tuple[np.ndarray, np.ndarray], factor: int) -> None:
    reference, current = pair
    # Scaling a histogram leaves its proportions unchanged up to one rounding per bin.
    assert psi(reference * factor, current) == pytest.approx(
        psi(reference, current), rel=1e-9, abs=1e-12
    )


@settings(max_examples=100)
@given(count_pairs(positive=False))
def test_psi_is_nan_exactly_when_a_histogram_is_empty(pair: tuple[np.ndarray, np.ndarray]) -> None:
    reference, current = pair
    empty = reference.sum() == 0 or current.sum() == 0
    assert math.isnan(psi(reference, current)) == empty


# --------------------------------------------------------------------------- Jensen-Shannon


@settings(max_examples=300)
@given(count_pairs())
def test_jensen_shannon_is_between_zero_and_one_and_symmetric(
    pair: tuple[np.ndarray, np.ndarray],
) -> None:
    reference, current = pair
    distance = jensen_shannon(reference, current)
    assert 0.0 <= distance <= 1.0
    assert jensen_shannon(current, reference) == distance


@settings(max_examples=200)
@given(count_pairs())
def test_jensen_shannon_of_a_histogram_with_itself_is_zero(
    pair: tuple[np.ndarray, np.ndarray],
) -> None:
    reference, _ = pair
    assert jensen_shannon(reference, reference) == 0.0


@settings(max_examples=200)
@given(count_pairs())
def test_jensen_shannon_matches_scipy(pair: tuple[np.ndarray, np.ndarray]) -> None:
    from scipy.spatial.distance import jensenshannon

    reference, current = pair
    # scipy.spatial.distance.jensenshannon(base=2), rtol=1e-9 (abs 1e-7: near 0 the distance
    # is the square root of a divergence that rounds to ~1e-16, and scipy does not clamp it).
    expected = jensenshannon(reference, current, base=2)
    ours = jensen_shannon(reference, current)
    assert 0.0 <= ours <= 1.0
    # scipy normalises by the raw total: with a subnormal total it overflows to inf (ours
    # rescales first), so it is no oracle there.
    assume(math.isfinite(expected))
    assert ours == pytest.approx(expected, rel=1e-9, abs=1e-7)


# --------------------------------------------------------------------------- KS and Wasserstein


@settings(max_examples=300)
@given(samples(), samples())
def test_compare_ecdfs_statistic_and_pvalue_are_probabilities(
    reference: np.ndarray, current: np.ndarray
) -> None:
    result = compare_ecdfs(np.sort(reference), current)
    assert 0.0 <= result.ks_statistic <= 1.0
    if reference.size == 1 and current.size == 1:
        # n_e = round(1/2) = 0: undefined, as in scipy (documented).
        assert math.isnan(result.ks_pvalue)
    else:
        assert 0.0 <= result.ks_pvalue <= 1.0
    assert result.wasserstein >= 0.0


@settings(max_examples=300)
@given(samples(), samples())
@example(np.array([0.0, 0.0, 1.0]), np.array([-0.0, 1.0, 1.0]))
@example(np.array([5e-324]), np.array([1e-323, 5e-324]))
def test_compare_ecdfs_matches_scipy(reference: np.ndarray, current: np.ndarray) -> None:
    result = compare_ecdfs(np.sort(reference), current)
    # scipy.stats.wasserstein_distance, rtol=1e-9: same terms, summed in another order.
    assert result.wasserstein == pytest.approx(
        stats.wasserstein_distance(reference, current), rel=1e-9, abs=0
    )
    # scipy.stats.ks_2samp(method="asymp"): the statistic is the same operations, rtol=1e-12.
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = stats.ks_2samp(reference, current, method="asymp")
    assert result.ks_statistic == pytest.approx(expected.statistic, rel=1e-12, abs=0)
    # These samples are small (n_e < 500), where the p-value is scipy's own kstwo.sf.
    assert result.ks_pvalue == pytest.approx(expected.pvalue, rel=1e-12, abs=0, nan_ok=True)


@settings(max_examples=25)
@given(
    st.integers(min_value=0, max_value=2**32 - 1),
    st.integers(min_value=1_000, max_value=4_000),
    st.integers(min_value=1_000, max_value=4_000),
    st.floats(min_value=0.0, max_value=0.4),
)
def test_ks_tail_pvalue_is_within_the_documented_error_of_scipy(
    seed: int, n_reference: int, n_current: int, shift: float
) -> None:
    rng = np.random.default_rng(seed)
    reference = np.sort(rng.normal(size=n_reference))
    current = rng.normal(shift, 1.0, size=n_current)
    got = compare_ecdfs(reference, current).ks_pvalue
    expected = stats.ks_2samp(reference, current, method="asymp").pvalue
    effective = round(n_reference * n_current / (n_reference + n_current))
    assert effective >= TAIL_MIN_EFFECTIVE_N
    # _ks_asymptotic_pvalue's docstring: scipy's own value at p >= 0.01; below, relative error
    # under 3 % for p >= 1e-4, 5 % for p >= 1e-8, 6 % for p >= 1e-12.
    if expected >= TAIL_PVALUE:
        assert got == pytest.approx(expected, rel=1e-12)
    elif expected >= 1e-4:
        assert got == pytest.approx(expected, rel=0.03)
    elif expected >= 1e-8:
        assert got == pytest.approx(expected, rel=0.05)
    elif expected >= 1e-12:
        assert got == pytest.approx(expected, rel=0.06)
    else:
        assert 0.0 <= got < 1e-11


@settings(max_examples=200)
@given(samples(), samples(), st.floats(min_value=0.0, max_value=1e150))
def test_wasserstein_normalized_is_the_distance_over_the_reference_spread(
    reference: np.ndarray, current: np.ndarray, spread: float
) -> None:
    raw = compare_ecdfs(np.sort(reference), current).wasserstein
    scaled = wasserstein_normalized(np.sort(reference), current, reference_std=spread)
    assert raw >= 0.0 and scaled >= 0.0
    assert scaled == (raw / spread if spread > 0.0 else raw)


@settings(max_examples=150)
@given(samples(ANY_FINITE), samples(ANY_FINITE))
@example(np.array([-1.7e308, 1.7e308]), np.array([0.0]))
def test_compare_ecdfs_accepts_every_finite_sample(
    reference: np.ndarray, current: np.ndarray
) -> None:
    # Over the whole float range the distance may overflow to inf (as scipy's does), but the
    # call must not raise, and the statistic and p-value stay probabilities.
    with np.errstate(over="ignore", invalid="ignore"):
        result = compare_ecdfs(np.sort(reference), current)
    assert 0.0 <= result.ks_statistic <= 1.0
    assert math.isnan(result.ks_pvalue) or 0.0 <= result.ks_pvalue <= 1.0
    assert result.wasserstein >= 0.0


# --------------------------------------------------------------------------- chi-squared


@settings(max_examples=300)
@given(count_pairs(count=WHOLE_COUNT))
def test_chi2_pvalue_is_a_probability_and_the_statistic_non_negative(
    pair: tuple[np.ndarray, np.ndarray],
) -> None:
    # Whole counts: with fractional weights near 1e-300 an expected frequency underflows to 0
    # and scipy.stats.chi2_contingency raises; the store only ever passes int64 counts.
    reference, current = pair
    result = chi2(reference, current)
    assert 0.0 <= result.pvalue <= 1.0
    assert result.statistic >= 0.0
    occupied = int(((reference + current) > 0).sum())
    assert result.dof == max(occupied - 1, 0)


# --------------------------------------------------------------------------- correction


@settings(max_examples=300)
@given(PVALUES, st.sampled_from(["none", "bonferroni", "benjamini_hochberg"]))
def test_adjusted_pvalues_keep_the_order_and_never_shrink(pvalues: list[float], method) -> None:
    raw = np.asarray(pvalues, dtype=np.float64)
    adjusted = adjust_pvalues(raw, method)
    assert adjusted.shape == raw.shape
    assert (adjusted >= raw).all()
    assert ((adjusted >= 0.0) & (adjusted <= 1.0)).all()
    order = np.argsort(raw, kind="stable")
    assert (np.diff(adjusted[order]) >= 0.0).all()
    if method == "none":
        assert (adjusted == raw).all()


# --------------------------------------------------------------------------- binning


@settings(max_examples=300)
@given(samples(BOUNDED, min_size=0, max_size=80), st.integers(min_value=2, max_value=30))
def test_quantile_edges_are_strictly_increasing_and_inside_the_sample(
    values: np.ndarray, bins: int
) -> None:
    edges = quantile_edges(values, bins)
    assert len(edges) <= bins - 1
    assert (np.diff(edges) > 0).all()
    if values.size:
        assert len(edges) >= 1
        assert values.min() <= edges[0] and edges[-1] <= values.max()


@settings(max_examples=150)
@given(samples(ANY_FINITE, min_size=1, max_size=40), st.integers(min_value=2, max_value=30))
@example(np.array([-1e308, 1e308]), 10)
def test_quantile_edges_are_finite_for_every_finite_sample(values: np.ndarray, bins: int) -> None:
    # A reference whose range exceeds the largest float (max - min overflows) must still get
    # finite edges between its min and max: the profile's bin_counts rejects non-finite edges,
    # so PUT /reference with such a column answered 500 (see test_api_fuzz).
    with np.errstate(over="ignore", invalid="ignore"):
        edges = quantile_edges(values, bins)
    assert np.isfinite(edges).all(), edges
    assert (np.diff(edges) > 0).all()
    assert values.min() <= edges[0] and edges[-1] <= values.max()
    assert bin_counts(values, edges).sum() == values.size


@st.composite
def values_and_edges(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    values = draw(samples(ANY_FINITE, min_size=0, max_size=80))
    edges = np.unique(np.asarray(draw(st.lists(ANY_FINITE | TIED, max_size=15)), dtype=float))
    return values, edges


@settings(max_examples=300)
@given(values_and_edges())
def test_bin_counts_count_every_value_once(pair: tuple[np.ndarray, np.ndarray]) -> None:
    values, edges = pair
    counts = bin_counts(values, edges)
    assert counts.shape == (edges.size + 1,)
    assert (counts >= 0).all()
    assert int(counts.sum()) == values.size
    # Right-closed bins: the first bin is everything <= the first edge.
    if edges.size:
        assert counts[0] == int((values <= edges[0]).sum())
