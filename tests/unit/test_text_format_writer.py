"""render_text against prometheus_client's generate_latest: the same bytes for every family."""

from __future__ import annotations

import math

import numpy as np
import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info, Summary
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeHistogramMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    InfoMetricFamily,
    StateSetMetricFamily,
    SummaryMetricFamily,
    UnknownMetricFamily,
)
from prometheus_client.exposition import generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from exporter.evaluation.evaluator import evaluate
from exporter.ingest.records import PredictionBatch
from exporter.prometheus.collectors import LiveCollector, RejectionCounter
from exporter.prometheus.drift_families import DriftCollector
from exporter.prometheus.text import render_text
from exporter.settings import Settings
from exporter.window.profile import build_profile
from exporter.window.store import WindowStore


class _Fixed(Collector):
    def __init__(self, *families: Metric) -> None:
        self._families = families

    def collect(self) -> list[Metric]:  # type: ignore[override]
        return list(self._families)


def _same_as_generate_latest(collector: Collector) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    expected = generate_latest(registry)
    assert render_text(registry.collect()) == expected
    return expected


def test_every_family_type_is_written_as_generate_latest_writes_it() -> None:
    counter = CounterMetricFamily("c", "A counter.", labels=["model"], created=1_700_000_000.5)
    counter.add_metric(["a"], 3.0, created=1_700_000_000.25)
    gauge = GaugeMetricFamily("g", "A gauge.", labels=["model", "feature"])
    for value in (0.0, -1.5, 1e-9, 123456789.0, 1e22, math.inf, -math.inf, math.nan):
        gauge.add_metric(["m", f"f{value}"], value)
    histogram = HistogramMetricFamily("h", "A histogram.", labels=["model"])
    histogram.add_metric(["m"], [("0.5", 1.0), ("1.0", 2.0), ("+Inf", 4.0)], sum_value=3.5)
    gauge_histogram = GaugeHistogramMetricFamily("gh", "A gauge histogram.")
    gauge_histogram.add_metric([], [("1.0", 2.0), ("+Inf", 3.0)], gsum_value=2.5)
    summary = SummaryMetricFamily("s", "A summary.", count_value=2, sum_value=1.0)
    info = InfoMetricFamily("i", "An info.")
    info.add_metric([], {"version": "1.2.3"})
    state = StateSetMetricFamily("st", "A state set.", value={"on": True, "off": False})
    unknown = UnknownMetricFamily("u", "Untyped.", value=7.0)
    text = _same_as_generate_latest(
        _Fixed(counter, gauge, histogram, gauge_histogram, summary, info, state, unknown)
    )
    assert b"# TYPE c_created gauge" in text and b"# TYPE u untyped" in text


def test_label_values_and_help_are_escaped() -> None:
    documentation = 'Help with \\ a backslash,\na newline and "quotes".'
    gauge = GaugeMetricFamily("g", documentation, labels=["v"])
    for value in ('quote " inside', "back\\slash", "new\nline", "unicode é ✓", ""):
        gauge.add_metric([value], 1.0)
    text = _same_as_generate_latest(_Fixed(gauge))
    assert b'g{v="quote \\" inside"} 1.0' in text


def test_samples_with_timestamps() -> None:
    gauge = GaugeMetricFamily("g", "Stamped.", labels=["k"])
    gauge.add_metric(["a"], 1.0, timestamp=1_700_000_000.123)
    _same_as_generate_latest(_Fixed(gauge))


def test_names_outside_the_legacy_character_set_are_left_to_generate_latest() -> None:
    dotted = GaugeMetricFamily("drift.psi", "Dotted.", labels=["model"])
    dotted.add_metric(["m"], 1.0)
    odd_label = GaugeMetricFamily("g", "Odd label name.", labels=["feature.name"])
    odd_label.add_metric(["x"], 2.0)
    colon = GaugeMetricFamily("job:drift:rate", "Colons are legacy metric names.")
    colon.add_metric([], 3.0)
    _same_as_generate_latest(_Fixed(dotted, odd_label, colon))


def test_client_metrics_of_every_kind() -> None:
    registry = CollectorRegistry(auto_describe=False)
    Counter("requests", "Requests.", ["code"], registry=registry).labels("200").inc(3)
    Gauge("temperature", "Degrees.", registry=registry).set(21.5)
    Histogram("latency_seconds", "Latency.", registry=registry).observe(0.3)
    Summary("size_bytes", "Sizes.", registry=registry).observe(10)
    Info("build", "Build.", registry=registry).info({"version": "1"})
    assert render_text(registry.collect()) == generate_latest(registry)


def test_the_sidecars_live_and_drift_families(settings: Settings) -> None:
    rng = np.random.default_rng(3)
    reference = {"x": rng.normal(size=2_000).tolist(), "c": ["a", "b", "c"] * 400 + ["a"] * 800}
    store = WindowStore(settings)
    store.set_reference(
        build_profile(
            "m",
            reference,
            rng.normal(size=2_000).tolist(),
            None,
            declared={},
            prediction_kind=None,
            settings=settings.reference,
        )
    )
    features = [
        {"x": float(v), "c": ["a", "b", "z"][i % 3]} for i, v in enumerate(rng.normal(1, size=800))
    ]
    features[0]["x"] = None
    store.get("m").append(PredictionBatch(features, [0.5] * 800, [None] * 800, [None] * 800))
    rejections = RejectionCounter()
    rejections.increment("malformed")
    _same_as_generate_latest(LiveCollector(store, rejections))
    report = evaluate(store.get("m").snapshot(), settings.drift, 100, 1_800_000_000.0)
    text = _same_as_generate_latest(DriftCollector({"m": report}))
    assert b'drift_feature_psi{feature="x",model="m"}' in text


@pytest.fixture
def settings() -> Settings:
    return Settings(window={"max_records": None})
