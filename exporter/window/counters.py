"""A model's monotonic counters: records, invalid values, labels, detections, latency."""

from __future__ import annotations

from dataclasses import dataclass, field

from exporter.truth.concept import DETECTORS
from exporter.truth.latency import LatencyHistogram

#: The fixed reasons behind drift_invalid_values_total{reason}.
INVALID_REASONS = (
    "missing",
    "nan",
    "type_mismatch",
    "unseen_category",
    "out_of_range",
    "unknown_feature",
)


@dataclass
class ModelCounters:
    """Monotonic counts for one model; they survive reference replacement, not deletion.

    Labels: `labels` = `labels_matched` + `labels_unmatched`; `labels_invalid` counts matched
    labels whose pair the task cannot read (a subset of the matched); `labels_expired` counts
    predictions that left the join buffer without their label (aged past
    `labels.max_age_seconds`, evicted by `labels.max_pending`, or waiting when the reference
    was replaced).
    """

    records: int = 0
    invalid: dict[str, int] = field(default_factory=lambda: dict.fromkeys(INVALID_REASONS, 0))
    last_record_timestamp: float | None = None
    labels: int = 0
    labels_matched: int = 0
    labels_unmatched: int = 0
    labels_expired: int = 0
    labels_invalid: int = 0
    detections: dict[str, int] = field(default_factory=lambda: dict.fromkeys(DETECTORS, 0))
    last_detection: dict[str, float | None] = field(
        default_factory=lambda: dict.fromkeys(DETECTORS)
    )
    latency: LatencyHistogram = field(default_factory=LatencyHistogram)
