"""Realised regression performance on label-joined pairs: MAE, MSE, RMSE and MAPE.

Closed forms over the residuals in numpy; the numbers equal the ``sklearn.metrics`` functions
named in :func:`regression_metrics`, except MAPE's zero-target guard, documented there.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from exporter.stats.validation import as_sample, check_same_length

__all__ = ["RegressionMetrics", "regression_metrics", "residual_pairs"]


class RegressionMetrics(NamedTuple):
    """Realised regression performance over one window of label-joined pairs."""

    mae: float
    """Mean absolute error, in the target's units."""
    mse: float
    """Mean squared error, in the target's units squared."""
    rmse: float
    """Root mean squared error, in the target's units."""
    mape: float | None
    """Mean absolute percentage error as a fraction over nonzero targets; ``None`` if none."""
    labels: int
    """How many (prediction, label) pairs the metrics cover."""


def residual_pairs(
    y_true: ArrayLike, y_pred: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Validate true and predicted values: finite reals, 1-D, the same non-zero length."""
    true = as_sample(y_true, "y_true")
    pred = as_sample(y_pred, "y_pred")
    check_same_length(true, pred, "y_true", "y_pred")
    if true.shape[0] == 0:
        raise ValueError("y_true and y_pred must be non-empty")
    return true, pred


def regression_metrics(y_true: ArrayLike, y_pred: ArrayLike) -> RegressionMetrics:
    r"""MAE, MSE, RMSE and MAPE of one window of labelled pairs.

    .. math::

        \mathrm{MAE} = \frac1n \sum_i |y_i - \hat y_i|, \quad
        \mathrm{MSE} = \frac1n \sum_i (y_i - \hat y_i)^2, \quad
        \mathrm{RMSE} = \sqrt{\mathrm{MSE}}, \quad
        \mathrm{MAPE} = \frac{1}{|Z|} \sum_{i \in Z} \frac{|y_i - \hat y_i|}{|y_i|},
        \ Z = \{i : y_i \ne 0\}

    MAE, MSE and RMSE equal ``sklearn.metrics.mean_absolute_error``, ``mean_squared_error``
    and ``root_mean_squared_error``. MAPE is a fraction (0.05 is 5 %), like
    ``mean_absolute_percentage_error``, and equals it when no target is 0. It differs when
    some are: scikit-learn divides by :math:`\max(|y_i|, \epsilon)`, so one zero target adds
    about :math:`|\hat y_i| / 2.2 \cdot 10^{-16}` and swamps the window; here the pairs with a
    zero target are left out of MAPE (they still count in MAE, MSE and RMSE), and MAPE is
    ``None`` when every target is 0.

    Parameters
    ----------
    y_true, y_pred : array_like
        True and predicted values, 1-D, finite, same non-zero length.

    Returns
    -------
    RegressionMetrics
        ``(mae, mse, rmse, mape, labels)``.

    Raises
    ------
    ValueError
        If the inputs are empty, of different lengths, not real numbers or not finite.

    Examples
    --------
    Errors (0, 1, -2, 0) on targets (1, 2, 4, 0); MAPE over the first three:
    (0 + 1/2 + 2/4) / 3.

    >>> m = regression_metrics([1.0, 2.0, 4.0, 0.0], [1.0, 3.0, 2.0, 0.0])
    >>> m.mae, m.mse, round(m.rmse, 6), round(m.mape, 6), m.labels
    (0.75, 1.25, 1.118034, 0.333333, 4)
    >>> regression_metrics([0.0, 0.0], [1.0, -1.0]).mape is None
    True
    """
    true, pred = residual_pairs(y_true, y_pred)
    absolute = np.abs(true - pred)
    mse = float(np.mean(absolute * absolute))
    nonzero = true != 0.0
    mape = float(np.mean(absolute[nonzero] / np.abs(true[nonzero]))) if nonzero.any() else None
    return RegressionMetrics(float(absolute.mean()), mse, math.sqrt(mse), mape, true.shape[0])
