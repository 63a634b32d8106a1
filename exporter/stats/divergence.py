"""Divergences between two histograms over the same bins: PSI and Jensen-Shannon.

Both take raw counts (reference first), normalise each row to proportions, and return
``nan`` when either histogram is empty: with no observations there is no distribution to
compare, and ``nan`` is exported as such rather than as a plausible-looking zero.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import rel_entr  # type: ignore[import-untyped, unused-ignore]

from exporter.stats.validation import as_counts, check_same_length

__all__ = ["jensen_shannon", "psi"]

_LN2 = math.log(2.0)


def _paired_counts(
    reference_counts: ArrayLike, current_counts: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    reference = as_counts(reference_counts, "reference_counts")
    current = as_counts(current_counts, "current_counts")
    check_same_length(reference, current, "reference_counts", "current_counts")
    return reference, current


def psi(
    reference_counts: ArrayLike,
    current_counts: ArrayLike,
    smoothing: float = 1e-4,
    *,
    pseudo_count: float | None = None,
) -> float:
    r"""Population Stability Index between two histograms over the same bins.

    .. math::

        \mathrm{PSI} = \sum_i (c_i - r_i) \ln\frac{c_i}{r_i}, \qquad
        r_i = \max\Big(\frac{R_i}{\sum_j R_j}, s\Big), \quad
        c_i = \max\Big(\frac{C_i}{\sum_j C_j}, s\Big)

    where :math:`R` and :math:`C` are the reference and current counts and :math:`s` is
    ``smoothing``. The floor keeps an empty bin from making the index infinite; it is
    Evidently's convention (which replaces exact zeros by ``1e-4``) and agrees with it
    whenever every non-empty bin holds at least a fraction ``s`` of its histogram. Each term
    is non-negative, so PSI >= 0 and PSI == 0 for identical proportions. The common reading is
    < 0.1 stable, 0.1-0.25 moderate shift, > 0.25 major shift.

    With ``pseudo_count`` :math:`a` the floor is replaced by a smoothing that depends on the
    counts: :math:`a` is added to every bin of both histograms (:math:`a = 1/2` is Jeffreys'
    prior), :math:`r_i = (R_i + a) / (\sum_j R_j + B a)` and likewise :math:`c_i`, over
    :math:`B` bins. An empty bin in a window of :math:`n` then weighs :math:`a / (n + B a)`,
    so its effect fades as the window fills instead of adding ~0.7 at every size (the floor's
    :math:`0.1 \ln(0.1 / 10^{-4})` for an empty decile). This is the estimator that
    :func:`exporter.stats.calibration.psi_critical` is calibrated for; docs/statistics.md
    has the bias and false-alarm numbers behind :math:`a = 1/2`.

    Parameters
    ----------
    reference_counts, current_counts : array_like
        Non-negative counts per bin, same length.
    smoothing : float, default 1e-4
        Floor applied to every proportion, ``0 < smoothing < 1``. Not used when
        ``pseudo_count`` is given.
    pseudo_count : float, optional
        Count added to every bin of both histograms before normalising, finite and > 0.

    Returns
    -------
    float
        The index, or ``nan`` if either histogram has a total of zero.

    Raises
    ------
    ValueError
        If the counts fail validation, differ in length, or ``smoothing`` or
        ``pseudo_count`` is out of range.

    Examples
    --------
    Proportions (0.5, 0.3, 0.2) against (0.3, 0.3, 0.4): PSI = 0.2 ln(5/3) + 0 + 0.2 ln 2.

    >>> round(psi([50, 30, 20], [30, 30, 40]), 6)
    0.240795
    >>> psi([5, 5], [0, 0])
    nan

    With Jeffreys' pseudo-count the reference becomes (50.5, 30.5, 20.5) / 101.5 and the
    window (30.5, 30.5, 40.5) / 101.5, a little closer together:

    >>> round(psi([50, 30, 20], [30, 30, 40], pseudo_count=0.5), 6)
    0.233522
    """
    if not 0.0 < smoothing < 1.0:
        raise ValueError(f"smoothing must be in (0, 1), got {smoothing!r}")
    if pseudo_count is not None and not (math.isfinite(pseudo_count) and pseudo_count > 0.0):
        raise ValueError(f"pseudo_count must be finite and > 0, got {pseudo_count!r}")
    reference, current = _paired_counts(reference_counts, current_counts)
    reference_total = reference.sum()
    current_total = current.sum()
    if reference_total == 0.0 or current_total == 0.0:
        return math.nan
    if pseudo_count is None:
        r = np.maximum(reference / reference_total, smoothing)
        c = np.maximum(current / current_total, smoothing)
    else:
        added = pseudo_count * reference.size
        r = (reference + pseudo_count) / (reference_total + added)
        c = (current + pseudo_count) / (current_total + added)
    return float(((c - r) * np.log(c / r)).sum())


def jensen_shannon(
    reference_counts: ArrayLike, current_counts: ArrayLike, *, pseudo_count: float | None = None
) -> float:
    r"""Jensen-Shannon distance (base 2) between two histograms over the same bins.

    .. math::

        \mathrm{JS}(p, q) = \sqrt{\tfrac12 \mathrm{KL}_2(p \,\|\, m)
                                  + \tfrac12 \mathrm{KL}_2(q \,\|\, m)},
        \qquad m = \tfrac12 (p + q),
        \qquad \mathrm{KL}_2(p \,\|\, m) = \sum_i p_i \log_2 \frac{p_i}{m_i}

    with :math:`p, q` the counts normalised to proportions and :math:`0 \log 0 = 0`, so empty
    bins need no smoothing. This is the distance (the square root of the divergence): a metric
    in [0, 1], 0 for identical proportions and 1 for disjoint supports. It is computed exactly
    as ``scipy.spatial.distance.jensenshannon(p, q, base=2)``, without its generic-axis
    overhead; rounding that would push the divergence below 0 or the distance above 1 is
    clamped.

    With ``pseudo_count`` :math:`a`, :math:`a` is added to every bin of both histograms
    before normalising, as in :func:`psi`. Unsmoothed, the distance's no-drift tail at small
    counts is far heavier than its chi-squared approximation (exceeded up to 7 times as often
    at n = 50); with :math:`a = 1/2` it is at or under it, which is what
    :func:`exporter.stats.calibration.jensen_shannon_critical` assumes.

    Parameters
    ----------
    reference_counts, current_counts : array_like
        Non-negative counts per bin, same length.
    pseudo_count : float, optional
        Count added to every bin of both histograms, finite and > 0.

    Returns
    -------
    float
        The distance, or ``nan`` if either histogram has a total of zero.

    Raises
    ------
    ValueError
        If the counts fail validation or differ in length.

    Examples
    --------
    >>> jensen_shannon([1, 1, 0], [1, 1, 0])
    0.0
    >>> jensen_shannon([1, 0], [0, 1])
    1.0
    >>> round(jensen_shannon([50, 30, 20], [30, 30, 40]), 6)
    0.206731
    >>> round(jensen_shannon([1, 0], [0, 1], pseudo_count=0.5), 6)
    0.434421
    """
    if pseudo_count is not None and not (math.isfinite(pseudo_count) and pseudo_count > 0.0):
        raise ValueError(f"pseudo_count must be finite and > 0, got {pseudo_count!r}")
    reference, current = _paired_counts(reference_counts, current_counts)
    reference_total = reference.sum()
    current_total = current.sum()
    if reference_total == 0.0 or current_total == 0.0:
        return math.nan
    if pseudo_count is not None:
        reference = reference + pseudo_count
        current = current + pseudo_count
        reference_total += pseudo_count * reference.size
        current_total += pseudo_count * current.size
    p = reference / reference_total
    q = current / current_total
    m = (p + q) / 2.0
    divergence = (rel_entr(p, m).sum() + rel_entr(q, m).sum()) / _LN2
    return min(math.sqrt(max(float(divergence) / 2.0, 0.0)), 1.0)
