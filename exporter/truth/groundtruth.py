"""Ground truth per model: the label join, the labelled window, the error stream, the latency.

Labels arrive with a prediction record (`label`) or later by id (`POST .../labels`). Each joined
(prediction, label) pair is read according to the model's :class:`TaskSpec` (classification,
binary with a score, or regression), kept in a bounded ring for the performance gauges, and
turned into a per-record error for the concept-drift detectors. Bounds, per model:

* join buffer: at most `labels.max_pending` predictions waiting for their label, each at most
  `labels.max_age_seconds` (exporter.truth.join.LabelJoinBuffer); drops are counted.
* labelled window: the newest `labels.window_max_labels` pairs (two deques of that length).
* detectors: constant memory (exporter.truth.concept.ErrorStreamMonitor), created on the first pair.
* errors awaiting the detectors: those of the requests in flight; every request that adds
  pairs feeds them to the detectors before it answers.
* latency: `len(LATENCY_BUCKETS_SECONDS) + 1` integers and one float.

Nothing here takes a lock; `exporter.window.store.ModelWindow` serialises access.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from exporter.ingest.absent import ABSENT
from exporter.settings import FeatureKind, LabelSettings, ModelSettings, Task
from exporter.stats.estimation import Calibration, fit_calibration
from exporter.stats.performance import (
    classification_metrics,
    per_record_error,
    regression_metrics,
)
from exporter.truth.concept import ErrorStreamMonitor
from exporter.truth.join import LabelJoinBuffer

#: Realised-performance metrics, in exposition order; a model gets those of its task.
CLASSIFICATION_METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss")
REGRESSION_METRICS = ("mae", "mse", "rmse", "mape")
PERFORMANCE_METRICS = CLASSIFICATION_METRICS + REGRESSION_METRICS

#: Upper bounds of the prediction-latency histogram (prometheus_client's defaults), seconds.
LATENCY_BUCKETS_SECONDS = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.075,
    0.1,
    0.25,
    0.5,
    0.75,
    1.0,
    2.5,
    5.0,
    7.5,
    10.0,
)
_LATENCY_BOUNDS = np.array(LATENCY_BUCKETS_SECONDS)

_NUMBERS = frozenset({int, float})
_BOOLEAN_WORDS = {"true": "1", "false": "0"}
_BINARY_KEYS = frozenset({"0", "1"})


def class_key(value: Any) -> str | None:
    """A class label as a comparable string; None if the value cannot be a class.

    Numbers that are integers read as their digits (`1`, `1.0` and `"1"` are one class, so a
    CSV reference's `1.0` meets a live `1`); booleans and the words true / false read as "1" /
    "0" (a boolean is a 0/1 label); other strings are kept as sent.

    >>> [class_key(v) for v in (1, 1.0, "1", True, "False", "yes", 0.25, None, [1])]
    ['1', '1', '1', '1', '0', 'yes', '0.25', None, None]
    """
    kind = type(value)
    if kind is str:
        text: str = value
        return _BOOLEAN_WORDS.get(text.strip().lower(), text)
    if kind is bool:
        return "1" if value else "0"
    if kind is int:
        return str(value)
    if kind is float:
        if not math.isfinite(value):
            return None
        return str(int(value)) if value.is_integer() else repr(value)
    return None


@dataclass(frozen=True)
class TaskSpec:
    """How a model's (prediction, label) pairs are read.

    `scored`: a binary classifier whose prediction is the positive class's score; the predicted
    class is `score >= threshold`. `positive`: the class key of the positive class when
    configured (`models.<m>.positive_class`), else None: a scored model then takes labels
    0 / 1 (or booleans), and an unscored one the larger class key as positive.
    """

    task: Task
    scored: bool = False
    positive: str | None = None
    threshold: float = 0.5

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "scored": self.scored,
            "positive": self.positive,
            "threshold": self.threshold,
        }

    @classmethod
    def from_dict(cls, described: Mapping[str, Any]) -> TaskSpec:
        task = described["task"]
        if task not in ("classification", "regression"):
            raise ValueError(f"unknown task {task!r}")
        positive = described["positive"]
        return cls(
            task,
            bool(described["scored"]),
            None if positive is None else str(positive),
            float(described["threshold"]),
        )


def _finite_number(value: Any) -> bool:
    return type(value) in _NUMBERS and math.isfinite(value)


def _present(value: Any) -> bool:
    return value is not None and value is not ABSENT


def _value_kind(values: Iterable[Any]) -> FeatureKind | None:
    types = {type(value) for value in values}
    if not types:
        return None
    if types <= {bool}:
        return "boolean"
    if types <= _NUMBERS:
        return "numeric"
    return "categorical"


def resolve_task(
    declared: ModelSettings,
    prediction_kind: FeatureKind | None,
    predictions: Sequence[Any],
    labels: Sequence[Any],
) -> TaskSpec | None:
    """The model's TaskSpec from its config and, when needed, the first labelled pairs.

    `task` from the config wins. Otherwise a categorical or boolean prediction, or a string
    label, makes a classifier; a numeric prediction with labels that are all 0 / 1 (or
    booleans) a binary classifier scored by the prediction; any other numeric pair a
    regressor. A declared classifier with a numeric prediction is scored when
    `positive_class` is set or its labels are 0 / 1, and otherwise reads the prediction as a
    class id. None while nothing decides it (no usable pair yet).
    """
    threshold = declared.decision_threshold
    positive = None if declared.positive_class is None else class_key(declared.positive_class)
    if declared.task == "regression":
        return TaskSpec("regression", threshold=threshold)
    pairs = [
        (p, y) for p, y in zip(predictions, labels, strict=True) if _present(p) and _present(y)
    ]
    kind = prediction_kind or _value_kind(p for p, _ in pairs)
    if kind in ("categorical", "boolean"):
        return TaskSpec("classification", positive=positive, threshold=threshold)
    if declared.task == "classification" and kind == "numeric" and positive is not None:
        return TaskSpec("classification", scored=True, positive=positive, threshold=threshold)
    if not pairs or kind is None:
        return None
    if all(class_key(y) in _BINARY_KEYS for _, y in pairs):
        return TaskSpec("classification", scored=True, positive=positive, threshold=threshold)
    if declared.task == "classification" or any(type(y) in (str, bool) for _, y in pairs):
        scored = positive is not None
        return TaskSpec("classification", scored=scored, positive=positive, threshold=threshold)
    return TaskSpec("regression", threshold=threshold)


class EncodedPairs(NamedTuple):
    """Pairs as the ring keeps them, and how many could not be read."""

    truth: list[Any]
    """Labels: class keys (str), 0.0 / 1.0 (scored), or targets (regression)."""
    predicted: list[Any]
    """Predictions: class keys (str), scores (scored), or values (regression)."""
    invalid: int
    """Pairs left out: a missing prediction, or a value the task cannot read."""


def encode_pairs(spec: TaskSpec, predictions: Sequence[Any], labels: Sequence[Any]) -> EncodedPairs:
    """Read (prediction, label) pairs as `spec` says; unreadable pairs are counted, not kept."""
    truth: list[Any] = []
    predicted: list[Any] = []
    invalid = 0
    if spec.task == "regression":
        for p, y in zip(predictions, labels, strict=True):
            if _finite_number(p) and _finite_number(y):
                predicted.append(float(p))
                truth.append(float(y))
            else:
                invalid += 1
    elif spec.scored:
        positive = spec.positive
        for p, y in zip(predictions, labels, strict=True):
            key = class_key(y)
            if positive is not None:
                value = None if key is None else float(key == positive)
            else:
                value = 1.0 if key == "1" else 0.0 if key == "0" else None
            if value is None or not _finite_number(p):
                invalid += 1
                continue
            predicted.append(float(p))
            truth.append(value)
    else:
        for p, y in zip(predictions, labels, strict=True):
            p_key, y_key = class_key(p), class_key(y)
            if p_key is None or y_key is None:
                invalid += 1
                continue
            predicted.append(p_key)
            truth.append(y_key)
    return EncodedPairs(truth, predicted, invalid)


def _arrays(spec: TaskSpec, truth: Sequence[Any], predicted: Sequence[Any]) -> tuple[Any, Any]:
    if spec.task == "classification" and not spec.scored:
        return np.array(truth, dtype=str), np.array(predicted, dtype=str)
    return np.array(truth, dtype=np.float64), np.array(predicted, dtype=np.float64)


def pair_errors(
    spec: TaskSpec, truth: Sequence[Any], predicted: Sequence[Any]
) -> NDArray[np.float64]:
    """Per-record errors of encoded pairs: 0 / 1 for classifiers, |error| for regressors."""
    if not truth:
        return np.empty(0, dtype=np.float64)
    y_true, y_pred = _arrays(spec, truth, predicted)
    if spec.scored:
        y_pred = (y_pred >= spec.threshold).astype(np.float64)
    return per_record_error(y_true, y_pred, task=spec.task)


def performance_metrics(
    spec: TaskSpec, truth: Sequence[Any], predicted: Sequence[Any]
) -> dict[str, float]:
    """The realised metrics of encoded pairs (exporter.stats.performance), undefined ones left out.

    Scored classifiers get ROC AUC from the scores, and log loss when every score is a
    probability (in [0, 1]). Unscored classifiers get neither. A configured positive class
    applies to two-class windows; with more classes the metrics are macro averages.
    """
    if not truth:
        return {}
    y_true, y_pred = _arrays(spec, truth, predicted)
    values: Mapping[str, float | int | None]
    if spec.task == "regression":
        values = regression_metrics(y_true, y_pred)._asdict()
    elif spec.scored:
        scores = y_pred
        probabilities = scores if bool(((scores >= 0.0) & (scores <= 1.0)).all()) else None
        values = classification_metrics(
            y_true,
            (scores >= spec.threshold).astype(np.float64),
            scores=scores,
            probabilities=probabilities,
            classes=[0.0, 1.0],
            positive=1.0,
        )._asdict()
    else:
        try:
            values = classification_metrics(y_true, y_pred, positive=spec.positive)._asdict()
        except ValueError:  # a configured positive class, but more than two classes
            values = classification_metrics(y_true, y_pred)._asdict()
    return {
        name: float(value)
        for name, value in values.items()
        if name in PERFORMANCE_METRICS and value is not None and math.isfinite(value)
    }


@dataclass(frozen=True, eq=False)
class ReferencePerformance:
    """The reference's realised metrics and, for scored classifiers, the score calibration.

    Computed once per reference upload from the reference's own predictions and labels; the
    baseline the live metrics are compared with, and the map the label-free estimates use.
    """

    spec: TaskSpec
    labels: int
    """Usable (prediction, label) pairs in the reference."""
    metrics: Mapping[str, float]
    calibration: Calibration | None
    """Isotonic map score -> P(positive) (scored classifiers with both classes labelled)."""

    def summary(self) -> dict[str, Any]:
        return {
            **self.spec.to_dict(),
            "labels": self.labels,
            "metrics": dict(self.metrics),
            "calibrated": self.calibration is not None,
        }


def reference_performance(
    declared: ModelSettings,
    prediction_kind: FeatureKind | None,
    predictions: Sequence[Any] | None,
    labels: Sequence[Any] | None,
) -> ReferencePerformance | None:
    """The reference's performance, or None unless it has both predictions and labels."""
    if predictions is None or labels is None:
        return None
    spec = resolve_task(declared, prediction_kind, predictions, labels)
    if spec is None:
        return None
    pairs = encode_pairs(spec, predictions, labels)
    calibration = None
    if spec.scored and len(set(pairs.truth)) == 2:
        calibration = fit_calibration(pairs.predicted, pairs.truth)
    return ReferencePerformance(
        spec=spec,
        labels=len(pairs.truth),
        metrics=performance_metrics(spec, pairs.truth, pairs.predicted),
        calibration=calibration,
    )


class LatencyHistogram:
    """Cumulative-ready bucket counts of the model server's latency, fixed bounds.

    `counts[i]` counts observations `<= LATENCY_BUCKETS_SECONDS[i]` and above the bound before
    it; the last slot those above every bound (Prometheus's `+Inf` bucket minus the rest).
    """

    __slots__ = ("counts", "sum")

    def __init__(self) -> None:
        self.counts = np.zeros(len(LATENCY_BUCKETS_SECONDS) + 1, dtype=np.int64)
        self.sum = 0.0

    @property
    def count(self) -> int:
        return int(self.counts.sum())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LatencyHistogram):
            return NotImplemented
        return self.sum == other.sum and bool(np.array_equal(self.counts, other.counts))

    __hash__ = None  # type: ignore[assignment]

    def observe(self, values: Sequence[float | None]) -> None:
        """Count the non-None values (checked finite and >= 0 by decoding)."""
        observed = np.array([v for v in values if v is not None], dtype=np.float64)
        if not observed.size:
            return
        slots = np.searchsorted(_LATENCY_BOUNDS, observed, side="left")
        self.counts += np.bincount(slots, minlength=self.counts.size)
        self.sum += float(observed.sum())


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
