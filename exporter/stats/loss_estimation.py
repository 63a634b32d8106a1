"""Direct loss estimation (DLE) of a regressor's MAE and RMSE without labels.

The regression counterpart of :mod:`exporter.stats.estimation`'s CBPE. NannyML's DLE fits a
model of the loss on the features and the prediction; this is its dependency-free variant
conditional on the prediction alone: on the labelled reference, the mean absolute error, the
mean squared error and the mean fourth power of the error are measured in each bin of the
prediction (the prediction column's reference-quantile bins), and a window's MAE and MSE are
estimated as those per-bin means weighted by how many of the window's predictions fall in
each bin. The table is the step function of :math:`E[|e| \\mid \\hat y]` and
:math:`E[e^2 \\mid \\hat y]` on those bins; no shape (monotone or otherwise) is assumed.

The estimate is right when the distribution of the error given the prediction is unchanged
and only the inputs (hence the predictions) move: covariate shift, the case where a model
meets inputs it was less accurate on. It cannot see concept drift, a change of
:math:`P(y \\mid x)` at fixed inputs, because nothing it reads changes; the realised metrics
of :mod:`exporter.stats.regression` and the error-stream detectors of
:mod:`exporter.truth.concept` cover that case once labels arrive. Inside a bin it assumes the
error does not depend on where the prediction falls, and beyond the reference's range it
extrapolates the outer bins' errors unchanged.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from exporter.stats.binning import bin_index
from exporter.stats.regression import residual_pairs
from exporter.stats.validation import as_sample

__all__ = ["LossEstimate", "LossTable", "check_loss_table", "estimated_loss", "fit_loss_table"]


class LossTable(NamedTuple):
    """The reference's error moments per prediction bin, pooled where a bin has no labels.

    ``group[b]`` is the row of the table prediction bin ``b`` reads; a bin with no labelled
    reference row reads the nearest bin that has some (the lower one on a tie), so every row
    holds at least one labelled row and the table is at most as long as the bins.
    """

    group: NDArray[np.int64]
    """Per prediction bin, the row it reads."""
    labels: NDArray[np.int64]
    """Per row, the labelled reference rows it was measured on (>= 1)."""
    mae: NDArray[np.float64]
    """Per row, the mean absolute error."""
    mse: NDArray[np.float64]
    """Per row, the mean squared error."""
    fourth: NDArray[np.float64]
    """Per row, the mean fourth power of the error (for the MSE's sampling error)."""


class LossEstimate(NamedTuple):
    """A window's estimated MAE, MSE and RMSE, each with its sampling standard error."""

    mae: float
    mae_stderr: float
    mse: float
    mse_stderr: float
    rmse: float
    rmse_stderr: float


def fit_loss_table(
    edges: ArrayLike, reference_predictions: ArrayLike, reference_labels: ArrayLike
) -> LossTable:
    r"""Measure the reference's error moments in each bin of its predictions.

    With :math:`e_i = y_i - \hat y_i` and :math:`B_b` the labelled reference rows whose
    prediction falls in bin :math:`b` of ``edges`` (right-closed, as
    :func:`exporter.stats.binning.bin_counts`):

    .. math::

        m_b = |B_b|, \quad
        a_b = \frac{1}{m_b} \sum_{i \in B_b} |e_i|, \quad
        s_b = \frac{1}{m_b} \sum_{i \in B_b} e_i^2, \quad
        q_b = \frac{1}{m_b} \sum_{i \in B_b} e_i^4

    A bin with :math:`m_b = 0` reads the nearest bin that has labelled rows.

    Parameters
    ----------
    edges : array_like
        The prediction column's interior bin edges, strictly increasing (may be empty: one bin).
    reference_predictions, reference_labels : array_like
        The labelled reference rows' predictions and true values, finite, same non-zero length.

    Returns
    -------
    LossTable

    Raises
    ------
    ValueError
        If the pairs are empty, of different lengths or not finite, or the edges not
        strictly increasing.

    Examples
    --------
    Errors (1, -1) in the bin (-inf, 0] and (2) in (0, 1]; nothing in (1, +inf), which reads
    (0, 1]:

    >>> t = fit_loss_table([0.0, 1.0], [-1.0, -0.5, 0.5], [0.0, -1.5, 2.5])
    >>> t.group.tolist(), t.labels.tolist(), t.mae.tolist(), t.mse.tolist()
    ([0, 1, 1], [2, 1], [1.0, 2.0], [1.0, 4.0])
    """
    truth, predicted = residual_pairs(reference_labels, reference_predictions)
    interior = as_sample(edges, "edges")
    if not (interior[1:] > interior[:-1]).all():
        raise ValueError("edges must be strictly increasing")
    bins = len(interior) + 1
    index = bin_index(predicted, interior)
    counts = np.bincount(index, minlength=bins)
    error = np.abs(truth - predicted)
    square = error * error
    filled = np.flatnonzero(counts)
    # Each bin reads the nearest filled bin; argmin takes the lower one on a tie.
    distance = np.abs(np.arange(bins)[:, None] - filled[None, :])
    group = np.argmin(distance, axis=1).astype(np.int64)
    row = np.searchsorted(filled, index)
    m = counts[filled].astype(np.float64)
    return LossTable(
        group=group,
        labels=counts[filled].astype(np.int64),
        mae=np.bincount(row, weights=error, minlength=len(filled)) / m,
        mse=np.bincount(row, weights=square, minlength=len(filled)) / m,
        fourth=np.bincount(row, weights=square * square, minlength=len(filled)) / m,
    )


def check_loss_table(table: LossTable) -> None:
    """Raise ValueError naming the field unless ``table`` is one :func:`fit_loss_table` can make.

    For tables read back from disk: integer groups pointing at every row, rows of the same
    length with at least one label each, finite moments with
    :math:`0 \\le a^2 \\le s` and :math:`s^2 \\le q` (Jensen), up to rounding.
    """
    rows = len(table.labels)
    for name in ("mae", "mse", "fourth"):
        value = getattr(table, name)
        if value.shape != (rows,) or not np.isfinite(value).all() or (value < 0).any():
            raise ValueError(f"loss table {name}: not {rows} finite values >= 0")
    if not rows or (table.labels < 1).any():
        raise ValueError("loss table labels: not one or more labelled rows per row")
    group = table.group
    if group.ndim != 1 or not len(group) or set(np.unique(group).tolist()) != set(range(rows)):
        raise ValueError(f"loss table group: does not map the bins onto rows 0..{rows - 1}")
    slack = 1e-9
    if (table.mae**2 > table.mse * (1 + slack) + slack).any() or (
        table.mse**2 > table.fourth * (1 + slack) + slack
    ).any():
        raise ValueError("loss table: moments out of order (needs mae^2 <= mse, mse^2 <= fourth)")


def estimated_loss(table: LossTable, window_counts: ArrayLike) -> LossEstimate:
    r"""A window's MAE, MSE and RMSE estimated from how many predictions fall in each bin.

    With :math:`n_r` the window's predictions in the bins reading row :math:`r`,
    :math:`n = \sum_r n_r` and :math:`w_r = n_r / n`:

    .. math::

        \widehat{\mathrm{MAE}} = \sum_r w_r a_r, \quad
        \widehat{\mathrm{MSE}} = \sum_r w_r s_r, \quad
        \widehat{\mathrm{RMSE}} = \sqrt{\widehat{\mathrm{MSE}}}

    The standard errors are those of the realised window metric around its estimate, when
    the error's distribution given the bin is the reference's. Given the bins, the realised
    MAE is a mean of independent :math:`|e_i|` with variance :math:`v_r = s_r - a_r^2` in
    row :math:`r`, and each :math:`a_r` is itself a mean over the :math:`m_r` reference
    rows, independent of the window; so

    .. math::

        \mathrm{se}(\widehat{\mathrm{MAE}})^2 = \sum_r w_r^2 \, v_r
            \Big(\frac{1}{n_r} + \frac{1}{m_r}\Big)

    (the first term the window's own sampling error, the second the reference's), and the
    same for the MSE with :math:`v_r = q_r - s_r^2`. The RMSE's is the MSE's by the delta
    method, :math:`\mathrm{se}(\widehat{\mathrm{MSE}}) / (2 \widehat{\mathrm{RMSE}})`
    (0 when the estimate is 0). Moments are the plug-in ones, so with a handful of labelled
    rows per bin the error is understated by a factor of about :math:`\sqrt{(m_r-1)/m_r}`.

    Parameters
    ----------
    table : LossTable
        From :func:`fit_loss_table` on the reference.
    window_counts : array_like
        The window's predictions per prediction bin (``len(table.group)`` counts >= 0, not
        all 0), e.g. :func:`exporter.stats.binning.bin_counts` with the same edges.

    Returns
    -------
    LossEstimate

    Raises
    ------
    ValueError
        If the counts are not as many as the bins, negative, or all 0.

    Examples
    --------
    >>> t = fit_loss_table([0.0, 1.0], [-1.0, -0.5, 0.5], [0.0, -1.5, 2.5])
    >>> e = estimated_loss(t, [3, 0, 1])  # 3 at a = 1, s = 1; 1 at a = 2, s = 4
    >>> e.mae, e.mse, e.rmse
    (1.25, 1.75, 1.3228756555322954)
    >>> e.mae_stderr  # row 1 has one reference row and no spread; row 0: v = 0
    0.0
    """
    counts = as_sample(window_counts, "window_counts")
    if counts.shape != table.group.shape or (counts < 0).any() or counts.sum() <= 0:
        raise ValueError(
            f"window_counts must be {len(table.group)} counts >= 0, not all 0, one per "
            "prediction bin"
        )
    rows = np.bincount(table.group, weights=counts, minlength=len(table.labels))
    n = float(rows.sum())
    weight = rows / n
    mae = float(weight @ table.mae)
    mse = float(weight @ table.mse)
    filled = rows > 0
    # w_r^2 (1/n_r + 1/m_r) = w_r / n + w_r^2 / m_r, zero where the window has no prediction.
    factor = np.where(filled, weight / n + weight**2 / table.labels, 0.0)
    mae_var = float(factor @ np.maximum(table.mse - table.mae**2, 0.0))
    mse_var = float(factor @ np.maximum(table.fourth - table.mse**2, 0.0))
    rmse = math.sqrt(mse)
    mse_stderr = math.sqrt(mse_var)
    return LossEstimate(
        mae=mae,
        mae_stderr=math.sqrt(mae_var),
        mse=mse,
        mse_stderr=mse_stderr,
        rmse=rmse,
        rmse_stderr=mse_stderr / (2.0 * rmse) if rmse > 0.0 else 0.0,
    )
