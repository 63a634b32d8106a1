"""No-drift critical values of the effect statistics, and pooling of sparse bins.

A feature is judged drifted when its statistic S is at least ``max(floor, critical)``, where
``critical`` is the ``quantile`` of S when nothing drifted, at this window's size n and the
reference's size m. PSI and Jensen-Shannon have closed forms (both are, to second order, the
two-sample chi-squared statistic scaled by 1/n + 1/m); the normalised Wasserstein distance is
calibrated with Brownian bridges (:mod:`exporter.stats.bridges`). Every critical value is
checked by Monte Carlo against the estimator it calibrates (``bench/bench_calibration.py``,
numbers in docs/statistics.md).

Chi-squared approximations need expected counts of about 5 per bin, so categories rarer than
that in a window of n are pooled first (:func:`pool_sparse_bins`, :func:`pooled`), and the
statistic and its critical value are computed on the pooled bins.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special  # type: ignore[import-untyped, unused-ignore]

from exporter.stats.bridges import BrownianBridges, bridge_integral_quantile, brownian_bridges
from exporter.stats.validation import as_counts, as_sorted_sample

__all__ = [
    "BinPooling",
    "jensen_shannon_critical",
    "pool_sparse_bins",
    "pooled",
    "psi_critical",
    "small_count_index",
    "wasserstein_critical",
]

_LN2 = math.log(2.0)
#: Jeffreys' prior: the pseudo-count that :func:`exporter.stats.psi` is calibrated with.
JEFFREYS = 0.5


class BinPooling(NamedTuple):
    """Which pooled bin each original bin goes to, from :func:`pool_sparse_bins`."""

    grouping: NDArray[np.intp]
    """``grouping[i]`` is the pooled bin of bin ``i``, in ``0 .. bins - 1``."""
    bins: int
    """Number of pooled bins. Under 2 the feature cannot be judged: there is nothing to
    compare, and the statistics on one bin are 0 by construction, not evidence of stability."""

    @property
    def judged(self) -> bool:
        """True when at least two pooled bins remain."""
        return self.bins >= 2


def _check_size(value: int, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_quantile(quantile: float) -> float:
    """Return ``quantile`` as a float, or raise ``ValueError`` unless 0 < quantile < 1."""
    if not (isinstance(quantile, (float, int, np.floating)) and 0.0 < quantile < 1.0):
        raise ValueError(f"quantile must be in (0, 1), got {quantile!r}")
    return float(quantile)


def _chi2_isf(tail: float, df: int) -> float:
    """The chi-squared quantile with upper tail `tail`: `scipy.stats.chi2.isf(tail, df)` by its
    ufunc, `scipy.special.chdtri` (3 us a call instead of 170: an evaluation makes two per
    feature)."""
    return float(special.chdtri(df, tail))


def _chi2_scale(window_n: int, reference_n: int, bins: int, quantile: float) -> float:
    n = _check_size(window_n, "window_n", 1)
    m = _check_size(reference_n, "reference_n", 1)
    b = _check_size(bins, "bins", 2)
    q = check_quantile(quantile)
    return _chi2_isf(1.0 - q, b - 1) * (1.0 / n + 1.0 / m)


#: Weight of the small-count index in :func:`psi_critical`'s tail correction (fitted, see there).
SMALL_COUNT_WEIGHT = 5.0


def small_count_index(window_n: int, reference_n: int, reference_proportions: ArrayLike) -> float:
    r""":math:`\tau = (1/n + 1/m) \sum_i 1 / \pi_i`, the sum over bins of 1 / expected count
    (window and reference): what makes chi-squared's far tail too light for the counts'.

    >>> round(small_count_index(100, 10_000, [0.5, 0.5]), 6)
    0.0404
    """
    proportions = as_counts(reference_proportions, "reference_proportions")
    if proportions.size == 0 or not (proportions > 0.0).all():
        bad = int(np.argmin(proportions > 0.0)) if proportions.size else 0
        raise ValueError(
            "reference_proportions must be non-empty and > 0 (pool empty bins first), "
            f"got {proportions.tolist()[bad : bad + 1] or 'no bins'} at index {bad}"
        )
    proportions = proportions / proportions.sum()
    return float((1.0 / window_n + 1.0 / reference_n) * (1.0 / proportions).sum())


def psi_critical(
    window_n: int,
    reference_n: int,
    bins: int,
    quantile: float,
    *,
    reference_proportions: ArrayLike | None = None,
) -> float:
    r"""No-drift ``quantile`` of PSI between a window of ``window_n`` and a reference of
    ``reference_n`` values over ``bins`` bins, for PSI with Jeffreys' pseudo-count
    (``psi(..., pseudo_count=0.5)``) on bins pooled to >= 5 expected counts.

    .. math::

        \mathrm{PSI}_{crit} = \chi^2_{B-1}(q') \Big(\frac1n + \frac1m\Big), \qquad
        1 - q' = \frac{1 - q}{1 + 5\,\tau / (B - 1)}, \qquad
        \tau = \Big(\frac1n + \frac1m\Big) \sum_i \frac{1}{\pi_i}

    To second order in the differences of proportions PSI is
    :math:`\sum_i (c_i - r_i)^2 / \pi_i`, the two-sample chi-squared statistic divided by
    :math:`nm/(n+m)`: :math:`\chi^2_{B-1}` when nothing drifted and expected counts are large.
    With expected counts of 5-20 its far tail is heavier than chi-squared's (Monte Carlo,
    200,000 windows a cell: at q = 0.9995 the plain form is exceeded 1.4-1.9 times as often
    as it should be for n = 50-200), so with ``reference_proportions`` (the pooled reference
    proportions :math:`\pi`) the tail probability is divided by :math:`1 + 5\tau/(B-1)`,
    :math:`\tau/(B-1)` being 1 / expected count per degree of freedom
    (:func:`small_count_index`). The weight 5 is fitted on those cells; the realised rates
    with it are in docs/statistics.md. Without ``reference_proportions`` the plain form is
    returned (q' = q), which is right from about 1,000 values per window.

    Parameters
    ----------
    window_n, reference_n : int
        Valid counts of the window and of the reference, each >= 1.
    bins : int
        Bins the statistic is computed over (after pooling), >= 2.
    quantile : float
        In (0, 1): ``1 - alpha / k`` to judge k features at family-wise level alpha.
    reference_proportions : array_like, optional
        The reference's proportions (or counts) over the same ``bins`` pooled bins, all > 0.

    Returns
    -------
    float
        The critical value, > 0.

    Raises
    ------
    ValueError
        If a size is not an integer >= 1, ``bins`` < 2 (one pooled bin: not judged),
        ``quantile`` is outside (0, 1), or ``reference_proportions`` has a zero or a length
        other than ``bins``.

    Examples
    --------
    The 99th percentile of chi-squared with 9 dof is 21.666:

    >>> round(psi_critical(1000, 10_000, bins=10, quantile=0.99), 6)
    0.023833
    >>> round(psi_critical(100, 10_000, 10, 0.99, reference_proportions=[0.1] * 10), 4)
    0.2314
    """
    scale = _chi2_scale(window_n, reference_n, bins, quantile)  # validates every argument
    if reference_proportions is None:
        return scale
    proportions = as_counts(reference_proportions, "reference_proportions")
    if proportions.size != bins:
        raise ValueError(
            f"reference_proportions must have one entry per bin ({bins}), got {proportions.size}"
        )
    tau = small_count_index(window_n, reference_n, proportions)
    tail = (1.0 - quantile) / (1.0 + SMALL_COUNT_WEIGHT * tau / (bins - 1))
    # The plain form with the corrected tail: chi2_(B-1) isf(tail) (1/n + 1/m).
    return _chi2_isf(tail, bins - 1) * (1.0 / window_n + 1.0 / reference_n)


def jensen_shannon_critical(window_n: int, reference_n: int, bins: int, quantile: float) -> float:
    r"""No-drift ``quantile`` of the Jensen-Shannon distance (base 2) over ``bins`` bins.

    .. math::

        \mathrm{JS}_{crit} = \sqrt{\frac{\chi^2_{B-1}(q)}{8 \ln 2}
                                   \Big(\frac1n + \frac1m\Big)}

    To second order the divergence is :math:`\sum_i (c_i - r_i)^2 / (8 \pi_i \ln 2)`, i.e.
    PSI / (8 ln 2); the distance is its square root, a monotone map, so the quantile maps too.

    Parameters and errors are those of :func:`psi_critical`.

    Examples
    --------
    >>> round(jensen_shannon_critical(1000, 10_000, bins=10, quantile=0.99), 6)
    0.065558
    """
    return math.sqrt(_chi2_scale(window_n, reference_n, bins, quantile) / (8.0 * _LN2))


def pool_sparse_bins(
    reference_counts: ArrayLike,
    window_n: int,
    min_expected: float = 5.0,
    overflow_index: int | None = None,
    *,
    ordered: bool = False,
) -> BinPooling:
    """Merge bins whose expected window count is under ``min_expected``.

    The expected count of bin i in a window of ``window_n`` is
    :math:`n R_i / \\sum_j R_j`. Unordered bins (categories): every sparse bin goes into one
    pooled bin, the ``overflow_index`` bin when given (the categorical profile's last, "other"
    bin), which keeps its place; while the pooled bin is itself still sparse, the smallest
    remaining bin joins it. Ordered bins (``ordered=True``, numeric quantile bins): runs of
    neighbouring bins are merged left to right until each holds ``min_expected``, and a sparse
    remainder joins its left neighbour. Bins empty in the reference are sparse, so a window
    value where the reference had none still counts, in the pooled bin.

    Parameters
    ----------
    reference_counts : array_like
        The reference's counts per bin.
    window_n : int
        The window's valid count, >= 0.
    min_expected : float, default 5.0
        Smallest expected window count per pooled bin, finite and >= 0 (0 pools nothing but
        bins empty in the reference).
    overflow_index : int, optional
        The bin that sparse categories pool into. Ignored when ``ordered``.
    ordered : bool, default False
        Merge only neighbours (numeric bins).

    Returns
    -------
    BinPooling
        The pooled bin of each bin and how many there are; ``bins < 2`` means not judged.

    Raises
    ------
    ValueError
        If the counts fail validation or are empty, or an argument is out of range.

    Examples
    --------
    Expected counts 50, 30, 15, 4, 1 in a window of 100: the last two are pooled into the
    overflow bin (index 4).

    >>> pool_sparse_bins([500, 300, 150, 40, 10], 100, overflow_index=4)
    BinPooling(grouping=array([0, 1, 2, 3, 3]), bins=4)
    >>> pool_sparse_bins([1, 1, 1, 1], 12, ordered=True)
    BinPooling(grouping=array([0, 0, 1, 1]), bins=2)
    """
    reference = as_counts(reference_counts, "reference_counts")
    if reference.size == 0:
        raise ValueError("reference_counts must have at least one bin")
    n = _check_size(window_n, "window_n", 0)
    if not (math.isfinite(min_expected) and min_expected >= 0.0):
        raise ValueError(f"min_expected must be finite and >= 0, got {min_expected!r}")
    total = reference.sum()
    expected = reference * (n / total) if total > 0.0 else np.zeros_like(reference)
    if ordered:
        return _pool_neighbours(expected, min_expected)
    if overflow_index is not None:
        if not -reference.size <= overflow_index < reference.size:
            raise ValueError(
                f"overflow_index {overflow_index!r} is out of range for {reference.size} bins"
            )
        overflow_index %= reference.size
    return _pool_categories(expected, min_expected, overflow_index)


def _pool_categories(
    expected: NDArray[np.float64], min_expected: float, overflow_index: int | None
) -> BinPooling:
    sparse = (expected < min_expected) | (expected == 0.0)
    if overflow_index is not None:
        sparse[overflow_index] = sparse[overflow_index] or bool(sparse.any())
    if sparse.any():
        # While the pool is too thin, the smallest bin outside it joins (Cochran's rule).
        outside = np.flatnonzero(~sparse)
        by_size = outside[np.argsort(expected[outside], kind="stable")]
        pool_expected = float(expected[sparse].sum())
        for index in by_size:
            if pool_expected >= min_expected and pool_expected > 0.0:
                break
            sparse[index] = True
            pool_expected += float(expected[index])
    # Pooled bins get consecutive numbers in bin order; the pool takes the place of its
    # first member (of the overflow bin when there is one).
    anchor = overflow_index if overflow_index is not None and sparse.any() else None
    if anchor is None and sparse.any():
        anchor = int(np.flatnonzero(sparse)[0])
    keep = ~sparse
    if anchor is not None:
        keep[anchor] = True
    numbers = np.cumsum(keep) - 1
    grouping = numbers.astype(np.intp)
    if anchor is not None:
        grouping[sparse] = numbers[anchor]
    return BinPooling(grouping, int(keep.sum()))


def _pool_neighbours(expected: NDArray[np.float64], min_expected: float) -> BinPooling:
    grouping = np.empty(expected.size, dtype=np.intp)
    group, running = 0, 0.0
    for i, value in enumerate(expected.tolist()):
        grouping[i] = group
        running += value
        if running >= min_expected and running > 0.0:
            group, running = group + 1, 0.0
    if grouping[-1] == group and group > 0:
        # The last run never reached min_expected: it joins its left neighbour.
        grouping[grouping == group] = group - 1
    bins = int(grouping.max()) + 1
    return BinPooling(grouping, bins)


def pooled(counts: ArrayLike, grouping: BinPooling | ArrayLike) -> NDArray[np.float64]:
    """Sum ``counts`` into the pooled bins of ``grouping`` (a :class:`BinPooling` or its
    ``grouping`` array).

    Examples
    --------
    >>> pooled([3, 1, 4, 1, 5], BinPooling(np.array([0, 1, 2, 3, 3]), 4))
    array([3., 1., 4., 6.])
    """
    values = as_counts(counts, "counts")
    if isinstance(grouping, BinPooling):
        index, bins = grouping.grouping, grouping.bins
    else:
        index = np.asarray(grouping, dtype=np.intp)
        bins = int(index.max()) + 1 if index.size else 0
    if index.shape != values.shape:
        raise ValueError(
            f"counts and grouping must have the same length, got {values.size} and {index.size}"
        )
    return np.bincount(index, weights=values, minlength=bins).astype(np.float64)


def wasserstein_critical(
    reference_sorted: ArrayLike,
    reference_std: float,
    window_n: int,
    quantile: float,
    *,
    seed: int = 0,
    bridges: BrownianBridges | None = None,
) -> float:
    r"""No-drift ``quantile`` of the normalised 1-Wasserstein distance between a window of
    ``window_n`` values and ``reference_sorted`` (m values), in reference standard deviations.

    .. math::

        \tilde W_{crit} = \sqrt{\frac1n + \frac1m}\;
            \frac{T_q}{\sigma_r}, \qquad T = \int_0^1 |B(u)|\,dQ_r(u)

    with B a Brownian bridge and :math:`Q_r` the reference sample's quantile function
    (:mod:`exporter.stats.bridges`); :math:`\sigma_r` is divided out as in
    :func:`~exporter.stats.distance.wasserstein_normalized` (by 1 for a constant reference,
    whose critical value is then 0). Discrete features need nothing special: Q's jumps sit
    where the values change, and the flat stretches of Q contribute nothing, as in
    :math:`W_1` itself. ``window_n`` is the size of the window sample the distance is computed
    on (``window.sample_size`` at most), not the window's valid count.

    Parameters
    ----------
    reference_sorted : array_like
        The reference sample, sorted ascending (as stored in the profile).
    reference_std : float
        The reference standard deviation the distance is divided by, finite and >= 0.
    window_n : int
        Size of the window sample, >= 1.
    quantile : float
        In (0, 1).
    seed : int, default 0
        Seed of the bridges simulated when ``bridges`` is not given.
    bridges : BrownianBridges, optional
        A table from :func:`~exporter.stats.bridges.brownian_bridges`, built once per process:
        without it every call simulates one (tens of milliseconds). With it a call costs one
        pass over the reference and one matrix-vector product (about 1.5 ms at m = 10,000 on
        one core); :func:`~exporter.stats.bridges.bridge_integral_quantile` is the part that
        does not depend on the window, to keep per reference and quantile.

    Returns
    -------
    float
        The critical value, >= 0.

    Raises
    ------
    ValueError
        If the reference is empty or unsorted, ``reference_std`` is negative or not finite,
        ``window_n`` < 1 or ``quantile`` is outside (0, 1).

    Examples
    --------
    >>> bridges = brownian_bridges(draws=20_000, seed=0)
    >>> reference = np.sort(np.random.default_rng(0).normal(size=1000))
    >>> std = float(reference.std())
    >>> round(wasserstein_critical(reference, std, 100, 0.99, bridges=bridges), 2)
    0.29
    """
    reference = as_sorted_sample(reference_sorted, "reference_sorted")
    if reference.size == 0:
        raise ValueError("reference_sorted must be non-empty")
    if not (math.isfinite(reference_std) and reference_std >= 0.0):
        raise ValueError(f"reference_std must be finite and >= 0, got {reference_std!r}")
    n = _check_size(window_n, "window_n", 1)
    q = check_quantile(quantile)
    table = bridges if bridges is not None else brownian_bridges(seed=seed)
    integral = bridge_integral_quantile(reference, q, table)
    scale = math.sqrt(1.0 / n + 1.0 / reference.size)
    return scale * integral / (reference_std if reference_std > 0.0 else 1.0)
