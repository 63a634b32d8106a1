"""Alertmanager config: amtool validation, routing, and inhibition semantics."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from deploy_support import ALERTMANAGER_DIR, alert_rules, load_yaml, require_binary, run_tool

from tests.support import free_port, stop, wait_for, wait_until

ALERTMANAGER_YML = ALERTMANAGER_DIR / "alertmanager.yml"
SIDECAR = {"job": "drift-exporter", "instance": "sidecar:9808"}
OTHER_SIDECAR = {"job": "drift-exporter", "instance": "sidecar-2:9808"}
#: The model's pooled alerts (issue 14) carry no instance label.
MODEL = {"job": "drift-exporter"}


def _config() -> dict[str, Any]:
    config: dict[str, Any] = load_yaml(ALERTMANAGER_YML)
    return config


def _alert(name: str, severity: str, **labels: str) -> dict[str, str]:
    return {"alertname": name, "severity": severity, **SIDECAR, **labels}


def _pooled(name: str, severity: str, **labels: str) -> dict[str, str]:
    """A model-level alert on the pooled rules: no instance."""
    return {"alertname": name, "severity": severity, **MODEL, **labels}


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
    ("ModelDriftReferenceMismatch", "warning", {"feature": "a"}, "team-warning"),
    # The heartbeat: never a page, a ticket nor a retrain.
    ("Watchdog", "none", {}, "null"),
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


def test_watchdog_goes_first_to_the_null_receiver() -> None:
    routes = _config()["route"]["routes"]
    assert routes[0] == {
        "receiver": "null",
        "matchers": ['alertname="Watchdog"'],
        "repeat_interval": "5m",
    }
    assert {"name": "null"} in _config()["receivers"]


def test_retrain_route_continues_to_severity_routes() -> None:
    routes = _config()["route"]["routes"][1:]
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
    # the model's pooled alerts (no instance): critical silences the model's warning
    (
        _pooled("ModelDriftPredictionShift", "critical", model="m"),
        _pooled("ModelDriftPredictionShift", "warning", model="m"),
    ),
    (
        _pooled("ModelDriftFeatureMissingValues", "critical", model="m", feature="amount"),
        _pooled("ModelDriftFeatureShift", "warning", model="m", feature="amount"),
    ),
    # no traffic to the model explains its thin pooled window
    (
        _pooled("ModelDriftNoTraffic", "warning", model="m"),
        _pooled("ModelDriftWindowTooSmall", "warning", model="m"),
    ),
    # deployment labels identify too: same namespace and cluster
    (
        _pooled("ModelDriftPredictionShift", "critical", model="m", namespace="shop"),
        _pooled("ModelDriftPredictionShift", "warning", model="m", namespace="shop"),
    ),
]

DOES_NOT_INHIBIT = [
    # issue 14: one replica's alert never silences the model's pooled alerts, which the other
    # replicas still feed: a sidecar down, a stale evaluation, a replica's own bad input
    (
        _alert("ModelDriftExporterDown", "warning"),
        _pooled("ModelDriftFeatureShift", "warning", model="m", feature="amount"),
    ),
    (
        _alert("ModelDriftEvaluationStale", "warning", model="m"),
        _pooled("ModelDriftPerformanceDrop", "critical", model="m"),
    ),
    (
        _alert("ModelDriftFeatureMissingValues", "critical", model="m", feature="amount"),
        _pooled("ModelDriftFeatureShift", "warning", model="m", feature="amount"),
    ),
    # nor does the model's critical silence a replica's own warning: it names the replica
    (
        _pooled("ModelDriftFeatureOutOfRange", "critical", model="m", feature="amount"),
        _alert("ModelDriftFeatureOutOfRange", "warning", model="m", feature="amount"),
    ),
    # a replica without traffic says nothing about the model's pooled window
    (
        _alert("ModelDriftNoTraffic", "warning", model="m"),
        _pooled("ModelDriftWindowTooSmall", "warning", model="m"),
    ),
    # the same model name in another namespace or cluster is another model
    (
        _pooled("ModelDriftPredictionShift", "critical", model="m", namespace="shop"),
        _pooled("ModelDriftPredictionShift", "warning", model="m", namespace="bank"),
    ),
    (
        _pooled("ModelDriftPredictionShift", "critical", model="m", cluster="eu"),
        _pooled("ModelDriftPredictionShift", "warning", model="m", cluster="us"),
    ),
    # the Watchdog is never inhibited
    (
        _alert("ModelDriftExporterDown", "warning"),
        {"alertname": "Watchdog", "severity": "none"},
    ),
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


def test_every_inhibition_is_equal_on_all_identifying_labels() -> None:
    for rule in _config()["inhibit_rules"]:
        equal = set(rule["equal"])
        assert {"job", "namespace", "cluster"} <= equal, rule
        if "ModelDriftExporterAbsent" not in str(rule["source_matchers"]):
            assert "instance" in equal, rule


# ---------------------------------------------------------------- a real Alertmanager


@pytest.fixture(scope="module")
def alertmanager(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The shipped config in a real Alertmanager on a free port (receivers unreachable: only
    the alerts' state is read); stopped by pid at the end."""
    binary = require_binary("prometheus-alertmanager")
    workdir: Path = tmp_path_factory.mktemp("alertmanager")
    config = _config()
    for receiver in config["receivers"]:
        for hook in receiver.get("webhook_configs", []):
            hook["url"] = "http://127.0.0.1:9/alerts"  # discard port: nothing is delivered
    (workdir / "alertmanager.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    log = (workdir / "alertmanager.log").open("wb")
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={workdir / 'alertmanager.yml'}",
            f"--storage.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for(f"http://127.0.0.1:{port}/-/ready", process=process)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(process)
        log.close()


def _states(url: str, model: str) -> dict[tuple[str, str, str], dict[str, Any]]:
    alerts = httpx.get(f"{url}/api/v2/alerts", params={"filter": f'model="{model}"'}).json()
    return {
        (a["labels"]["alertname"], a["labels"].get("instance", ""), a["labels"]["severity"]): a[
            "status"
        ]
        for a in alerts
    }


def test_a_warning_on_replica_a_never_inhibits_a_critical_on_replica_b(alertmanager: str) -> None:
    # Issue 14, reproduced against a running Alertmanager with the shipped config: replica a's
    # stale evaluation (a warning) silences a's own critical, not replica b's, nor the model's
    # pooled critical, and b's critical still reaches the receivers.
    a = {"job": "drift-exporter", "instance": "a:9808", "model": "leak"}
    b = {**a, "instance": "b:9808"}
    pooled = {"job": "drift-exporter", "model": "leak"}
    missing = {"alertname": "ModelDriftFeatureMissingValues", "feature": "amount"}
    posted = [
        {**a, "alertname": "ModelDriftEvaluationStale", "severity": "warning"},
        {**a, **missing, "severity": "critical"},
        {**b, **missing, "severity": "critical"},
        {**pooled, "alertname": "ModelDriftPredictionShift", "severity": "critical"},
        {**pooled, "alertname": "ModelDriftPredictionShift", "severity": "warning"},
    ]
    response = httpx.post(f"{alertmanager}/api/v2/alerts", json=[{"labels": x} for x in posted])
    assert response.status_code == 200, response.text

    def settled() -> dict[tuple[str, str, str], dict[str, Any]] | None:
        states = _states(alertmanager, "leak")
        return states if len(states) == len(posted) else None

    states = wait_until(settled, lambda: f"alerts seen: {_states(alertmanager, 'leak')}")
    stale = ("ModelDriftEvaluationStale", "a:9808", "warning")
    assert states[("ModelDriftFeatureMissingValues", "a:9808", "critical")]["inhibitedBy"]
    assert states[("ModelDriftFeatureMissingValues", "b:9808", "critical")] == {
        "state": "active",
        "inhibitedBy": [],
        "silencedBy": [],
    }
    assert states[("ModelDriftPredictionShift", "", "critical")]["state"] == "active"
    # the model's critical silences the model's warning (equal on every label, none instance)
    assert states[("ModelDriftPredictionShift", "", "warning")]["state"] == "suppressed"
    assert states[stale]["state"] == "active"
