"""How a model's (prediction, label) pairs are read: the task, class keys, encoded pairs, errors.

Each joined pair is read according to the model's :class:`TaskSpec` (classification, binary with
a score, or regression), decided by the config or by the first labelled pairs
(:func:`resolve_task`). :func:`encode_pairs` turns pairs into what the labelled window keeps,
:func:`pair_errors` into the per-record errors the concept-drift detectors read.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from exporter.ingest.values import ABSENT, boolean_key, category_key
from exporter.settings import FeatureKind, ModelSettings, Task
from exporter.stats.performance import per_record_error

_NUMBERS = frozenset({int, float})
_BINARY_CLASSES = {"true": "1", "false": "0"}
_BINARY_KEYS = frozenset({"0", "1"})


def class_key(value: Any) -> str | None:
    """A class label as a comparable string; None if the value cannot be a class.

    Booleans and the words true / false read as "1" / "0" (a boolean is a 0/1 label); anything
    else is spelled as a category (exporter.ingest.values.category_key): numbers that are
    integers read as their digits (`1`, `1.0` and `"1"` are one class, so a CSV reference's
    `1.0` meets a live `1`), other strings are kept as sent.

    >>> [class_key(v) for v in (1, 1.0, "1", True, "False", "yes", 0.25, None, [1])]
    ['1', '1', '1', '1', '0', 'yes', '0.25', None, None]
    """
    boolean = boolean_key(value)
    return category_key(value) if boolean is None else _BINARY_CLASSES[boolean]


@dataclass(frozen=True)
class TaskSpec:
    """How a model's (prediction, label) pairs are read.

    `scored`: a binary classifier whose prediction is the positive class's score; the predicted
    class is `score >= threshold`. `positive`: the class key of the positive class when
    configured (`models.<m>.positive_class`) or, for an unscored classifier, taken from a
    two-class reference (exporter.truth.performance.reference_performance), else None: a
    scored model then takes labels 0 / 1 (or booleans), and an unscored one has no positive
    class (its windows report no precision, recall or F1 unless they hold more than two classes).
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


def pair_arrays(spec: TaskSpec, truth: Sequence[Any], predicted: Sequence[Any]) -> tuple[Any, Any]:
    """Encoded pairs as arrays: strings for unscored classifiers, floats otherwise."""
    if spec.task == "classification" and not spec.scored:
        return np.array(truth, dtype=str), np.array(predicted, dtype=str)
    return np.array(truth, dtype=np.float64), np.array(predicted, dtype=np.float64)


def pair_errors(
    spec: TaskSpec, truth: Sequence[Any], predicted: Sequence[Any]
) -> NDArray[np.float64]:
    """Per-record errors of encoded pairs: 0 / 1 for classifiers, |error| for regressors."""
    if not truth:
        return np.empty(0, dtype=np.float64)
    y_true, y_pred = pair_arrays(spec, truth, predicted)
    if spec.scored:
        y_pred = (y_pred >= spec.threshold).astype(np.float64)
    return per_record_error(y_true, y_pred, task=spec.task)
