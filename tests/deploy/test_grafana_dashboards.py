"""Grafana provisioning and dashboards: structure, datasource, variables, units, queries."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from dashboards import (
    POOLED_RULES,
    dashboard_paths,
    dashboard_queries,
    iter_panels,
    load_dashboard,
    query_panels,
    selectors,
    substitute,
)
from deploy_support import (
    CONTRACT_METRICS,
    GRAFANA_DIR,
    recording_rules,
    require_binary,
    run_tool,
    series_names,
)

#: Every panel, target, variable and annotation names the datasource variable; only the
#: provisioning file knows the uid (its datasource is Grafana's default, so the variable's
#: default is it).
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
PROVISIONED_UID = "drift-prometheus"
EXPECTED_UIDS = {
    "drift-fleet-overview.json": "drift-fleet-overview",
    "drift-model-detail.json": "drift-model-detail",
}
UNIT_PANELS = {"stat", "timeseries", "bargauge", "gauge"}
PATHS = dashboard_paths()


def _dashboard(name: str) -> dict[str, Any]:
    return load_dashboard(GRAFANA_DIR / "dashboards" / name)


def _exprs(dashboard: dict[str, Any]) -> list[str]:
    return [t["expr"] for p in query_panels(dashboard) for t in p.get("targets", [])]


# ---------------------------------------------------------------- provisioning


def test_datasource_is_provisioned_with_the_fixed_uid() -> None:
    config = yaml.safe_load((GRAFANA_DIR / "provisioning/datasources/prometheus.yml").read_text())
    (datasource,) = config["datasources"]
    assert datasource["uid"] == PROVISIONED_UID
    assert datasource["type"] == DATASOURCE["type"]
    assert datasource["isDefault"] is True  # what the $datasource variable starts on
    assert datasource["url"] == "http://prometheus:9090"
    # $__rate_interval must cover at least 4 scrapes of the 15 s interval.
    assert datasource["jsonData"]["timeInterval"] == "15s"


def test_dashboard_provider_reads_the_mounted_directory() -> None:
    config = yaml.safe_load((GRAFANA_DIR / "provisioning/dashboards/dashboards.yml").read_text())
    (provider,) = config["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"


# ---------------------------------------------------------------- every dashboard


def test_the_two_dashboards_ship() -> None:
    assert {path.name for path in PATHS} == set(EXPECTED_UIDS)


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_dashboard_has_stable_uid_and_schema_version(path: Path) -> None:
    dashboard = load_dashboard(path)
    assert dashboard["uid"] == EXPECTED_UIDS[path.name]
    assert dashboard["schemaVersion"] == 39
    assert dashboard["title"].startswith("Drift / ")
    assert "id" not in dashboard or dashboard["id"] is None


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_panel_ids_are_unique(path: Path) -> None:
    ids = [panel["id"] for panel in iter_panels(load_dashboard(path))]
    assert len(ids) == len(set(ids)), ids


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_panels_do_not_overlap(path: Path) -> None:
    occupied: dict[tuple[int, int], str] = {}
    for panel in iter_panels(load_dashboard(path)):
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24, panel["title"]
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in occupied, (panel["title"], occupied.get((x, y)))
                occupied[(x, y)] = panel["title"]


def _datasource_refs(node: Any, where: str = "") -> Iterator[tuple[str, Any]]:
    """(JSON path, value) of every `datasource` field in a dashboard."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "datasource":
                yield f"{where}.{key}", value
            yield from _datasource_refs(value, f"{where}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _datasource_refs(value, f"{where}[{index}]")


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_no_datasource_uid_is_hard_coded(path: Path) -> None:
    dashboard = load_dashboard(path)
    assert PROVISIONED_UID not in path.read_text()
    refs = list(_datasource_refs(dashboard))
    assert len(refs) > 50
    for where, ref in refs:
        if ref == {"type": "grafana", "uid": "-- Grafana --"}:  # the built-in annotations
            assert where.startswith(".annotations"), where
            continue
        assert ref == DATASOURCE, where


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_every_panel_target_and_query_variable_uses_the_datasource_variable(path: Path) -> None:
    dashboard = load_dashboard(path)
    for panel in query_panels(dashboard):
        assert panel["datasource"] == DATASOURCE, panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == DATASOURCE, panel["title"]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            assert variable["datasource"] == DATASOURCE, variable["name"]
    for annotation in dashboard["annotations"]["list"]:
        if annotation.get("expr"):
            assert annotation["datasource"] == DATASOURCE, annotation["name"]


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_the_datasource_variable_lists_prometheus_and_starts_on_the_default(path: Path) -> None:
    variable = load_dashboard(path)["templating"]["list"][0]
    assert variable["name"] == "datasource"
    assert variable["type"] == "datasource"
    assert variable["query"] == "prometheus"
    # No stored choice: Grafana starts on its default datasource, the provisioned one.
    assert variable["current"] == {}
    assert not variable["includeAll"] and not variable["multi"]


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_every_target_has_an_expr_and_a_unique_ref_id(path: Path) -> None:
    for panel in query_panels(load_dashboard(path)):
        targets = panel["targets"]
        assert targets, panel["title"]
        assert all(target["expr"].strip() for target in targets), panel["title"]
        refs = [target["refId"] for target in targets]
        assert len(refs) == len(set(refs)), panel["title"]


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_every_panel_has_a_title_and_description(path: Path) -> None:
    titles = []
    for panel in query_panels(load_dashboard(path)):
        assert panel["title"].strip() and panel["description"].strip(), panel
        titles.append(panel["title"])
    assert len(titles) == len(set(titles)), "titles identify panels in dashboard_queries()"


DEPLOYMENT = 'job=~"$job", cluster=~"$cluster", namespace=~"$namespace"'
# The jobs the mixin's jobSelector selects (deploy/mixin sets it; this is the default render).
JOB_QUERY = (
    'label_values(drift_window_records{job="drift-exporter", cluster=~"$cluster", '
    'namespace=~"$namespace"}, job)'
)
EXPECTED_VARIABLES = {
    "drift-fleet-overview.json": {
        "cluster": ("label_values(drift_window_records, cluster)", ".*"),
        "namespace": ('label_values(drift_window_records{cluster=~"$cluster"}, namespace)', ".*"),
        "job": (JOB_QUERY, None),
        "model": (f"label_values(drift_window_records{{{DEPLOYMENT}}}, model)", ".+"),
    },
    "drift-model-detail.json": {
        "cluster": ("label_values(drift_window_records, cluster)", ".*"),
        "namespace": ('label_values(drift_window_records{cluster=~"$cluster"}, namespace)', ".*"),
        "job": (JOB_QUERY, None),
        "model": (f"label_values(drift_window_records{{{DEPLOYMENT}}}, model)", None),
        "instance": (
            f'label_values(drift_window_records{{{DEPLOYMENT}, model=~"$model"}}, instance)',
            ".+",
        ),
        "feature": (
            f'label_values(drift_feature_missing_ratio{{{DEPLOYMENT}, model=~"$model"}}, feature)',
            ".+",
        ),
    },
}


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_deployment_model_and_replica_variables(path: Path) -> None:
    variables = load_dashboard(path)["templating"]["list"]
    expected = EXPECTED_VARIABLES[path.name]
    assert [v["name"] for v in variables] == ["datasource", *expected]
    for variable in variables[1:]:
        query, all_value = expected[variable["name"]]
        assert variable["type"] == "query"
        assert variable["definition"] == query
        stored = variable["query"]
        assert (stored["query"] if isinstance(stored, dict) else stored) == query
        assert variable.get("allValue") == all_value, variable["name"]
    by_name = {v["name"]: v for v in variables}
    # cluster and namespace: All is the regex .*, so series without the label match too
    # (test_an_all_regex_matches_series_without_the_label); job: All is every job that has
    # drift series and the mixin's jobSelector selects, so `up{job=~"$job"}` never reaches
    # other targets.
    for name in ("cluster", "namespace", "job"):
        assert by_name[name]["includeAll"] and by_name[name]["multi"], name
    # The detail dashboard is one model's; the fleet's model variable takes several.
    detail = path.name == "drift-model-detail.json"
    assert by_name["model"]["multi"] is not detail
    assert by_name["model"]["includeAll"] is not detail


def test_an_all_regex_matches_series_without_the_label(tmp_path: Path) -> None:
    """`cluster=~".*"` matches a series with no cluster label (Prometheus compares an absent
    label as ""), a chosen value only the series that carry it: proven with promtool."""
    promtool = require_binary("promtool")
    labelled = 'job="drift-exporter", instance="b:9808", model="m", cluster="eu", namespace="ml"'
    plain = 'job="drift-exporter", instance="a:9808", model="m"'
    query = (
        'drift_window_records{job=~"$job", cluster=~"$cluster", namespace=~"$namespace", '
        'model=~"$model"}'
    )

    def case(**values: str) -> str:
        return substitute(query, job="drift-exporter", model="m", **values)

    def sample(labels: str, value: int) -> dict[str, Any]:
        return {"labels": f"drift_window_records{{{labels}}}", "value": value}

    tests = {
        "rule_files": [],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    {"series": f"drift_window_records{{{plain}}}", "values": "100"},
                    {"series": f"drift_window_records{{{labelled}}}", "values": "200"},
                ],
                "promql_expr_test": [
                    {  # All: both, the series without cluster/namespace included
                        "expr": case(),
                        "eval_time": "0m",
                        "exp_samples": [sample(plain, 100), sample(labelled, 200)],
                    },
                    {  # one cluster, as Grafana writes a multi-value choice
                        "expr": case(cluster="(eu|us)", namespace=".*"),
                        "eval_time": "0m",
                        "exp_samples": [sample(labelled, 200)],
                    },
                ],
            }
        ],
    }
    test_file = tmp_path / "all_regex_test.yml"
    test_file.write_text(yaml.safe_dump(tests))
    result = run_tool(promtool, "test", "rules", str(test_file))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_stat_and_timeseries_panels_have_units(path: Path) -> None:
    for panel in query_panels(load_dashboard(path)):
        if panel["type"] in UNIT_PANELS:
            assert panel["fieldConfig"]["defaults"].get("unit"), panel["title"]


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_units_match_the_quantity(path: Path) -> None:
    for panel in query_panels(load_dashboard(path)):
        if panel["type"] not in UNIT_PANELS:
            continue
        unit = panel["fieldConfig"]["defaults"]["unit"]
        exprs = [t["expr"] for t in panel["targets"]]
        data = [e for e in exprs if "drift_threshold_" not in e]
        if all(re.search(r"_ratio\b|:ratio\b|_ratio:max\b", e) for e in data):
            assert unit == "percentunit", panel["title"]
        if all("_seconds" in e and ("time() -" in e or "duration" in e) for e in data):
            assert unit == "s", panel["title"]
        if all(re.search(r"\brate\(|:rate5m\b", e) for e in data) and "histogram_quantile" not in (
            " ".join(data)
        ):
            assert unit in {"cps", "reqps", "ops"}, panel["title"]


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_queries_use_only_contract_metrics_and_recorded_series(path: Path) -> None:
    recorded = {rule["record"] for rule in recording_rules()}
    # The pooled rules of issue 14 come from their own branch (drift_pooled.yml): allowed by
    # name until rule files record any pooled rule, then every one used must be recorded.
    pending = set() if any(":pooled" in name for name in recorded) else set(POOLED_RULES)
    dashboard = load_dashboard(path)
    exprs = _exprs(dashboard) + [
        a["expr"] for a in dashboard["annotations"]["list"] if a.get("expr")
    ]
    for expr in exprs:
        for name in series_names(expr):
            assert name in CONTRACT_METRICS or name in recorded or name in pending, (name, expr)


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_rates_use_rate_interval_or_recorded_rates(path: Path) -> None:
    for expr in _exprs(load_dashboard(path)):
        for window in re.findall(r"\[([^\]]+)\]", expr):
            assert window in {"$__rate_interval", "$__range"}, expr


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_queries_are_valid_promql(path: Path, tmp_path: Path) -> None:
    # promtool parses every expression of a rule file: wrap each query in a rule.
    promtool = require_binary("promtool")
    queries = dashboard_queries(path, model="demo", feature="amount", include_annotations=True)
    rules = [
        {"record": f"dashboard:query_{number}:check", "expr": expr}
        for number, (_, expr) in enumerate(queries)
    ]
    rule_file = tmp_path / "dashboard_queries.yml"
    rule_file.write_text(yaml.safe_dump({"groups": [{"name": "queries", "rules": rules}]}))
    result = run_tool(promtool, "check", "rules", str(rule_file))
    assert result.returncode == 0, result.stdout + result.stderr


# ---------------------------------------------------------------- fleet selectors

#: Series without a model label: scrape health and the sidecar-wide counters.
NO_MODEL = {"up", "drift_requests_rejected_total", "drift_build_info"}
#: Pooled rules keyed on the model, not a feature (named at the contract's level).
NO_FEATURE = {"model_feature:drift_window_records:pooled"}
THRESHOLD = re.compile(r"^model:drift_threshold_\w+:value$")
#: A threshold is keyed on the model (no job, no replica): a line kept for the models the
#: selection holds, joined on `model` so it stays whether or not thresholds carry deployment
#: labels.
THRESHOLD_JOIN = re.compile(r"\band on \(model\) drift_window_records\{")
POOLED_SUM = re.compile(r"\bsum(?: without \(instance, pod\)| by \((?![^)]*instance)[^)]*\))? ?\(")
AGGREGATIONS = ("pooled over replicas", "per replica", "max over replicas", "count", "none")


def _aggregation(panel: dict[str, Any]) -> str:
    named = re.findall(r"Aggregation: ([a-z ]+?)(?: \(|\.)", panel["description"])
    assert len(named) == 1, (panel["title"], panel["description"])
    assert named[0] in AGGREGATIONS, (panel["title"], named[0])
    return str(named[0])


def _is_pooled(name: str) -> bool:
    return ":pooled" in name


def _is_per_replica(name: str) -> bool:
    return not (_is_pooled(name) or THRESHOLD.match(name) or name == "ALERTS")


def _is_threshold_line(expr: str) -> bool:
    """A per-model threshold joined to the selection: the same line for every replica."""
    names = [name for name, _ in selectors(expr)]
    return bool(THRESHOLD_JOIN.search(expr)) and all(
        THRESHOLD.match(name) or name == "drift_window_records" for name in names
    )


def _targets(path: Path) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    for panel in query_panels(load_dashboard(path)):
        for target in panel["targets"]:
            yield panel, target


def test_selectors_splits_a_query_into_names_and_matchers() -> None:
    expr = 'sum(rate(x{job=~"$job", model="m"}[1m])) / on (model) y:z{a!="b,c"} > 0'
    assert selectors(expr) == [
        ("x", {"job": ("=~", "$job"), "model": ("=", "m")}),
        ("y:z", {"a": ("!=", "b,c")}),
    ]
    with pytest.raises(ValueError, match="cannot parse"):
        selectors("x{job=~$job}")


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_every_series_is_selected_by_job_deployment_and_model(path: Path) -> None:
    """job, cluster, namespace and model on every series (thresholds through their join);
    on the detail dashboard the Replica variable narrows the per-replica panels, while a
    pooled panel pools every replica whatever it says."""
    detail = path.name == "drift-model-detail.json"
    dashboard = load_dashboard(path)
    exprs = [(p["title"], _aggregation(p), t["expr"]) for p, t in _targets(path)] + [
        (a["name"], "none", a["expr"]) for a in dashboard["annotations"]["list"] if a.get("expr")
    ]
    for title, aggregation, expr in exprs:
        found = selectors(expr)
        # Every series the query reads has matchers: no bare metric name slips through.
        named = series_names(expr) | set(re.findall(r"\b(ALERTS|up)\b", expr))
        assert named == {name for name, _ in found}, (title, expr)
        for name, matchers in found:
            where = (title, name)
            if THRESHOLD.match(name):
                assert matchers == {"model": ("=~", "$model")}, where
                assert THRESHOLD_JOIN.search(expr), where
                continue
            for label in ("job", "cluster", "namespace"):
                assert matchers.get(label) == ("=~", f"${label}"), where
            if name not in NO_MODEL:
                assert matchers.get("model") == ("=~", "$model"), where
            if _is_pooled(name) or aggregation in ("pooled over replicas", "none", "count"):
                assert "instance" not in matchers, where
            elif detail:
                assert matchers.get("instance") == ("=~", "$instance"), where


def test_model_detail_filters_per_feature_panels_by_feature() -> None:
    for panel, target in _targets(GRAFANA_DIR / "dashboards/drift-model-detail.json"):
        if "{{feature}}" not in target["legendFormat"] and panel["type"] != "table":
            continue
        for name, matchers in selectors(target["expr"]):
            if name.startswith(("drift_feature_", "model_feature:")) and name not in NO_FEATURE:
                assert matchers.get("feature") == ("=~", "$feature"), (panel["title"], name)


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_every_panel_says_its_one_aggregation(path: Path) -> None:
    for panel in query_panels(load_dashboard(path)):
        aggregation = _aggregation(panel)
        names = {name for target in panel["targets"] for name, _ in selectors(target["expr"])}
        data = {name for name in names if not THRESHOLD.match(name)}
        legends = [target["legendFormat"] for target in panel["targets"]]
        if aggregation == "pooled over replicas":
            assert not any("{{instance}}" in legend for legend in legends), panel["title"]
            for target in panel["targets"]:
                expr = target["expr"]
                if _is_threshold_line(expr):
                    continue
                # A pooled rule, or counts / rates / buckets summed over the replicas, or
                # the reference's value (the same on every replica: max drops the copies).
                assert (
                    any(_is_pooled(n) for n, _ in selectors(expr))
                    or re.search(POOLED_SUM, expr)
                    or expr.startswith("max without (instance, pod) (drift_reference_")
                ), (panel["title"], expr)
        elif aggregation == "per replica":
            assert data and not any(_is_pooled(name) for name in data), panel["title"]
        elif aggregation == "max over replicas":
            assert all(re.match(r"max\(", t["expr"]) for t in panel["targets"]), panel["title"]
        elif aggregation == "count":
            assert all(re.match(r"count\(", t["expr"]) for t in panel["targets"]), panel["title"]
        else:
            assert panel["type"] == "table" and data == {"ALERTS"}, panel["title"]


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_per_replica_panels_name_the_replica_in_every_legend(path: Path) -> None:
    per_replica = 0
    for panel in query_panels(load_dashboard(path)):
        if _aggregation(panel) != "per replica":
            continue
        per_replica += 1
        for target in panel["targets"]:
            if _is_threshold_line(target["expr"]):
                continue  # a per-model threshold line, the same for every replica
            assert "{{instance}}" in target["legendFormat"], (panel["title"], target["refId"])
    assert per_replica >= 5


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_model_level_panels_read_the_pooled_rules(path: Path) -> None:
    """Drift, data-quality ratios and performance that can be pooled are read pooled."""
    for panel, target in _targets(path):
        for name, _ in selectors(target["expr"]):
            if re.match(r"^model:drift_feature_\w+:max$", name):
                # Each replica's worst feature is a per-replica view only.
                assert _aggregation(panel) == "per replica", (panel["title"], name)
        assert not re.search(r"\bavg\b", target["expr"]), panel["title"]  # never avg(ratio)


# ---------------------------------------------------------------- content


def test_fleet_overview_shows_pooled_drift_traffic_quality_replicas_and_alerts() -> None:
    text = "\n".join(_exprs(_dashboard("drift-fleet-overview.json")))
    for needle in [
        "model_feature:drift_feature_psi:pooled{",
        "model_feature:drift_feature_psi:pooled_drifted{",
        "model:drift_prediction_psi:pooled{",
        "model:drift_records:rate5m",
        "drift_records_total",
        "drift_invalid_values_total",
        "model_feature:drift_feature_missing_ratio:pooled",
        "model_feature:drift_feature_type_mismatch_ratio:pooled",
        "model_feature:drift_feature_unseen_category_ratio:pooled",
        "model_feature:drift_feature_out_of_range_ratio:pooled",
        "model:drift_performance_accuracy:pooled",
        "model:drift_window_records_per_min_records:ratio",
        "up{",
        'ALERTS{alertname=~"ModelDrift.*"',
    ]:
        assert needle in text, needle


def test_model_detail_shows_features_with_thresholds_prediction_quality_and_health() -> None:
    dashboard = _dashboard("drift-model-detail.json")
    text = "\n".join(_exprs(dashboard))
    for needle in [
        "model_feature:drift_feature_psi:pooled{",
        "model_feature:drift_feature_jensen_shannon:pooled{",
        "model_feature:drift_feature_chi2_statistic:pooled{",
        "model_feature:drift_feature_valid_records:pooled{",
        "model_feature:drift_feature_psi_critical:pooled{",
        "model_feature:drift_feature_jensen_shannon_critical:pooled{",
        "model_feature:drift_feature_psi:pooled_drifted{",
        "model_feature:drift_window_records:pooled{",
        "model:drift_prediction_psi:pooled{",
        "model:drift_prediction_psi_critical:pooled{",
        "model:drift_performance_accuracy:pooled{",
        "model:drift_performance_rmse:pooled{",
        "model:drift_performance_mae:pooled{",
        "drift_feature_wasserstein_normalized{",
        "drift_feature_ks_pvalue{",
        "drift_feature_chi2_pvalue{",
        "model:drift_threshold_feature_psi_warning:value",
        "drift_prediction_missing_ratio",
        "drift_window_records{",
        "drift_window_min_records",
        "time() - drift_last_evaluation_timestamp_seconds",
    ]:
        assert needle in text, needle
    # Threshold lines sit in the same panel as the statistic they bound.
    for panel in query_panels(dashboard):
        exprs = " ".join(t["expr"] for t in panel["targets"])
        for statistic in re.findall(r"model:drift_threshold_(\w+)_warning:value", exprs):
            metric = f"drift_{statistic}"
            assert metric in exprs.replace("drift_threshold_", ""), panel["title"]


def test_panel_titles_users_bookmark_are_kept() -> None:
    """Every panel title of the single-sidecar dashboards is still there (links and
    bookmarks name panels by title); the fleet panels are added beside them."""
    kept = {
        "drift-fleet-overview.json": {
            "Models reporting",
            "Models with drifted features",
            "Alerts firing",
            "Worst feature PSI",
            "Drifted-feature share by model",
            "Max feature PSI by model",
            "Drifted-feature share over time",
            "Max feature PSI over time",
            "Prediction PSI over time",
            "Records accepted per second",
            "Records in range",
            "Rejected requests per second",
            "Window fill",
            "Invalid values per second",
            "Worst missing share",
            "Worst type-mismatch share",
            "Worst unseen-category share",
            "Worst out-of-range share",
            "Sidecars down",
            "Time since last evaluation",
            "Evaluation duration p99",
            "Firing ModelDrift alerts",
            "Accuracy below reference by model",
            "Estimated accuracy by model",
            "Concept-drift detections by model",
            "Prediction latency p99 by model",
        },
        "drift-model-detail.json": {
            "Features drifted",
            "Drifted-feature share",
            "Max feature PSI",
            "Prediction PSI",
            "Window records",
            "Evaluation age",
            "PSI per feature",
            "Jensen-Shannon distance per feature",
            "Normalized Wasserstein distance per feature",
            "Test statistics per feature",
            "Test p-values per feature",
            "Drifted flag per feature",
            "Feature statistics now",
            "Prediction drift",
            "Prediction test p-values",
            "Prediction drifted flag",
            "Missing share per feature",
            "Type-mismatch share per feature",
            "Unseen-category share per feature",
            "Out-of-range share per feature",
            "Prediction data quality",
            "Invalid values per second by reason",
            "Window size vs minimum",
            "Reference records",
            "Time since last evaluation",
            "Evaluation duration",
            "Evaluation success",
            "Records accepted per second",
            "Accuracy vs reference",
            "Estimated vs realised accuracy",
            "Classification metrics",
            "Regression error vs reference",
            "Labels per second",
            "Labelled window vs minimum",
            "Concept-drift detections",
            "Prediction latency",
            "Predictions and labels per second",
            "Firing alerts for this model",
        },
    }
    for name, titles in kept.items():
        present = {panel["title"] for panel in query_panels(_dashboard(name))}
        assert titles <= present, titles - present


# ---------------------------------------------------------------- dashboard_queries()


def test_dashboard_queries_substitutes_every_variable() -> None:
    for path in PATHS:
        queries = dashboard_queries(
            path,
            model="demo",
            feature="amount",
            rate_interval="2m",
            interval="30s",
            time_range="3h",
            include_annotations=True,
        )
        assert len(queries) >= 20
        for title, expr in queries:
            assert title
            assert "$" not in expr, (title, expr)
    fleet = dict(
        dashboard_queries(
            GRAFANA_DIR / "dashboards/drift-fleet-overview.json",
            model="demo",
            job="drift-exporter",
            cluster="eu",
            time_range="3h",
        )
    )
    assert fleet["Records in range"] == (
        'sum(increase(drift_records_total{job=~"drift-exporter", cluster=~"eu", '
        'namespace=~".*", model=~"demo"}[3h]))'
    )


def test_substitute_handles_every_variable_syntax() -> None:
    expr = (
        'rate(x{model=~"${model:regex}", feature=~"[[feature]]"}[$__rate_interval]) + $__interval'
    )
    assert substitute(expr, model="m", feature="f", rate_interval="1m", interval="5s") == (
        'rate(x{model=~"m", feature=~"f"}[1m]) + 5s'
    )
    assert substitute("increase(x[$__range])", time_range="2h") == "increase(x[2h])"
    # The deployment labels default to the dashboards' All: .* (absent labels match).
    assert substitute('x{job=~"$job", cluster=~"$cluster", namespace=~"$namespace"}') == (
        'x{job=~".+", cluster=~".*", namespace=~".*"}'
    )
    assert substitute('x{instance=~"$instance"}', instance="a:9808") == 'x{instance=~"a:9808"}'


def test_substitute_rejects_an_unknown_variable() -> None:
    with pytest.raises(ValueError, match=r"\$pod"):
        substitute('x{pod="$pod"}')


def test_substitute_keeps_a_regex_end_anchor() -> None:
    assert substitute('x{model=~"fraud$"}') == 'x{model=~"fraud$"}'


def test_pooled_share_and_flag_count_undrifted_features_as_zero(tmp_path: Path) -> None:
    """The fleet's drifted-feature share and the detail's drifted flag, as shipped, on
    hand-fed pooled series (promtool): model m has one of two features drifted (share 0.5,
    flags 1 and 0), model n none (share 0, not absent)."""
    promtool = require_binary("promtool")
    fleet = dict(dashboard_queries(GRAFANA_DIR / "dashboards/drift-fleet-overview.json", job="d"))
    detail = dict(
        dashboard_queries(GRAFANA_DIR / "dashboards/drift-model-detail.json", job="d", model="m")
    )
    pooled = "model_feature:drift_feature_psi:pooled"
    series = [
        (f'{pooled}{{job="d", model="m", feature="a"}}', "0.3"),
        (f'{pooled}{{job="d", model="m", feature="b"}}', "0.001"),
        (f'{pooled}_drifted{{job="d", model="m", feature="a"}}', "0.3"),
        (f'{pooled}{{job="d", model="n", feature="a"}}', "0.001"),
    ]
    tests = {
        "rule_files": [],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [{"series": name, "values": value} for name, value in series],
                "promql_expr_test": [
                    {
                        "expr": fleet["Drifted-feature share by model"],
                        "eval_time": "0m",
                        "exp_samples": [
                            {"labels": '{job="d", model="m"}', "value": 0.5},
                            {"labels": '{job="d", model="n"}', "value": 0},
                        ],
                    },
                    {
                        "expr": detail["Drifted flag per feature"],
                        "eval_time": "0m",
                        "exp_samples": [
                            {"labels": '{job="d", model="m", feature="a"}', "value": 1},
                            {"labels": '{job="d", model="m", feature="b"}', "value": 0},
                        ],
                    },
                ],
            }
        ],
    }
    test_file = tmp_path / "pooled_share_test.yml"
    test_file.write_text(yaml.safe_dump(tests))
    result = run_tool(promtool, "test", "rules", str(test_file))
    assert result.returncode == 0, result.stdout + result.stderr
