"""The example retraining webhook: payload validation, logging, storage, HTTP behaviour."""

from __future__ import annotations

import copy
import json
import logging
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from deploy_support import ALERTMANAGER_DIR, load_script

SCRIPT = ALERTMANAGER_DIR / "retrain_webhook.py"
EXAMPLE = ALERTMANAGER_DIR / "example-webhook-payload.json"


webhook = load_script(SCRIPT, "retrain_webhook", register=True)


def _example() -> dict[str, Any]:
    payload: dict[str, Any] = json.loads(EXAMPLE.read_text())
    return payload


@pytest.fixture()
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    out_dir = tmp_path / "alerts"
    srv = webhook.make_server("127.0.0.1", 0, out_dir)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    host, port = srv.server_address[:2]
    try:
        yield f"http://{host}:{port}", out_dir
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(timeout=5)


def _stored(out_dir: Path) -> list[Path]:
    return sorted(out_dir.glob("*.json")) if out_dir.exists() else []


# ---------------------------------------------------------------- the example payload


def test_example_payload_is_a_version_4_impact_notification() -> None:
    # What the webhook receives now: impact (here a severe prediction drift), critical only.
    payload = _example()
    assert webhook.validate_payload(payload) is payload
    assert payload["receiver"] == "retrain-webhook"
    assert payload["groupLabels"] == {
        "alertname": "ModelDriftPredictionShift",
        "model": "credit-risk",
    }
    for alert in payload["alerts"]:
        labels = alert["labels"]
        assert labels["alertname"] == "ModelDriftPredictionShift"
        assert labels["severity"] == "critical"
        assert "feature" not in labels and labels["model"] == "credit-risk"
        assert alert["annotations"]["runbook_url"].endswith("#alert-name-modeldriftpredictionshift")
        assert re.fullmatch(r"[0-9a-f]{16}", alert["fingerprint"])
        # Common labels are exactly the labels every alert shares.
        for key, value in payload["commonLabels"].items():
            assert labels[key] == value


def test_alert_log_line_names_alert_model_feature_and_status() -> None:  # feature: - when none
    line = webhook.alert_log_line(_example()["alerts"][0])
    assert line == (
        "alert alertname=ModelDriftPredictionShift model=credit-risk feature=- "
        "status=firing severity=critical"
    )


def test_alert_log_line_marks_a_missing_feature() -> None:
    alert = {
        "status": "resolved",
        "labels": {"alertname": "ModelDriftPredictionShift", "model": "m", "severity": "warning"},
    }
    assert "feature=- status=resolved" in webhook.alert_log_line(alert)


# ---------------------------------------------------------------- over HTTP


def test_post_example_logs_one_line_per_alert_and_stores_the_payload(
    server: tuple[str, Path], caplog: pytest.LogCaptureFixture
) -> None:
    url, out_dir = server
    payload = _example()
    with caplog.at_level(logging.INFO, logger="retrain_webhook"):
        response = httpx.post(f"{url}/alerts", json=payload, timeout=5)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["alerts"] == len(payload["alerts"])
    (stored,) = _stored(out_dir)
    assert stored.name == body["stored"]
    assert json.loads(stored.read_text()) == payload
    alert_lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("alert ")]
    assert alert_lines == [webhook.alert_log_line(alert) for alert in payload["alerts"]]


def test_each_notification_gets_its_own_file(server: tuple[str, Path]) -> None:
    url, out_dir = server
    firing = _example()
    resolved = copy.deepcopy(firing)
    resolved["status"] = "resolved"
    for alert in resolved["alerts"]:
        alert["status"] = "resolved"
        alert["endsAt"] = "2024-05-14T11:02:45.112Z"
    for payload in (firing, resolved):
        assert httpx.post(f"{url}/alerts", json=payload, timeout=5).status_code == 200
    names = [path.name for path in _stored(out_dir)]
    assert len(names) == 2
    assert all(re.fullmatch(r"\d{8}T\d{9}Z-(firing|resolved)-[0-9a-f]{12}\.json", n) for n in names)
    assert any("-firing-" in name for name in names)
    assert any("-resolved-" in name for name in names)


def _broken(mutate: Any) -> dict[str, Any]:
    payload = _example()
    mutate(payload)
    return payload


INVALID = [
    (_broken(lambda p: p.update(version="3")), "version"),
    (_broken(lambda p: p.pop("alerts")), "alerts: missing"),
    (_broken(lambda p: p.update(alerts=[])), "alerts: expected at least one"),
    (_broken(lambda p: p.update(status="pending")), "status"),
    (_broken(lambda p: p.update(truncatedAlerts="0")), "truncatedAlerts"),
    (_broken(lambda p: p["alerts"][1].update(labels=["x"])), "alerts[1].labels"),
    (_broken(lambda p: p["alerts"][0]["labels"].pop("alertname")), "alerts[0].labels.alertname"),
    (_broken(lambda p: p["alerts"][0]["annotations"].update(x=1)), "alerts[0].annotations.x"),
    (_broken(lambda p: p["alerts"][0].pop("startsAt")), "alerts[0].startsAt"),
    (_broken(lambda p: p["commonLabels"].update(model=None)), "commonLabels.model"),
    (["not", "an", "object"], "body"),
]


@pytest.mark.parametrize(("payload", "field"), INVALID, ids=[field for _, field in INVALID])
def test_invalid_payload_is_rejected_naming_the_field_and_nothing_is_stored(
    server: tuple[str, Path], payload: Any, field: str
) -> None:
    url, out_dir = server
    response = httpx.post(f"{url}/alerts", json=payload, timeout=5)
    assert response.status_code == 400
    assert response.json()["error"].startswith(field)
    assert _stored(out_dir) == []


def test_malformed_json_is_rejected_with_its_position(server: tuple[str, Path]) -> None:
    url, out_dir = server
    response = httpx.post(
        f"{url}/alerts",
        content=b'{"version": "4",\n  oops}',
        headers={"Content-Type": "application/json"},
        timeout=5,
    )
    assert response.status_code == 400
    assert "line 2" in response.json()["error"]
    assert _stored(out_dir) == []


def test_other_paths_are_not_found(server: tuple[str, Path]) -> None:
    url, _ = server
    assert httpx.post(f"{url}/webhook", json=_example(), timeout=5).status_code == 404
    assert httpx.get(f"{url}/alerts", timeout=5).status_code == 404


def test_non_json_media_type_is_unsupported(server: tuple[str, Path]) -> None:
    url, _ = server
    response = httpx.post(
        f"{url}/alerts",
        content=json.dumps(_example()),
        headers={"Content-Type": "text/plain"},
        timeout=5,
    )
    assert response.status_code == 415


def test_body_over_the_limit_is_too_large(server: tuple[str, Path]) -> None:
    url, out_dir = server
    body = b" " * (webhook.MAX_BODY_BYTES + 1)
    response = httpx.post(
        f"{url}/alerts", content=body, headers={"Content-Type": "application/json"}, timeout=10
    )
    assert response.status_code == 413
    assert _stored(out_dir) == []


def test_healthz(server: tuple[str, Path]) -> None:
    url, _ = server
    response = httpx.get(f"{url}/healthz", timeout=5)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


# ---------------------------------------------------------------- as the compose service runs it


def test_script_serves_until_sigterm(tmp_path: Path) -> None:
    out_dir = tmp_path / "alerts"
    process = subprocess.Popen(
        [
            sys.executable,
            str(SCRIPT),
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--out-dir",
            str(out_dir),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        match = re.search(r"listening on (http://127\.0\.0\.1:\d+)/alerts", first)
        assert match, first
        response = httpx.post(f"{match.group(1)}/alerts", json=_example(), timeout=5)
        assert response.status_code == 200
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        output = process.stdout.read()
        assert "alert alertname=ModelDriftPredictionShift model=credit-risk feature=-" in output
        assert len(_stored(out_dir)) == 1
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
