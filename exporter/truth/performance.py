"""Realised performance of encoded pairs, and the reference's, computed once per upload."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from exporter.settings import FeatureKind, ModelSettings
from exporter.stats.classification import classification_metrics
from exporter.stats.estimation import Calibration, fit_calibration
from exporter.stats.loss_estimation import LossTable, fit_loss_table
from exporter.stats.regression import regression_metrics
from exporter.truth.task import TaskSpec, encode_pairs, pair_arrays, resolve_task

#: Realised-performance metrics, in exposition order; a model gets those of its task.
CLASSIFICATION_METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss")
REGRESSION_METRICS = ("mae", "mse", "rmse", "mape")
PERFORMANCE_METRICS = CLASSIFICATION_METRICS + REGRESSION_METRICS
_POSITIVE_CLASS_METRICS = frozenset({"precision", "recall", "f1"})


def performance_metrics(
    spec: TaskSpec, truth: Sequence[Any], predicted: Sequence[Any]
) -> dict[str, float]:
    """The realised metrics of encoded pairs (exporter.stats.performance), undefined ones left out.

    Scored classifiers get ROC AUC from the scores, and log loss when every score is a
    probability (in [0, 1]). Unscored classifiers get neither. Their positive class is the
    model's (``spec.positive``: the config's, else the reference's, see
    :func:`reference_performance`), never the window's: a window of one class would otherwise
    report precision, recall and F1 of 1.0, and one other label would flip them to 0.0. With no
    positive class known, a window of at most two classes reports accuracy but no precision,
    recall or F1; a window of more classes reports their macro averages.
    """
    if not truth:
        return {}
    y_true, y_pred = pair_arrays(spec, truth, predicted)
    values: Mapping[str, float | int | None]
    if spec.task == "regression":
        values = regression_metrics(y_true, y_pred)._asdict()
    elif spec.scored:
        scores = y_pred
        probabilities = scores if bool(((scores >= 0.0) & (scores <= 1.0)).all()) else None
        values = classification_metrics(
            y_true,
            (scores >= spec.threshold).astype(np.float64),
            scores=scores,
            probabilities=probabilities,
            classes=[0.0, 1.0],
            positive=1.0,
        )._asdict()
    else:
        try:
            values = classification_metrics(y_true, y_pred, positive=spec.positive)._asdict()
        except ValueError:  # a configured positive class, but more than two classes
            values = classification_metrics(y_true, y_pred)._asdict()
        if spec.positive is None and np.union1d(y_true, y_pred).shape[0] <= 2:
            values = {k: v for k, v in values.items() if k not in _POSITIVE_CLASS_METRICS}
    return {
        name: float(value)
        for name, value in values.items()
        if name in PERFORMANCE_METRICS and value is not None and math.isfinite(value)
    }


@dataclass(frozen=True, eq=False)
class ReferencePerformance:
    """The reference's realised metrics and, for scored classifiers, the score calibration.

    Computed once per reference upload from the reference's own predictions and labels; the
    baseline the live metrics are compared with, and the map the label-free estimates use.
    """

    spec: TaskSpec
    labels: int
    """Usable (prediction, label) pairs in the reference."""
    metrics: Mapping[str, float]
    calibration: Calibration | None
    """Isotonic map score -> P(positive) (scored classifiers with both classes labelled)."""
    loss_table: LossTable | None = None
    """Error moments per prediction bin, for direct loss estimation (regressors)."""

    def summary(self) -> dict[str, Any]:
        return {
            **self.spec.to_dict(),
            "labels": self.labels,
            "metrics": dict(self.metrics),
            "calibrated": self.calibration is not None,
            "loss_estimated": self.loss_table is not None,
        }


def reference_performance(
    declared: ModelSettings,
    prediction_kind: FeatureKind | None,
    predictions: Sequence[Any] | None,
    labels: Sequence[Any] | None,
    prediction_edges: NDArray[np.float64] | None = None,
) -> ReferencePerformance | None:
    """The reference's performance, or None unless it has both predictions and labels.

    A regressor with labelled pairs also gets the error moments per bin of `prediction_edges`
    (the prediction column's bins, so `reference.bins` bounds the table) for direct loss
    estimation.

    An unscored classifier with no configured positive class takes the larger class key of the
    reference's labels and predictions as positive when they hold exactly two classes; the
    spec, and so the positive class, is then the model's for every live window.
    """
    if predictions is None or labels is None:
        return None
    spec = resolve_task(declared, prediction_kind, predictions, labels)
    if spec is None:
        return None
    pairs = encode_pairs(spec, predictions, labels)
    if spec.task == "classification" and not spec.scored and spec.positive is None:
        classes = sorted({*pairs.truth, *pairs.predicted})
        if len(classes) == 2:
            spec = replace(spec, positive=classes[-1])
    calibration = None
    if spec.scored and len(set(pairs.truth)) == 2:
        calibration = fit_calibration(pairs.predicted, pairs.truth)
    loss_table = None
    if spec.task == "regression" and prediction_edges is not None and pairs.truth:
        loss_table = fit_loss_table(prediction_edges, pairs.predicted, pairs.truth)
    return ReferencePerformance(
        spec=spec,
        labels=len(pairs.truth),
        metrics=performance_metrics(spec, pairs.truth, pairs.predicted),
        calibration=calibration,
        loss_table=loss_table,
    )
