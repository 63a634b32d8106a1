"""Brownian bridges for the no-drift distribution of the 1-Wasserstein distance.

When a window of n values and a reference of m values come from the same distribution with
quantile function Q,

.. math::

    W_1 = \\int |F_n(x) - G_m(x)| \\, dx
        \\approx \\sqrt{\\tfrac1n + \\tfrac1m} \\int_0^1 |B(u)| \\, dQ(u)

with B a standard Brownian bridge (del Barrio, Giné and Matrán 1999: the limit holds when
:math:`\\int \\sqrt{F(1-F)}\\,dx < \\infty`, i.e. a little more than a finite variance). Only
the integral :math:`T = \\int |B|\\,dQ` depends on the feature, and only through Q, so one
seeded table of :math:`|B|` on a fixed grid serves every feature: with the reference's
quantile jumps gathered into weights on the grid, T for every simulated bridge is one
matrix-vector product, and its quantile one partition.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from exporter.stats.validation import as_sorted_sample

__all__ = ["BrownianBridges", "bridge_integral_quantile", "brownian_bridges"]

#: Defaults of :func:`brownian_bridges`; docs/statistics.md has the accuracy they give.
DRAWS = 32_768
GRID = 64
#: The grid spans logit(u) in [-GRID_LOGIT, GRID_LOGIT]: u from 1.7e-5 to 1 - 1.7e-5.
GRID_LOGIT = 11.0


class BrownianBridges(NamedTuple):
    """``absolute[i, j] = |B_i(grid[j])|`` for independent standard Brownian bridges ``B_i``."""

    grid: NDArray[np.float64]
    """Points in (0, 1), uniform in logit(u): dense near 0 and 1, where the tails live."""
    absolute: NDArray[np.float32]
    """Shape ``(draws, len(grid))``; float32 halves the memory and the product's time, and its
    7 significant digits are far finer than the Monte Carlo error."""
    seed: int


def brownian_bridges(draws: int = DRAWS, grid_size: int = GRID, seed: int = 0) -> BrownianBridges:
    r"""Simulate ``draws`` Brownian bridges on a ``grid_size``-point grid, from ``seed``.

    :math:`B(u) = W(u) - u W(1)` with W a Brownian motion built from independent normal
    increments between the grid points, so B has exactly the bridge's covariance
    :math:`\min(u, v) - uv` on the grid. The same seed gives the same table on every machine
    (numpy's PCG64 and its normal sampler are platform-independent). Building the default
    table takes a few tens of milliseconds and 12 MiB: build it once per process and pass it
    to every call.

    Raises
    ------
    ValueError
        If ``draws`` < 100 or ``grid_size`` < 8.

    Examples
    --------
    >>> bridges = brownian_bridges(draws=1000, grid_size=16, seed=1)
    >>> bridges.absolute.shape, bool(bridges.grid[0] > 0.0 and bridges.grid[-1] < 1.0)
    ((1000, 16), True)
    """
    for value, name, minimum in ((draws, "draws", 100), (grid_size, "grid_size", 8)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
            raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    logits = np.linspace(-GRID_LOGIT, GRID_LOGIT, int(grid_size))
    grid = 1.0 / (1.0 + np.exp(-logits))
    steps = np.diff(np.concatenate(([0.0], grid, [1.0])))
    rng = np.random.default_rng(seed)
    increments = rng.standard_normal((int(draws), steps.size)) * np.sqrt(steps)
    motion = np.cumsum(increments, axis=1)
    bridge = motion[:, :-1] - grid * motion[:, -1:]
    return BrownianBridges(grid, np.abs(bridge).astype(np.float32), int(seed))


def bridge_weights(reference_sorted: ArrayLike, grid: NDArray[np.float64]) -> NDArray[np.float64]:
    r"""The reference's quantile jumps gathered on ``grid``, so that
    :math:`\int |B|\,dQ \approx \sum_j |B(g_j)|\,w_j`.

    The reference's quantile function jumps by :math:`z_k - z_{k-1}` at :math:`u_k = k/m`.
    Each jump goes to the nearest grid point :math:`g` (in logit), scaled by
    :math:`\sqrt{u_k(1-u_k) / (g(1-g))}`, so that the scaled :math:`|B(g)|` has exactly the
    distribution of :math:`|B(u_k)|`: a discrete feature, whose few jumps sit at arbitrary
    u, keeps each jump's spread exactly; nearby jumps share one draw, which (within one grid
    step) barely changes T's spread.
    """
    reference = as_sorted_sample(reference_sorted, "reference_sorted")
    m = reference.size
    if m < 2:
        return np.zeros(grid.size)
    jumps = np.diff(reference)
    levels = np.arange(1, m) / m
    moved = jumps > 0.0
    jumps, levels = jumps[moved], levels[moved]
    logit_grid = np.log(grid / (1.0 - grid))
    logit_levels = np.log(levels / (1.0 - levels))
    right = np.clip(np.searchsorted(logit_grid, logit_levels), 1, grid.size - 1)
    nearer_left = (logit_levels - logit_grid[right - 1]) < (logit_grid[right] - logit_levels)
    nearest = right - nearer_left
    spread = np.sqrt(levels * (1.0 - levels) / (grid[nearest] * (1.0 - grid[nearest])))
    return np.bincount(nearest, weights=jumps * spread, minlength=grid.size).astype(np.float64)


def bridge_integral_quantile(
    reference_sorted: ArrayLike, quantile: float, bridges: BrownianBridges
) -> float:
    r"""The ``quantile`` of :math:`T = \int_0^1 |B(u)|\,dQ(u)`, Q the reference's quantile
    function, over the simulated ``bridges``; in the feature's units.

    It does not depend on the window's size: the no-drift quantile of :math:`W_1` at sizes
    n and m is :math:`\sqrt{1/n + 1/m}\,T_q`, so a caller may compute it once per reference
    and quantile level and keep it.

    Examples
    --------
    For a uniform reference on [0, 1], T is the L1 norm of the bridge, whose mean is
    :math:`\sqrt{2/\pi}\,\pi/8 \approx 0.313`; its median is a little under:

    >>> bridges = brownian_bridges(draws=20_000, seed=0)
    >>> round(bridge_integral_quantile(np.linspace(0.0, 1.0, 1001), 0.5, bridges), 2)
    0.28
    """
    if not 0.0 < quantile < 1.0 or math.isnan(quantile):
        raise ValueError(f"quantile must be in (0, 1), got {quantile!r}")
    weights = bridge_weights(reference_sorted, bridges.grid).astype(np.float32)
    totals = bridges.absolute @ weights
    draws = totals.size
    # The order statistic at rank ceil(q * draws): the empirical quantile, never below it.
    rank = min(max(math.ceil(quantile * draws) - 1, 0), draws - 1)
    return float(np.partition(totals, rank)[rank])
