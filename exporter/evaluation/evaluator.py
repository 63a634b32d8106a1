"""Window snapshot + reference profile -> an immutable EvaluationReport. No I/O, no clock reads.

Numeric columns get PSI and Jensen-Shannon on the reference-quantile bins, and the KS test and
the normalized Wasserstein distance on the raw-value samples. Categorical and boolean columns
get PSI, Jensen-Shannon and the chi-squared test of homogeneity on the category bins. Which of
these decides "drifted" is `drift.method`; p-value decisions are corrected for testing every
feature at once (`drift.correction`), the prediction being a family of its own.

With ground truth, the report also carries the model's performance: realised metrics over the
labelled window (from `labels.min_labels` pairs on), the reference's as the baseline, the
label-free estimates of a scored classifier (its reference calibration applied to the window's
scores), and the concept-drift detector counts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np

from exporter.settings import DriftSettings, LabelSettings
from exporter.stats import adjust_pvalues, chi2, compare_ecdfs, jensen_shannon, psi
from exporter.stats.distance import in_reference_stds
from exporter.stats.estimation import estimated_accuracy, estimated_roc_auc
from exporter.truth.performance import performance_metrics
from exporter.window.profile import (
    CategoricalProfile,
    ColumnProfile,
    NumericProfile,
    ReferenceProfile,
)
from exporter.window.snapshot import ColumnWindow, TruthSnapshot, WindowSnapshot

DEFAULT_MIN_LABELS = LabelSettings().min_labels

Status = Literal["ok", "insufficient_data", "error"]

#: The statistics each kind of column gets, in report order.
NUMERIC_STATISTICS = ("psi", "ks", "jensen_shannon", "wasserstein_normalized")
CATEGORICAL_STATISTICS = ("psi", "chi2", "jensen_shannon")


@dataclass(frozen=True)
class StatisticResult:
    """One statistic of one column; `pvalue` only for tests, `adjusted_pvalue` after correction."""

    name: str
    value: float
    threshold: float
    drifted: bool
    pvalue: float | None = None
    adjusted_pvalue: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "value": _json_float(self.value),
            "pvalue": _json_float(self.pvalue),
            "adjusted_pvalue": _json_float(self.adjusted_pvalue),
            "threshold": self.threshold,
            "drifted": self.drifted,
        }


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
class ColumnReport:
    """A feature's (or the prediction's) statistics, its drift decision and its data quality."""

    name: str
    kind: str
    valid_records: int
    statistics: tuple[StatisticResult, ...]
    drifted: bool | None
    quality: QualityResult | None

    def statistic(self, name: str) -> StatisticResult | None:
        return next((s for s in self.statistics if s.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.kind,
            "valid_records": self.valid_records,
            "drifted": self.drifted,
            "statistics": {s.name: s.to_dict() for s in self.statistics},
            "quality": None if self.quality is None else self.quality.to_dict(),
        }


@dataclass(frozen=True, eq=False)
class PerformanceReport:
    """The model's performance: realised on labelled pairs, the reference's, and estimated.

    `metrics` is empty below `min_labels` labelled pairs and `reference` below `min_labels`
    labelled reference rows; the estimates need a scored classifier whose reference has both
    classes labelled, and a window of at least `min_records`.
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
                "roc_auc": self.estimated_roc_auc,
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


def evaluate(
    snapshot: WindowSnapshot,
    drift: DriftSettings,
    min_records: int,
    now: float,
    *,
    min_labels: int = DEFAULT_MIN_LABELS,
) -> EvaluationReport:
    """Compare the window with the reference; below `min_records` only data quality is reported.

    Below `min_labels` labelled pairs the realised performance is left out.
    """
    profile = snapshot.profile
    judged = snapshot.records >= min_records
    reports = [
        _column_report(column, window, snapshot.records, drift, judged)
        for column, window in zip(profile.columns, snapshot.columns, strict=True)
    ]
    features = reports[: len(profile.features)]
    prediction = reports[-1] if profile.prediction is not None else None
    features = _decide(features, drift)
    if prediction is not None:
        prediction = _decide([prediction], drift)[0]
    decided = [column for column in features if column.drifted is not None]
    return EvaluationReport(
        model=profile.model,
        status="ok" if judged else "insufficient_data",
        evaluated_at=now,
        last_success_at=now,
        window_records=snapshot.records,
        min_records=min_records,
        reference_rows=profile.rows,
        features=tuple(features),
        prediction=prediction,
        features_evaluated=len(decided),
        features_drifted=sum(1 for column in decided if column.drifted),
        method=drift.method,
        correction=drift.correction,
        alpha=drift.alpha,
        performance=_performance(snapshot, min_labels, judged),
    )


def _performance(
    snapshot: WindowSnapshot, min_labels: int, judged: bool
) -> PerformanceReport | None:
    profile = snapshot.profile
    truth = snapshot.truth
    reference = profile.performance
    if truth is None:
        truth = TruthSnapshot(None, [], [], {}, {})
    spec = truth.spec if truth.spec is not None else None if reference is None else reference.spec
    metrics: dict[str, float] = {}
    if truth.spec is not None and len(truth.truth) >= min_labels:
        metrics = performance_metrics(truth.spec, truth.truth, truth.predicted)
    estimated: tuple[float | None, float | None] = (None, None)
    if judged and reference is not None and reference.calibration is not None:
        estimated = _estimates(profile, snapshot)
    return PerformanceReport(
        task=None if spec is None else spec.task,
        scored=spec is not None and spec.scored,
        labels=len(truth.truth),
        min_labels=min_labels,
        metrics=metrics,
        reference=(
            dict(reference.metrics)
            if reference is not None and reference.labels >= min_labels
            else {}
        ),
        reference_labels=0 if reference is None else reference.labels,
        estimated_accuracy=estimated[0],
        estimated_roc_auc=estimated[1],
        detections=truth.detections,
        last_detection=truth.last_detection,
    )


def _estimates(
    profile: ReferenceProfile, snapshot: WindowSnapshot
) -> tuple[float | None, float | None]:
    """CBPE accuracy and ROC AUC of the window's scores (the prediction column's sample)."""
    reference = profile.performance
    if reference is None or reference.calibration is None or profile.prediction is None:
        return None, None
    scores = snapshot.columns[-1].sample
    if scores is None or not len(scores):
        return None, None
    calibration = reference.calibration
    accuracy = estimated_accuracy(calibration, scores, threshold=reference.spec.threshold)
    auc = estimated_roc_auc(calibration, scores)
    return accuracy, None if math.isnan(auc) else auc


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


def _column_report(
    column: ColumnProfile,
    window: ColumnWindow,
    records: int,
    drift: DriftSettings,
    judged: bool,
) -> ColumnReport:
    quality = _quality(column, window, records) if records else None
    statistics: tuple[StatisticResult, ...] = ()
    if judged and window.valid and column.valid:
        if isinstance(column, NumericProfile):
            statistics = _numeric_statistics(column, window, drift)
        else:
            statistics = _categorical_statistics(column, window, drift)
    return ColumnReport(
        name=column.name,
        kind=column.kind,
        valid_records=window.valid,
        statistics=statistics,
        drifted=None,
        quality=quality,
    )


def _quality(column: ColumnProfile, window: ColumnWindow, records: int) -> QualityResult:
    numeric = isinstance(column, NumericProfile)
    return QualityResult(
        missing_ratio=(window.missing + window.nan) / records,
        type_mismatch_ratio=window.type_mismatch / records,
        unseen_category_ratio=None if numeric else window.unseen / records,
        out_of_range_ratio=window.out_of_range / records if numeric else None,
    )


def _numeric_statistics(
    column: NumericProfile, window: ColumnWindow, drift: DriftSettings
) -> tuple[StatisticResult, ...]:
    results = _binned_statistics(column.counts, window, drift)
    sample = window.sample
    if sample is not None and len(sample) and len(column.sample_sorted):
        ecdf = compare_ecdfs(column.sample_sorted, sample)
        wasserstein = in_reference_stds(ecdf.wasserstein, column.std)
        results.insert(1, _pvalue_result("ks", ecdf.ks_statistic, ecdf.ks_pvalue, drift))
        results.append(
            StatisticResult(
                "wasserstein_normalized",
                wasserstein,
                drift.wasserstein_normalized_threshold,
                wasserstein >= drift.wasserstein_normalized_threshold,
            )
        )
    return tuple(results)


def _categorical_statistics(
    column: CategoricalProfile, window: ColumnWindow, drift: DriftSettings
) -> tuple[StatisticResult, ...]:
    results = _binned_statistics(column.counts, window, drift)
    test = chi2(column.counts, window.counts)
    results.insert(1, _pvalue_result("chi2", test.statistic, test.pvalue, drift))
    return tuple(results)


def _binned_statistics(
    reference: np.ndarray[Any, Any], window: ColumnWindow, drift: DriftSettings
) -> list[StatisticResult]:
    index = psi(reference, window.counts, smoothing=drift.psi_smoothing)
    distance = jensen_shannon(reference, window.counts)
    return [
        StatisticResult("psi", index, drift.psi_threshold, index >= drift.psi_threshold),
        StatisticResult(
            "jensen_shannon",
            distance,
            drift.jensen_shannon_threshold,
            distance >= drift.jensen_shannon_threshold,
        ),
    ]


def _pvalue_result(
    name: str, statistic: float, pvalue: float, drift: DriftSettings
) -> StatisticResult:
    """A test result before correction; `_decide` fills in the adjusted p-value and the flag."""
    return StatisticResult(name, statistic, drift.alpha, pvalue < drift.alpha, pvalue, pvalue)


def _decide(columns: list[ColumnReport], drift: DriftSettings) -> list[ColumnReport]:
    """Correct the test p-values across `columns`, then set each column's drift decision.

    The family is every finite p-value of every column, so a column with two tests adds two;
    each test gets its own adjusted value, keyed by (column, statistic) position."""
    tests = [
        ((i, j), s)
        for i, column in enumerate(columns)
        for j, s in enumerate(column.statistics)
        if s.pvalue is not None and math.isfinite(s.pvalue)
    ]
    pvalues = [s.pvalue for _, s in tests if s.pvalue is not None]
    adjusted = adjust_pvalues(pvalues, drift.correction)
    corrected: dict[tuple[int, int], StatisticResult] = {}
    for (key, test), value in zip(tests, adjusted, strict=True):
        corrected[key] = replace(
            test, adjusted_pvalue=float(value), drifted=bool(value < drift.alpha)
        )
    decided = []
    for i, column in enumerate(columns):
        statistics = tuple(corrected.get((i, j), s) for j, s in enumerate(column.statistics))
        deciding = _deciding_statistic(column.kind, drift.method)
        # An undefined p-value (one value against one) decides nothing.
        decision = next(
            (
                None if s.pvalue is not None and not math.isfinite(s.pvalue) else s.drifted
                for s in statistics
                if s.name in deciding
            ),
            None,
        )
        decided.append(replace(column, statistics=statistics, drifted=decision))
    return decided


def _deciding_statistic(kind: str, method: str) -> tuple[str, ...]:
    """Which statistic decides drift for a column of `kind` under `method`.

    pvalue: KS for numeric, chi-squared for categorical columns. wasserstein_normalized has no
    categorical counterpart, so categorical columns are judged by Jensen-Shannon under it.
    """
    if method == "pvalue":
        return ("ks", "chi2")
    if method == "wasserstein_normalized" and kind != "numeric":
        return ("jensen_shannon",)
    return (method,)


def _json_float(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return value
