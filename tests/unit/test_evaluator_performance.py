"""evaluate() with ground truth: the performance report against scikit-learn, its gates, and the
label-free estimate against the realised accuracy of the same window."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from sklearn import metrics as skm

from exporter.evaluation.evaluator import evaluate
from exporter.evaluation.report import EvaluationReport
from exporter.ingest.records import LabelBatch, PredictionBatch
from exporter.settings import DriftSettings, ReferenceSettings, Settings
from exporter.window.model import ModelWindow
from exporter.window.profile import ReferenceProfile, build_profile

NOW = 1_800_000_123.0
W = 1.5  # true P(y = 1 | x) = sigmoid(W x); the model reports sigmoid(2 W x): overconfident


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def _draw(rng: np.random.Generator, n: int, shift: float = 0.0) -> dict[str, Any]:
    """Feature x ~ N(shift, 1), the model's score and a true 0/1 label (as in
    tests/unit/test_stats_estimation.py: only x moves, so P(y | score) holds everywhere)."""
    x = rng.normal(shift, 1.0, n)
    labels = (rng.random(n) < _sigmoid(W * x)).astype(int)
    return {"x": x.tolist(), "score": _sigmoid(2.0 * W * x).tolist(), "label": labels.tolist()}


def _profile(data: dict[str, Any] | None, labelled: bool = True) -> ReferenceProfile:
    assert data is not None
    return build_profile(
        "m",
        {"x": data["x"]},
        data["score"],
        data["label"] if labelled else None,
        declared={},
        prediction_kind=None,
        settings=ReferenceSettings(sample_size=20_000),
    )


def _window(profile: ReferenceProfile, data: dict[str, Any], labelled: int | None = None) -> Any:
    """A window holding `data`, the first `labelled` records (default all) labelled by id."""
    settings = Settings(window={"max_records": 100_000, "sample_size": 60_000})
    window = ModelWindow(profile, settings, lambda: NOW - 1.0)
    n = len(data["x"])
    ids: list[str | None] = [str(i) for i in range(n)]
    window.append(PredictionBatch([{"x": v} for v in data["x"]], data["score"], ids, [None] * n))
    count = n if labelled is None else labelled
    window.add_labels(LabelBatch([str(i) for i in range(count)], data["label"][:count]))
    return window


def _report(window: ModelWindow, min_records: int = 100, min_labels: int = 100) -> EvaluationReport:
    return evaluate(window.snapshot(), DriftSettings(), min_records, NOW, min_labels=min_labels)


@pytest.fixture(scope="module")
def reference() -> dict[str, Any]:
    return _draw(np.random.default_rng(2024), 20_000)


@pytest.fixture(scope="module")
def labelled_profile(reference: dict[str, Any]) -> ReferenceProfile:
    return _profile(reference)


def test_the_report_carries_the_metrics_of_the_labelled_pairs_as_sklearn_computes_them(
    labelled_profile: ReferenceProfile,
) -> None:
    data = _draw(np.random.default_rng(81), 3_000, shift=0.3)
    report = _report(_window(labelled_profile, data))
    performance = report.performance
    assert performance is not None
    assert (performance.task, performance.scored, performance.labels) == (
        "classification",
        True,
        3_000,
    )
    labels, scores = data["label"], data["score"]
    predicted = (np.array(scores) >= 0.5).astype(int)
    # sklearn.metrics on the same pairs, rtol=1e-12
    assert performance.metrics == pytest.approx(
        {
            "accuracy": skm.accuracy_score(labels, predicted),
            "precision": skm.precision_score(labels, predicted),
            "recall": skm.recall_score(labels, predicted),
            "f1": skm.f1_score(labels, predicted),
            "roc_auc": skm.roc_auc_score(labels, scores),
            "log_loss": skm.log_loss(labels, scores),
        },
        rel=1e-12,
    )


def test_the_reference_metrics_are_the_baseline_computed_at_upload(
    reference: dict[str, Any], labelled_profile: ReferenceProfile
) -> None:
    data = _draw(np.random.default_rng(82), 500)
    performance = _report(_window(labelled_profile, data)).performance
    assert performance is not None
    predicted = (np.array(reference["score"]) >= 0.5).astype(int)
    # sklearn.metrics on the reference's own pairs, rtol=1e-12
    assert performance.reference["accuracy"] == pytest.approx(
        skm.accuracy_score(reference["label"], predicted), rel=1e-12
    )
    assert performance.reference["roc_auc"] == pytest.approx(
        skm.roc_auc_score(reference["label"], reference["score"]), rel=1e-12
    )
    assert performance.reference_labels == 20_000


def test_below_min_labels_the_realised_metrics_are_left_out(
    labelled_profile: ReferenceProfile,
) -> None:
    data = _draw(np.random.default_rng(83), 1_000)
    window = _window(labelled_profile, data, labelled=99)
    below = _report(window, min_labels=100).performance
    assert below is not None and below.labels == 99 and below.metrics == {}
    assert below.reference  # the baseline does not wait for live labels
    exactly = _report(window, min_labels=99).performance
    assert exactly is not None and exactly.metrics["accuracy"] > 0.0


def test_a_reference_with_fewer_labels_than_min_labels_is_no_baseline() -> None:
    small = _draw(np.random.default_rng(84), 50)
    data = _draw(np.random.default_rng(85), 500)
    performance = _report(_window(_profile(small), data), min_labels=100).performance
    assert performance is not None
    assert performance.reference == {} and performance.reference_labels == 50


def test_the_estimate_needs_a_reference_with_labels_and_scores(
    reference: dict[str, Any], labelled_profile: ReferenceProfile
) -> None:
    data = _draw(np.random.default_rng(86), 1_000)
    with_labels = _report(_window(labelled_profile, data, labelled=0)).performance
    assert with_labels is not None
    assert with_labels.estimated_accuracy is not None
    assert with_labels.estimated_roc_auc is not None
    without_labels = _report(_window(_profile(reference, labelled=False), data)).performance
    assert without_labels is not None
    assert without_labels.estimated_accuracy is None and without_labels.estimated_roc_auc is None
    # A classifier whose prediction is a class, not a score: nothing to calibrate.
    classes = {**reference, "score": ["yes" if s >= 0.5 else "no" for s in reference["score"]]}
    window_classes = {**data, "score": ["yes" if s >= 0.5 else "no" for s in data["score"]]}
    unscored = _report(_window(_profile(classes), window_classes)).performance
    assert unscored is not None and unscored.task == "classification" and not unscored.scored
    assert unscored.estimated_accuracy is None
    assert "accuracy" in unscored.metrics and "roc_auc" not in unscored.metrics


def test_the_estimate_waits_for_min_records(labelled_profile: ReferenceProfile) -> None:
    data = _draw(np.random.default_rng(87), 200)
    performance = _report(_window(labelled_profile, data), min_records=500).performance
    assert performance is not None and performance.estimated_accuracy is None


# Validation through the whole pipeline (profile -> window -> evaluate): the label-free
# estimate against the realised accuracy of the same window's labels, under covariate shift.
# Reference seed 2024 (20,000 rows), 20 windows of 2,000 records per shift, window seeds
# [2030, 10 * shift, i]. Measured estimated - realised accuracy over the 20 windows,
# mean |error| / max |error| / mean signed error:
#   shift 0.0: 0.0107 / 0.0296 / +0.0087    shift 0.5: 0.0101 / 0.0265 / +0.0054
#   shift 1.0: 0.0073 / 0.0238 / +0.0056    shift 1.5: 0.0066 / 0.0130 / +0.0061
# the same figures as exporter.stats.estimation's own validation (0.006 to 0.011 mean, at most
# 0.031), whose noise floor is the labels' own: sd about 0.009 for a window of 2,000.


@pytest.mark.parametrize("shift", [0.0, 0.5, 1.0, 1.5])
def test_the_estimated_accuracy_tracks_the_realised_accuracy(
    labelled_profile: ReferenceProfile, shift: float
) -> None:
    errors = []
    for i in range(20):
        data = _draw(np.random.default_rng([2030, int(shift * 10), i]), 2_000, shift=shift)
        performance = _report(_window(labelled_profile, data)).performance
        assert performance is not None and performance.estimated_accuracy is not None
        errors.append(performance.estimated_accuracy - performance.metrics["accuracy"])
    assert np.abs(errors).mean() <= 0.015
    assert np.abs(errors).max() <= 0.04


def test_the_report_counts_detections_and_is_strict_json(
    labelled_profile: ReferenceProfile,
) -> None:
    data = _draw(np.random.default_rng(88), 600)
    report = _report(_window(labelled_profile, data))
    document = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    performance = document["performance"]
    assert performance["concept_drift"] == {
        name: {"detections": 0, "last_detection_at": None}
        for name in ("adwin", "page_hinkley", "ddm")
    }
    assert set(performance["estimated"]) == {
        *("accuracy", "accuracy_stderr", "roc_auc"),
        *("mae", "mae_stderr", "rmse", "rmse_stderr"),
    }
    assert performance["estimated"]["rmse"] is None  # a classifier has no loss estimate
    assert performance["metrics"]["accuracy"] == report.performance.metrics["accuracy"]  # type: ignore[union-attr]
