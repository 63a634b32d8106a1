"""Ground truth in the store: joins, bounds, expiry, inline labels, detectors, latency."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from exporter.ingest.records import LabelBatch, PredictionBatch
from exporter.settings import ReferenceSettings, Settings
from exporter.truth.task import TaskSpec
from exporter.window.model import ModelWindow
from exporter.window.profile import ReferenceProfile, build_profile


def _profile(
    labels: list[Any] | None = None, scores: list[float] | None = None
) -> ReferenceProfile:
    rng = np.random.default_rng(0)
    n = 500 if scores is None else len(scores)
    return build_profile(
        "m",
        {"x": rng.normal(size=n).tolist()},
        scores if scores is not None else rng.random(n).tolist(),
        labels,
        declared={},
        prediction_kind=None,
        settings=ReferenceSettings(),
    )


def _settings(**labels: Any) -> Settings:
    return Settings(labels=labels, window={"max_records": 10_000})


def _batch(
    predictions: list[Any],
    ids: list[str | None] | None = None,
    labels: list[Any] | None = None,
    latencies: list[float | None] | None = None,
) -> PredictionBatch:
    n = len(predictions)
    return PredictionBatch(
        features=[{"x": 0.0} for _ in range(n)],
        predictions=list(predictions),
        ids=list(ids) if ids is not None else [None] * n,
        timestamps=[None] * n,
        labels=labels,
        latencies=latencies,
    )


def _ids(start: int, stop: int) -> list[str | None]:
    return [f"r{i}" for i in range(start, stop)]


# the join


def test_labels_join_the_predictions_with_their_ids(fake_clock: Any) -> None:
    window = ModelWindow(_profile(), _settings(), fake_clock)
    window.append(_batch([0.9, 0.2, 0.7, 0.4], ids=["a", "b", None, "d"]))
    assert len(window.ground_truth.buffer) == 3
    counts = window.add_labels(LabelBatch(["b", "a", "zz", "a"], [0, 1, 1, 0]))
    assert tuple(counts) == (4, 2, 2)
    counters = window.counters
    assert (counters.labels, counters.labels_matched, counters.labels_unmatched) == (4, 2, 2)
    assert window.ground_truth.spec == TaskSpec("classification", scored=True)
    assert list(window.ground_truth.truth) == [0.0, 1.0]
    assert list(window.ground_truth.predicted) == [0.2, 0.9]
    assert len(window.ground_truth.buffer) == 1  # "d" still waits


def test_a_stream_of_a_million_ids_never_holds_more_than_max_pending(
    fake_clock: Any,
) -> None:
    window = ModelWindow(_profile(), _settings(max_pending=1_000), fake_clock)
    batch_size = 10_000
    for start in range(0, 1_000_000, batch_size):
        window.append(_batch([0.5] * batch_size, ids=_ids(start, start + batch_size)))
        assert len(window.ground_truth.buffer) <= 1_000
    assert len(window.ground_truth.buffer) == 1_000
    assert window.counters.labels_expired == 1_000_000 - 1_000  # every eviction counted
    counts = window.add_labels(LabelBatch(["r0", "r999999"], [1, 1]))
    assert (counts.matched, counts.unmatched) == (1, 1)  # the oldest is gone, the newest waits


def test_predictions_waiting_longer_than_max_age_expire_and_their_labels_miss(
    fake_clock: Any,
) -> None:
    window = ModelWindow(_profile(), _settings(max_age_seconds=60.0), fake_clock)
    window.append(_batch([0.9, 0.1], ids=["old", "older"]))
    fake_clock.advance(30.0)
    window.append(_batch([0.8], ids=["new"]))
    fake_clock.advance(31.0)
    counts = window.add_labels(LabelBatch(["old", "new"], [1, 1]))
    assert (counts.matched, counts.unmatched) == (1, 1)
    assert window.counters.labels_expired == 2
    assert len(window.ground_truth.buffer) == 0


def test_evaluation_snapshots_expire_waiting_predictions_too(fake_clock: Any) -> None:
    window = ModelWindow(_profile(), _settings(max_age_seconds=10.0), fake_clock)
    window.append(_batch([0.9], ids=["a"]))
    fake_clock.advance(11.0)
    window.snapshot()
    assert window.counters.labels_expired == 1


def test_the_labelled_window_holds_at_most_window_max_labels_pairs(
    fake_clock: Any,
) -> None:
    window = ModelWindow(_profile(), _settings(window_max_labels=50), fake_clock)
    window.append(_batch([0.9] * 120, ids=_ids(0, 120)))
    window.add_labels(LabelBatch([f"r{i}" for i in range(120)], [1] * 120))
    snapshot = window.snapshot().truth
    assert snapshot is not None
    assert len(snapshot.truth) == len(snapshot.predicted) == 50
    assert window.counters.labels_matched == 120


def test_large_label_batches_are_joined_in_chunks_with_the_same_result(
    fake_clock: Any,
) -> None:
    window = ModelWindow(_profile(), _settings(), fake_clock)
    window.append(_batch([0.9] * 5_000, ids=_ids(0, 5_000)))
    ids = [f"r{i}" for i in range(0, 5_000, 2)] + ["missing"] * 1_000
    counts = window.add_labels(LabelBatch(ids, [1] * len(ids)))
    assert tuple(counts) == (3_500, 2_500, 1_000)


# inline labels and latencies


def test_inline_labels_join_at_once_and_are_not_remembered(fake_clock: Any) -> None:
    window = ModelWindow(_profile(), _settings(), fake_clock)
    window.append(_batch([0.9, 0.3, 0.6], ids=["a", "b", "c"], labels=[1, None, 0], latencies=None))
    assert len(window.ground_truth.buffer) == 1  # only "b", which still waits for its label
    assert (window.counters.labels, window.counters.labels_matched) == (2, 2)
    assert list(window.ground_truth.truth) == [1.0, 0.0]
    assert window.add_labels(LabelBatch(["b", "a"], [0, 1])).matched == 1


def test_unreadable_pairs_are_matched_but_counted_invalid(fake_clock: Any) -> None:
    window = ModelWindow(_profile(), _settings(), fake_clock)
    window.append(_batch([0.9, None, 0.4], ids=["a", "b", "c"]))
    window.add_labels(LabelBatch(["a"], [1]))  # the first pair decides: a scored classifier
    counts = window.add_labels(LabelBatch(["b", "c"], [1, "maybe"]))
    assert counts.matched == 2
    assert window.counters.labels_invalid == 2  # no prediction; a label neither 0 nor 1
    assert list(window.ground_truth.truth) == [1.0]


def test_latencies_are_counted_into_the_histogram(fake_clock: Any) -> None:
    window = ModelWindow(_profile(), _settings(), fake_clock)
    window.append(_batch([0.5, 0.5, 0.5], latencies=[0.02, None, 1.5]))
    window.append(_batch([0.5]))
    assert window.counters.latency.count == 2
    assert window.counters.latency.sum == pytest.approx(1.52)


# the task


def test_a_labelled_reference_decides_the_task_before_any_label_arrives(
    fake_clock: Any,
) -> None:
    rng = np.random.default_rng(1)
    scores = rng.random(400).tolist()
    profile = _profile(labels=[int(s > 0.5) for s in scores], scores=scores)
    window = ModelWindow(profile, _settings(), fake_clock)
    assert window.ground_truth.spec == TaskSpec("classification", scored=True)


def test_a_declared_task_wins_over_inference(fake_clock: Any) -> None:
    settings = Settings(models={"m": {"task": "regression"}})
    window = ModelWindow(_profile(), settings, fake_clock)
    window.append(_batch([0.5, 1.0], ids=["a", "b"]))
    window.add_labels(LabelBatch(["a", "b"], [0, 1]))
    assert window.ground_truth.spec == TaskSpec("regression")
    assert list(window.ground_truth.truth) == [0.0, 1.0]


def test_a_new_reference_starts_a_new_labelled_window(fake_clock: Any) -> None:
    window = ModelWindow(_profile(), _settings(), fake_clock)
    window.append(_batch([0.9, 0.8, 0.7], ids=["a", "b", "c"]))
    window.add_labels(LabelBatch(["a"], [1]))
    window.replace_profile(_profile())
    assert not window.ground_truth.truth and len(window.ground_truth.buffer) == 0
    assert window.counters.labels_expired == 2  # "b" and "c" never got their labels
    assert window.counters.labels_matched == 1  # counters carry on


# concept-drift detectors


def _error_stream(seed: int, before: int, after: int) -> tuple[list[float], list[int]]:
    """Scores and labels whose 0/1 errors are Bernoulli(0.1) for `before` records, then 0.4."""
    rng = np.random.default_rng(seed)
    wrong = np.concatenate([rng.random(before) < 0.1, rng.random(after) < 0.4])
    scores = np.where(wrong, 0.2, 0.8)  # every label is 1: a score below 0.5 is an error
    return scores.tolist(), [1] * wrong.size


def test_detectors_fire_after_a_change_in_the_error_rate_and_not_before(
    fake_clock: Any,
) -> None:
    # Seed 5, config defaults: measured record by record, the first detections are
    # Page-Hinkley 3,036, ADWIN 3,039, DDM 3,132, and none before 3,000.
    change, total = 3_000, 6_000
    scores, labels = _error_stream(5, change, total - change)
    window = ModelWindow(_profile(), _settings(), fake_clock)
    first_detection: dict[str, int] = {}
    for start in range(0, total, 250):
        stop = start + 250
        window.append(_batch(scores[start:stop], ids=_ids(start, stop)))
        window.add_labels(LabelBatch([f"r{i}" for i in range(start, stop)], labels[start:stop]))
        for name, count in window.counters.detections.items():
            if count and name not in first_detection:
                first_detection[name] = stop
                assert window.counters.last_detection[name] == fake_clock.now
        fake_clock.advance(1.0)
    assert set(first_detection) == {"adwin", "page_hinkley", "ddm"}
    for name, stop in first_detection.items():
        assert change < stop <= change + 1_500, (name, stop)


def test_a_regression_model_runs_no_ddm(fake_clock: Any) -> None:
    settings = Settings(models={"m": {"task": "regression"}})
    window = ModelWindow(_profile(), settings, fake_clock)
    window.append(_batch([1.0, 2.0], labels=[1.5, 2.5]))
    window.feed_detectors()
    assert window.ground_truth.monitor is not None
    assert window.ground_truth.monitor.detectors == ("adwin", "page_hinkley")
    assert window.counters.detections == {"adwin": 0, "page_hinkley": 0, "ddm": 0}
