"""Logs as a log pipeline reads them: the served process in `log_format: json`, and apps that
leave the process's logging alone."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient

from exporter.app import create_app
from exporter.settings import Settings
from tests.integration.payloads import seeded_records
from tests.support import free_port, start_sidecar, stop, wait_for


def json_lines(path: Path) -> list[dict[str, Any]]:
    """Every line of the process's output, each parsed as one JSON object."""
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_a_served_sidecar_with_log_format_json_writes_only_json_lines(tmp_path: Path) -> None:
    config = tmp_path / "config.yml"
    config.write_text("evaluation_interval_seconds: 60\n", encoding="utf-8")
    log = tmp_path / "sidecar.log"
    port = free_port()
    process = start_sidecar(config, port, log, env={"DRIFT_EXPORTER_LOG_FORMAT": "json"})
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{base}/readyz", process=process)
        reference = {"records": seeded_records(1, 200)}
        assert httpx.put(f"{base}/v1/models/credit/reference", json=reference).status_code == 201
    finally:
        stop(process)  # SIGTERM: uvicorn shuts down gracefully, then re-raises the signal
    lines = json_lines(log)
    assert all({"ts", "level", "logger", "msg"} <= line.keys() for line in lines)
    assert all(line["ts"].endswith("Z") for line in lines)
    uvicorn = [line["msg"] for line in lines if line["logger"].startswith("uvicorn")]
    assert any(msg.startswith("Started server process") for msg in uvicorn)
    assert any(msg.startswith("Finished server process") for msg in uvicorn)
    (uploaded,) = [line for line in lines if line.get("event") == "reference_uploaded"]
    assert uploaded["logger"] == "exporter.api.events"
    assert (uploaded["model"], uploaded["features"], uploaded["records"]) == ("credit", 4, 200)


def test_building_and_running_an_app_changes_no_logging_configuration() -> None:
    loggers = [logging.getLogger(name) for name in ("", "uvicorn", "uvicorn.error", "exporter")]
    before = [(list(logger.handlers), logger.level, logger.propagate) for logger in loggers]
    app = create_app(Settings(log_format="json", log_level="debug"), run_scheduler=False)
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200
    after = [(list(logger.handlers), logger.level, logger.propagate) for logger in loggers]
    assert after == before
