"""Helpers shared by the deploy tests: repository paths, the metrics contract, tool runners."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]
DEPLOY = REPO_ROOT / "deploy"
PROMETHEUS_DIR = DEPLOY / "prometheus"
RULES_DIR = PROMETHEUS_DIR / "rules"
PROMTOOL_TESTS_DIR = PROMETHEUS_DIR / "tests"
ALERTMANAGER_DIR = DEPLOY / "alertmanager"
GRAFANA_DIR = DEPLOY / "grafana"
RUNBOOK = REPO_ROOT / "docs" / "runbook.md"

# The metrics contract: every series the sidecar exposes. Rules and dashboards
# may use these, the histogram's series, and what the rules record; nothing else.
CONTRACT_METRICS = frozenset(
    {
        "drift_build_info",
        "drift_records_total",
        "drift_invalid_values_total",
        "drift_requests_rejected_total",
        "drift_evaluation_duration_seconds_bucket",
        "drift_evaluation_duration_seconds_sum",
        "drift_evaluation_duration_seconds_count",
        "drift_window_records",
        "drift_window_min_records",
        "drift_reference_records",
        "drift_reference_labelled_records",
        "drift_estimated_accuracy_stderr",
        "drift_last_evaluation_timestamp_seconds",
        "drift_evaluation_success",
        "drift_features_evaluated",
        "drift_features_drifted",
        "drift_features_drifted_ratio",
        "drift_feature_psi",
        "drift_feature_ks_statistic",
        "drift_feature_ks_pvalue",
        "drift_feature_jensen_shannon",
        "drift_feature_wasserstein_normalized",
        "drift_feature_chi2_statistic",
        "drift_feature_chi2_pvalue",
        "drift_feature_drifted",
        # the calibrated decision (issue 13): no-drift critical values, valid counts, judged
        *(
            f"drift_{scope}_{name}"
            for scope in ("feature", "prediction")
            for name in (
                "psi_critical",
                "jensen_shannon_critical",
                "wasserstein_normalized_critical",
                "valid_records",
                "min_valid_records",
                "judged",
            )
        ),
        "drift_feature_missing_ratio",
        "drift_feature_type_mismatch_ratio",
        "drift_feature_unseen_category_ratio",
        "drift_feature_out_of_range_ratio",
        "drift_prediction_psi",
        "drift_prediction_ks_statistic",
        "drift_prediction_ks_pvalue",
        "drift_prediction_jensen_shannon",
        "drift_prediction_wasserstein_normalized",
        "drift_prediction_chi2_statistic",
        "drift_prediction_chi2_pvalue",
        "drift_prediction_drifted",
        "drift_prediction_missing_ratio",
        "drift_prediction_type_mismatch_ratio",
        "drift_prediction_unseen_category_ratio",
        "drift_prediction_out_of_range_ratio",
        # ground truth
        "drift_labels_total",
        "drift_labels_matched_total",
        "drift_labels_unmatched_total",
        "drift_labels_expired_total",
        "drift_labels_invalid_total",
        "drift_label_buffer_entries",
        "drift_labelled_window_records",
        "drift_performance_min_labels",
        *(
            f"drift_{scope}_{metric}"
            for scope in ("performance", "reference_performance")
            for metric in (
                "accuracy",
                "precision",
                "recall",
                "f1",
                "roc_auc",
                "log_loss",
                "mae",
                "mse",
                "rmse",
                "mape",
            )
        ),
        "drift_estimated_accuracy",
        "drift_estimated_roc_auc",
        "drift_estimated_mae",
        "drift_estimated_rmse",
        "drift_estimated_rmse_stderr",
        "drift_concept_drift_detections_total",
        "drift_concept_drift_last_detection_timestamp_seconds",
        "drift_prediction_latency_seconds_bucket",
        "drift_prediction_latency_seconds_sum",
        "drift_prediction_latency_seconds_count",
    }
)

# Identifiers in PromQL that look like our metrics or recording rules.
_SERIES_NAME = re.compile(r"(?<![\w:])((?:[a-z_]+:)?drift_[a-z0-9_]+(?::[a-z0-9_]+)?)")


def series_names(expr: str) -> set[str]:
    """Metric and recording-rule names starting with drift_ (or level:drift_...) in expr."""
    # Drop string literals first: label values such as "drift-exporter" are not series.
    without_strings = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    return set(_SERIES_NAME.findall(without_strings))


def require_binary(name: str) -> str:
    """Path of a Prometheus tool, or skip the test saying what is missing."""
    path = shutil.which(name)
    if path is None:
        package = "prometheus-alertmanager" if name == "amtool" else "prometheus"
        pytest.skip(f"{name} not on PATH (CI installs it: apt-get install {package})")
    return path


def run_tool(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run a tool from the repository root, capturing output."""
    return subprocess.run(
        list(args), cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout, check=False
    )


def load_yaml(path: Path) -> Any:
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def rule_files() -> list[Path]:
    return sorted(RULES_DIR.glob("*.yml"))


def promtool_test_files() -> list[Path]:
    return sorted(PROMTOOL_TESTS_DIR.glob("*.yml"))


def all_rules() -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = []
    for path in rule_files():
        for group in load_yaml(path)["groups"]:
            rules.extend(group.get("rules") or [])
    return rules


def alert_rules() -> list[dict[str, Any]]:
    return [rule for rule in all_rules() if "alert" in rule]


def recording_rules() -> list[dict[str, Any]]:
    return [rule for rule in all_rules() if "record" in rule]


def load_script(path: Path, name: str, *, register: bool = False) -> ModuleType:
    """A repository script (not a package module) imported by its path, as module `name`;
    `register` puts it in sys.modules first (dataclasses of the script need that)."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    if register:
        sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
