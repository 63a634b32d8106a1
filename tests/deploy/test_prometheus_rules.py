"""Prometheus config, recording rules, thresholds and alerts: promtool plus style checks."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from deploy_support import (
    CONTRACT_METRICS,
    PROMETHEUS_DIR,
    PROMTOOL_TESTS_DIR,
    RULES_DIR,
    RUNBOOK,
    alert_rules,
    load_yaml,
    promtool_test_files,
    recording_rules,
    require_binary,
    rule_files,
    run_tool,
    series_names,
)

from tests.support import POOLING_FAMILIES

PROMETHEUS_YML = PROMETHEUS_DIR / "prometheus.yml"
SEVERITIES = {"warning", "critical"}
#: The always-firing heartbeat (kube-prometheus's name and severity): no ModelDrift prefix, no
#: `for:`, no model, and no case where it does not fire.
WATCHDOG = "Watchdog"
POOLING_METRICS = frozenset(POOLING_FAMILIES)  # what the pooled rules read
POOLED_RECORDING_TEST = PROMTOOL_TESTS_DIR / "drift_pooled_recording_test.yml"
# One replica's alerts keep the instance; every other alert is the model's (drift_pooled.yml).
PER_REPLICA_ALERTS = {
    "ModelDriftExporterDown",
    "ModelDriftEvaluationStale",
    "ModelDriftEvaluationFailing",
}
# Alerts that judge the distribution or quality of a model's data: gated on a full window
# and compared with a per-model threshold series.
DRIFT_GAUGE = re.compile(r"\bdrift_(feature|prediction|features_drifted)_\w+")
GATE = "(drift_window_records >= drift_window_min_records)"
# The drift alerts (issue 13): they fire on a recorded decision of drift-decisions with fresh
# evidence, and are warnings, except the severe prediction drift, which pages.
DRIFT_GROUPS = {"drift-features", "drift-prediction"}
DECISION = re.compile(r"^(feature|model):(drift_\w+):(drifted|severe|many)$")
# The labels of one model of one deployment under the default _config (deploy/mixin): what
# thresholds are grouped by and joined on, so two deployments' same-named models never merge.
GROUP_LABELS = "cluster, namespace, job, model"
MIXIN_RULE_SOURCES = PROMETHEUS_DIR.parent / "mixin" / "rule_files"
POOLED_DECISION = re.compile(
    r"^(model_feature|model):(drift_\w+):(pooled_drifted|pooled_severe|pooled_many)$"
)


def _alert_names() -> list[str]:
    return sorted({rule["alert"] for rule in alert_rules()})


def _drift_alerts() -> list[dict[str, Any]]:
    # ModelDriftReferenceMismatch reads the reference bins: no window to be thin.
    return [
        rule
        for rule in alert_rules()
        if DRIFT_GAUGE.search(rule["expr"]) and rule["alert"] != "ModelDriftReferenceMismatch"
    ]


def _group_rules(names: set[str]) -> list[dict[str, Any]]:
    return [
        rule
        for path in rule_files()
        for group in load_yaml(path)["groups"]
        if group["name"] in names
        for rule in group.get("rules") or []
    ]


def _threshold_names_in(expr: str) -> set[str]:
    return set(re.findall(r"model:drift_threshold_\w+:value", expr))


# ---------------------------------------------------------------- promtool


def test_promtool_accepts_prometheus_config() -> None:
    promtool = require_binary("promtool")
    result = run_tool(promtool, "check", "config", str(PROMETHEUS_YML))
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_accepts_every_rule_file() -> None:
    promtool = require_binary("promtool")
    result = run_tool(promtool, "check", "rules", *map(str, rule_files()))
    assert result.returncode == 0, result.stdout + result.stderr


def test_there_are_promtool_test_files() -> None:
    assert promtool_test_files(), "no promtool test files"


@pytest.mark.parametrize("path", promtool_test_files(), ids=lambda p: p.name)
def test_promtool_rule_unit_tests_pass(path: Path) -> None:
    # One file per run: each evaluates every rule group (drift_pooled.yml included) at every
    # step of its cases, 5-100 s on a loaded 2-core machine; the deadline is not a speed bound.
    promtool = require_binary("promtool")
    result = run_tool(promtool, "test", "rules", str(path), timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr


# ---------------------------------------------------------------- prometheus.yml


def test_prometheus_config_scrapes_sidecar_every_15s_and_itself() -> None:
    config = load_yaml(PROMETHEUS_YML)
    assert config["global"]["scrape_interval"] == "15s"
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    sidecar = jobs["drift-exporter"]
    assert sidecar.get("metrics_path", "/metrics") == "/metrics"
    assert sidecar.get("scrape_interval", "15s") == "15s"
    targets = [t for sc in sidecar["static_configs"] for t in sc["targets"]]
    assert targets == ["sidecar:9808"]
    assert "prometheus" in jobs


def test_prometheus_config_loads_rules_and_sends_to_alertmanager() -> None:
    config = load_yaml(PROMETHEUS_YML)
    assert config["rule_files"] == ["rules/*.yml"]
    targets = [
        target
        for am in config["alerting"]["alertmanagers"]
        for sc in am["static_configs"]
        for target in sc["targets"]
    ]
    assert targets == ["alertmanager:9093"]


# ---------------------------------------------------------------- rule files


@pytest.mark.parametrize("path", rule_files() + promtool_test_files(), ids=lambda p: p.name)
def test_yaml_parses_strictly(path: Path) -> None:
    # Go's YAML parser accepts some mis-indented documents that silently drop
    # rules; PyYAML is stricter, so a parse here guards against that.
    document = load_yaml(path)
    assert isinstance(document, dict)


def test_rule_group_names_are_unique() -> None:
    names = [group["name"] for path in rule_files() for group in load_yaml(path)["groups"]]
    assert len(names) == len(set(names)), names


def test_recording_rules_are_named_level_metric_operations() -> None:
    for rule in recording_rules():
        assert re.fullmatch(r"[a-z_]+:drift_[a-z0-9_]+:[a-z0-9_]+", rule["record"]), rule["record"]


def test_aggregating_recording_rules_use_without_except_thresholds() -> None:
    # STYLE.md: `without`, so job/instance survive. Thresholds are the one
    # exception: keyed on one model of one deployment so the alerts' join stays one-to-one.
    for rule in recording_rules():
        expr = rule["expr"]
        if rule["record"].startswith("model:drift_threshold_"):
            assert f"group by ({GROUP_LABELS})" in expr, rule["record"]
        elif re.search(r"(?<![:\w])(sum|max|min|avg|count|group)\s*(without|by)?\s*\(", expr):
            assert " by (" not in expr and "without (" in expr, rule["record"]


def test_rules_use_only_contract_metrics_and_recorded_series() -> None:
    recorded = {rule["record"] for rule in recording_rules()}
    for rule in recording_rules() + alert_rules():
        for name in series_names(rule["expr"]):
            if name.endswith(":override"):
                continue  # optional per-model series; absent unless configured
            known = CONTRACT_METRICS | POOLING_METRICS
            assert name in known or name in recorded, (name, rule.get("alert"))


def test_every_threshold_value_falls_back_from_its_override() -> None:
    thresholds = [r for r in recording_rules() if r["record"].startswith("model:drift_threshold_")]
    assert len(thresholds) == 23
    for rule in thresholds:
        name = rule["record"]
        assert name.endswith(":value"), name
        override = name.removesuffix(":value") + ":override"
        expr = " ".join(rule["expr"].split())
        # the override (keyed on model) spread to every deployment of the model, else the default
        deployments = f"group by ({GROUP_LABELS}) (drift_window_records)"
        assert re.fullmatch(
            rf"\( {re.escape(override)} \* on \(model\) group_right \(\) "
            rf"{re.escape(deployments)} \) "
            rf"or on \({GROUP_LABELS}\) [0-9.]+ \* {re.escape(deployments)}",
            expr,
        ), expr


def test_shipped_override_file_overrides_nothing_yet() -> None:
    groups = load_yaml(RULES_DIR / "drift_threshold_overrides.yml")["groups"]
    assert [group["name"] for group in groups] == ["drift-threshold-overrides"]
    assert not groups[0]["rules"]


def test_override_fixture_only_sets_model_labels_on_known_thresholds() -> None:
    values = {r["record"] for r in recording_rules() if r["record"].endswith(":value")}
    fixture = load_yaml(PROMTOOL_TESTS_DIR / "fixtures" / "threshold_overrides.yml")
    rules = [rule for group in fixture["groups"] for rule in group["rules"]]
    assert rules
    for rule in rules:
        assert rule["record"].removesuffix(":override") + ":value" in values
        assert set(rule["labels"]) == {"model"}
        assert re.fullmatch(r"vector\([0-9.]+\)", rule["expr"])


# ---------------------------------------------------------------- alerts


def test_alert_names_are_camel_case_with_model_drift_prefix() -> None:
    for name in _alert_names():
        assert name == WATCHDOG or re.fullmatch(r"ModelDrift(?:[A-Z][a-z]+)+", name), name


def test_required_alerts_exist() -> None:
    required = {
        "ModelDriftFeatureShift",
        "ModelDriftFeatureJensenShannon",
        "ModelDriftFeatureWasserstein",
        "ModelDriftManyFeaturesDrifted",
        "ModelDriftPredictionShift",
        "ModelDriftFeatureMissingValues",
        "ModelDriftFeatureUnseenCategories",
        "ModelDriftFeatureOutOfRange",
        "ModelDriftExporterDown",
        "ModelDriftExporterAbsent",
        "ModelDriftEvaluationStale",
        "ModelDriftNoTraffic",
        "ModelDriftWindowTooSmall",
        "ModelDriftPerformanceDrop",
        "ModelDriftEstimatedPerformanceDrop",
        "ModelDriftConceptDrift",
        "ModelDriftReferenceMismatch",
        WATCHDOG,
    }
    assert required <= set(_alert_names())


def test_every_alert_has_a_severity_of_warning_or_critical() -> None:
    for rule in alert_rules():
        if rule["alert"] == WATCHDOG:
            # kube-prometheus's convention: routed apart, never a page nor a ticket.
            assert rule["labels"] == {"severity": "none"}
            assert rule["expr"] == "vector(1)"
            assert "for" not in rule
            continue
        assert rule["labels"]["severity"] in SEVERITIES, rule["alert"]


def test_two_rules_with_one_name_differ_in_severity() -> None:
    seen: dict[str, list[str]] = {}
    for rule in alert_rules():
        seen.setdefault(rule["alert"], []).append(rule["labels"]["severity"])
    for name, severities in seen.items():
        assert len(severities) == len(set(severities)), name


def test_every_for_has_a_comment_saying_why() -> None:
    # The comments live in the rules' source, the mixin's jsonnet (the YAML is its render).
    sources = sorted(MIXIN_RULE_SOURCES.glob("*.libsonnet"))
    assert sources
    found = 0
    for path in sources:
        lines = path.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines):
            if re.match(r"\s*'for':", line):
                found += 1
                previous = lines[number - 1].strip()
                assert "//" in line or previous.startswith("//"), f"{path.name}:{number + 1}"
    assert found == sum("for" in rule for rule in alert_rules())


def test_every_alert_holds_for_a_while() -> None:
    for rule in alert_rules():
        if rule["alert"] != WATCHDOG:
            assert re.fullmatch(r"[1-9][0-9]*m", rule.get("for", "")), rule["alert"]


def test_annotations_follow_the_style() -> None:
    for rule in alert_rules():
        name, annotations = rule["alert"], rule["annotations"]
        assert set(annotations) == {"summary", "description", "runbook_url"}, name
        summary = annotations["summary"]
        assert "{{" not in summary and summary.endswith("."), name
        description = annotations["description"]
        assert "$value" in description, name
        if name not in {"ModelDriftExporterDown", "ModelDriftExporterAbsent", WATCHDOG}:
            assert "{{ $labels.model }}" in description, name
        if "drift_feature_" in rule["expr"]:
            assert "{{ $labels.feature }}" in description, name
        # The base is one setting (deploy/prometheus/render_rules.py; tests/deploy/
        # test_runbook_links.py checks the render); the anchor is the runbook heading's.
        assert annotations["runbook_url"].endswith(f"/runbook.md#alert-name-{name.lower()}")


def test_every_alert_has_a_runbook_section() -> None:
    headings = set(re.findall(r"^## Alert Name: (\w+)$", RUNBOOK.read_text(), re.MULTILINE))
    assert set(_alert_names()) <= headings


def test_runbook_explains_threshold_overrides() -> None:
    text = RUNBOOK.read_text()
    assert "## Changing thresholds per model" in text
    assert "drift_threshold_overrides.yml" in text


def test_quality_alerts_are_the_models_or_one_replicas_alone() -> None:
    alerts = _group_rules({"drift-data-quality"})
    assert len(alerts) == 8
    for rule in alerts:
        expr = " ".join(rule["expr"].split())
        kind = re.search(r"drift_feature_(\w+)_ratio:pooled", expr).group(1)  # type: ignore[union-attr]
        threshold = f"model:drift_threshold_feature_{kind}_ratio_{rule['labels']['severity']}:value"
        ratio = f"model_feature:drift_feature_{kind}_ratio:pooled"
        pooled = f"( {ratio} > on ({GROUP_LABELS}) group_left () {threshold} )"
        own = f"( drift_feature_{kind}_ratio > on ({GROUP_LABELS}) group_left () {threshold} )"
        # The model's pooled ratio on the pooled window, or (issue 14) one replica's own ratio on
        # its own window (`ignoring (feature)`: the window of the same job, instance and model)
        # while the pool's is not above the same threshold.
        assert expr == (
            f"# The model's pooled window ... ( {pooled} and ignoring (feature) "
            "(model_feature:drift_window_records:pooled >= model:drift_window_min_records:max) ) "
            "or # ... or one replica's own full window, while the pooled ratio is not above. "
            f"( {own} and ignoring (feature) {GATE} unless ignoring (instance, pod) {pooled} )"
        ), rule["alert"]


def test_no_rule_joins_a_gate_on_model_alone() -> None:
    # `and on (model)` lets one replica's window or labels open another's gate (issue 14);
    # only the per-model thresholds are joined on model (with group_left).
    for rule in recording_rules() + alert_rules():
        expr = " ".join(rule["expr"].split())
        assert "and on (model)" not in expr, rule.get("alert") or rule.get("record")
        for join in re.findall(r"on \(model\)(?! group_left \(\) model:drift_threshold_)", expr):
            assert rule["record"].startswith("model:drift_threshold_"), (rule, join)


def test_decisions_apply_the_one_rule_of_drifted() -> None:
    decisions = [r for r in _group_rules({"drift-decisions"}) if DECISION.match(r["record"])]
    assert len(decisions) == 6
    for rule in decisions:
        level, metric, kind = DECISION.match(rule["record"]).groups()  # type: ignore[union-attr]
        expr = " ".join(rule["expr"].split())
        if kind == "many":
            assert "model:drift_threshold_features_drifted_ratio_warning:value" in expr
            assert expr.endswith(f"and (drift_features_drifted > 1) and {GATE}")
            continue
        severity = "critical" if kind == "severe" else "warning"
        scope = metric.split("_")[1]  # feature or prediction
        statistic = metric.removeprefix(f"drift_{scope}_")
        assert expr.startswith(
            f"( {metric} >= on ({GROUP_LABELS}) group_left () "
            f"model:drift_threshold_{scope}_{statistic}_{severity}:value ) "
            # one to one on every label: this sidecar's, this feature's critical value
            f">= {metric}_critical and (drift_{scope}_judged == 1) and "
        ), rule["record"]
        gate = f"ignoring (feature) {GATE}" if level == "feature" else GATE
        assert expr.endswith(f"and {gate}"), rule["record"]


def test_every_decision_records_since_when_right_after_itself() -> None:
    rules = _group_rules({"drift-decisions"})
    for index, rule in enumerate(rules):
        if not DECISION.match(rule["record"]):
            continue
        since = rules[index + 1]
        name = rule["record"]
        assert since["record"] == f"{name}_since"
        expr = " ".join(since["expr"].split()).replace("( ", "(").replace(" )", ")")
        assert expr == f"({name}_since and {name}) or (0 * {name} + time())", expr


def test_drift_alerts_wait_for_a_full_window_turnover() -> None:
    from exporter.settings import WindowSettings

    window = WindowSettings()
    assert window.duration_seconds is not None
    # The time path must follow window.duration_seconds (+ one slice, which the ring may keep).
    turnover = round(window.duration_seconds + window.duration_seconds / window.slices)
    alerts = _group_rules(DRIFT_GROUPS)
    assert {rule["alert"] for rule in alerts} == {
        "ModelDriftFeatureShift",
        "ModelDriftFeatureJensenShannon",
        "ModelDriftFeatureWasserstein",
        "ModelDriftManyFeaturesDrifted",
        "ModelDriftPredictionShift",
    }
    for rule in alerts:
        expr = " ".join(rule["expr"].split())
        decision = expr.split()[0]
        # issue 14: the model's decision over all its replicas (drift_pooled.yml)
        assert POOLED_DECISION.match(decision), rule["alert"]
        since = f"{decision}_since"
        join = "and ignoring (feature)" if decision.startswith("model_feature:") else "and"
        assert expr == (
            f"{decision} and ( ( time() - {since} >= 900 {join} "
            "(model:drift_records:pooled_increase15m >= "
            "model_feature:drift_window_records:pooled) ) "
            f"or time() - {since} >= {turnover} )"
        ), rule["alert"]
        # Drift alone is a ticket; only the severe prediction drift pages.
        severity = "critical" if decision.endswith(":pooled_severe") else "warning"
        assert rule["labels"]["severity"] == severity, rule["alert"]


def test_pooled_decisions_apply_the_one_rule_of_drifted() -> None:
    rules = _group_rules({"drift-pooled-features", "drift-pooled-prediction"})
    decisions = [r for r in rules if POOLED_DECISION.match(r["record"])]
    assert {r["record"] for r in decisions} == {
        "model_feature:drift_feature_psi:pooled_drifted",
        "model_feature:drift_feature_jensen_shannon:pooled_drifted",
        "model_feature:drift_feature_wasserstein_normalized:pooled_drifted",
        "model:drift_prediction_psi:pooled_drifted",
        "model:drift_prediction_psi:pooled_severe",
        "model:drift_features_drifted_ratio:pooled_many",
    }
    window = "(model_feature:drift_window_records:pooled >= model:drift_window_min_records:max)"
    for rule in decisions:
        level, metric, kind = POOLED_DECISION.match(rule["record"]).groups()  # type: ignore[union-attr]
        expr = " ".join(rule["expr"].split())
        if metric.endswith("wasserstein_normalized") or kind == "pooled_many":
            continue  # unanimity of the replicas; the share of drifted features (promtool cases)
        severity = "critical" if kind == "pooled_severe" else "warning"
        scope = metric.split("_")[1]
        statistic = metric.removeprefix(f"drift_{scope}_")
        assert expr == (
            f"( {level}:{metric}:pooled >= on ({GROUP_LABELS}) group_left () "
            f"model:drift_threshold_{scope}_{statistic}_{severity}:value ) "
            f">= {level}:{metric}_critical:pooled and ({level}:drift_{scope}_judged:pooled == 1) "
            + ("and ignoring (feature) " if level == "model_feature" else "and ")
            + window
        ), rule["record"]


def test_pooled_decisions_record_since_when_right_after_themselves() -> None:
    rules = _group_rules({"drift-pooled-features", "drift-pooled-prediction"})
    for index, rule in enumerate(rules):
        if not POOLED_DECISION.match(rule["record"]):
            continue
        name = rule["record"]
        assert rules[index + 1]["record"] == f"{name}_since"
        expr = " ".join(rules[index + 1]["expr"].split()).replace("( ", "(").replace(" )", ")")
        assert expr == f"({name}_since and {name}) or (0 * {name} + time())", expr


def test_pooled_rules_drop_only_the_per_replica_labels() -> None:
    # `without (instance, pod)` keeps job, model, feature, bin and any deployment label; nothing
    # in drift_pooled.yml aggregates any other label away except the bin, feature (for a model's
    # count) or a replica.
    text = (RULES_DIR / "drift_pooled.yml").read_text()
    for labels in re.findall(r"without \(([^)]*)\)", text):
        assert labels in {"instance, pod", "bin", "feature"}, labels
    threshold_join = f"on ({GROUP_LABELS}) group_left ()"
    assert " by (" not in text and " on (" not in text.replace(threshold_join, "")


def test_model_alerts_carry_no_instance_and_replica_alerts_do() -> None:
    for rule in alert_rules():
        expr = " ".join(rule["expr"].split())
        if rule["alert"] in PER_REPLICA_ALERTS:
            assert ":pooled" not in expr, rule["alert"]
        elif rule["alert"] not in {
            "ModelDriftExporterAbsent",
            WATCHDOG,
            "ModelDriftConceptDrift",
            "ModelDriftReferenceMismatch",
        }:
            # the model's pooled series decide (data quality and no traffic add one replica
            # alone, only `unless` the pool is above)
            assert ":pooled" in expr, rule["alert"]
            alone = "unless ignoring (instance, pod)" in expr
            assert "instance" not in expr or alone, rule["alert"]


def test_threshold_comparisons_use_their_severitys_series() -> None:
    recorded = {rule["record"] for rule in recording_rules()}
    rules = (
        _group_rules({"drift-data-quality"})
        + [r for r in _group_rules({"drift-decisions"}) if DECISION.match(r["record"])]
        + [
            r
            for r in _group_rules({"drift-pooled-features", "drift-pooled-prediction"})
            if POOLED_DECISION.match(r["record"])
        ]
    )
    for rule in rules:
        severity = rule.get("labels", {}).get("severity") or (
            "critical" if rule["record"].endswith("severe") else "warning"
        )
        thresholds = _threshold_names_in(rule["expr"])
        assert len(thresholds) == 1, rule
        (threshold,) = thresholds
        assert threshold in recorded
        assert threshold.endswith(f"_{severity}:value"), (rule, threshold)
        # No literal thresholds: the numbers allowed are structural ("many" = 2+, judged = 1).
        expr = rule["expr"].replace("(drift_features_drifted > 1)", "")
        expr = expr.replace("(model:drift_features_drifted:pooled > 1)", "")
        expr = re.sub(r"_judged == 1\)", "", expr)
        assert not re.search(r"[<>]=? ?[0-9]", expr), "literal threshold: " + str(rule)


def test_performance_drops_must_exceed_their_sampling_error() -> None:
    for rule in _group_rules({"drift-performance"}):
        if rule["alert"] not in {"ModelDriftPerformanceDrop", "ModelDriftEstimatedPerformanceDrop"}:
            continue
        expr = " ".join(rule["expr"].split())
        # Each has two variants: accuracy (classifiers) and RMSE (regressors).
        assert expr.count("model:drift_threshold_performance_drop_standard_errors:value") == 2, (
            rule["alert"]
        )
        assert "_stderr:pooled" in expr, rule["alert"]
        assert "and on (model)" not in expr


def test_health_alerts_watch_the_drift_exporter_job() -> None:
    exprs = {rule["alert"]: rule["expr"] for rule in alert_rules()}
    assert exprs["ModelDriftExporterDown"] == 'up{job="drift-exporter"} == 0'
    assert exprs["ModelDriftExporterAbsent"] == 'absent(up{job="drift-exporter"})'
    assert "time() - drift_last_evaluation_timestamp_seconds" in exprs["ModelDriftEvaluationStale"]


# ---------------------------------------------------------------- promtool tests


def _promtool_cases() -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = []
    for path in promtool_test_files():
        for group in load_yaml(path)["tests"]:
            cases.extend(group.get("alert_rule_test") or [])
    return cases


def test_every_alert_has_a_firing_case_and_a_must_not_fire_case() -> None:
    cases = _promtool_cases()
    fires = {case["alertname"] for case in cases if case.get("exp_alerts")}
    silent = {case["alertname"] for case in cases if not case.get("exp_alerts")}
    for name in _alert_names():
        assert name in fires, f"{name}: no case where it fires"
        assert name in silent or name == WATCHDOG, f"{name}: no case where it must not fire"


def test_every_severity_fires_in_some_case() -> None:
    fired = {
        (case["alertname"], alert["exp_labels"]["severity"])
        for case in _promtool_cases()
        for alert in case.get("exp_alerts") or []
    }
    for rule in alert_rules():
        assert (rule["alert"], rule["labels"]["severity"]) in fired, rule["alert"]


def test_drift_alerts_have_thin_window_and_blip_cases() -> None:
    text = "\n".join(path.read_text() for path in promtool_test_files())
    for name in sorted({rule["alert"] for rule in _drift_alerts()}):
        assert f"{name} must not fire: the window is thin" in text, name
        assert f"{name} must not fire: a short blip" in text, name
        assert re.search(rf"{name} must not fire: .*below the warning threshold", text) or (
            f"{name} must not fire: one feature in five" in text
        ), name


def test_every_must_not_fire_case_has_a_comment() -> None:
    for path in promtool_test_files():
        lines = path.read_text().splitlines()
        for number, line in enumerate(lines):
            if line.strip() == "exp_alerts: []":
                start = number
                while not lines[start].lstrip().startswith("- eval_time:"):
                    start -= 1
                assert lines[start - 1].strip().startswith("#"), f"{path.name}:{number + 1}"


def test_promtool_tests_cover_an_overridden_model() -> None:
    for path in promtool_test_files():
        rule_files_listed = load_yaml(path)["rule_files"]
        assert "fixtures/threshold_overrides.yml" in rule_files_listed, path.name
        assert "../rules/drift_threshold_overrides.yml" in rule_files_listed, path.name
    text = (PROMTOOL_TESTS_DIR / "drift_feature_alerts_test.yml").read_text()
    assert "per-model override" in text


def test_every_recording_rule_is_tested() -> None:
    text = (PROMTOOL_TESTS_DIR / "drift_recording_test.yml").read_text()
    text += POOLED_RECORDING_TEST.read_text()
    for rule in recording_rules():
        record = rule["record"]
        if record.startswith("model:drift_threshold_"):
            continue  # covered together by the `{__name__=~"model:drift_threshold_.+:value"}` case
        assert record in text, record
    assert "model:drift_threshold_.+:value" in text


# ---------------------------------------------------------------- pooled statistics


def _wilson_hilferty(df: int, z: float) -> float:
    """drift_pooled.yml's chi-squared quantile, written as the rule writes it."""
    return float(df * (1 - 2 / (9 * df) + z * (2 / (9 * df)) ** 0.5) ** 3)


def test_wilson_hilferty_error_is_what_the_rule_file_states() -> None:
    # scipy.stats.chi2.isf is the reference; the tails 1e-2 .. 1e-5 (q 0.99 .. 0.99999),
    # log-spaced, df 1 .. 60.
    import numpy as np
    from scipy import stats

    errors: dict[int, list[float]] = {}
    for tail in np.geomspace(1e-2, 1e-5, 25):
        z = float(stats.norm.isf(tail))
        for df in range(1, 61):
            exact = float(stats.chi2.isf(tail, df))
            errors.setdefault(df, []).append(_wilson_hilferty(df, z) / exact - 1)
    every = [e for values in errors.values() for e in values]
    from_two = [e for df, values in errors.items() if df >= 2 for e in values]
    # The comment lives in the rules' source, the mixin's jsonnet (the YAML is its render).
    lines = (MIXIN_RULE_SOURCES / "drift_pooled.libsonnet").read_text().splitlines()
    text = " ".join(" ".join(line.strip().lstrip("/").split()) for line in lines)
    assert round(100 * min(every), 2) == -0.74 and round(100 * max(every), 1) == 11.1
    assert "between -0.74 % (df 1, q 0.99) and +11.1 % (df 1, q 0.99999)" in text
    assert round(100 * min(from_two), 2) == 0.02 and round(100 * max(from_two), 1) == 7.1
    assert "for df >= 2 it is between +0.02 % and +7.1 %" in text
    assert round(100 * min(errors[9]), 2) == 0.14 and round(100 * max(errors[9]), 1) == 1.9
    assert "for deciles (df 9) between +0.14 % and +1.9 %" in text


def _constant(values: str) -> float:
    match = re.fullmatch(r"([-+0-9.e]+)x\d+", values)
    assert match, values
    return float(match.group(1))


def test_pooled_promtool_values_are_exporter_stats_on_the_summed_bins() -> None:
    # The expected values of drift_pooled_recording_test.yml's first case, recomputed here from
    # its input series with the sidecar's own estimators: the rules reproduce them to 1e-12.
    import numpy as np

    from exporter.stats import chi2, jensen_shannon, psi

    case = load_yaml(POOLED_RECORDING_TEST)["tests"][0]
    counts: dict[tuple[str, str], dict[int, list[float]]] = {}
    for entry in case["input_series"]:
        name, labels = re.fullmatch(r"(\w+)\{(.*)\}", entry["series"]).groups()  # type: ignore[union-attr]
        found = dict(re.findall(r'(\w+)="([^"]*)"', labels))
        if name in ("drift_feature_reference_bin_records", "drift_feature_window_bin_records"):
            kind = "reference" if "reference" in name else "window"
            per_bin = counts.setdefault((found["feature"], kind), {})
            per_bin.setdefault(int(found["bin"]), []).append(_constant(entry["values"]))
    checked = 0
    for feature in ("amount", "country"):
        reference = np.array([max(v) for _, v in sorted(counts[(feature, "reference")].items())])
        window = np.array([sum(v) for _, v in sorted(counts[(feature, "window")].items())])
        sparse = reference * window.sum() / reference.sum() < 5
        merged_r = np.append(reference[~sparse], reference[sparse].sum() if sparse.any() else [])
        merged_w = np.append(window[~sparse], window[sparse].sum() if sparse.any() else [])
        expected = {
            "psi": psi(merged_r, merged_w, pseudo_count=0.5),
            "jensen_shannon": jensen_shannon(merged_r, merged_w, pseudo_count=0.5),
            "chi2_statistic": chi2(merged_r, merged_w).statistic,
        }
        for test in case["promql_expr_test"]:
            match = re.fullmatch(
                rf"round\((1e\d+) \* model_feature:drift_feature_(\w+):pooled"
                rf"\{{.*feature=\"{feature}\"\}}\)",
                test["expr"],
            )
            if match is None or match.group(2) not in expected:
                continue
            scale = float(match.group(1))
            (sample,) = test["exp_samples"]
            assert abs(sample["value"] - expected[match.group(2)] * scale) <= 1, (feature, test)
            checked += 1
    assert checked == 5  # PSI and JS of both features, chi-squared of the categorical one
