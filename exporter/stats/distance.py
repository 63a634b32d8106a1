"""Distances between a reference sample and a current window: 1-Wasserstein, raw and scaled.

Both share the validated ECDF kernel of :mod:`exporter.stats.two_sample` but skip the KS
p-value, which is the expensive part of :func:`~exporter.stats.two_sample.compare_ecdfs`.
"""

from __future__ import annotations

import math

from numpy.typing import ArrayLike

from exporter.stats.two_sample import _ecdf_gap

__all__ = ["wasserstein_normalized"]


def wasserstein_normalized(
    reference_sorted: ArrayLike, current: ArrayLike, reference_std: float
) -> float:
    r"""1-Wasserstein distance in units of the reference standard deviation.

    .. math::

        \tilde W_1 = \frac{W_1}{\sigma_r} \ \text{if}\ \sigma_r > 0, \qquad
        \tilde W_1 = W_1 \ \text{if}\ \sigma_r = 0

    Scaling by :math:`\sigma_r` makes the distance comparable across features and invariant to
    their units (a shift of one reference standard deviation scores 1). A constant reference
    feature has :math:`\sigma_r = 0`; rather than report infinity for any change, the distance
    is then divided by 1, i.e. reported raw in the feature's own units.

    Parameters
    ----------
    reference_sorted : array_like
        Reference sample sorted ascending.
    current : array_like
        Current window, any order.
    reference_std : float
        Standard deviation of the reference sample (as stored in the reference profile),
        finite and >= 0.

    Returns
    -------
    float
        The scaled distance, >= 0.

    Raises
    ------
    ValueError
        If ``reference_std`` is negative or not finite, or the samples fail validation.

    Examples
    --------
    >>> wasserstein_normalized([0.0, 2.0], [1.0, 3.0], reference_std=1.0)
    1.0
    >>> wasserstein_normalized([5.0, 5.0], [7.0, 7.0], reference_std=0.0)
    2.0
    """
    return in_reference_stds(_ecdf_gap(reference_sorted, current).wasserstein, reference_std)


def in_reference_stds(distance: float, reference_std: float) -> float:
    """`distance` divided by `reference_std`, or by 1 for a constant reference (std 0).

    The convention of :func:`wasserstein_normalized`, for a distance already computed (the
    evaluator gets W1 from :func:`~exporter.stats.two_sample.compare_ecdfs`).

    >>> in_reference_stds(3.0, 1.5), in_reference_stds(3.0, 0.0)
    (2.0, 3.0)
    """
    if not (math.isfinite(reference_std) and reference_std >= 0.0):
        raise ValueError(f"reference_std must be finite and >= 0, got {reference_std!r}")
    return distance / (reference_std if reference_std > 0.0 else 1.0)
