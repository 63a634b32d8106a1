"""evaluate() for a regressor: the direct loss estimate from the whole window's prediction
histogram, its gates, and the estimate against the realised RMSE of the same window."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families

from exporter.evaluation.evaluator import evaluate
from exporter.evaluation.report import EvaluationReport
from exporter.ingest.records import LabelBatch, PredictionBatch
from exporter.prometheus.board import render
from exporter.settings import DriftSettings, ReferenceSettings, Settings
from exporter.stats.binning import bin_counts
from exporter.stats.loss_estimation import estimated_loss
from exporter.window.model import ModelWindow
from exporter.window.profile import NumericProfile, ReferenceProfile, build_profile

NOW = 1_800_000_123.0


def _draw(rng: np.random.Generator, n: int, shift: float = 0.0) -> dict[str, Any]:
    """y = x + 0.3 x^2 + noise growing with |x|; the model predicts 1.2 x (as in
    tests/unit/test_stats_loss_estimation.py: only x moves)."""
    x = rng.normal(shift, 1.0, n)
    y = x + 0.3 * x**2 + rng.normal(0.0, 0.5 + 0.5 * np.abs(x))
    return {"x": x.tolist(), "prediction": (1.2 * x).tolist(), "label": y.tolist()}


def _profile(data: dict[str, Any], labelled: bool = True) -> ReferenceProfile:
    return build_profile(
        "m",
        {"x": data["x"]},
        data["prediction"],
        data["label"] if labelled else None,
        declared={},
        prediction_kind=None,
        settings=ReferenceSettings(),
    )


def _evaluation(
    profile: ReferenceProfile, data: dict[str, Any], min_records: int = 100
) -> EvaluationReport:
    window = ModelWindow(profile, Settings(window={"max_records": 100_000}), lambda: NOW - 1.0)
    n = len(data["x"])
    ids: list[str | None] = [str(i) for i in range(n)]
    rows = [{"x": v} for v in data["x"]]
    window.append(PredictionBatch(rows, data["prediction"], ids, [None] * n))
    window.add_labels(LabelBatch([str(i) for i in range(n)], data["label"]))
    return evaluate(window.snapshot(), DriftSettings(), min_records, NOW, min_labels=100)


def _report(profile: ReferenceProfile, data: dict[str, Any], min_records: int = 100) -> Any:
    performance = _evaluation(profile, data, min_records).performance
    assert performance is not None
    return performance


@pytest.fixture(scope="module")
def profile() -> ReferenceProfile:
    return _profile(_draw(np.random.default_rng(7), 5_000))


def test_the_reference_of_a_regressor_holds_a_loss_table_on_its_prediction_bins(
    profile: ReferenceProfile,
) -> None:
    assert profile.performance is not None and profile.performance.loss_table is not None
    assert profile.performance.spec.task == "regression"
    assert isinstance(profile.prediction, NumericProfile)
    assert len(profile.performance.loss_table.group) == profile.prediction.bins
    assert int(profile.performance.loss_table.labels.sum()) == 5_000
    assert profile.summary()["performance"]["loss_estimated"] is True


def test_the_estimate_weights_the_table_by_every_prediction_in_the_window(
    profile: ReferenceProfile,
) -> None:
    data = _draw(np.random.default_rng(9), 3_000, shift=0.5)
    performance = _report(profile, data)
    assert isinstance(profile.prediction, NumericProfile)
    assert profile.performance is not None and profile.performance.loss_table is not None
    expected = estimated_loss(
        profile.performance.loss_table, bin_counts(data["prediction"], profile.prediction.edges)
    )
    # The same histogram through the same function: rtol=1e-12 for the summation order.
    assert performance.estimated_mae == pytest.approx(expected.mae, rel=1e-12)
    assert performance.estimated_mae_stderr == pytest.approx(expected.mae_stderr, rel=1e-12)
    assert performance.estimated_rmse == pytest.approx(expected.rmse, rel=1e-12)
    assert performance.estimated_rmse_stderr == pytest.approx(expected.rmse_stderr, rel=1e-12)
    # The realised RMSE of the same labelled window is within 3 standard errors of it.
    realised = performance.metrics["rmse"]
    assert abs(realised - performance.estimated_rmse) < 3 * performance.estimated_rmse_stderr
    document = json.loads(json.dumps(performance.to_dict(), allow_nan=False))
    assert document["estimated"]["rmse"] == performance.estimated_rmse
    assert document["estimated"]["accuracy"] is None  # no CBPE for a regressor


def test_the_estimate_waits_for_min_records(profile: ReferenceProfile) -> None:
    performance = _report(profile, _draw(np.random.default_rng(10), 200), min_records=500)
    assert performance.estimated_rmse is None and performance.estimated_mae is None


def test_a_reference_without_labels_gives_no_estimate() -> None:
    rng = np.random.default_rng(11)
    unlabelled = _profile(_draw(rng, 1_000), labelled=False)
    assert unlabelled.performance is None
    performance = _report(unlabelled, _draw(rng, 500))
    assert performance.estimated_rmse is None and performance.estimated_rmse_stderr is None


def test_the_gauges_carry_the_estimate_and_a_classifier_has_none(
    profile: ReferenceProfile,
) -> None:
    report = _evaluation(profile, _draw(np.random.default_rng(12), 1_000, shift=1.0))
    text = render({"m": report}).decode()
    samples = {
        family.name: {s.labels["model"]: s.value for s in family.samples}
        for family in text_string_to_metric_families(text)
    }
    performance = report.performance
    assert performance is not None
    assert samples["drift_estimated_mae"] == {"m": performance.estimated_mae}
    assert samples["drift_estimated_rmse"] == {"m": performance.estimated_rmse}
    assert samples["drift_estimated_rmse_stderr"] == {"m": performance.estimated_rmse_stderr}
    assert samples["drift_estimated_accuracy"] == {}
