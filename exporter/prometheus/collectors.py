"""Prometheus exposition of the live state: counters read from the store at each scrape.

Only these families (counters, build info, persistence) are rendered per scrape; the drift
families, which change once per evaluation, are `drift_families.DriftCollector`'s and rendered
by `ReportBoard.publish`. Every family is built fresh, so a deleted model disappears from
/metrics instead of lingering as a stale series.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from exporter import __version__
from exporter.errors import REJECT_REASONS, RejectReason
from exporter.truth.concept import DETECTORS
from exporter.truth.latency import LATENCY_BUCKETS_SECONDS
from exporter.window.counters import INVALID_REASONS

if TYPE_CHECKING:
    from exporter.ingest.formats.cloudevents import CloudEventJoiner
    from exporter.truth.latency import LatencyHistogram
    from exporter.window.counters import ModelCounters
    from exporter.window.model import ModelWindow
    from exporter.window.persistence import StateDirectory
from exporter.window.store import WindowStore

log = logging.getLogger(__name__)

#: Text format 0.0.4: what every Prometheus since 2.0 parses.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_LATENCY_BOUNDS = [
    floatToGoString(bound)  # type: ignore[no-untyped-call]
    for bound in LATENCY_BUCKETS_SECONDS
] + ["+Inf"]


class LiveCollector(Collector):
    """Counters read from the store (and the CloudEvents joiner) at scrape time, plus the build
    info."""

    def __init__(
        self,
        store: WindowStore,
        rejections: RejectionCounter,
        joiner: CloudEventJoiner | None = None,
    ) -> None:
        self._store = store
        self._rejections = rejections
        self._joiner = joiner

    def collect(self) -> Iterator[Metric]:
        info = GaugeMetricFamily(
            "drift_build_info", "drift-exporter build; the value is always 1.", labels=["version"]
        )
        info.add_metric([__version__], 1.0)
        yield info
        records = CounterMetricFamily(
            "drift_records_total", "Prediction records accepted.", labels=["model"]
        )
        invalid = CounterMetricFamily(
            "drift_invalid_values_total",
            "Values in accepted records counted as a data-quality problem, by reason.",
            labels=["model", "reason"],
        )
        newest = GaugeMetricFamily(
            "drift_last_record_timestamp_seconds",
            "Newest record timestamp the model server sent (event time), as unix time.",
            labels=["model"],
        )
        windows = self._store.windows()
        for model, window in windows:
            counters = window.counters
            records.add_metric([model], counters.records)
            for reason in INVALID_REASONS:
                invalid.add_metric([model, reason], counters.invalid[reason])
            if counters.last_record_timestamp is not None:
                newest.add_metric([model], counters.last_record_timestamp)
        yield from (records, invalid, newest)
        yield from _label_families(windows)
        rejected = CounterMetricFamily(
            "drift_requests_rejected_total",
            "Requests answered with a 4xx because of client input, by reason.",
            labels=["reason"],
        )
        for reason, count in self._rejections.items():
            rejected.add_metric([reason], count)
        yield rejected
        if self._joiner is not None:
            yield from _cloudevent_families(self._joiner)


def _cloudevent_families(joiner: CloudEventJoiner) -> Iterator[Metric]:
    """The KServe logger pairing buffer: what it holds now and what became of the halves."""
    stats = joiner.stats()
    yield GaugeMetricFamily(
        "drift_cloudevents_pending_events",
        "Logger events (request or response halves) waiting for their other half.",
        value=stats.pending,
    )
    yield GaugeMetricFamily(
        "drift_cloudevents_pending_bytes",
        "Body bytes of the logger events waiting for their other half "
        "(bounded by cloudevents.max_pending_bytes).",
        value=stats.pending_bytes,
    )
    yield CounterMetricFamily(
        "drift_cloudevents_paired_total",
        "Inferences whose request and response events were paired into records.",
        value=stats.paired,
    )
    yield CounterMetricFamily(
        "drift_cloudevents_expired_total",
        "Logger events dropped after waiting cloudevents.max_age_seconds for their other half.",
        value=stats.expired,
    )
    yield CounterMetricFamily(
        "drift_cloudevents_evicted_total",
        "Logger events dropped, oldest first, to keep the buffer within "
        "cloudevents.max_pending and cloudevents.max_pending_bytes.",
        value=stats.evicted,
    )
    yield CounterMetricFamily(
        "drift_cloudevents_replaced_total",
        "Logger events dropped because a newer event of the same half and id arrived.",
        value=stats.replaced,
    )


#: (metric name, ModelCounters field, HELP) of each label counter, in exposition order.
LABEL_COUNTERS = (
    ("drift_labels_total", "labels", "Labels received (by id or inline), matched or not."),
    ("drift_labels_matched_total", "labels_matched", "Labels joined to their prediction."),
    (
        "drift_labels_unmatched_total",
        "labels_unmatched",
        "Labels with no waiting prediction (never logged with that id, expired, or "
        "already labelled).",
    ),
    (
        "drift_labels_expired_total",
        "labels_expired",
        "Predictions that left the join buffer without a label: older than "
        "labels.max_age_seconds, evicted by labels.max_pending, or dropped with a "
        "replaced reference.",
    ),
    (
        "drift_labels_invalid_total",
        "labels_invalid",
        "Matched labels left out of the performance window because the pair cannot "
        "be read for the model's task (no prediction, or a value of the wrong kind).",
    ),
)


def _label_families(windows: list[tuple[str, ModelWindow]]) -> Iterator[Metric]:
    """Label, concept-drift and latency counters of every model, read at scrape time."""
    counters = [
        (field, CounterMetricFamily(name, documentation, labels=["model"]))
        for name, field, documentation in LABEL_COUNTERS
    ]
    waiting = GaugeMetricFamily(
        "drift_label_buffer_entries",
        "Predictions with an id waiting in the join buffer for their label.",
        labels=["model"],
    )
    detections = CounterMetricFamily(
        "drift_concept_drift_detections_total",
        "Changes the detector found in the model's per-record error stream (DDM: classifiers "
        "only).",
        labels=["model", "detector"],
    )
    last = GaugeMetricFamily(
        "drift_concept_drift_last_detection_timestamp_seconds",
        "Unix time of the detector's latest detection.",
        labels=["model", "detector"],
    )
    latency = HistogramMetricFamily(
        "drift_prediction_latency_seconds",
        "Model-server latency the prediction records carried (latency_seconds).",
        labels=["model"],
    )
    for model, window in windows:
        counted = window.counters
        for field, family in counters:
            family.add_metric([model], getattr(counted, field))
        waiting.add_metric([model], len(window.ground_truth.buffer))
        _add_detections(detections, last, model, counted)
        _add_latency(latency, model, counted.latency)
    yield from (family for _, family in counters)
    yield from (waiting, detections, last, latency)


def _add_detections(
    detections: CounterMetricFamily,
    last: GaugeMetricFamily,
    model: str,
    counted: ModelCounters,
) -> None:
    """Each detector's detection count, and when it last fired if it ever did."""
    for detector in DETECTORS:
        detections.add_metric([model, detector], counted.detections[detector])
        fired_at = counted.last_detection[detector]
        if fired_at is not None:
            last.add_metric([model, detector], fired_at)


def _add_latency(latency: HistogramMetricFamily, model: str, histogram: LatencyHistogram) -> None:
    """The model's latency histogram, cumulative as the text format has it; none while empty."""
    if histogram.count:
        cumulative = histogram.counts.cumsum().tolist()
        latency.add_metric(
            [model],
            list(zip(_LATENCY_BOUNDS, cumulative, strict=True)),
            sum_value=histogram.sum,
        )


class PersistenceCollector(Collector):
    """Snapshot counters, present only when a state directory is configured."""

    def __init__(self, state: StateDirectory | None) -> None:
        self._state = state

    def collect(self) -> Iterator[Metric]:
        if self._state is None:
            return
        stats = self._state.stats
        yield CounterMetricFamily(
            "drift_state_snapshots_total",
            "Model snapshots written to the state directory.",
            value=stats.snapshots,
        )
        yield CounterMetricFamily(
            "drift_state_snapshot_failures_total",
            "Model snapshots that failed to write.",
            value=stats.failures,
        )
        yield CounterMetricFamily(
            "drift_state_rejected_files_total",
            "State files found corrupt or of another version at start and set aside.",
            value=stats.rejected_files,
        )
        if stats.last_snapshot_at is not None:
            yield GaugeMetricFamily(
                "drift_state_last_snapshot_timestamp_seconds",
                "Unix time of the last snapshot written.",
                value=stats.last_snapshot_at,
            )


class RejectionCounter:
    """Rejected requests by reason: a fixed label set, so it can never grow."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts = dict.fromkeys(REJECT_REASONS, 0)

    def increment(self, reason: RejectReason) -> None:
        with self._lock:
            self._counts[reason] += 1

    def items(self) -> Iterable[tuple[str, int]]:
        with self._lock:
            return list(self._counts.items())
