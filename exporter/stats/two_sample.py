"""Two-sample tests: Kolmogorov-Smirnov on raw samples, chi-squared on category counts.

The KS statistic and the 1-Wasserstein distance are both functionals of the gap between the
two empirical CDFs, so :func:`compare_ecdfs` computes that gap once, in one merge of the
already-sorted reference with the sorted current window, and reads both off it. Calling
``scipy.stats.ks_2samp`` and ``scipy.stats.wasserstein_distance`` instead would sort the
reference twice per feature per evaluation; the numbers here equal theirs.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike
from scipy import special, stats  # type: ignore[import-untyped, unused-ignore]

from exporter.stats.validation import as_counts, as_sample, as_sorted_sample, check_same_length

__all__ = ["Chi2Result", "EcdfComparison", "chi2", "compare_ecdfs"]


class EcdfComparison(NamedTuple):
    """KS test and 1-Wasserstein distance from one pass over two samples."""

    ks_statistic: float
    """D = sup |F_ref - F_cur|, in [0, 1]."""
    ks_pvalue: float
    """Two-sided asymptotic p-value of D, as ``ks_2samp(method="asymp")``."""
    wasserstein: float
    """Integral of |F_ref - F_cur|, in the feature's units."""


class Chi2Result(NamedTuple):
    """Chi-squared test of homogeneity result."""

    statistic: float
    pvalue: float
    dof: int


class _EcdfGap(NamedTuple):
    ks_statistic: float
    wasserstein: float
    n_reference: int
    n_current: int


def _ecdf_gap(reference_sorted: ArrayLike, current: ArrayLike) -> _EcdfGap:
    """Validated kernel shared by :func:`compare_ecdfs` and ``distance.wasserstein``.

    Evaluates both ECDFs at every point ``z_k`` of the merged sample from running counts
    (``reference_seen``, ``current_seen``: how many of ``z_0..z_k`` came from each sample)
    instead of scipy's two binary searches per point. Inside a run of tied values the counts
    are partial, so D is read only at the last element of each run, where they equal scipy's
    ``searchsorted(..., side="right")``; the partial gaps elsewhere are multiplied by
    ``z_{k+1} - z_k == 0`` in the integral. Both results are therefore the same floating-point
    operations on the same numbers as scipy's.
    """
    reference = as_sorted_sample(reference_sorted, "reference_sorted")
    window = as_sample(current, "current")
    n_reference, n_current = reference.size, window.size
    if n_reference == 0 or n_current == 0:
        raise ValueError(
            "reference_sorted and current must be non-empty, "
            f"got {n_reference} and {n_current} values"
        )
    pooled = np.concatenate((reference, np.sort(window)))
    # Two sorted runs: the stable sort (timsort) detects and merges them in linear time.
    order = np.argsort(pooled, kind="stable")
    merged = pooled[order]
    current_seen = np.cumsum(order >= n_reference)
    reference_seen = np.arange(1, merged.size + 1) - current_seen
    gap = np.abs(reference_seen / n_reference - current_seen / n_current)
    run_ends = np.empty(merged.size, dtype=bool)
    np.not_equal(merged[1:], merged[:-1], out=run_ends[:-1])
    run_ends[-1] = True
    ks_statistic = float(gap[run_ends].max())
    wasserstein = float(np.vecdot(gap[:-1], np.diff(merged)))
    return _EcdfGap(ks_statistic, wasserstein, n_reference, n_current)


#: Where the p-value stops being computed exactly (see _ks_asymptotic_pvalue).
TAIL_PVALUE = 0.01
TAIL_MIN_EFFECTIVE_N = 500


def _ks_asymptotic_pvalue(statistic: float, n_reference: int, n_current: int) -> float:
    r"""Two-sided p-value of ``scipy.stats.ks_2samp(..., method="asymp")``, fast in the tail.

    ``kstwo.sf`` at the effective sample size :math:`n_e = round(m n / (m + n))`, as in scipy's
    ``_stats_py.ks_2samp``, wherever that is cheap. For :math:`n_e \ge 500` and p < 0.01,
    ``kstwo.sf`` switches to a series that costs about 2 ms per call (two thirds of a whole
    8-feature evaluation); there the Kolmogorov limit with Stephens' correction,
    :math:`Q_{KS}\big((\sqrt{n_e} + 0.12 + 0.11/\sqrt{n_e})\,D\big)`
    (``scipy.special.kolmogorov``, about 1 us), is used instead. Its relative error there is
    under 3 % for p >= 1e-4, 5 % for p >= 1e-8 and 6 % for p >= 1e-12 (measured against
    ``kstwo.sf`` for n_e from 500 to 50,000 and tested); below 1e-12 only the order of
    magnitude is meaningful. Every p-value >= 0.01 is scipy's own.
    """
    m, n = sorted([float(n_reference), float(n_current)], reverse=True)
    effective_n = np.round(m * n / (m + n))
    if effective_n < 1.0:
        # One value in each sample: n_e = round(0.5) = 0, outside kstwo's support. scipy
        # returns nan there too (after a divide-by-zero warning, which this skips).
        return math.nan
    if effective_n >= TAIL_MIN_EFFECTIVE_N:
        root = math.sqrt(effective_n)
        tail = float(special.kolmogorov((root + 0.12 + 0.11 / root) * statistic))
        if tail < TAIL_PVALUE:
            return tail
    pvalue = stats.kstwo.sf(statistic, effective_n)
    return float(np.clip(pvalue, 0.0, 1.0))


def compare_ecdfs(reference_sorted: ArrayLike, current: ArrayLike) -> EcdfComparison:
    r"""Kolmogorov-Smirnov test and 1-Wasserstein distance from one merge of the two samples.

    .. math::

        D = \sup_x |F_r(x) - F_c(x)|, \qquad
        W_1 = \int_{-\infty}^{\infty} |F_r(x) - F_c(x)| \, dx
            = \sum_k |F_r(z_k) - F_c(z_k)| (z_{k+1} - z_k)

    where :math:`F_r, F_c` are the right-continuous empirical CDFs and :math:`z` is the pooled
    sample sorted. The p-value is the two-sided asymptotic one,
    :math:`P(D_{n_e} \ge D)` under ``scipy.stats.kstwo`` with
    :math:`n_e = \operatorname{round}(n_r n_c / (n_r + n_c))`. Ties are handled as scipy does:
    the ECDFs are compared after each distinct value. With a single value in each sample
    :math:`n_e` rounds to 0 and the p-value is ``nan``, as in scipy. All three numbers equal
    ``scipy.stats.ks_2samp(ref, cur, method="asymp")`` and
    ``scipy.stats.wasserstein_distance(ref, cur)`` to rounding.

    Parameters
    ----------
    reference_sorted : array_like
        Reference sample sorted ascending (kept sorted by the reference profile so that no
        evaluation re-sorts it). Checked, not re-sorted.
    current : array_like
        Current window, any order; sorted once here.

    Returns
    -------
    EcdfComparison
        ``(ks_statistic, ks_pvalue, wasserstein)``.

    Raises
    ------
    ValueError
        If either sample is empty or non-finite, or ``reference_sorted`` is not sorted.

    Examples
    --------
    >>> result = compare_ecdfs([1.0, 2.0, 3.0, 4.0], [3.0, 4.0, 5.0, 6.0])
    >>> result.ks_statistic, result.wasserstein
    (0.5, 2.0)
    >>> round(result.ks_pvalue, 6)
    0.5
    """
    gap = _ecdf_gap(reference_sorted, current)
    pvalue = _ks_asymptotic_pvalue(gap.ks_statistic, gap.n_reference, gap.n_current)
    return EcdfComparison(gap.ks_statistic, pvalue, gap.wasserstein)


def chi2(reference_counts: ArrayLike, current_counts: ArrayLike) -> Chi2Result:
    r"""Chi-squared test of homogeneity between reference and current category counts.

    On the :math:`2 \times k` table :math:`O` with rows ``reference_counts`` and
    ``current_counts``, after dropping categories that are empty in both rows:

    .. math::

        \chi^2 = \sum_{i=1}^{2} \sum_{j=1}^{k} \frac{(O_{ij} - E_{ij})^2}{E_{ij}}, \qquad
        E_{ij} = \frac{O_{i\cdot} \, O_{\cdot j}}{O_{\cdot\cdot}}, \qquad
        \mathrm{dof} = k - 1

    with the p-value from the chi-squared distribution, without Yates' continuity correction
    (``scipy.stats.chi2_contingency(table, correction=False)``). With a single remaining
    category both rows are the same distribution: statistic 0, p-value 1, dof 0.

    Parameters
    ----------
    reference_counts, current_counts : array_like
        Non-negative counts per category, same length and category order.

    Returns
    -------
    Chi2Result
        ``(statistic, pvalue, dof)``.

    Raises
    ------
    ValueError
        If the counts fail validation, differ in length, or either row sums to zero.

    Examples
    --------
    Expected counts are 25, 25, 50 in each row, so chi2 = 4 * 5**2 / 25 = 4 and, with 2 dof,
    p = exp(-4 / 2):

    >>> result = chi2([30, 20, 50], [20, 30, 50])
    >>> round(result.statistic, 12), round(result.pvalue, 6), result.dof
    (4.0, 0.135335, 2)
    """
    reference = as_counts(reference_counts, "reference_counts")
    current = as_counts(current_counts, "current_counts")
    check_same_length(reference, current, "reference_counts", "current_counts")
    if reference.sum() == 0.0 or current.sum() == 0.0:
        raise ValueError("reference_counts and current_counts must each have a positive total")
    table = np.vstack((reference, current))
    table = table[:, (reference + current) > 0.0]
    if table.shape[1] < 2:
        return Chi2Result(0.0, 1.0, 0)
    result = stats.chi2_contingency(table, correction=False)
    return Chi2Result(float(result.statistic), float(result.pvalue), int(result.dof))
