"""Ground truth per model: the label join, the labelled window, the error stream, the latency.

Labels arrive with a prediction record (`label`) or later by id (`POST .../labels`). Each joined
(prediction, label) pair is read according to the model's task (exporter.truth.task.TaskSpec),
kept in a bounded ring for the performance gauges (exporter.truth.performance), and turned into
a per-record error for the concept-drift detectors. Bounds, per model:

* join buffer: at most `labels.max_pending` predictions waiting for their label, each at most
  `labels.max_age_seconds` (exporter.truth.join.LabelJoinBuffer); drops are counted.
* labelled window: the newest `labels.window_max_labels` pairs (two deques of that length).
* detectors: constant memory (exporter.truth.concept.ErrorStreamMonitor), created on the first pair.
* errors awaiting the detectors: those of the requests in flight; every request that adds
  pairs feeds them to the detectors before it answers.
* latency: `len(LATENCY_BUCKETS_SECONDS) + 1` integers and one float (exporter.truth.latency).

Nothing here takes a lock; `exporter.window.store.ModelWindow` serialises access.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from exporter.settings import FeatureKind, LabelSettings, ModelSettings
from exporter.truth.concept import ErrorStreamMonitor
from exporter.truth.join import LabelJoinBuffer
from exporter.truth.task import TaskSpec, encode_pairs, pair_errors, resolve_task


class JoinCounts(NamedTuple):
    """What one batch of labels did."""

    accepted: int
    matched: int
    unmatched: int


class GroundTruth:
    """One model's label join buffer, labelled window, task and error-stream detectors.

    Belongs to one reference profile: a new reference starts a new one (a new model version's
    performance is not the old one's). Not thread-safe: the window lock guards everything but
    `monitor`, which `monitor_lock` guards so that slow detector updates never hold the window.
    """

    def __init__(self, settings: LabelSettings, spec: TaskSpec | None) -> None:
        self.buffer = LabelJoinBuffer(settings.max_pending, settings.max_age_seconds)
        self.truth: deque[Any] = deque(maxlen=settings.window_max_labels)
        self.predicted: deque[Any] = deque(maxlen=settings.window_max_labels)
        self.spec = spec
        self.monitor: ErrorStreamMonitor | None = None
        self.monitor_lock = threading.Lock()
        self.unfed: list[NDArray[np.float64]] = []

    def add_pairs(
        self,
        predictions: Sequence[Any],
        labels: Sequence[Any],
        declared: ModelSettings,
        prediction_kind: FeatureKind | None,
    ) -> int:
        """Keep joined pairs in the window and queue their errors; returns the invalid count.

        The first pairs decide the task when neither the config nor the reference did.
        """
        if not predictions:
            return 0
        spec = self.spec
        if spec is None:
            spec = self.spec = resolve_task(declared, prediction_kind, predictions, labels)
            if spec is None:  # no pair has a prediction: nothing to read the task from
                return len(predictions)
        encoded = encode_pairs(spec, predictions, labels)
        if encoded.truth:
            self.truth.extend(encoded.truth)
            self.predicted.extend(encoded.predicted)
            self.unfed.append(pair_errors(spec, encoded.truth, encoded.predicted))
        return encoded.invalid

    def take_unfed(self) -> NDArray[np.float64] | None:
        """The queued errors, oldest first, and an empty queue."""
        if not self.unfed:
            return None
        errors = self.unfed[0] if len(self.unfed) == 1 else np.concatenate(self.unfed)
        self.unfed = []
        return errors

    def restored(self, spec: TaskSpec | None, truth: list[Any], predicted: list[Any]) -> None:
        """Reinstate the task and the labelled window from a snapshot."""
        self.spec = spec
        self.truth.extend(truth)
        self.predicted.extend(predicted)
