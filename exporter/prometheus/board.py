"""ReportBoard: the last report per model, and the drift families' text rendered once per
publication.

The JSON API reads the reports from here and /metrics serves the rendered bytes, so both see
the same evaluation; a scrape never mixes two publications.
"""

from __future__ import annotations

import gc
import logging
import threading
from collections.abc import Callable, Iterable, Mapping

from prometheus_client import CollectorRegistry, Histogram

from exporter.evaluation.report import EvaluationReport
from exporter.evaluation.transitions import log_drift_changes
from exporter.prometheus.compression import DeflatedText, deflate_once
from exporter.prometheus.drift_families import DriftCollector
from exporter.prometheus.pooling_families import PoolingText
from exporter.prometheus.text import render_text

log = logging.getLogger(__name__)


class ReportBoard:
    """The last report per model, and its exposition text rendered (and deflated, for gzip
    scrapes) once per publication.

    `evaluation_registry` holds what changes only when models are evaluated (the
    evaluation-duration histogram): it is rendered with the drift families, not per scrape.
    """

    def __init__(self, evaluation_registry: CollectorRegistry | None = None) -> None:
        self._lock = threading.Lock()
        self._reports: dict[str, EvaluationReport] = {}
        self._evaluation_registry = evaluation_registry
        self._rendered = deflate_once(b"")
        self._pooling = PoolingText()

    def get(self, model: str) -> EvaluationReport | None:
        return self._reports.get(model)

    @property
    def rendered(self) -> DeflatedText:
        """The text and its deflate stream, swapped together so a scrape never mixes two."""
        return self._rendered

    def publish(
        self,
        reports: Iterable[EvaluationReport],
        admit: Callable[[EvaluationReport], bool] | None = None,
    ) -> list[EvaluationReport]:
        """Replace these models' reports and re-render the drift families; returns those
        published. `admit`, called under the board's lock, drops a report by returning False
        (the scheduler's check that its model was not deleted meanwhile: a delete discards
        the model's report after removing it from the store, so it cannot slip between)."""
        with self._lock:
            published = [report for report in reports if admit is None or admit(report)]
            if not published:
                return published
            updated = dict(self._reports)
            updated.update((report.model, report) for report in published)
            log_drift_changes(self._reports, updated)
            self._swap(updated)
            return published

    def discard(self, model: str) -> None:
        """Drop a deleted model's report and re-render (remove its evaluation-duration series
        from the registry first; a model never published leaves the text as it is)."""
        with self._lock:
            if model in self._reports:
                updated = dict(self._reports)
                del updated[model]
                self._swap(updated)

    def _swap(self, reports: dict[str, EvaluationReport]) -> None:
        registry = self._evaluation_registry
        suffix = b"" if registry is None else render_text(registry.collect())
        self._rendered = render_deflated(reports, suffix, self._pooling)
        self._reports = reports


def render(reports: Mapping[str, EvaluationReport], pooling: PoolingText | None = None) -> bytes:
    """The drift families' exposition text: `DriftCollector(reports)`'s, with the pooling
    families written by `pooling` (which keeps each reference's bin lines between renders; a
    new one if None).

    Rendering 4,000 series builds ~20,000 short-lived objects; cyclic-GC passes in the middle
    would walk and promote them all (and hold the GIL the event loop is waiting for), so the
    collector waits until they are freed, by reference counting, at the end.
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        text = render_text(DriftCollector(reports, pooling=False).collect())
        writer = PoolingText() if pooling is None else pooling
        return text + writer.render([reports[model] for model in sorted(reports)])
    finally:
        if collecting:
            gc.enable()


def render_deflated(
    reports: Mapping[str, EvaluationReport],
    suffix: bytes = b"",
    pooling: PoolingText | None = None,
) -> DeflatedText:
    """The drift families' text followed by `suffix`, and its deflate stream (for gzip
    scrapes: ~3 ms at 4,000 series, once per evaluation, not per scrape)."""
    return deflate_once(render(reports, pooling) + suffix)


def evaluation_duration_histogram(registry: CollectorRegistry) -> Histogram:
    return Histogram(
        "drift_evaluation_duration_seconds",
        "Seconds one evaluation of one model took.",
        ["model"],
        buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
        registry=registry,
    )
