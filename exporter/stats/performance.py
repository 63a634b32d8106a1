"""Realised model performance on label-joined pairs: classification and regression metrics.

Each metric is a short closed form over the confusion counts or the residuals, so the
sidecar computes them with numpy and scipy alone rather than importing scikit-learn (whose
import costs more memory than the whole window store). The numbers equal scikit-learn's
``sklearn.metrics`` functions named in each docstring, except MAPE's zero-target guard,
which is documented where it differs.

The metrics live in :mod:`exporter.stats.classification` and :mod:`exporter.stats.regression`;
this module gathers them with the per-record error the concept-drift detectors read. Labels
are categories: strings or numbers compared for equality, never averaged. Inputs are
validated and invalid input raises ``ValueError`` naming the argument.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from exporter.stats.classification import ClassificationMetrics, classification_metrics, label_pairs
from exporter.stats.regression import RegressionMetrics, regression_metrics, residual_pairs

__all__ = [
    "ClassificationMetrics",
    "RegressionMetrics",
    "classification_metrics",
    "per_record_error",
    "regression_metrics",
]


def per_record_error(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    *,
    task: Literal["classification", "regression"],
) -> NDArray[np.float64]:
    r"""The error of each labelled pair, the input of the concept-drift detectors.

    .. math::

        e_i = [\hat y_i \ne y_i] \ \text{(classification)}, \qquad
        e_i = |y_i - \hat y_i| \ \text{(regression)}

    The mean of the classification errors is 1 - accuracy; of the regression errors, the MAE.

    Parameters
    ----------
    y_true, y_pred : array_like
        True and predicted labels (classification: numbers or strings; regression: finite
        real numbers), 1-D, same non-zero length.
    task : {"classification", "regression"}
        Which error to compute.

    Returns
    -------
    ndarray of float64
        One error per pair, in input order: 0.0 or 1.0, or the absolute error.

    Raises
    ------
    ValueError
        If ``task`` is unknown or the inputs fail the checks of
        :func:`classification_metrics` or :func:`regression_metrics`.

    Examples
    --------
    >>> per_record_error(["a", "b", "c"], ["a", "c", "c"], task="classification")
    array([0., 1., 0.])
    >>> per_record_error([1.0, 2.0], [1.5, 1.0], task="regression")
    array([0.5, 1. ])
    """
    if task == "classification":
        true, pred = label_pairs(y_true, y_pred)
        wrong: NDArray[np.float64] = np.not_equal(true, pred).astype(np.float64)
        return wrong
    if task == "regression":
        true_values, pred_values = residual_pairs(y_true, y_pred)
        absolute: NDArray[np.float64] = np.abs(true_values - pred_values)
        return absolute
    raise ValueError(f"task must be 'classification' or 'regression', got {task!r}")
