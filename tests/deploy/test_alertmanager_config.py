"""Alertmanager config: amtool validation, routing, and inhibition semantics."""

from __future__ import annotations

import re
from typing import Any

import pytest
from deploy_support import ALERTMANAGER_DIR, alert_rules, load_yaml, require_binary, run_tool

ALERTMANAGER_YML = ALERTMANAGER_DIR / "alertmanager.yml"
SIDECAR = {"job": "drift-exporter", "instance": "sidecar:9808"}
OTHER_SIDECAR = {"job": "drift-exporter", "instance": "sidecar-2:9808"}


def _config() -> dict[str, Any]:
    config: dict[str, Any] = load_yaml(ALERTMANAGER_YML)
    return config


def _alert(name: str, severity: str, **labels: str) -> dict[str, str]:
    return {"alertname": name, "severity": severity, **SIDECAR, **labels}


# ---------------------------------------------------------------- amtool


def test_amtool_accepts_config() -> None:
    amtool = require_binary("amtool")
    result = run_tool(amtool, "check-config", str(ALERTMANAGER_YML))
    assert result.returncode == 0, result.stdout + result.stderr


ROUTES = [
    # Drift alone is a ticket: the team channel, never the pager nor the retraining webhook.
    ("ModelDriftFeatureShift", "warning", {"feature": "amount"}, "team-warning"),
    ("ModelDriftFeatureJensenShannon", "warning", {"feature": "a"}, "team-warning"),
    ("ModelDriftFeatureWasserstein", "warning", {"feature": "a"}, "team-warning"),
    ("ModelDriftManyFeaturesDrifted", "warning", {}, "team-warning"),
    ("ModelDriftPredictionShift", "warning", {}, "team-warning"),
    # Impact pages and retrains: a severe prediction drift, a realised or estimated drop.
    ("ModelDriftPredictionShift", "critical", {}, "retrain-webhook,oncall-critical"),
    ("ModelDriftPerformanceDrop", "critical", {}, "retrain-webhook,oncall-critical"),
    ("ModelDriftEstimatedPerformanceDrop", "critical", {}, "retrain-webhook,oncall-critical"),
    # Their warnings are tickets.
    ("ModelDriftPerformanceDrop", "warning", {}, "team-warning"),
    ("ModelDriftEstimatedPerformanceDrop", "warning", {}, "team-warning"),
    # A change point in the errors is not a drop measured against its sampling error.
    ("ModelDriftConceptDrift", "warning", {"detector": "adwin"}, "team-warning"),
    # Broken inputs page but never trigger a retrain; sidecar health neither.
    ("ModelDriftFeatureMissingValues", "critical", {"feature": "a"}, "oncall-critical"),
    ("ModelDriftFeatureOutOfRange", "warning", {"feature": "a"}, "team-warning"),
    ("ModelDriftExporterDown", "warning", {}, "team-warning"),
    ("ModelDriftWindowTooSmall", "warning", {}, "team-warning"),
]


@pytest.mark.parametrize(("name", "severity", "extra", "receivers"), ROUTES)
def test_amtool_routes_alert_to_receivers(
    name: str, severity: str, extra: dict[str, str], receivers: str
) -> None:
    amtool = require_binary("amtool")
    labels = [f"alertname={name}", f"severity={severity}", "model=credit"]
    labels += [f"{key}={value}" for key, value in extra.items()]
    result = run_tool(
        amtool,
        "config",
        "routes",
        "test",
        f"--config.file={ALERTMANAGER_YML}",
        f"--verify.receivers={receivers}",
        *labels,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# ---------------------------------------------------------------- structure


def test_root_route_groups_by_alertname_and_model() -> None:
    assert _config()["route"]["group_by"] == ["alertname", "model"]


def test_only_matchers_syntax_is_used() -> None:
    text = ALERTMANAGER_YML.read_text()
    for deprecated in (
        "match:",
        "match_re:",
        "source_match:",
        "target_match:",
        "source_match_re:",
        "target_match_re:",
    ):
        assert not re.search(rf"^\s*{deprecated}", text, re.MULTILINE), deprecated


def test_retrain_webhook_receives_resolved_notifications() -> None:
    receivers = {r["name"]: r for r in _config()["receivers"]}
    (webhook,) = receivers["retrain-webhook"]["webhook_configs"]
    assert webhook["url"] == "http://retrain-webhook:8080/alerts"
    assert webhook["send_resolved"] is True


def test_retrain_route_continues_to_severity_routes() -> None:
    routes = _config()["route"]["routes"]
    assert routes[0]["receiver"] == "retrain-webhook"
    assert routes[0]["continue"] is True
    # Impact only: critical alerts of the three impact kinds (docs/runbook.md).
    assert 'severity="critical"' in routes[0]["matchers"]
    severities = {tuple(r["matchers"]): r["receiver"] for r in routes[1:]}
    assert severities == {
        ('severity="critical"',): "oncall-critical",
        ('severity="warning"',): "team-warning",
    }


def test_alert_names_in_config_exist_in_the_rules() -> None:
    # A typo in a matcher would silently route or inhibit nothing.
    names = {rule["alert"] for rule in alert_rules()}
    text = ALERTMANAGER_YML.read_text()
    for literal in re.findall(r'alertname="([^"]+)"', text):
        assert literal in names, literal
    for pattern in re.findall(r'alertname[=!]~"([^"]+)"', text):
        assert any(re.fullmatch(pattern, name) for name in names), pattern
        # Prefix(a|b|c): every alternative must name a rule (or, with a
        # trailing .+, prefix one).
        plain = re.fullmatch(r"(\w+)\(([\w|]+|[\w.+|]+)\)", pattern)
        if plain:
            prefix, alternatives = plain.groups()
            for alternative in alternatives.split("|"):
                assert any(re.fullmatch(prefix + alternative, name) for name in names), (
                    pattern,
                    alternative,
                )


# ---------------------------------------------------------------- inhibition semantics

_MATCHER = re.compile(r'^\s*([A-Za-z_]\w*)\s*(=~|!~|!=|=)\s*"(.*)"\s*$')


def _matches(matchers: list[str], labels: dict[str, str]) -> bool:
    """Alertmanager matcher semantics: regexes are anchored, a missing label is ''."""
    for matcher in matchers:
        parsed = _MATCHER.match(matcher)
        assert parsed, matcher
        name, op, value = parsed.groups()
        actual = labels.get(name, "")
        ok = {
            "=": actual == value,
            "!=": actual != value,
            "=~": re.fullmatch(value, actual) is not None,
            "!~": re.fullmatch(value, actual) is None,
        }[op]
        if not ok:
            return False
    return True


def _inhibits(source: dict[str, str], target: dict[str, str]) -> bool:
    for rule in _config()["inhibit_rules"]:
        if (
            _matches(rule["source_matchers"], source)
            and _matches(rule["target_matchers"], target)
            and all(source.get(label, "") == target.get(label, "") for label in rule["equal"])
        ):
            return True
    return False


INHIBITS = [
    # critical silences warning for the same sidecar, model and feature, any alert: broken
    # inputs explain the drift of the same feature
    (
        _alert("ModelDriftFeatureMissingValues", "critical", model="m", feature="amount"),
        _alert("ModelDriftFeatureShift", "warning", model="m", feature="amount"),
    ),
    (
        _alert("ModelDriftFeatureOutOfRange", "critical", model="m", feature="amount"),
        _alert("ModelDriftFeatureWasserstein", "warning", model="m", feature="amount"),
    ),
    # model-level alerts: critical silences the same alert's warning
    (
        _alert("ModelDriftPredictionShift", "critical", model="m"),
        _alert("ModelDriftPredictionShift", "warning", model="m"),
    ),
    (
        _alert("ModelDriftEstimatedPerformanceDrop", "critical", model="m"),
        _alert("ModelDriftEstimatedPerformanceDrop", "warning", model="m"),
    ),
    # a sidecar that is down or gone silences what it reported
    (
        _alert("ModelDriftExporterDown", "warning"),
        _alert("ModelDriftPredictionShift", "critical", model="m"),
    ),
    (
        _alert("ModelDriftExporterDown", "warning"),
        _alert("ModelDriftEvaluationStale", "warning", model="m"),
    ),
    (
        {"alertname": "ModelDriftExporterAbsent", "severity": "warning", "job": "drift-exporter"},
        _alert("ModelDriftNoTraffic", "warning", model="m"),
    ),
    # a stale or failing evaluation silences the model's drift, quality and window alerts
    (
        _alert("ModelDriftEvaluationStale", "warning", model="m"),
        _alert("ModelDriftFeatureShift", "warning", model="m", feature="amount"),
    ),
    (
        _alert("ModelDriftEvaluationStale", "warning", model="m"),
        _alert("ModelDriftFeatureMissingValues", "critical", model="m", feature="amount"),
    ),
    (
        _alert("ModelDriftEvaluationFailing", "warning", model="m"),
        _alert("ModelDriftPredictionShift", "critical", model="m"),
    ),
    (
        _alert("ModelDriftEvaluationStale", "warning", model="m"),
        _alert("ModelDriftWindowTooSmall", "warning", model="m"),
    ),
    # no traffic explains a thin window
    (
        _alert("ModelDriftNoTraffic", "warning", model="m"),
        _alert("ModelDriftWindowTooSmall", "warning", model="m"),
    ),
    # performance gauges come from the evaluation too
    (
        _alert("ModelDriftEvaluationStale", "warning", model="m"),
        _alert("ModelDriftPerformanceDrop", "critical", model="m"),
    ),
    (
        _alert("ModelDriftEvaluationFailing", "warning", model="m"),
        _alert("ModelDriftEstimatedPerformanceDrop", "critical", model="m"),
    ),
    (
        _alert("ModelDriftPerformanceDrop", "critical", model="m"),
        _alert("ModelDriftPerformanceDrop", "warning", model="m"),
    ),
]

DOES_NOT_INHIBIT = [
    # another feature, another model
    (
        _alert("ModelDriftFeatureMissingValues", "critical", model="m", feature="amount"),
        _alert("ModelDriftFeatureShift", "warning", model="m", feature="age"),
    ),
    (
        _alert("ModelDriftFeatureMissingValues", "critical", model="m", feature="amount"),
        _alert("ModelDriftFeatureShift", "warning", model="other", feature="amount"),
    ),
    # another replica of the same model (issue 14): a's alerts never silence b's
    (
        _alert("ModelDriftFeatureMissingValues", "critical", model="m", feature="amount"),
        {
            **_alert("ModelDriftFeatureShift", "warning", model="m", feature="amount"),
            **OTHER_SIDECAR,
        },
    ),
    (
        _alert("ModelDriftPredictionShift", "critical", model="m"),
        {**_alert("ModelDriftPredictionShift", "warning", model="m"), **OTHER_SIDECAR},
    ),
    (
        _alert("ModelDriftEvaluationStale", "warning", model="m"),
        {**_alert("ModelDriftPerformanceDrop", "critical", model="m"), **OTHER_SIDECAR},
    ),
    (
        _alert("ModelDriftNoTraffic", "warning", model="m"),
        {**_alert("ModelDriftWindowTooSmall", "warning", model="m"), **OTHER_SIDECAR},
    ),
    # A model-level critical has no feature label; neither have model-level
    # warnings. Equal-on-missing must not let it silence unrelated warnings.
    (
        _alert("ModelDriftPredictionShift", "critical", model="m"),
        _alert("ModelDriftNoTraffic", "warning", model="m"),
    ),
    (
        _alert("ModelDriftPredictionShift", "critical", model="m"),
        _alert("ModelDriftWindowTooSmall", "warning", model="m"),
    ),
    (
        _alert("ModelDriftPerformanceDrop", "critical", model="m"),
        _alert("ModelDriftManyFeaturesDrifted", "warning", model="m"),
    ),
    # nor per-feature warnings: a page for impact keeps the tickets that say which features moved
    (
        _alert("ModelDriftPredictionShift", "critical", model="m"),
        _alert("ModelDriftFeatureShift", "warning", model="m", feature="amount"),
    ),
    # critical never silences critical
    (
        _alert("ModelDriftFeatureMissingValues", "critical", model="m", feature="amount"),
        _alert("ModelDriftFeatureOutOfRange", "critical", model="m", feature="amount"),
    ),
    # warning never silences anything by severity
    (
        _alert("ModelDriftFeatureShift", "warning", model="m", feature="amount"),
        _alert("ModelDriftFeatureJensenShannon", "warning", model="m", feature="amount"),
    ),
    # one sidecar down says nothing about another
    (
        _alert("ModelDriftExporterDown", "warning"),
        {**_alert("ModelDriftFeatureShift", "warning", model="m", feature="a"), **OTHER_SIDECAR},
    ),
    # health alerts about the sidecar itself stay visible
    (
        _alert("ModelDriftExporterDown", "warning"),
        {"alertname": "ModelDriftExporterAbsent", "severity": "warning", "job": "drift-exporter"},
    ),
    # a stale evaluation of one model says nothing about another, nor about traffic
    (
        _alert("ModelDriftEvaluationStale", "warning", model="m"),
        _alert("ModelDriftFeatureShift", "warning", model="other", feature="a"),
    ),
    (
        _alert("ModelDriftEvaluationStale", "warning", model="m"),
        _alert("ModelDriftNoTraffic", "warning", model="m"),
    ),
    # detections are live counters: a stale evaluation does not explain them away
    (
        _alert("ModelDriftEvaluationStale", "warning", model="m"),
        _alert("ModelDriftConceptDrift", "warning", model="m", detector="adwin"),
    ),
    # a realised drop does not hide the estimate or the detectors, which say other things
    (
        _alert("ModelDriftPerformanceDrop", "critical", model="m"),
        _alert("ModelDriftEstimatedPerformanceDrop", "warning", model="m"),
    ),
    (
        _alert("ModelDriftPerformanceDrop", "critical", model="m"),
        _alert("ModelDriftConceptDrift", "warning", model="m", detector="ddm"),
    ),
]


@pytest.mark.parametrize(("source", "target"), INHIBITS)
def test_inhibits(source: dict[str, str], target: dict[str, str]) -> None:
    assert _inhibits(source, target)


@pytest.mark.parametrize(("source", "target"), DOES_NOT_INHIBIT)
def test_does_not_inhibit(source: dict[str, str], target: dict[str, str]) -> None:
    assert not _inhibits(source, target)
