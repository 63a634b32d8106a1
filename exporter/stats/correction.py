"""Multiple-testing correction for the per-feature p-values of one evaluation."""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats  # type: ignore[import-untyped, unused-ignore]

from exporter.stats.validation import as_sample

__all__ = ["CorrectionMethod", "adjust_pvalues"]

CorrectionMethod = Literal["none", "bonferroni", "benjamini_hochberg"]


def adjust_pvalues(pvalues: ArrayLike, method: CorrectionMethod) -> NDArray[np.float64]:
    r"""Adjust the p-values of :math:`m` simultaneous tests.

    .. math::

        \text{bonferroni:}\quad \tilde p_i = \min(m \, p_i, 1)

        \text{benjamini\_hochberg:}\quad \tilde p_{(i)} = \min_{j \ge i}
            \min\Big(\frac{m \, p_{(j)}}{j}, 1\Big)

    where :math:`p_{(1)} \le \dots \le p_{(m)}` are the sorted p-values. Bonferroni controls the
    family-wise error rate; Benjamini-Hochberg controls the false discovery rate and is
    ``scipy.stats.false_discovery_control(p, method="bh")``. ``"none"`` returns a copy of the
    input. Rejecting where the adjusted value is below alpha applies the procedure at level
    alpha.

    Parameters
    ----------
    pvalues : array_like
        One p-value per test, each in [0, 1]. Untested features (no data, p-value ``nan``) must
        be left out: they are not among the :math:`m` tests.
    method : {"none", "bonferroni", "benjamini_hochberg"}
        The correction.

    Returns
    -------
    ndarray of float64
        Adjusted p-values in the input order; empty for empty input.

    Raises
    ------
    ValueError
        If ``method`` is unknown or a p-value is non-finite or outside [0, 1].

    Examples
    --------
    >>> adjust_pvalues([0.01, 0.04, 0.5], "bonferroni")
    array([0.03, 0.12, 1.  ])
    >>> adjust_pvalues([0.5, 0.01, 0.025, 0.02], "benjamini_hochberg").round(6)
    array([0.5     , 0.033333, 0.033333, 0.033333])
    """
    if method not in ("none", "bonferroni", "benjamini_hochberg"):
        raise ValueError(
            f"method must be 'none', 'bonferroni' or 'benjamini_hochberg', got {method!r}"
        )
    p = as_sample(pvalues, "pvalues")
    in_range = (p >= 0.0) & (p <= 1.0)
    if not in_range.all():
        bad = int(np.argmin(in_range))
        raise ValueError(f"pvalues must be in [0, 1], but pvalues[{bad}] is {p[bad]}")
    if method == "none" or p.size == 0:
        return p.copy()
    if method == "bonferroni":
        return np.minimum(p * p.size, 1.0)
    adjusted: NDArray[np.float64] = np.asarray(
        stats.false_discovery_control(p, method="bh"), dtype=np.float64
    )
    return adjusted
