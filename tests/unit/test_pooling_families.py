"""PoolingText writes the pooling families byte for byte as the generic collector path does,
whatever it kept from the renders before (a changed window, a new reference, a capped column,
a model gone), and the report carries the raw window counts PSI starts from."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from scipy.stats import norm

from exporter.evaluation.evaluator import evaluate
from exporter.evaluation.report import EvaluationReport
from exporter.ingest.records import PredictionBatch
from exporter.prometheus.board import render
from exporter.prometheus.drift_families import DriftCollector
from exporter.prometheus.pooling_families import PoolingText, pooling_gauges
from exporter.prometheus.text import render_text
from exporter.settings import DriftSettings, PoolingSettings, ReferenceSettings, Settings
from exporter.window.model import ModelWindow
from exporter.window.profile import build_profile

NOW = 1_800_000_000.0


def _report(
    model: str,
    seed: int,
    records: int,
    *,
    reference_seed: int = 0,
    pooling: PoolingSettings | None = None,
    feature: str = 'x "odd"\\name',
) -> EvaluationReport:
    """A numeric feature (with a label value that needs escaping), a categorical one and a
    numeric prediction; the window has one missing x, unseen colours and a value past the
    reference's maximum."""
    rng = np.random.default_rng(reference_seed)
    n = 1_000
    profile = build_profile(
        model,
        {
            feature: rng.normal(size=n).tolist(),
            "colour": rng.choice(["red", "green", "blue"], size=n).tolist(),
        },
        rng.random(n).tolist(),
        None,
        declared={},
        prediction_kind=None,
        settings=ReferenceSettings(),
    )
    window = ModelWindow(profile, Settings(), lambda: NOW - 1.0)
    draws = np.random.default_rng(seed)
    x = draws.normal(0.3, 1.0, records)
    colours = draws.choice(["red", "green", "blue", "purple"], size=records)
    features: list[dict[str, Any]] = [
        {feature: float(x[i]), "colour": str(colours[i])} for i in range(records)
    ]
    if records:
        features[0][feature] = None
        features[-1][feature] = 1e9
    window.append(
        PredictionBatch(
            features, draws.random(records).tolist(), [None] * records, [None] * records
        )
    )
    return evaluate(
        window.snapshot(), DriftSettings(), 100, NOW, pooling=pooling or PoolingSettings()
    )


def _generic(reports: list[EvaluationReport]) -> bytes:
    return render_text(pooling_gauges(sorted(reports, key=lambda report: report.model)))


def test_pooling_text_equals_the_generic_path_across_renders() -> None:
    writer = PoolingText()
    renders = [
        [_report("a", 1, 400), _report("b", 2, 50)],
        [_report("a", 3, 500), _report("b", 4, 60)],  # same references, new windows
        [_report("a", 5, 500, reference_seed=9), _report("b", 6, 70)],  # a's reference changed
        [_report("a", 7, 500, pooling=PoolingSettings(max_bins_per_feature=4))],  # capped; b gone
        [_report("a", 8, 0), _report("c", 9, 200, feature="y")],  # a's window empty
        [],
    ]
    for reports in renders:
        assert writer.render(reports) == _generic(reports)


def test_render_is_the_collector_with_the_pooling_families_last() -> None:
    reports = {"a": _report("a", 1, 400), "b": _report("b", 2, 50)}
    text = render(reports)
    assert text == render_text(DriftCollector(reports).collect())
    assert b"drift_feature_window_bin_records{" in text


def test_the_report_carries_the_raw_window_counts_and_quality_numerators() -> None:
    report = _report("a", 1, 400)
    x, colour = report.features
    assert x.counts is not None and colour.counts is not None
    assert x.counts.window_bins is not None and x.counts.reference_bins is not None
    assert sum(x.counts.window_bins) == x.valid_records == 399  # one missing
    assert x.counts.window_bins[-1] >= 1  # 1e9 is in the last, open-ended bin
    assert x.counts.out_of_range is not None and x.counts.out_of_range >= 1
    assert x.counts.missing == 1 and x.counts.unseen_category is None
    assert x.quality is not None
    assert x.counts.missing / report.window_records == x.quality.missing_ratio
    assert colour.counts.window_bins is not None
    assert colour.counts.unseen_category == colour.counts.window_bins[-1] > 0  # purple
    assert colour.counts.out_of_range is None
    assert sum(x.counts.reference_bins) == 1_000
    # Both features judged at alpha 0.01: scipy.stats.norm.ppf (not ndtri), rel 1e-12.
    assert report.noise_quantile_z == pytest.approx(norm.ppf(1 - 0.01 / 2), rel=1e-12)
    assert report.prediction_noise_quantile_z == pytest.approx(norm.ppf(1 - 0.01), rel=1e-12)


def test_an_empty_window_or_pooling_disabled_carries_no_counts() -> None:
    for report in (
        _report("a", 1, 0),
        _report("a", 1, 400, pooling=PoolingSettings(enabled=False)),
    ):
        assert all(column.counts is None for column in report.features)
        assert report.prediction is None or report.prediction.counts is None
        assert report.noise_quantile_z is None and report.prediction_noise_quantile_z is None
        assert _generic([report]) == b""
