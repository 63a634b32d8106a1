"""The pooling families: what each replica's sidecar exports so Prometheus can pool a model.

Every value here is a count over the window (or the reference), or the z of the no-drift
quantile, so that `sum without (instance, pod)` over the replicas of a model gives the pooled
window exactly (the reference bins, the same on every replica with the same reference, are
taken with `max`). They come from `ColumnReport.counts` and `EvaluationReport.*_z`, which the
evaluator fills only with `pooling.enabled` and a non-empty window, and the bins only for
columns with at most `pooling.max_bins_per_feature` reference bins (docs/metrics.md, "Pooling
across replicas").

They more than double the series of a model (10 bins x 2 per numeric feature), so `PoolingText`
writes them faster than the generic path: each reference's bin lines (every reference-bin
sample, and the label part of every window-bin sample) are written once per reference and
kept, so an evaluation writes only the window counts' values. `pooling_gauges` is the generic
path, what a `Collector` yields; a test proves both write the same bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import NamedTuple

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.utils import floatToGoString

from exporter.evaluation.report import ColumnReport, EvaluationReport
from exporter.prometheus.text import render_text, sample_prefix

#: prometheus_client's own number formatting, as exporter.prometheus.text uses it.
_go_float: Callable[[float], str] = floatToGoString

_COMPUTED = "Computed each evaluation interval from the rolling window."
_REFERENCE = "Computed once per reference upload, published each evaluation interval."
#: (WindowCounts field, metric suffix, help) of each data-quality count, in exposition order.
QUALITY_COUNTS = (
    (
        "missing",
        "missing_records",
        "Window records with the value missing or NaN: the numerator of "
        "drift_feature_missing_ratio (denominator drift_window_records).",
    ),
    (
        "type_mismatch",
        "type_mismatch_records",
        "Window records with a value of the wrong type: the numerator of "
        "drift_feature_type_mismatch_ratio (denominator drift_window_records).",
    ),
    (
        "unseen_category",
        "unseen_category_records",
        "Window records with a category the reference lacks (categorical): the numerator of "
        "drift_feature_unseen_category_ratio (denominator drift_window_records).",
    ),
    (
        "out_of_range",
        "out_of_range_records",
        "Window records outside the reference min..max (numeric): the numerator of "
        "drift_feature_out_of_range_ratio (denominator drift_window_records).",
    ),
)
_BIN = (
    "bin is the reference bin's index: numeric quantile bins low to high (values beyond the "
    "reference range in the outer bins), categories in profile order with the overflow bin "
    "(other and unseen categories) last."
)

#: Each scope and the labels of its columns, in exposition order.
SCOPES = (("feature", ["model", "feature"]), ("prediction", ["model"]))


_WINDOW_HELP = (
    f"Valid window values per reference bin, before sparse bins are pooled; {_BIN} {_COMPUTED}"
)


def _reference_help(scope: str) -> str:
    return (
        f"Reference values per bin, the same bins as drift_{scope}_window_bin_records. {_REFERENCE}"
    )


def pooling_gauges(reports: list[EvaluationReport]) -> Iterator[Metric]:
    """The pooling families of `reports` (sorted by model); a family without samples is left
    out altogether, so with `pooling.enabled: false` none of them is exposed, not even HELP."""
    families = (*_noise_gauges(reports), *_bin_gauges(reports), *_quality_counts(reports))
    yield from (family for family in families if family.samples)


class PoolingText:
    """The pooling families as text, equal to `render_text(pooling_gauges(reports))`, written
    from what is kept of the last render: each model's reference lines while its reference
    (its binned columns' names and reference bins) is the same, and the label part of each
    count sample. Not thread-safe: `ReportBoard` renders under its lock. Bound: holds the
    models of the last render only, each with one string per window-bin and count series
    (the label part) and one text of its reference-bin series: in all, strings about the
    size of the text of the model's pooling series."""

    def __init__(self) -> None:
        self._models: dict[str, _ModelLines] = {}

    def render(self, reports: list[EvaluationReport]) -> bytes:
        """The text of `reports`, sorted by model."""
        models = {report.model: self._model(report) for report in reports}
        self._models = models
        noise = [family for family in _noise_gauges(reports) if family.samples]
        written = [render_text(noise)]
        for index, (scope, _) in enumerate(SCOPES):
            window, reference = [], []
            for report in reports:
                bins = models[report.model].bins
                if bins is None or not bins.prefixes[index]:
                    continue
                values = [
                    value
                    for column, _ in _counted([report], scope)
                    if column.counts is not None and column.counts.window_bins is not None
                    for value in column.counts.window_bins
                ]
                window.append(_lines(bins.prefixes[index], values))
                reference.append(bins.reference[index])
            if window:
                written.append(_header(f"drift_{scope}_window_bin_records", _WINDOW_HELP))
                written.append("".join(window).encode())
                written.append(
                    _header(f"drift_{scope}_reference_bin_records", _reference_help(scope))
                )
                written.append("".join(reference).encode())
        for field, suffix, documentation in QUALITY_COUNTS:
            name = f"drift_feature_{suffix}"
            prefixes, values = [], []
            for column, (model, feature) in _counted(reports, "feature"):
                value = getattr(column.counts, field)
                if value is not None:
                    prefixes.append(models[model].prefix(name, feature))
                    values.append(value)
            if values:
                written.append(_header(name, f"{documentation} {_COMPUTED}"))
                written.append(_lines(prefixes, values).encode())
        return b"".join(written)

    def _model(self, report: EvaluationReport) -> _ModelLines:
        """The model's kept lines, its bin lines made anew if its reference changed."""
        kept = self._models.get(report.model)
        key = _reference_key(report)
        if kept is None:
            kept = _ModelLines(report.model)
        if key is None:
            kept.bins = None
        elif kept.bins is None or kept.bins.key != key:
            kept.bins = _bin_lines(key)
        return kept


class _ModelLines:
    """What one model's pooling lines keep between renders."""

    def __init__(self, model: str) -> None:
        self.model = model
        self.bins: _BinLines | None = None
        self._prefixes: dict[tuple[str, str], str] = {}

    def prefix(self, name: str, feature: str) -> str:
        """`name{feature=...,model=...} `, kept (at most one per count family and feature)."""
        prefix = self._prefixes.get((name, feature))
        if prefix is None:
            labels = {"model": self.model, "feature": feature}
            prefix = self._prefixes[(name, feature)] = sample_prefix(name, labels)
        return prefix


#: What a model's bin lines depend on: the model and, per scope, (column, reference bins) of
#: each column that exports bins.
_ReferenceKey = tuple[str, tuple[tuple[tuple[str, tuple[int, ...]], ...], ...]]


class _BinLines(NamedTuple):
    key: _ReferenceKey
    prefixes: tuple[tuple[str, ...], ...]
    """Per scope, `name{labels} ` of each window-bin sample, in exposition order."""
    reference: tuple[str, ...]
    """Per scope, every reference-bin sample line."""


def _reference_key(report: EvaluationReport) -> _ReferenceKey | None:
    """The model and its binned columns' names and reference bins; None without bins."""
    scopes = tuple(
        tuple(
            (column.name, column.counts.reference_bins)
            for column, _ in _counted([report], scope)
            if column.counts is not None and column.counts.reference_bins is not None
        )
        for scope, _ in SCOPES
    )
    return (report.model, scopes) if any(scopes) else None


def _bin_lines(key: _ReferenceKey) -> _BinLines:
    model, scopes = key
    prefixes, reference = [], []
    for (scope, _), columns in zip(SCOPES, scopes, strict=True):
        window_prefixes, reference_lines = [], []
        for name, bins in columns:
            labels = (
                {"model": model} if scope == "prediction" else {"model": model, "feature": name}
            )
            for i, count in enumerate(bins):
                where = {**labels, "bin": str(i)}
                window_prefixes.append(sample_prefix(f"drift_{scope}_window_bin_records", where))
                reference_lines.append(
                    _line(sample_prefix(f"drift_{scope}_reference_bin_records", where), count)
                )
        prefixes.append(tuple(window_prefixes))
        reference.append("".join(reference_lines))
    return _BinLines(key, tuple(prefixes), tuple(reference))


def _lines(prefixes: Sequence[str], values: list[int]) -> str:
    """The sample lines of counts, each after its prefix (one f-string each, no call, where
    every count is below 2**53: see `_line`)."""
    if values and min(values) >= 0 and max(values) < _EXACT:
        return "".join(
            [f"{prefix}{value}.0\n" for prefix, value in zip(prefixes, values, strict=True)]
        )
    return "".join(map(_line, prefixes, values))


def _line(prefix: str, value: int) -> str:
    """A count's sample line; `f"{value}.0"` is what floatToGoString writes for an integer
    below 2**53 (exact as a double, and repr uses no exponent below 1e16)."""
    if 0 <= value < _EXACT:
        return f"{prefix}{value}.0\n"
    return f"{prefix}{_go_float(value)}\n"


_EXACT = 2**53


def _header(name: str, documentation: str) -> bytes:
    """HELP and TYPE lines as `render_text` writes them for a gauge."""
    escaped = documentation.replace("\\", r"\\").replace("\n", r"\n")
    return f"# HELP {name} {escaped}\n# TYPE {name} gauge\n".encode()


def _bin_gauges(reports: list[EvaluationReport]) -> Iterator[Metric]:
    for scope, labels in SCOPES:
        window = GaugeMetricFamily(
            f"drift_{scope}_window_bin_records", _WINDOW_HELP, labels=[*labels, "bin"]
        )
        reference = GaugeMetricFamily(
            f"drift_{scope}_reference_bin_records",
            _reference_help(scope),
            labels=[*labels, "bin"],
        )
        for column, values in _counted(reports, scope):
            counts = column.counts
            assert counts is not None
            if counts.window_bins is None or counts.reference_bins is None:
                continue  # more bins than pooling.max_bins_per_feature
            for i, (current, expected) in enumerate(
                zip(counts.window_bins, counts.reference_bins, strict=True)
            ):
                where = [*values, str(i)]
                window.add_metric(where, current)
                reference.add_metric(where, expected)
        yield from (window, reference)


def _noise_gauges(reports: list[EvaluationReport]) -> Iterator[Metric]:
    features = GaugeMetricFamily(
        "drift_noise_quantile_z",
        "Standard normal quantile Phi^-1(q) of the no-drift quantile q = 1 - alpha/k that each "
        "feature's critical values use (k features judged, Bonferroni). " + _COMPUTED,
        labels=["model"],
    )
    prediction = GaugeMetricFamily(
        "drift_prediction_noise_quantile_z",
        "Standard normal quantile Phi^-1(1 - alpha) that the prediction's critical values "
        "use. " + _COMPUTED,
        labels=["model"],
    )
    for report in reports:
        if report.noise_quantile_z is not None:
            features.add_metric([report.model], report.noise_quantile_z)
        if report.prediction_noise_quantile_z is not None:
            prediction.add_metric([report.model], report.prediction_noise_quantile_z)
    yield from (features, prediction)


def _quality_counts(reports: list[EvaluationReport]) -> Iterator[Metric]:
    families = [
        (
            field,
            GaugeMetricFamily(
                f"drift_feature_{suffix}", f"{text} {_COMPUTED}", labels=["model", "feature"]
            ),
        )
        for field, suffix, text in QUALITY_COUNTS
    ]
    for column, values in _counted(reports, "feature"):
        for field, family in families:
            value = getattr(column.counts, field)
            if value is not None:
                family.add_metric(values, value)
    yield from (family for _, family in families)


def _counted(
    reports: list[EvaluationReport], scope: str
) -> Iterator[tuple[ColumnReport, list[str]]]:
    """The columns of `scope` that carry counts, with their label values."""
    for report in reports:
        if scope == "prediction":
            if report.prediction is not None and report.prediction.counts is not None:
                yield report.prediction, [report.model]
        else:
            for column in report.features:
                if column.counts is not None:
                    yield column, [report.model, column.name]
