"""One meaning of "drifted": real (above the calibrated critical value at this window's size)
and material (above the effect floor), at every window size; too few valid values: not judged."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from exporter.evaluation.decision import (
    critical_quantile,
    effect_result,
    min_valid_records_for,
)
from exporter.evaluation.evaluator import evaluate
from exporter.evaluation.report import EvaluationReport
from exporter.ingest.records import PredictionBatch
from exporter.settings import DriftSettings, ReferenceSettings, Settings
from exporter.stats.calibration import psi_critical
from exporter.window.model import ModelWindow
from exporter.window.profile import ReferenceProfile, build_profile

NOW = 1_700_000_000.0


def _profile(columns: dict[str, list[Any]]) -> ReferenceProfile:
    return build_profile(
        "m",
        columns,
        None,
        None,
        declared={},
        prediction_kind=None,
        settings=ReferenceSettings(bins=10, sample_size=10_000),
    )


def _report(
    profile: ReferenceProfile, window: dict[str, list[Any]], min_records: int = 1, **drift: Any
) -> EvaluationReport:
    settings = Settings(window={"max_records": 100_000, "sample_size": 100_000})
    model = ModelWindow(profile, settings, lambda: NOW - 1.0)
    n = len(next(iter(window.values())))
    features = [{name: values[i] for name, values in window.items()} for i in range(n)]
    model.append(PredictionBatch(features, [None] * n, [None] * n, [None] * n))
    return evaluate(model.snapshot(), DriftSettings(**drift), min_records, NOW)


def test_the_critical_quantile_holds_the_family_to_alpha() -> None:
    assert critical_quantile(0.01, 20) == pytest.approx(1 - 0.01 / 20)
    assert critical_quantile(0.01, 1) == pytest.approx(0.99)
    assert critical_quantile(0.01, 0) == pytest.approx(0.99)  # nothing judged: no division by 0


def test_a_statistic_drifts_at_max_of_floor_and_critical() -> None:
    drift = DriftSettings()
    assert effect_result("psi", 0.04, 0.03, drift).drifted is True  # above both
    assert effect_result("psi", 0.02, 0.03, drift).drifted is False  # noise at this n
    assert effect_result("psi", 0.004, 0.001, drift).drifted is False  # real, immaterial
    result = effect_result("psi", 0.02, 0.03, drift)
    assert (result.threshold, result.critical, result.floor) == (0.03, 0.03, drift.psi_threshold)
    assert effect_result("psi", 0.02, None, drift).threshold == drift.psi_threshold


def test_the_same_shift_is_noise_in_a_small_window_and_drift_in_a_full_one() -> None:
    rng = np.random.default_rng(1)
    profile = _profile({"x": rng.normal(size=10_000).tolist()})
    small = _report(profile, {"x": rng.normal(0.3, 1.0, 100).tolist()})
    full = _report(profile, {"x": rng.normal(0.3, 1.0, 5_000).tolist()})
    small_psi, full_psi = small.features[0].statistic("psi"), full.features[0].statistic("psi")
    assert small_psi.critical > full_psi.critical  # the noise bound falls with n
    assert small_psi.value > small_psi.floor  # above the floor, yet
    assert small.features[0].drifted is False  # within the noise of 100 values
    assert full.features[0].drifted is True
    # Ten equal-mass bins, every one expecting 10 values at n = 100: nothing pooled.
    expected = psi_critical(
        100, 10_000, 10, critical_quantile(0.01, 1), reference_proportions=[0.1] * 10
    )
    assert small_psi.critical == pytest.approx(expected, rel=1e-9)


def test_a_feature_with_too_few_valid_values_is_not_judged_and_left_out_of_the_share() -> None:
    rng = np.random.default_rng(2)
    profile = _profile({"x": rng.normal(size=5_000).tolist(), "y": rng.normal(size=5_000).tolist()})
    sparse: list[Any] = [None] * 600
    sparse[:30] = rng.normal(3.0, 1.0, 30).tolist()  # 30 valid values, far shifted
    report = _report(profile, {"x": sparse, "y": rng.normal(size=600).tolist()}, min_records=500)
    x, y = report.features
    assert x.valid_records == 30 and x.min_valid_records == min_valid_records_for(
        10, DriftSettings()
    )
    assert x.not_judged == "too_few_valid_values"
    assert x.drifted is None and x.statistics == ()
    assert y.not_judged is None and y.drifted is False
    assert report.features_evaluated == 1
    assert report.drifted_ratio == 0.0
    document = x.to_dict()
    assert document["not_judged"] == "too_few_valid_values" and document["drifted"] is None


def test_min_valid_records_scales_with_the_bins_unless_configured() -> None:
    assert min_valid_records_for(10, DriftSettings()) == 50
    assert min_valid_records_for(3, DriftSettings()) == 15  # a boolean: two values + overflow
    assert min_valid_records_for(51, DriftSettings()) == 50  # rare categories get pooled
    assert min_valid_records_for(51, DriftSettings(min_valid_records=20)) == 20


@pytest.mark.parametrize("method", ["psi", "jensen_shannon", "wasserstein_normalized"])
def test_every_effect_method_flags_a_half_sd_shift_at_a_thousand_and_not_an_unmoved_feature(
    method: str,
) -> None:
    rng = np.random.default_rng(3)
    reference = {name: rng.normal(size=10_000).tolist() for name in ("a", "b", "c")}
    profile = _profile(reference)
    window = {name: rng.normal(size=1_000).tolist() for name in ("a", "b", "c")}
    window["a"] = rng.normal(0.5, 1.0, 1_000).tolist()
    report = _report(profile, window, method=method)
    assert [column.drifted for column in report.features] == [True, False, False]
    for column in report.features:
        statistic = column.statistic(method)
        assert column.drifted is (statistic.value >= max(statistic.floor, statistic.critical))
