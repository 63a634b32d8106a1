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
from dataclasses import replace
from typing import Any

import numpy as np

from exporter.evaluation.report import (
    ColumnReport,
    EvaluationReport,
    PerformanceReport,
    QualityResult,
    StatisticResult,
)
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

#: The statistics each kind of column gets, in report order.
NUMERIC_STATISTICS = ("psi", "ks", "jensen_shannon", "wasserstein_normalized")
CATEGORICAL_STATISTICS = ("psi", "chi2", "jensen_shannon")


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
