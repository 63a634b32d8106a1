"""Grafana provisioning and dashboards: structure, datasource, variables, units, queries."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from dashboards import (
    dashboard_paths,
    dashboard_queries,
    iter_panels,
    load_dashboard,
    query_panels,
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

DATASOURCE = {"type": "prometheus", "uid": "drift-prometheus"}
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
    assert datasource["uid"] == DATASOURCE["uid"]
    assert datasource["type"] == DATASOURCE["type"]
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


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_every_panel_and_target_uses_the_provisioned_datasource(path: Path) -> None:
    for panel in query_panels(load_dashboard(path)):
        assert panel["datasource"] == DATASOURCE, panel["title"]
        for target in panel["targets"]:
            assert target.get("datasource", DATASOURCE) == DATASOURCE, panel["title"]


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


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_model_and_feature_variables(path: Path) -> None:
    variables = {v["name"]: v for v in load_dashboard(path)["templating"]["list"]}
    assert set(variables) == {"model", "feature"}
    expected = {
        "model": "label_values(drift_window_records, model)",
        "feature": 'label_values(drift_feature_psi{model=~"$model"}, feature)',
    }
    for name, query in expected.items():
        variable = variables[name]
        assert variable["type"] == "query"
        assert variable["datasource"] == DATASOURCE
        assert variable["definition"] == query
        stored = variable["query"]
        assert (stored["query"] if isinstance(stored, dict) else stored) == query


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
    dashboard = load_dashboard(path)
    exprs = _exprs(dashboard) + [
        a["expr"] for a in dashboard["annotations"]["list"] if a.get("expr")
    ]
    for expr in exprs:
        for name in series_names(expr):
            assert name in CONTRACT_METRICS or name in recorded, (name, expr)


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


# ---------------------------------------------------------------- content


def test_fleet_overview_shows_drift_traffic_quality_and_alerts() -> None:
    text = "\n".join(_exprs(_dashboard("drift-fleet-overview.json")))
    for needle in [
        "drift_features_drifted_ratio",
        "model:drift_feature_psi:max",
        "model:drift_records:rate5m",
        "drift_records_total",
        "drift_invalid_values_total",
        "model:drift_feature_missing_ratio:max",
        "model:drift_feature_unseen_category_ratio:max",
        "model:drift_feature_out_of_range_ratio:max",
        'ALERTS{alertname=~"ModelDrift.*"',
    ]:
        assert needle in text, needle


def test_model_detail_shows_features_with_thresholds_prediction_quality_and_health() -> None:
    dashboard = _dashboard("drift-model-detail.json")
    text = "\n".join(_exprs(dashboard))
    for needle in [
        "drift_feature_psi{",
        "drift_feature_jensen_shannon{",
        "drift_feature_wasserstein_normalized{",
        "drift_feature_ks_pvalue{",
        "drift_feature_chi2_pvalue{",
        "model:drift_threshold_feature_psi_warning:value",
        "drift_feature_psi_critical{",
        "drift_prediction_psi",
        "drift_feature_missing_ratio",
        "drift_prediction_missing_ratio",
        "drift_window_records",
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


def test_model_detail_filters_per_feature_panels_by_feature() -> None:
    for panel in query_panels(_dashboard("drift-model-detail.json")):
        for target in panel["targets"]:
            if target["expr"].startswith("drift_feature_"):
                assert 'feature=~"$feature"' in target["expr"], panel["title"]


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
            GRAFANA_DIR / "dashboards/drift-fleet-overview.json", model="demo", time_range="3h"
        )
    )
    assert fleet["Records in range"] == 'sum(increase(drift_records_total{model=~"demo"}[3h]))'


def test_substitute_handles_every_variable_syntax() -> None:
    expr = (
        'rate(x{model=~"${model:regex}", feature=~"[[feature]]"}[$__rate_interval]) + $__interval'
    )
    assert substitute(expr, model="m", feature="f", rate_interval="1m", interval="5s") == (
        'rate(x{model=~"m", feature=~"f"}[1m]) + 5s'
    )
    assert substitute("increase(x[$__range])", time_range="2h") == "increase(x[2h])"


def test_substitute_rejects_an_unknown_variable() -> None:
    with pytest.raises(ValueError, match=r"\$cluster"):
        substitute('x{cluster="$cluster"}')


def test_substitute_keeps_a_regex_end_anchor() -> None:
    assert substitute('x{model=~"fraud$"}') == 'x{model=~"fraud$"}'
