"""Window snapshot + reference profile -> an immutable EvaluationReport. No I/O, no clock reads.

Numeric columns get PSI and Jensen-Shannon on the reference-quantile bins, and the KS test and
the normalized Wasserstein distance on the raw-value samples. Categorical and boolean columns
get PSI, Jensen-Shannon and the chi-squared test of homogeneity on the category bins. Which of
these decides "drifted" is `drift.method`; p-value decisions are corrected for testing every
feature at once (`drift.correction`), the prediction being a family of its own.

With ground truth, the report also carries the model's performance: realised metrics over the
labelled window (from `labels.min_labels` pairs on), the reference's as the baseline, the
label-free estimates of a scored classifier (its reference calibration applied to the window's
scores) or of a regressor (its reference's errors per prediction bin weighted by the window's
predictions), and the concept-drift detector counts.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray
from scipy.special import ndtri

from exporter.evaluation.decision import (
    critical_quantile,
    decide,
    effect_result,
    min_valid_records_for,
)
from exporter.evaluation.report import (
    ColumnReport,
    EvaluationReport,
    NotJudged,
    PerformanceReport,
    QualityResult,
    StatisticResult,
    WindowCounts,
)
from exporter.settings import DriftSettings, LabelSettings, PoolingSettings
from exporter.stats import chi2, compare_ecdfs, jensen_shannon, psi
from exporter.stats.bridges import BrownianBridges, brownian_bridges
from exporter.stats.calibration import (
    JEFFREYS,
    jensen_shannon_critical,
    pool_sparse_bins,
    pooled,
    psi_critical,
    wasserstein_critical,
)
from exporter.stats.distance import in_reference_stds
from exporter.stats.estimation import (
    estimated_accuracy,
    estimated_accuracy_stderr,
    estimated_roc_auc,
)
from exporter.stats.loss_estimation import LossEstimate, estimated_loss
from exporter.truth.performance import performance_metrics
from exporter.window.profile import (
    ColumnProfile,
    NumericProfile,
    ReferenceProfile,
)
from exporter.window.snapshot import ColumnWindow, TruthSnapshot, WindowSnapshot

DEFAULT_MIN_LABELS = LabelSettings().min_labels
DEFAULT_POOLING = PoolingSettings()

#: PSI's and Jensen-Shannon's smoothing: half a count (Jeffreys) added to every bin of both
#: histograms, the estimators exporter.stats.calibration's critical values are calibrated for.
PSEUDO_COUNT = JEFFREYS
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
    pooling: PoolingSettings = DEFAULT_POOLING,
) -> EvaluationReport:
    """Compare the window with the reference; below `min_records` only data quality is reported.

    Below `min_labels` labelled pairs the realised performance is left out. With
    `pooling.enabled` and a non-empty window, the report also carries the counts replicas can
    sum (each column's `counts`) and the z of the no-drift quantiles.
    """
    profile = snapshot.profile
    judged = snapshot.records >= min_records
    pairs = list(zip(profile.columns, snapshot.columns, strict=True))
    features_judged = sum(
        1 for column, window in pairs[: len(profile.features)] if _judgeable(column, window, drift)
    )
    # The features are one family, the prediction is one of its own.
    quantiles = (critical_quantile(drift.alpha, features_judged), critical_quantile(drift.alpha, 1))
    counted = pooling if pooling.enabled and snapshot.records else None
    reports = [
        _column_report(
            column,
            window,
            snapshot.records,
            drift,
            judged,
            quantiles[0] if i < len(profile.features) else quantiles[1],
            counted,
        )
        for i, (column, window) in enumerate(pairs)
    ]
    features = reports[: len(profile.features)]
    prediction = reports[-1] if profile.prediction is not None else None
    features = decide(features, drift)
    if prediction is not None:
        prediction = decide([prediction], drift)[0]
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
        noise_quantile_z=None if counted is None else float(ndtri(quantiles[0])),
        prediction_noise_quantile_z=(
            None if counted is None or prediction is None else float(ndtri(quantiles[1]))
        ),
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
    estimated: tuple[float | None, float | None, float | None] = (None, None, None)
    if judged and reference is not None and reference.calibration is not None:
        estimated = _estimates(profile, snapshot)
    loss = _loss_estimate(profile, snapshot) if judged else None
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
        estimated_accuracy_stderr=estimated[2],
        detections=truth.detections,
        last_detection=truth.last_detection,
        estimated_mae=None if loss is None else loss.mae,
        estimated_mae_stderr=None if loss is None else loss.mae_stderr,
        estimated_rmse=None if loss is None else loss.rmse,
        estimated_rmse_stderr=None if loss is None else loss.rmse_stderr,
    )


def _loss_estimate(profile: ReferenceProfile, snapshot: WindowSnapshot) -> LossEstimate | None:
    """Direct loss estimation of a regressor's MAE and RMSE from the window's prediction
    histogram (every valid prediction in the window, not a sample)."""
    reference = profile.performance
    if reference is None or reference.loss_table is None or profile.prediction is None:
        return None
    counts = snapshot.columns[-1].counts
    if counts.shape != reference.loss_table.group.shape or not counts.sum():
        return None
    return estimated_loss(reference.loss_table, counts)


def _estimates(
    profile: ReferenceProfile, snapshot: WindowSnapshot
) -> tuple[float | None, float | None, float | None]:
    """CBPE accuracy, ROC AUC and the accuracy's sampling error, from the window's scores
    (the prediction column's sample)."""
    reference = profile.performance
    if reference is None or reference.calibration is None or profile.prediction is None:
        return None, None, None
    scores = snapshot.columns[-1].sample
    if scores is None or not len(scores):
        return None, None, None
    calibration = reference.calibration
    threshold = reference.spec.threshold
    accuracy = estimated_accuracy(calibration, scores, threshold=threshold)
    stderr = estimated_accuracy_stderr(calibration, scores, threshold=threshold)
    auc = estimated_roc_auc(calibration, scores)
    return accuracy, None if math.isnan(auc) else auc, stderr


def _judgeable(column: ColumnProfile, window: ColumnWindow, drift: DriftSettings) -> bool:
    return column.valid > 0 and window.valid >= min_valid_records_for(column.bins, drift)


def _column_report(
    column: ColumnProfile,
    window: ColumnWindow,
    records: int,
    drift: DriftSettings,
    judged: bool,
    quantile: float,
    pooling: PoolingSettings | None,
) -> ColumnReport:
    quality = _quality(column, window, records) if records else None
    statistics: tuple[StatisticResult, ...] = ()
    not_judged: NotJudged | None = None
    if not judged:
        not_judged = "window_below_min_records"
    elif not column.valid:
        not_judged = "no_reference_values"
    elif not _judgeable(column, window, drift):
        not_judged = "too_few_valid_values"
    elif isinstance(column, NumericProfile):
        statistics = _numeric_statistics(column, window, drift, quantile)
    else:
        statistics = _categorical_statistics(_pooled_counts(column, window), drift, quantile)
    return ColumnReport(
        name=column.name,
        kind=column.kind,
        valid_records=window.valid,
        statistics=statistics,
        drifted=None,
        quality=quality,
        min_valid_records=min_valid_records_for(column.bins, drift),
        not_judged=not_judged,
        counts=None if pooling is None else _window_counts(column, window, pooling),
    )


def _quality(column: ColumnProfile, window: ColumnWindow, records: int) -> QualityResult:
    numeric = isinstance(column, NumericProfile)
    return QualityResult(
        missing_ratio=(window.missing + window.nan) / records,
        type_mismatch_ratio=window.type_mismatch / records,
        unseen_category_ratio=None if numeric else window.unseen / records,
        out_of_range_ratio=window.out_of_range / records if numeric else None,
    )


def _window_counts(
    column: ColumnProfile, window: ColumnWindow, pooling: PoolingSettings
) -> WindowCounts:
    """The numerators of `_quality`'s ratios, and the raw bin counts `_pooled_counts` starts
    from (out-of-range numeric values are in the open-ended outer bins, unseen categories in
    the overflow bin, as for PSI), unless the column has more bins than the cap."""
    numeric = isinstance(column, NumericProfile)
    capped = column.bins > pooling.max_bins_per_feature
    return WindowCounts(
        missing=window.missing + window.nan,
        type_mismatch=window.type_mismatch,
        unseen_category=None if numeric else window.unseen,
        out_of_range=window.out_of_range if numeric else None,
        window_bins=None if capped else tuple(window.counts.tolist()),
        reference_bins=None if capped else tuple(column.counts.tolist()),
    )


def _numeric_statistics(
    column: NumericProfile, window: ColumnWindow, drift: DriftSettings, quantile: float
) -> tuple[StatisticResult, ...]:
    results = _binned_statistics(_pooled_counts(column, window), drift, quantile)
    sample = window.sample
    if sample is not None and len(sample) and len(column.sample_sorted):
        ecdf = compare_ecdfs(column.sample_sorted, sample)
        wasserstein = in_reference_stds(ecdf.wasserstein, column.std)
        critical = None
        # Only where it decides: the bridges' table costs 8 MiB and its critical value is
        # too liberal for heavy-tailed features at small n (docs/statistics.md).
        if drift.method == "wasserstein_normalized":
            critical = wasserstein_critical(
                column.sample_sorted, column.std, len(sample), quantile, bridges=_bridges()
            )
        results.insert(1, _pvalue_result("ks", ecdf.ks_statistic, ecdf.ks_pvalue, drift))
        results.append(effect_result("wasserstein_normalized", wasserstein, critical, drift))
    return tuple(results)


def _categorical_statistics(
    counts: _PooledCounts, drift: DriftSettings, quantile: float
) -> tuple[StatisticResult, ...]:
    results = _binned_statistics(counts, drift, quantile)
    if len(counts.reference) > 1:
        test = chi2(counts.reference, counts.current)
        results.insert(1, _pvalue_result("chi2", test.statistic, test.pvalue, drift))
    return tuple(results)


class _PooledCounts(NamedTuple):
    reference: NDArray[np.float64]
    current: NDArray[np.float64]
    calibrated: bool
    """Two or more bins remain, so the critical values exist."""


def _pooled_counts(column: ColumnProfile, window: ColumnWindow) -> _PooledCounts:
    """The reference's and the window's counts with the bins whose expected window count is
    under 5 pooled (neighbours for numeric bins; into the overflow bin for categories), so
    chi-squared and the critical values hold at small counts; and whether two or more bins
    remain. With one, the raw bins are returned: no critical value exists, but a constant
    feature that moves must still show it."""
    if isinstance(column, NumericProfile):
        pooling = pool_sparse_bins(column.counts, window.valid, ordered=True)
    else:
        pooling = pool_sparse_bins(column.counts, window.valid, overflow_index=column.overflow)
    if not pooling.judged:
        return _PooledCounts(
            column.counts.astype(np.float64), window.counts.astype(np.float64), False
        )
    return _PooledCounts(pooled(column.counts, pooling), pooled(window.counts, pooling), True)


def _binned_statistics(
    counts: _PooledCounts, drift: DriftSettings, quantile: float
) -> list[StatisticResult]:
    """PSI and Jensen-Shannon (half a count added to every bin) on the pooled bins, with
    their critical values at this window's size."""
    reference, current, calibrated = counts
    index = psi(reference, current, pseudo_count=PSEUDO_COUNT)
    distance = jensen_shannon(reference, current, pseudo_count=PSEUDO_COUNT)
    psi_bound = js_bound = None
    if calibrated:
        n, m, bins = int(current.sum()), int(reference.sum()), len(reference)
        proportions = reference / reference.sum()
        psi_bound = psi_critical(n, m, bins, quantile, reference_proportions=proportions)
        js_bound = jensen_shannon_critical(n, m, bins, quantile)
    return [
        effect_result("psi", index, psi_bound, drift),
        effect_result("jensen_shannon", distance, js_bound, drift),
    ]


@functools.cache
def _bridges() -> BrownianBridges:
    """The Brownian bridges behind every Wasserstein critical value, simulated once per
    process (seeded, ~0.2 s, 8 MiB), when the first one is needed."""
    return brownian_bridges()


def _pvalue_result(
    name: str, statistic: float, pvalue: float, drift: DriftSettings
) -> StatisticResult:
    """A test result before correction; `decide` fills in the adjusted p-value and the flag."""
    return StatisticResult(name, statistic, drift.alpha, pvalue < drift.alpha, pvalue, pvalue)
