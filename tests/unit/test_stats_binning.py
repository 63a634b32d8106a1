"""Reference-quantile edges and right-closed histogramming."""

from __future__ import annotations

import numpy as np
import pytest

from exporter.stats import bin_counts, quantile_edges


def _bin_counts_by_comparison(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Independent oracle: a value's bin is the number of edges strictly below it."""
    index = (values[:, None] > edges[None, :]).sum(axis=1)
    return np.bincount(index, minlength=edges.size + 1)


# quantile_edges


def test_quantile_edges_match_the_linear_quantile_closed_form() -> None:
    # np.quantile "linear": Q(q) = x[h] interpolated at h = (n - 1) q on the sorted sample.
    # For 1..10 and q = 0.25, 0.5, 0.75: h = 2.25, 4.5, 6.75 -> 3.25, 5.5, 7.75 (exact).
    edges = quantile_edges(np.arange(1.0, 11.0), bins=4)
    np.testing.assert_array_equal(edges, [3.25, 5.5, 7.75])


def test_quantile_edges_equal_numpy_quantiles_for_continuous_data() -> None:
    values = np.random.default_rng(7).normal(size=10_000)
    edges = quantile_edges(values, bins=10)
    # np.quantile on the same probabilities, exact (same call, no ties to deduplicate).
    np.testing.assert_array_equal(edges, np.quantile(values, np.linspace(0, 1, 11)[1:-1]))
    assert edges.size == 9


def test_quantile_edges_do_not_depend_on_input_order() -> None:
    values = np.random.default_rng(8).exponential(size=1_000)
    np.testing.assert_array_equal(quantile_edges(values, 5), quantile_edges(np.sort(values), 5))


def test_quantile_edges_of_a_constant_feature_are_its_single_value() -> None:
    np.testing.assert_array_equal(quantile_edges(np.full(500, 3.5), bins=10), [3.5])


def test_quantile_edges_deduplicate_heavy_ties() -> None:
    # 90 zeros then 10 ones, bins=10: h = 99 q for q = 0.1..0.9 is 9.9, ..., 79.2 (all zeros)
    # and 89.1, between x[89] = 0 and x[90] = 1, so Q(0.9) = 0.1. Unique edges: [0, 0.1].
    # rtol 1e-12: 99 * 0.9 is 89.1 only to rounding, so Q(0.9) = 0.1 + 8.5e-15.
    values = np.array([0.0] * 90 + [1.0] * 10)
    np.testing.assert_allclose(quantile_edges(values, bins=10), [0.0, 0.1], rtol=1e-12)


def test_quantile_edges_are_strictly_increasing_and_at_most_bins_minus_one() -> None:
    values = np.random.default_rng(9).integers(0, 4, size=2_000).astype(float)
    edges = quantile_edges(values, bins=20)
    assert edges.size <= 19
    assert np.all(np.diff(edges) > 0)


def test_quantile_edges_of_an_empty_reference_are_empty() -> None:
    edges = quantile_edges([], bins=10)
    assert edges.shape == (0,)
    assert edges.dtype == np.float64


@pytest.mark.parametrize("bins", [1, 0, -3, 2.5, True])
def test_quantile_edges_reject_fewer_than_two_or_non_integer_bins(bins: object) -> None:
    with pytest.raises(ValueError, match="bins must be an integer >= 2"):
        quantile_edges([1.0, 2.0, 3.0], bins)  # type: ignore[arg-type]


def test_quantile_edges_reject_missing_values() -> None:
    with pytest.raises(ValueError, match=r"values\[1\] is nan"):
        quantile_edges([1.0, np.nan], bins=4)


# bin_counts


def test_bin_counts_put_a_value_equal_to_an_edge_in_the_bin_to_its_left() -> None:
    # Bins (-inf, 1], (1, 2], (2, +inf): 0.5 and 1.0 | 1.5 and 2.0 | 9.0.
    counts = bin_counts([0.5, 1.0, 1.5, 2.0, 9.0], np.array([1.0, 2.0]))
    np.testing.assert_array_equal(counts, [2, 2, 1])
    assert counts.dtype == np.int64


def test_bin_counts_send_values_outside_the_reference_range_to_the_open_outer_bins() -> None:
    counts = bin_counts([-1e9, -5.0, 5.0, 1e9], np.array([0.0, 1.0]))
    np.testing.assert_array_equal(counts, [2, 0, 2])


def test_bin_counts_match_an_elementwise_comparison_oracle() -> None:
    rng = np.random.default_rng(11)
    reference = rng.normal(size=5_000)
    edges = quantile_edges(reference, bins=10)
    current = np.concatenate([rng.normal(0.3, 1.2, size=3_000), edges])  # include edge hits
    np.testing.assert_array_equal(
        bin_counts(current, edges), _bin_counts_by_comparison(current, edges)
    )


def test_bin_counts_of_the_reference_on_its_own_quantile_edges_are_nearly_equal() -> None:
    reference = np.random.default_rng(12).normal(size=10_000)
    counts = bin_counts(reference, quantile_edges(reference, bins=10))
    assert counts.sum() == 10_000
    # Continuous data: each decile holds n / 10 values, +-1 from where the edge interpolates.
    assert np.all(np.abs(counts - 1_000) <= 1)


def test_bin_counts_of_a_constant_feature_fill_the_left_bin() -> None:
    values = np.full(50, 3.5)
    np.testing.assert_array_equal(bin_counts(values, quantile_edges(values, bins=10)), [50, 0])


def test_bin_counts_of_an_empty_window_are_all_zero() -> None:
    np.testing.assert_array_equal(bin_counts([], np.array([1.0, 2.0])), [0, 0, 0])


def test_bin_counts_with_no_edges_use_a_single_bin() -> None:
    np.testing.assert_array_equal(bin_counts([1.0, 2.0, 3.0], np.array([])), [3])


@pytest.mark.parametrize("edges", [[2.0, 1.0], [1.0, 1.0]])
def test_bin_counts_reject_edges_that_are_not_strictly_increasing(edges: list[float]) -> None:
    with pytest.raises(ValueError, match="edges must be strictly increasing"):
        bin_counts([1.0], np.array(edges))


def test_bin_counts_reject_missing_values() -> None:
    with pytest.raises(ValueError, match=r"values\[0\] is nan"):
        bin_counts([np.nan], np.array([1.0]))
