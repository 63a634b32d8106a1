"""Ground-truth exposition: performance gauges from the report, label / detector / latency
counters from the store at scrape time."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from exporter.evaluation.evaluator import evaluate
from exporter.ingest.records import LabelBatch, PredictionBatch
from exporter.prometheus.board import render
from exporter.prometheus.collectors import LiveCollector, RejectionCounter
from exporter.settings import DriftSettings, ReferenceSettings, Settings
from exporter.truth.latency import LATENCY_BUCKETS_SECONDS
from exporter.window.profile import build_profile
from exporter.window.store import WindowStore

NOW = 1_800_000_000.0


def _store(labels: int, min_labels: int = 100) -> WindowStore:
    """Model "credit": a labelled reference, 500 scored records with ids and latencies,
    `labels` of them labelled."""
    rng = np.random.default_rng(91)
    scores = rng.random(1_000)
    profile = build_profile(
        "credit",
        {"x": rng.normal(size=1_000).tolist()},
        scores.tolist(),
        (rng.random(1_000) < scores).astype(int).tolist(),
        declared={},
        prediction_kind=None,
        settings=ReferenceSettings(),
    )
    store = WindowStore(Settings(labels={"min_labels": min_labels}), clock=lambda: NOW)
    store.set_reference(profile)
    window = store.get("credit")
    live = rng.random(500)
    window.append(
        PredictionBatch(
            [{"x": 0.0}] * 500,
            live.tolist(),
            [f"r{i}" for i in range(500)],
            [None] * 500,
            latencies=[0.001 * i for i in range(500)],
        )
    )
    truth = (rng.random(500) < live).astype(int).tolist()
    window.add_labels(LabelBatch([f"r{i}" for i in range(labels)] + ["nope"], [*truth[:labels], 1]))
    return store


def _text(store: WindowStore) -> str:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(LiveCollector(store, RejectionCounter()))
    live = generate_latest(registry)
    reports = {
        model: evaluate(window.snapshot(), DriftSettings(), 100, NOW, min_labels=100)
        for model, window in store.windows()
    }
    return (live + render(reports)).decode()


def _samples(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    for family in text_string_to_metric_families(text):
        if family.name == name:
            return {
                tuple(sorted(sample.labels.items())): sample.value
                for sample in family.samples
                if sample.name == name or family.type != "histogram"
            }
    raise KeyError(name)


def _reports_text(store: WindowStore, min_labels: int) -> str:
    reports = {
        model: evaluate(window.snapshot(), DriftSettings(), 100, NOW, min_labels=min_labels)
        for model, window in store.windows()
    }
    return render(reports).decode()


CREDIT = (("model", "credit"),)


def test_label_counters_say_what_happened_to_every_label() -> None:
    text = _text(_store(labels=300))
    assert _samples(text, "drift_labels")[CREDIT] == 301  # counter family name drops _total
    assert _samples(text, "drift_labels_matched")[CREDIT] == 300
    assert _samples(text, "drift_labels_unmatched")[CREDIT] == 1
    assert _samples(text, "drift_labels_expired")[CREDIT] == 0
    assert _samples(text, "drift_label_buffer_entries")[CREDIT] == 200


def test_detector_counters_exist_for_every_detector_from_the_start() -> None:
    text = _text(_store(labels=0))
    detections = _samples(text, "drift_concept_drift_detections")
    assert detections == {
        (("detector", name), ("model", "credit")): 0.0 for name in ("adwin", "page_hinkley", "ddm")
    }
    assert _samples(text, "drift_concept_drift_last_detection_timestamp_seconds") == {}


def test_the_latency_histogram_is_cumulative_with_count_and_sum() -> None:
    text = _text(_store(labels=0))
    family = next(
        f
        for f in text_string_to_metric_families(text)
        if f.name == "drift_prediction_latency_seconds"
    )
    assert family.type == "histogram"
    buckets = {s.labels["le"]: s.value for s in family.samples if s.name.endswith("_bucket")}
    latencies = [0.001 * i for i in range(500)]
    for bound in LATENCY_BUCKETS_SECONDS:
        key = next(le for le in buckets if le != "+Inf" and float(le) == bound)
        assert buckets[key] == sum(1 for v in latencies if v <= bound), bound
    assert buckets["+Inf"] == 500
    count = next(s.value for s in family.samples if s.name.endswith("_count"))
    total = next(s.value for s in family.samples if s.name.endswith("_sum"))
    assert count == 500 and total == pytest.approx(sum(latencies))


def test_a_model_without_latencies_has_no_histogram_series() -> None:
    store = _store(labels=0)
    store.get("credit").counters.latency.counts[:] = 0
    family = next(
        f
        for f in text_string_to_metric_families(_text(store))
        if f.name == "drift_prediction_latency_seconds"
    )
    assert family.samples == []


def test_performance_gauges_are_absent_below_min_labels_and_present_from_it() -> None:
    store = _store(labels=150)
    below = _reports_text(store, min_labels=151)
    assert _samples(below, "drift_performance_accuracy") == {}
    assert _samples(below, "drift_labelled_window_records") == {CREDIT: 150.0}
    assert _samples(below, "drift_performance_min_labels") == {CREDIT: 151.0}
    assert CREDIT in _samples(below, "drift_reference_performance_accuracy")
    assert CREDIT in _samples(below, "drift_estimated_accuracy")
    at = _reports_text(store, min_labels=150)
    for name in ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss"):
        assert CREDIT in _samples(at, f"drift_performance_{name}"), name
    for name in ("mae", "mse", "rmse", "mape"):
        assert _samples(at, f"drift_performance_{name}") == {}, name


def test_performance_gauges_carry_the_report_values() -> None:
    store = _store(labels=300)
    report = evaluate(store.get("credit").snapshot(), DriftSettings(), 100, NOW, min_labels=100)
    text = render({"credit": report}).decode()
    performance = report.performance
    assert performance is not None
    for name, value in performance.metrics.items():
        assert _samples(text, f"drift_performance_{name}") == {CREDIT: value}
    for name, value in performance.reference.items():
        assert _samples(text, f"drift_reference_performance_{name}") == {CREDIT: value}
    assert _samples(text, "drift_estimated_accuracy") == {CREDIT: performance.estimated_accuracy}
    assert _samples(text, "drift_estimated_roc_auc") == {CREDIT: performance.estimated_roc_auc}


def test_a_deleted_model_leaves_no_label_series() -> None:
    store = _store(labels=10)
    store.delete("credit")
    text = _text(store)
    for name in ("drift_labels", "drift_concept_drift_detections", "drift_label_buffer_entries"):
        assert _samples(text, name) == {}


def test_the_ground_truth_families_pass_promtool_check_metrics() -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed")
    store = _store(labels=300)
    store.get("credit").counters.last_detection["adwin"] = NOW
    result = subprocess.run(
        [promtool, "check", "metrics"],
        input=_text(store).encode(),
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()
    assert (result.stdout + result.stderr).decode().strip() == ""
