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

PROMETHEUS_YML = PROMETHEUS_DIR / "prometheus.yml"
SEVERITIES = {"warning", "critical"}
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


def _alert_names() -> list[str]:
    return sorted({rule["alert"] for rule in alert_rules()})


def _drift_alerts() -> list[dict[str, Any]]:
    return [rule for rule in alert_rules() if DRIFT_GAUGE.search(rule["expr"])]


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


def test_promtool_rule_unit_tests_pass() -> None:
    promtool = require_binary("promtool")
    files = promtool_test_files()
    assert files, "no promtool test files"
    result = run_tool(promtool, "test", "rules", *map(str, files), timeout=300)
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
        elif re.search(r"\b(sum|max|min|avg|count)\b", expr):
            assert " by (" not in expr and "without (" in expr, rule["record"]


def test_rules_use_only_contract_metrics_and_recorded_series() -> None:
    recorded = {rule["record"] for rule in recording_rules()}
    for rule in recording_rules() + alert_rules():
        for name in series_names(rule["expr"]):
            if name.endswith(":override"):
                continue  # optional per-model series; absent unless configured
            assert name in CONTRACT_METRICS or name in recorded, (name, rule.get("alert"))


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
        assert re.fullmatch(r"ModelDrift(?:[A-Z][a-z]+)+", name), name


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
    }
    assert required <= set(_alert_names())


def test_every_alert_has_a_severity_of_warning_or_critical() -> None:
    for rule in alert_rules():
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
        assert re.fullmatch(r"[1-9][0-9]*m", rule.get("for", "")), rule["alert"]


def test_annotations_follow_the_style() -> None:
    for rule in alert_rules():
        name, annotations = rule["alert"], rule["annotations"]
        assert set(annotations) == {"summary", "description", "runbook_url"}, name
        summary = annotations["summary"]
        assert "{{" not in summary and summary.endswith("."), name
        description = annotations["description"]
        assert "$value" in description, name
        if name not in {"ModelDriftExporterDown", "ModelDriftExporterAbsent"}:
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


def test_quality_alerts_are_gated_on_this_sidecars_window() -> None:
    alerts = _group_rules({"drift-data-quality"})
    assert len(alerts) == 8
    for rule in alerts:
        expr = " ".join(rule["expr"].split())
        # `ignoring (feature)`: the window of the same job, instance and model (issue 14).
        assert expr.endswith(f"and ignoring (feature) {GATE}"), rule["alert"]


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
        assert DECISION.match(decision), rule["alert"]
        since = f"{decision}_since"
        join = "and ignoring (feature)" if decision.startswith("feature:") else "and"
        assert expr == (
            f"{decision} and ( ( time() - {since} >= 900 {join} "
            "(increase(drift_records_total[15m]) >= drift_window_records) ) "
            f"or time() - {since} >= {turnover} )"
        ), rule["alert"]
        # Drift alone is a ticket; only the severe prediction drift pages.
        severity = "critical" if decision.endswith(":severe") else "warning"
        assert rule["labels"]["severity"] == severity, rule["alert"]


def test_threshold_comparisons_use_their_severitys_series() -> None:
    recorded = {rule["record"] for rule in recording_rules()}
    rules = _group_rules({"drift-data-quality"}) + [
        r for r in _group_rules({"drift-decisions"}) if DECISION.match(r["record"])
    ]
    for rule in rules:
        severity = rule.get("labels", {}).get("severity") or (
            "critical" if rule["record"].endswith(":severe") else "warning"
        )
        thresholds = _threshold_names_in(rule["expr"])
        assert len(thresholds) == 1, rule
        (threshold,) = thresholds
        assert threshold in recorded
        assert threshold.endswith(f"_{severity}:value"), (rule, threshold)
        # No literal thresholds: the numbers allowed are structural ("many" = 2+, judged = 1).
        expr = rule["expr"].replace("(drift_features_drifted > 1)", "")
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
        assert ":stderr" in expr, rule["alert"]
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
        assert name in silent, f"{name}: no case where it must not fire"


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
    for rule in recording_rules():
        record = rule["record"]
        if record.startswith("model:drift_threshold_"):
            continue  # covered together by the `{__name__=~"model:drift_threshold_.+:value"}` case
        assert record in text, record
    assert "model:drift_threshold_.+:value" in text
