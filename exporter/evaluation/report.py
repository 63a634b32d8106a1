"""What one evaluation found: immutable report types, read by the metrics and the JSON API.

`evaluator.evaluate` builds these; the Prometheus collectors and the JSON API only read
them, so a scrape never sees a half-written evaluation. `to_dict` is the shape of
`GET /v1/models/{model}/drift` and `POST /v1/models/{model}/evaluate`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

from exporter.settings import DriftSettings

Status = Literal["ok", "insufficient_data", "error"]
#: Why a column has no drift decision: the window is under `min_records`; the column has fewer
#: valid values than its minimum; the reference has no valid value of it.
NotJudged = Literal["window_below_min_records", "too_few_valid_values", "no_reference_values"]
NOT_JUDGED_REASONS: tuple[NotJudged, ...] = (
    "window_below_min_records",
    "too_few_valid_values",
    "no_reference_values",
)


@dataclass(frozen=True)
class StatisticResult:
    """One statistic of one column; `pvalue` only for tests, `adjusted_pvalue` after correction.

    An effect statistic (exporter.evaluation.decision) also has its `floor` and its no-drift
    `critical` value at this window's size; its `threshold` is then max(floor, critical). A
    test's `threshold` is alpha."""

    name: str
    value: float
    threshold: float
    drifted: bool
    pvalue: float | None = None
    adjusted_pvalue: float | None = None
    critical: float | None = None
    floor: float | None = None

    def to_dict(self) -> dict[str, Any]:
        described: dict[str, Any] = {
            "value": _json_float(self.value),
            "pvalue": _json_float(self.pvalue),
            "adjusted_pvalue": _json_float(self.adjusted_pvalue),
            "threshold": _json_float(self.threshold),
            "drifted": self.drifted,
        }
        if self.floor is not None:
            described["floor"] = self.floor
            described["critical"] = _json_float(self.critical)
        return described


@dataclass(frozen=True)
class QualityResult:
    """Shares of the window's records whose value for this column was not usable."""

    missing_ratio: float
    type_mismatch_ratio: float
    unseen_category_ratio: float | None
    out_of_range_ratio: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "missing_ratio": self.missing_ratio,
            "type_mismatch_ratio": self.type_mismatch_ratio,
            "unseen_category_ratio": self.unseen_category_ratio,
            "out_of_range_ratio": self.out_of_range_ratio,
        }


@dataclass(frozen=True)
class WindowCounts:
    """A column's window counts that replicas can sum (`pooling`, docs/metrics.md).

    The data-quality counts are the numerators of QualityResult's ratios, whose denominator is
    the window's records; the bins are the raw (un-pooled) counts over the reference's bins,
    the same bins PSI is computed on before sparse bins are merged. Not part of the JSON report.
    """

    missing: int
    """Missing or NaN/inf values: the numerator of missing_ratio."""
    type_mismatch: int
    unseen_category: int | None
    """Categorical and boolean columns only."""
    out_of_range: int | None
    """Numeric columns only."""
    window_bins: tuple[int, ...] | None
    """Valid window values per reference bin; None above pooling.max_bins_per_feature."""
    reference_bins: tuple[int, ...] | None
    """The reference's values per bin; None above pooling.max_bins_per_feature."""


@dataclass(frozen=True)
class ColumnReport:
    """A feature's (or the prediction's) statistics, its drift decision and its data quality."""

    name: str
    kind: str
    valid_records: int
    statistics: tuple[StatisticResult, ...]
    drifted: bool | None
    quality: QualityResult | None
    #: Valid values needed to judge the column, and why it was not judged (None if it was).
    min_valid_records: int = 0
    not_judged: NotJudged | None = None
    #: Summable counts, with `pooling.enabled` and a non-empty window (else None).
    counts: WindowCounts | None = None

    def statistic(self, name: str) -> StatisticResult | None:
        return next((s for s in self.statistics if s.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.kind,
            "valid_records": self.valid_records,
            "min_valid_records": self.min_valid_records,
            "drifted": self.drifted,
            "not_judged": self.not_judged,
            "statistics": {s.name: s.to_dict() for s in self.statistics},
            "quality": None if self.quality is None else self.quality.to_dict(),
        }


@dataclass(frozen=True, eq=False)
class PerformanceReport:
    """The model's performance: realised on labelled pairs, the reference's, and estimated.

    `metrics` is empty below `min_labels` labelled pairs and `reference` below `min_labels`
    labelled reference rows; the estimates need a scored classifier whose reference has both
    classes labelled (CBPE: accuracy, ROC AUC) or a regressor whose reference has labels
    (direct loss estimation: MAE, RMSE), and a window of at least `min_records`.
    """

    task: str | None
    scored: bool
    labels: int
    min_labels: int
    metrics: dict[str, float]
    reference: dict[str, float]
    reference_labels: int
    estimated_accuracy: float | None
    estimated_roc_auc: float | None
    detections: dict[str, int]
    last_detection: dict[str, float | None]
    estimated_accuracy_stderr: float | None = None
    estimated_mae: float | None = None
    estimated_mae_stderr: float | None = None
    estimated_rmse: float | None = None
    estimated_rmse_stderr: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "scored": self.scored,
            "labels": self.labels,
            "min_labels": self.min_labels,
            "metrics": self.metrics,
            "reference": self.reference,
            "reference_labels": self.reference_labels,
            "estimated": {
                "accuracy": self.estimated_accuracy,
                "accuracy_stderr": self.estimated_accuracy_stderr,
                "roc_auc": self.estimated_roc_auc,
                "mae": self.estimated_mae,
                "mae_stderr": self.estimated_mae_stderr,
                "rmse": self.estimated_rmse,
                "rmse_stderr": self.estimated_rmse_stderr,
            },
            "concept_drift": {
                name: {"detections": count, "last_detection_at": self.last_detection.get(name)}
                for name, count in self.detections.items()
            },
        }


@dataclass(frozen=True)
class EvaluationReport:
    """What one evaluation of one model found; the metrics and the JSON API both read this."""

    model: str
    status: Status
    evaluated_at: float
    window_records: int
    min_records: int
    reference_rows: int
    features: tuple[ColumnReport, ...]
    prediction: ColumnReport | None
    features_evaluated: int
    features_drifted: int
    method: str
    correction: str
    alpha: float
    duration_seconds: float = 0.0
    last_success_at: float | None = None
    error: str | None = None
    performance: PerformanceReport | None = None
    #: Phi^-1 of the no-drift quantile the features' (and the prediction's) critical values
    #: use, with `pooling.enabled` and a non-empty window (else None).
    noise_quantile_z: float | None = None
    prediction_noise_quantile_z: float | None = None

    @property
    def drifted_ratio(self) -> float | None:
        if self.features_evaluated == 0:
            return None
        return self.features_drifted / self.features_evaluated

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "status": self.status,
            "error": self.error,
            "evaluated_at": self.evaluated_at,
            "last_success_at": self.last_success_at,
            "duration_seconds": self.duration_seconds,
            "window_records": self.window_records,
            "min_records": self.min_records,
            "reference_rows": self.reference_rows,
            "drift": {
                "method": self.method,
                "correction": self.correction,
                "alpha": self.alpha,
                "features_evaluated": self.features_evaluated,
                "features_drifted": self.features_drifted,
                "drifted_ratio": self.drifted_ratio,
            },
            "features": [column.to_dict() for column in self.features],
            "prediction": None if self.prediction is None else self.prediction.to_dict(),
            "performance": None if self.performance is None else self.performance.to_dict(),
        }


def failed_report(
    previous: EvaluationReport | None,
    model: str,
    now: float,
    error: str,
    min_records: int,
    drift: DriftSettings,
) -> EvaluationReport:
    """A report for an evaluation that raised: no statistics, the last success kept."""
    return EvaluationReport(
        model=model,
        status="error",
        error=error,
        evaluated_at=now,
        last_success_at=None if previous is None else previous.last_success_at,
        window_records=0 if previous is None else previous.window_records,
        min_records=min_records,
        reference_rows=0 if previous is None else previous.reference_rows,
        features=(),
        prediction=None,
        features_evaluated=0,
        features_drifted=0,
        method=drift.method,
        correction=drift.correction,
        alpha=drift.alpha,
    )


def _json_float(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return value
