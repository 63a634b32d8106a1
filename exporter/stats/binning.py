"""Reference-quantile bin edges and histogramming of numeric features.

Edges are computed once from the reference sample; every ingest batch is then histogrammed
against them with :func:`bin_counts`, so PSI and Jensen-Shannon compare counts over the same
bins. Bins are right-closed and the outer two are open-ended::

    (-inf, e_1], (e_1, e_2], ..., (e_k, +inf)

so a live value outside the reference range still lands in a bin.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from exporter.stats.validation import as_sample

__all__ = ["bin_counts", "bin_index", "quantile_edges"]


def quantile_edges(values: ArrayLike, bins: int) -> NDArray[np.float64]:
    r"""Interior bin edges at the reference sample's quantiles.

    .. math::

        e = \operatorname{unique}\big(Q(j / b)\big), \quad j = 1, \dots, b - 1

    where :math:`Q` is the sample quantile function (``np.quantile`` with its default
    ``"linear"`` method) and :math:`b` is ``bins``. Duplicated quantiles, from ties in the
    reference, collapse into one edge, so a heavily tied feature gets fewer than ``b`` bins.

    Parameters
    ----------
    values : array_like
        Reference observations of one numeric feature, missing values already dropped.
    bins : int
        Number of quantile bins requested, at least 2.

    Returns
    -------
    ndarray of float64
        Strictly increasing interior edges, ``len <= bins - 1``. Empty if ``values`` is
        empty; one edge (the value itself) for a constant feature.

    Raises
    ------
    ValueError
        If ``bins`` is not an integer >= 2 or ``values`` fails validation.

    Examples
    --------
    >>> quantile_edges([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], bins=4)
    array([3.25, 5.5 , 7.75])
    >>> quantile_edges([7.0, 7.0, 7.0], bins=10)
    array([7.])
    """
    if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or bins < 2:
        raise ValueError(f"bins must be an integer >= 2, got {bins!r}")
    sample = as_sample(values, "values")
    if sample.size == 0:
        return np.empty(0, dtype=np.float64)
    probabilities = np.linspace(0.0, 1.0, int(bins) + 1)[1:-1]
    quantiles = np.quantile(sample, probabilities)
    if not np.isfinite(quantiles).all():
        # max - min overflowed (values near +-1.8e308): interpolate at half scale.
        quantiles = np.quantile(sample * 0.5, probabilities) * 2.0
    edges: NDArray[np.float64] = np.unique(quantiles)
    return edges


def bin_counts(values: ArrayLike, edges: ArrayLike) -> NDArray[np.int64]:
    r"""Histogram ``values`` into the right-closed bins defined by interior ``edges``.

    .. math::

        n_i = \#\{x : e_i < x \le e_{i+1}\}, \quad i = 0, \dots, k,
        \quad e_0 = -\infty,\ e_{k+1} = +\infty

    computed as ``bincount(searchsorted(edges, x, side="left"), minlength=k + 1)``: one
    vectorised binary search per value, no Python loop.

    Parameters
    ----------
    values : array_like
        Observations to count, missing values already dropped. May be empty.
    edges : array_like
        Strictly increasing interior edges, as returned by :func:`quantile_edges`.

    Returns
    -------
    ndarray of int64
        ``len(edges) + 1`` counts summing to ``len(values)``.

    Raises
    ------
    ValueError
        If ``values`` or ``edges`` fail validation or ``edges`` is not strictly increasing.

    Examples
    --------
    A value equal to an edge falls in the bin to the edge's left:

    >>> bin_counts([0.5, 1.0, 1.5, 2.0, 9.0], edges=[1.0, 2.0])
    array([2, 2, 1])
    """
    sample = as_sample(values, "values")
    interior = as_sample(edges, "edges")
    if not (interior[1:] > interior[:-1]).all():
        raise ValueError("edges must be strictly increasing")
    index = bin_index(sample, interior)
    return np.bincount(index, minlength=interior.size + 1).astype(np.int64, copy=False)


def bin_index(values: NDArray[np.float64], edges: NDArray[np.float64]) -> NDArray[np.intp]:
    r"""The bin of each value: ``i`` such that :math:`e_i < x \le e_{i+1}` (see :func:`bin_counts`).

    The unvalidated kernel behind :func:`bin_counts`, for the ingest path where the values are
    already finite floats and the edges come from :func:`quantile_edges`.

    Examples
    --------
    >>> bin_index(np.array([0.5, 1.0, 1.5, 9.0]), np.array([1.0, 2.0]))
    array([0, 0, 1, 2])
    """
    return np.searchsorted(edges, values, side="left")
