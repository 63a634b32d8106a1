"""DriftCollector and render(): the drift families as exposition text, and the ReportBoard."""

from __future__ import annotations

import shutil
import subprocess
from typing import Any

import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families

from exporter.evaluation.evaluator import evaluate
from exporter.evaluation.report import EvaluationReport, failed_report
from exporter.ingest.records import PredictionBatch
from exporter.prometheus.board import ReportBoard, render
from exporter.prometheus.collectors import CONTENT_TYPE
from exporter.prometheus.drift_families import (
    CRITICAL_GAUGES,
    QUALITY_GAUGES,
    STATISTIC_GAUGES,
    DriftCollector,
)
from exporter.settings import DriftSettings, ReferenceSettings, Settings
from exporter.truth.performance import PERFORMANCE_METRICS
from exporter.window.model import ModelWindow
from exporter.window.profile import build_profile

NOW = 1_800_000_000.0
PROMTOOL = "/usr/bin/promtool"

MODEL_FAMILIES = (
    "drift_window_records",
    "drift_window_min_records",
    "drift_reference_records",
    "drift_last_evaluation_timestamp_seconds",
    "drift_evaluation_success",
    "drift_features_evaluated",
    "drift_features_drifted",
    "drift_features_drifted_ratio",
)
SCOPED_FAMILIES = tuple(
    f"drift_{scope}_{suffix}"
    for scope in ("feature", "prediction")
    for suffix in (
        *(suffix for _, suffix, _ in STATISTIC_GAUGES),
        "drifted",
        *(f"{statistic}_critical" for statistic, _ in CRITICAL_GAUGES),
        "valid_records",
        "min_valid_records",
        "judged",
        *(field for field, _ in QUALITY_GAUGES),
    )
)
PERFORMANCE_FAMILIES = (
    "drift_labelled_window_records",
    "drift_performance_min_labels",
    *(f"drift_performance_{name}" for name in PERFORMANCE_METRICS),
    *(f"drift_reference_performance_{name}" for name in PERFORMANCE_METRICS),
    "drift_estimated_accuracy",
    "drift_estimated_roc_auc",
    "drift_estimated_accuracy_stderr",
    "drift_reference_labelled_records",
    "drift_estimated_mae",
    "drift_estimated_rmse",
    "drift_estimated_rmse_stderr",
)
ALL_FAMILIES = (*MODEL_FAMILIES, *SCOPED_FAMILIES, *PERFORMANCE_FAMILIES)
#: Present only while some model's window is non-empty (pooling.enabled, the default).
POOLING_FAMILIES = (
    *(
        f"drift_{scope}_{kind}_bin_records"
        for scope in ("feature", "prediction")
        for kind in ("window", "reference")
    ),
    *(
        f"drift_feature_{field}_records"
        for field in ("missing", "type_mismatch", "unseen_category", "out_of_range")
    ),
    "drift_noise_quantile_z",
    "drift_prediction_noise_quantile_z",
)


def _report(model: str, seed: int, window_records: int, min_records: int) -> EvaluationReport:
    """x numeric (shifted in the window), colour categorical, a numeric prediction."""
    rng = np.random.default_rng(seed)
    n = 2_000
    profile = build_profile(
        model,
        {
            "x": rng.normal(size=n).tolist(),
            "colour": rng.choice(["red", "green", "blue"], size=n).tolist(),
        },
        rng.random(n).tolist(),
        None,
        declared={},
        prediction_kind=None,
        settings=ReferenceSettings(),
    )
    window = ModelWindow(profile, Settings(), lambda: NOW - 1.0)
    x = rng.normal(1.0, 1.0, window_records)
    colours = rng.choice(["red", "green", "blue", "purple"], size=window_records)
    features: list[dict[str, Any]] = [
        {"x": float(x[i]), "colour": str(colours[i])} for i in range(window_records)
    ]
    features[0]["x"] = None
    predictions = rng.random(window_records).tolist()
    window.append(
        PredictionBatch(features, predictions, [None] * window_records, [None] * window_records)
    )
    return evaluate(window.snapshot(), DriftSettings(), min_records, NOW)


@pytest.fixture(scope="module")
def ok_report() -> EvaluationReport:
    report = _report("alpha", seed=1, window_records=800, min_records=500)
    assert report.status == "ok"
    return report


@pytest.fixture(scope="module")
def waiting_report() -> EvaluationReport:
    report = _report("beta", seed=2, window_records=50, min_records=500)
    assert report.status == "insufficient_data"
    return report


@pytest.fixture(scope="module")
def rendered(ok_report: EvaluationReport, waiting_report: EvaluationReport) -> str:
    return render({"alpha": ok_report, "beta": waiting_report}).decode("utf-8")


def _families(text: str) -> dict[str, Any]:
    return {family.name: family for family in text_string_to_metric_families(text)}


def _samples(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    family = _families(text)[name]
    return {tuple(sorted(s.labels.items())): s.value for s in family.samples}


# families, HELP and TYPE


def test_render_emits_help_and_gauge_type_for_every_drift_family(rendered: str) -> None:
    for name in (*ALL_FAMILIES, *POOLING_FAMILIES):
        assert f"# HELP {name} " in rendered, name
        assert f"# TYPE {name} gauge\n" in rendered, name
    assert set(_families(rendered)) == {*ALL_FAMILIES, *POOLING_FAMILIES}


def test_help_says_values_are_computed_each_evaluation_interval(rendered: str) -> None:
    for family in _families(rendered).values():
        if family.name.startswith("drift_reference_performance_") or family.name.endswith(
            "_reference_bin_records"
        ):
            # The baseline is computed once, at upload, and published with every evaluation.
            assert "Computed once per reference upload" in family.documentation
            assert "published each evaluation interval" in family.documentation
        else:
            assert "Computed each evaluation interval" in family.documentation


def test_samples_carry_no_timestamps(rendered: str) -> None:
    for family in _families(rendered).values():
        for sample in family.samples:
            assert sample.timestamp is None


def test_label_sets_are_exactly_model_and_feature_or_model(rendered: str) -> None:
    families = _families(rendered)
    for name, family in families.items():
        expected = {"model", "feature"} if name.startswith("drift_feature_") else {"model"}
        if name.endswith("_bin_records"):
            expected.add("bin")  # the pooling families' reference bin
        for sample in family.samples:
            assert set(sample.labels) == expected, name


def test_render_output_is_identical_for_identical_reports(
    ok_report: EvaluationReport, waiting_report: EvaluationReport
) -> None:
    reports = {"alpha": ok_report, "beta": waiting_report}
    assert render(reports) == render(dict(reversed(reports.items())))


def test_content_type_is_text_format_0_0_4() -> None:
    assert CONTENT_TYPE == "text/plain; version=0.0.4; charset=utf-8"


# drift gauges and insufficient data


def test_drift_gauges_are_absent_for_an_insufficient_data_report(rendered: str) -> None:
    families = _families(rendered)
    for suffix in (*(s for _, s, _ in STATISTIC_GAUGES), "drifted"):
        for scope in ("feature", "prediction"):
            models = {s.labels["model"] for s in families[f"drift_{scope}_{suffix}"].samples}
            assert "beta" not in models, (scope, suffix)
    for name in (
        "drift_features_evaluated",
        "drift_features_drifted",
        "drift_features_drifted_ratio",
    ):
        assert {s.labels["model"] for s in families[name].samples} == {"alpha"}


def test_quality_gauges_are_present_for_an_insufficient_data_report(
    rendered: str, waiting_report: EvaluationReport
) -> None:
    missing = _samples(rendered, "drift_feature_missing_ratio")
    assert missing[(("feature", "x"), ("model", "beta"))] == 1 / 50
    assert missing[(("feature", "colour"), ("model", "beta"))] == 0.0
    prediction = _samples(rendered, "drift_prediction_missing_ratio")
    assert prediction[(("model", "beta"),)] == 0.0
    assert waiting_report.prediction is not None


def test_model_gauges_are_present_for_every_non_error_report(rendered: str) -> None:
    assert _samples(rendered, "drift_window_records") == {
        (("model", "alpha"),): 800.0,
        (("model", "beta"),): 50.0,
    }
    assert _samples(rendered, "drift_window_min_records") == {
        (("model", "alpha"),): 500.0,
        (("model", "beta"),): 500.0,
    }
    assert _samples(rendered, "drift_reference_records") == {
        (("model", "alpha"),): 2_000.0,
        (("model", "beta"),): 2_000.0,
    }
    assert _samples(rendered, "drift_evaluation_success") == {
        (("model", "alpha"),): 1.0,
        (("model", "beta"),): 1.0,
    }
    assert _samples(rendered, "drift_last_evaluation_timestamp_seconds") == {
        (("model", "alpha"),): NOW,
        (("model", "beta"),): NOW,
    }


def test_statistic_gauges_carry_the_report_values(
    rendered: str, ok_report: EvaluationReport
) -> None:
    by_name = {column.name: column for column in ok_report.features}
    for statistic, suffix, _ in STATISTIC_GAUGES:
        samples = _samples(rendered, f"drift_feature_{suffix}")
        for name, column in by_name.items():
            result = column.statistic(statistic)
            key = (("feature", name), ("model", "alpha"))
            if result is None:
                assert key not in samples, (suffix, name)
            else:
                value = result.pvalue if suffix.endswith("pvalue") else result.value
                assert samples[key] == value, (suffix, name)
    # Numeric columns get KS and Wasserstein, categorical ones chi-squared.
    assert set(_samples(rendered, "drift_feature_ks_pvalue")) == {
        (("feature", "x"), ("model", "alpha"))
    }
    assert set(_samples(rendered, "drift_feature_chi2_pvalue")) == {
        (("feature", "colour"), ("model", "alpha"))
    }


def test_pvalue_gauges_export_the_uncorrected_pvalue(
    rendered: str, ok_report: EvaluationReport
) -> None:
    x = ok_report.features[0].statistic("ks")
    assert x is not None
    samples = _samples(rendered, "drift_feature_ks_pvalue")
    assert samples[(("feature", "x"), ("model", "alpha"))] == x.pvalue


def test_drifted_flags_and_model_counts_match_the_report(
    rendered: str, ok_report: EvaluationReport
) -> None:
    flags = _samples(rendered, "drift_feature_drifted")
    assert flags == {
        (("feature", c.name), ("model", "alpha")): float(c.drifted) for c in ok_report.features
    }
    assert flags[(("feature", "x"), ("model", "alpha"))] == 1.0
    assert _samples(rendered, "drift_features_evaluated") == {(("model", "alpha"),): 2.0}
    drifted = ok_report.features_drifted
    assert _samples(rendered, "drift_features_drifted") == {(("model", "alpha"),): float(drifted)}
    assert _samples(rendered, "drift_features_drifted_ratio") == {
        (("model", "alpha"),): drifted / 2
    }
    assert ok_report.prediction is not None
    assert _samples(rendered, "drift_prediction_drifted") == {
        (("model", "alpha"),): float(ok_report.prediction.drifted)
    }


def test_unseen_and_out_of_range_ratios_appear_only_for_their_kinds(rendered: str) -> None:
    unseen = _samples(rendered, "drift_feature_unseen_category_ratio")
    assert {key[0][1] for key in unseen} == {"colour"}
    out_of_range = _samples(rendered, "drift_feature_out_of_range_ratio")
    assert {key[0][1] for key in out_of_range} == {"x"}
    assert 0.0 < unseen[(("feature", "colour"), ("model", "alpha"))] < 1.0


def test_error_report_exports_success_zero_and_keeps_the_last_success_time(
    ok_report: EvaluationReport,
) -> None:
    failed = failed_report(ok_report, "alpha", NOW + 15.0, "boom", 500, DriftSettings())
    text = render({"alpha": failed}).decode("utf-8")
    assert _samples(text, "drift_evaluation_success") == {(("model", "alpha"),): 0.0}
    assert _samples(text, "drift_last_evaluation_timestamp_seconds") == {(("model", "alpha"),): NOW}
    assert _samples(text, "drift_window_records") == {}
    assert _samples(text, "drift_feature_psi") == {}


def test_render_of_no_reports_has_families_but_no_samples() -> None:
    families = _families(render({}).decode("utf-8"))
    assert set(families) == set(ALL_FAMILIES)
    assert all(not family.samples for family in families.values())


def test_collector_builds_fresh_families_on_every_collect(ok_report: EvaluationReport) -> None:
    collector = DriftCollector({"alpha": ok_report})
    first = [(m.name, len(m.samples)) for m in collector.collect()]
    second = [(m.name, len(m.samples)) for m in collector.collect()]
    assert first == second


# promtool


def test_rendered_text_passes_promtool_check_metrics(rendered: str) -> None:
    promtool = PROMTOOL if shutil.which(PROMTOOL) else shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (expected at /usr/bin/promtool)")
    result = subprocess.run(
        [promtool, "check", "metrics"],
        input=rendered.encode("utf-8"),
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()
    assert result.stdout.decode().strip() == ""


# ReportBoard


def test_report_board_starts_empty() -> None:
    board = ReportBoard()
    assert board.rendered.text == b""
    assert board.get("alpha") is None


def test_report_board_publish_renders_the_text_once(
    ok_report: EvaluationReport, waiting_report: EvaluationReport
) -> None:
    board = ReportBoard()
    board.publish([ok_report, waiting_report])
    assert board.get("alpha") is ok_report
    assert board.get("beta") is waiting_report
    assert board.rendered.text == render({"alpha": ok_report, "beta": waiting_report})


def test_report_board_publish_replaces_only_the_models_it_is_given(
    ok_report: EvaluationReport, waiting_report: EvaluationReport
) -> None:
    board = ReportBoard()
    board.publish([ok_report, waiting_report])
    newer = failed_report(ok_report, "alpha", NOW + 15.0, "boom", 500, DriftSettings())
    board.publish([newer])
    assert board.get("alpha") is newer
    assert board.get("beta") is waiting_report
    assert _samples(board.rendered.text.decode(), "drift_evaluation_success") == {
        (("model", "alpha"),): 0.0,
        (("model", "beta"),): 1.0,
    }


def test_report_board_discard_removes_every_series_of_the_model(
    ok_report: EvaluationReport, waiting_report: EvaluationReport
) -> None:
    board = ReportBoard()
    board.publish([ok_report, waiting_report])
    assert 'model="alpha"' in board.rendered.text.decode()
    board.discard("alpha")
    text = board.rendered.text.decode()
    assert 'model="alpha"' not in text
    assert 'model="beta"' in text
    assert board.get("alpha") is None
    assert board.rendered.text == render({"beta": waiting_report})


def test_report_board_discard_of_an_unknown_model_changes_nothing(
    ok_report: EvaluationReport,
) -> None:
    board = ReportBoard()
    board.publish([ok_report])
    before = board.rendered.text
    board.discard("ghost")
    assert board.rendered.text is before
    assert board.get("alpha") is ok_report
