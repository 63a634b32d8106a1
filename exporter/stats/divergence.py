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


def psi(reference_counts: ArrayLike, current_counts: ArrayLike, smoothing: float = 1e-4) -> float:
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

    Parameters
    ----------
    reference_counts, current_counts : array_like
        Non-negative counts per bin, same length.
    smoothing : float, default 1e-4
        Floor applied to every proportion, ``0 < smoothing < 1``.

    Returns
    -------
    float
        The index, or ``nan`` if either histogram has a total of zero.

    Raises
    ------
    ValueError
        If the counts fail validation, differ in length, or ``smoothing`` is out of range.

    Examples
    --------
    Proportions (0.5, 0.3, 0.2) against (0.3, 0.3, 0.4): PSI = 0.2 ln(5/3) + 0 + 0.2 ln 2.

    >>> round(psi([50, 30, 20], [30, 30, 40]), 6)
    0.240795
    >>> psi([5, 5], [0, 0])
    nan
    """
    if not 0.0 < smoothing < 1.0:
        raise ValueError(f"smoothing must be in (0, 1), got {smoothing!r}")
    reference, current = _paired_counts(reference_counts, current_counts)
    reference_total = reference.sum()
    current_total = current.sum()
    if reference_total == 0.0 or current_total == 0.0:
        return math.nan
    r = np.maximum(reference / reference_total, smoothing)
    c = np.maximum(current / current_total, smoothing)
    return float(((c - r) * np.log(c / r)).sum())


def jensen_shannon(reference_counts: ArrayLike, current_counts: ArrayLike) -> float:
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

    Parameters
    ----------
    reference_counts, current_counts : array_like
        Non-negative counts per bin, same length.

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
    """
    reference, current = _paired_counts(reference_counts, current_counts)
    reference_total = reference.sum()
    current_total = current.sum()
    if reference_total == 0.0 or current_total == 0.0:
        return math.nan
    p = reference / reference_total
    q = current / current_total
    m = (p + q) / 2.0
    divergence = (rel_entr(p, m).sum() + rel_entr(q, m).sum()) / _LN2
    return min(math.sqrt(max(float(divergence) / 2.0, 0.0)), 1.0)
