"""The drift families: gauges built from the last evaluation report of each model.

They change once per evaluation, so `ReportBoard.publish` renders them to text once, in the
evaluator's thread, and every scrape until the next evaluation serves those bytes. Every family
is built fresh from immutable reports, so a deleted model or a feature removed from a new
reference disappears from /metrics instead of lingering as a stale series.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import NamedTuple

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from exporter.evaluation.report import ColumnReport, EvaluationReport, PerformanceReport
from exporter.prometheus.pooling_families import pooling_gauges
from exporter.truth.performance import PERFORMANCE_METRICS

_COMPUTED = "Computed each evaluation interval from the rolling window."
#: (statistic, metric suffix, help) for each statistic gauge, feature and prediction alike.
STATISTIC_GAUGES = (
    ("psi", "psi", "Population stability index over reference bins."),
    ("ks", "ks_statistic", "Kolmogorov-Smirnov statistic (numeric)."),
    ("ks", "ks_pvalue", "Kolmogorov-Smirnov two-sided p-value, uncorrected (numeric)."),
    ("jensen_shannon", "jensen_shannon", "Jensen-Shannon distance, base 2, 0 to 1."),
    (
        "wasserstein_normalized",
        "wasserstein_normalized",
        "Wasserstein-1 distance divided by the reference standard deviation (numeric).",
    ),
    ("chi2", "chi2_statistic", "Chi-squared homogeneity statistic (categorical)."),
    ("chi2", "chi2_pvalue", "Chi-squared p-value, uncorrected (categorical)."),
)
#: (statistic, help) of each effect statistic's critical value (exporter.evaluation.decision).
CRITICAL_GAUGES = (
    ("psi", "PSI"),
    ("jensen_shannon", "Jensen-Shannon distance"),
    ("wasserstein_normalized", "Wasserstein distance / reference sd (numeric)"),
)
QUALITY_GAUGES = (
    ("missing_ratio", "Share of window records with the value missing or NaN."),
    ("type_mismatch_ratio", "Share of window records with a value of the wrong type."),
    ("unseen_category_ratio", "Share of window records with a category the reference lacks."),
    ("out_of_range_ratio", "Share of window records outside the reference min..max."),
)
#: HELP of each realised-performance metric, live and reference alike.
PERFORMANCE_HELP = {
    "accuracy": "share of labelled predictions that were right (classification).",
    "precision": "precision of the positive class, or the macro average over classes "
    "(classification).",
    "recall": "recall of the positive class, or the macro average over classes (classification).",
    "f1": "F1 of the positive class, or the macro average over classes (classification).",
    "roc_auc": "area under the ROC curve of the scores (binary classifiers scored by their "
    "prediction).",
    "log_loss": "mean negative log-likelihood of the labels under the scores, in nats (scores "
    "in 0..1).",
    "mae": "mean absolute error, in the target's units (regression).",
    "mse": "mean squared error, in the target's units squared (regression).",
    "rmse": "root mean squared error, in the target's units (regression).",
    "mape": "mean absolute percentage error as a fraction, over the nonzero targets (regression).",
}


class DriftCollector(Collector):
    """Families built at collect time from one immutable mapping of model -> last report.

    The pooling families come last; `pooling=False` leaves them out, for a caller that
    writes them itself (`board.render`, with pooling_families.PoolingText)."""

    def __init__(self, reports: Mapping[str, EvaluationReport], *, pooling: bool = True) -> None:
        self._reports = reports
        self._pooling = pooling

    def collect(self) -> Iterator[Metric]:
        reports = [self._reports[model] for model in sorted(self._reports)]
        yield from _model_gauges(reports)
        yield from _statistic_gauges(reports)
        yield from _calibration_gauges(reports)
        yield from _quality_gauges(reports)
        yield from _performance_gauges(reports)
        if self._pooling:
            yield from pooling_gauges(reports)


def _gauge(
    name: str, documentation: str, labels: list[str], computed: str = _COMPUTED
) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, f"{documentation} {computed}", labels=labels)


def _model_gauges(reports: list[EvaluationReport]) -> Iterator[Metric]:
    window = _gauge("drift_window_records", "Records in the rolling window.", ["model"])
    minimum = _gauge(
        "drift_window_min_records",
        "Records the window needs before drift gauges are published.",
        ["model"],
    )
    reference = _gauge("drift_reference_records", "Rows in the reference profile.", ["model"])
    last = _gauge(
        "drift_last_evaluation_timestamp_seconds",
        "Unix time of the last successful evaluation.",
        ["model"],
    )
    success = _gauge(
        "drift_evaluation_success", "1 if the last evaluation succeeded, else 0.", ["model"]
    )
    evaluated = _gauge(
        "drift_features_evaluated", "Features with a drift decision this evaluation.", ["model"]
    )
    drifted = _gauge(
        "drift_features_drifted",
        "Features judged drifted under the configured method and multiple-testing correction.",
        ["model"],
    )
    ratio = _gauge(
        "drift_features_drifted_ratio", "Share of evaluated features judged drifted.", ["model"]
    )
    for report in reports:
        labels = [report.model]
        success.add_metric(labels, 0.0 if report.status == "error" else 1.0)
        if report.last_success_at is not None:
            last.add_metric(labels, report.last_success_at)
        if report.status == "error":
            continue
        window.add_metric(labels, report.window_records)
        minimum.add_metric(labels, report.min_records)
        reference.add_metric(labels, report.reference_rows)
        if report.status == "ok" and report.drifted_ratio is not None:
            evaluated.add_metric(labels, report.features_evaluated)
            drifted.add_metric(labels, report.features_drifted)
            ratio.add_metric(labels, report.drifted_ratio)
    yield from (window, minimum, reference, last, success, evaluated, drifted, ratio)


def _statistic_gauges(reports: list[EvaluationReport]) -> Iterator[Metric]:
    for scope, labels in (("feature", ["model", "feature"]), ("prediction", ["model"])):
        families = {}
        for statistic, suffix, documentation in STATISTIC_GAUGES:
            families[suffix] = (
                statistic,
                _gauge(f"drift_{scope}_{suffix}", documentation, labels),
            )
        flag = _gauge(
            f"drift_{scope}_drifted",
            "1 if judged drifted under the configured method and correction, else 0.",
            labels,
        )
        for _, column, values in _columns(reports, scope):
            for suffix, (statistic, family) in families.items():
                result = column.statistic(statistic)
                if result is None:
                    continue
                value = result.pvalue if suffix.endswith("pvalue") else result.value
                if value is not None and math.isfinite(value):
                    family.add_metric(values, value)
            if column.drifted is not None:
                flag.add_metric(values, 1.0 if column.drifted else 0.0)
        yield from (family for _, family in families.values())
        yield flag


def _calibration_gauges(reports: list[EvaluationReport]) -> Iterator[Metric]:
    """What the drift decision needs beside the statistics: each effect statistic's no-drift
    critical value at this window's size, and whether (and on how many values) it judged."""
    for scope, labels in (("feature", ["model", "feature"]), ("prediction", ["model"])):
        criticals = [
            (
                statistic,
                _gauge(
                    f"drift_{scope}_{statistic}_critical",
                    f"{documentation}: its no-drift critical value at this window's valid "
                    "count (drifted when the statistic is at least max(floor, critical)).",
                    labels,
                ),
            )
            for statistic, documentation in CRITICAL_GAUGES
        ]
        valid = _gauge(
            f"drift_{scope}_valid_records", "Valid values in the window (not missing).", labels
        )
        minimum = _gauge(
            f"drift_{scope}_min_valid_records",
            "Valid values needed before the drift decision is made.",
            labels,
        )
        judged = _gauge(
            f"drift_{scope}_judged",
            "1 if the drift decision was made, 0 if not (too few valid values: compare "
            f"drift_{scope}_valid_records with drift_{scope}_min_valid_records).",
            labels,
        )
        for report, column, values in _columns(reports, scope):
            if report.status != "ok":
                continue
            valid.add_metric(values, column.valid_records)
            minimum.add_metric(values, column.min_valid_records)
            judged.add_metric(values, 0.0 if column.not_judged else 1.0)
            for statistic, family in criticals:
                result = column.statistic(statistic)
                if result is not None and result.critical is not None:
                    critical = result.critical
                    if math.isfinite(critical):
                        family.add_metric(values, critical)
        yield from (family for _, family in criticals)
        yield from (valid, minimum, judged)


def _quality_gauges(reports: list[EvaluationReport]) -> Iterator[Metric]:
    for scope, labels in (("feature", ["model", "feature"]), ("prediction", ["model"])):
        families = [
            (field, _gauge(f"drift_{scope}_{field}", documentation, labels))
            for field, documentation in QUALITY_GAUGES
        ]
        for _, column, values in _columns(reports, scope):
            if column.quality is None:
                continue
            for field, family in families:
                value = getattr(column.quality, field)
                if value is not None:
                    family.add_metric(values, value)
        yield from (family for _, family in families)


def _performance_gauges(reports: list[EvaluationReport]) -> Iterator[Metric]:
    families = _performance_families()
    for report in reports:
        performance = report.performance
        if report.status == "error" or performance is None:
            continue
        _add_performance(families, [report.model], performance)
    yield from (families.labelled, families.minimum)
    yield from families.live.values()
    yield from families.reference.values()
    yield from (families.accuracy, families.auc, families.stderr, families.reference_labels)
    yield from families.loss.values()


class _PerformanceFamilies(NamedTuple):
    """The performance gauges of every model, in exposition order."""

    labelled: GaugeMetricFamily
    minimum: GaugeMetricFamily
    live: dict[str, GaugeMetricFamily]
    reference: dict[str, GaugeMetricFamily]
    accuracy: GaugeMetricFamily
    auc: GaugeMetricFamily
    stderr: GaugeMetricFamily
    reference_labels: GaugeMetricFamily
    loss: dict[str, GaugeMetricFamily]
    """Direct loss estimates of a regressor, by PerformanceReport field."""


def _performance_families() -> _PerformanceFamilies:
    labelled = _gauge(
        "drift_labelled_window_records",
        "Labelled (prediction, label) pairs in the model's performance window.",
        ["model"],
    )
    minimum = _gauge(
        "drift_performance_min_labels",
        "Labelled pairs the window needs before performance gauges are published.",
        ["model"],
    )
    live = {
        name: _gauge(
            f"drift_performance_{name}",
            f"Over the labelled window: {text}",
            ["model"],
            "Computed each evaluation interval from the labelled pairs.",
        )
        for name, text in PERFORMANCE_HELP.items()
    }
    reference = {
        name: _gauge(
            f"drift_reference_performance_{name}",
            f"On the reference: {text}",
            ["model"],
            "Computed once per reference upload from its predictions and labels, published "
            "each evaluation interval.",
        )
        for name, text in PERFORMANCE_HELP.items()
    }
    accuracy = _gauge(
        "drift_estimated_accuracy",
        "Accuracy estimated without labels from the window's scores (CBPE: the reference's "
        "calibration, averaged over the window).",
        ["model"],
    )
    auc = _gauge(
        "drift_estimated_roc_auc",
        "ROC AUC estimated without labels from the window's scores (CBPE).",
        ["model"],
    )
    stderr = _gauge(
        "drift_estimated_accuracy_stderr",
        "Sampling standard error of the realised accuracy around drift_estimated_accuracy "
        "(CBPE), for telling a real drop from noise.",
        ["model"],
    )
    reference_labels = _gauge(
        "drift_reference_labelled_records",
        "Labelled rows in the reference: the sample size of drift_reference_performance_*.",
        ["model"],
    )
    return _PerformanceFamilies(
        labelled, minimum, live, reference, accuracy, auc, stderr, reference_labels, _loss()
    )


def _loss() -> dict[str, GaugeMetricFamily]:
    source = (
        "estimated without labels from the window's predictions (direct loss estimation: the "
        "reference's errors per prediction bin, weighted by the window's predictions)"
    )
    return {
        "estimated_mae": _gauge(
            "drift_estimated_mae",
            f"Mean absolute error, in the target's units, {source}.",
            ["model"],
        ),
        "estimated_rmse": _gauge(
            "drift_estimated_rmse",
            f"Root mean squared error, in the target's units, {source}.",
            ["model"],
        ),
        "estimated_rmse_stderr": _gauge(
            "drift_estimated_rmse_stderr",
            "Sampling standard error of the realised RMSE around drift_estimated_rmse (the "
            "window's and the reference's), for telling a real rise from noise.",
            ["model"],
        ),
    }


def _add_performance(
    families: _PerformanceFamilies, labels: list[str], performance: PerformanceReport
) -> None:
    """One model's samples: every metric it has, realised and reference, and the estimates."""
    families.labelled.add_metric(labels, performance.labels)
    families.minimum.add_metric(labels, performance.min_labels)
    for name in PERFORMANCE_METRICS:
        if name in performance.metrics:
            families.live[name].add_metric(labels, performance.metrics[name])
        if name in performance.reference:
            families.reference[name].add_metric(labels, performance.reference[name])
    if performance.estimated_accuracy is not None:
        families.accuracy.add_metric(labels, performance.estimated_accuracy)
    if performance.estimated_roc_auc is not None:
        families.auc.add_metric(labels, performance.estimated_roc_auc)
    if performance.estimated_accuracy_stderr is not None:
        families.stderr.add_metric(labels, performance.estimated_accuracy_stderr)
    if performance.reference:
        families.reference_labels.add_metric(labels, performance.reference_labels)
    for field, family in families.loss.items():
        value = getattr(performance, field)
        if value is not None:
            family.add_metric(labels, value)


def _columns(
    reports: list[EvaluationReport], scope: str
) -> Iterator[tuple[EvaluationReport, ColumnReport, list[str]]]:
    for report in reports:
        if scope == "prediction":
            if report.prediction is not None:
                yield report, report.prediction, [report.model]
        else:
            for column in report.features:
                yield report, column, [report.model, column.name]
