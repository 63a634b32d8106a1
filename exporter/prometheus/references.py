"""The configured references' load state (exporter.window.references), read at each scrape."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from exporter.window.references import ReferenceLoader


class ReferenceCollector(Collector):
    """`drift_reference_loaded{model}` and `drift_reference_load_failures_total{model}` for
    every model whose reference the config names (`models.<name>.reference`)."""

    def __init__(self, loader: ReferenceLoader) -> None:
        self._loader = loader

    def collect(self) -> Iterator[Metric]:
        statuses = self._loader.snapshot()
        loaded = GaugeMetricFamily(
            "drift_reference_loaded",
            "1 when the model's configured reference (models.<name>.reference) is loaded and "
            "in use, 0 while it is loading or its first load failed.",
            labels=["model"],
        )
        failures = CounterMetricFamily(
            "drift_reference_load_failures",
            "Failed attempts to read or parse the model's configured reference.",
            labels=["model"],
        )
        for model, is_loaded, failed in statuses:
            loaded.add_metric([model], 1.0 if is_loaded else 0.0)
            failures.add_metric([model], failed)
        yield loaded
        yield failures
