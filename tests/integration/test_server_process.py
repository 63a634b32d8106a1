"""The real thing: `python -m exporter serve` as a process on a free port, driven over HTTP."""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.integration.payloads import seeded_records
from tests.support import free_port, start_sidecar, stop, wait_for, wait_until

CONFIG = """\
evaluation_interval_seconds: 0.5
min_records: 200
window:
  max_records: 2000
  slices: 10
models:
  credit:
    features:
      flag: boolean
"""


@pytest.fixture
def sidecar(tmp_path: Path):
    config = tmp_path / "config.yml"
    config.write_text(CONFIG)
    port = free_port()
    process = start_sidecar(config, port, tmp_path / "sidecar.log")
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{base}/readyz", process=process)
        yield base, process
    finally:
        stop(process)


def scrape_evaluated(base: str, records: int) -> str:
    """The first /metrics whose drift gauges come from an evaluation of `records` records.

    The first scrape with drift gauges is not enough: an evaluation may run between two POSTs
    and publish drift for part of the window (500 or 750 of 1,000 records, seen under load)."""
    window = f'drift_window_records{{model="credit"}} {float(records)}'
    psi = 'drift_feature_psi{feature="x",model="credit"}'
    last = [""]

    def evaluated() -> str:
        last[0] = httpx.get(f"{base}/metrics", timeout=30).text
        lines = last[0].splitlines()
        has_psi = any(line.startswith(psi + " ") for line in lines)
        return last[0] if window in lines and has_psi else ""

    return wait_until(
        evaluated,
        lambda: f"no evaluation of {records} records with drift gauges in /metrics:\n{last[0]}",
    )


def test_served_sidecar_evaluates_on_its_interval_and_exposes_drift(
    sidecar, tmp_path: Path
) -> None:
    base, _ = sidecar
    with httpx.Client(base_url=base, timeout=30) as client:
        assert (
            client.put(
                "/v1/models/credit/reference", json={"records": seeded_records(1, 3_000)}
            ).status_code
            == 201
        )
        for seed in range(4):
            response = client.post(
                "/v1/models/credit/predictions",
                json={"records": seeded_records(10 + seed, 250, shift=2.0)},
            )
            assert response.status_code == 202 and response.json() == {"accepted": 250}
        text = scrape_evaluated(base, 1_000)
        # No POST since: every later evaluation covers the same 1,000 records.
        report = client.get("/v1/models/credit/drift").json()
    assert report["window_records"] == 1_000
    assert next(f for f in report["features"] if f["name"] == "x")["drifted"] is True
    assert 'drift_records_total{model="credit"} 1000.0' in text
    if shutil.which("promtool"):
        result = subprocess.run(
            ["promtool", "check", "metrics"], input=text.encode(), capture_output=True, timeout=30
        )
        assert result.returncode == 0, result.stderr.decode()


def test_sigterm_runs_the_graceful_shutdown(sidecar, tmp_path: Path) -> None:
    _, process = sidecar
    process.send_signal(signal.SIGTERM)
    # uvicorn shuts down gracefully, then re-raises the signal so the exit status reports it.
    assert process.wait(timeout=15) in (0, -signal.SIGTERM)
    log = (tmp_path / "sidecar.log").read_text()
    assert "Application shutdown complete" in log, log


def test_invalid_config_exits_2_with_a_message(tmp_path: Path) -> None:
    config = tmp_path / "config.yml"
    config.write_text("window:\n  max_recrods: 5\n")
    result = subprocess.run(
        ["python", "-m", "exporter", "serve", "--config", str(config)],
        capture_output=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "max_recrods" in result.stderr.decode()


def test_demo_runs_and_shows_drift(tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "demo.log"
    with log.open("wb") as handle:
        process = subprocess.Popen(
            [
                "python",
                "-m",
                "exporter",
                "demo",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--drift-after-seconds",
                "3",
                "--records-per-second",
                "400",
                "--duration-seconds",
                "600",  # a backstop: the test stops it; its start alone took 10 s under load
            ],
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{base}/healthz", process=process)
        deadline = time.monotonic() + 120  # drift starts after 3 s; the rest is load
        drifted = False
        while time.monotonic() < deadline and not drifted:
            response = httpx.get(f"{base}/v1/models/demo-credit/drift", timeout=30)
            if response.status_code == 200:
                report = response.json()
                drifted = any(f["name"] == "country" and f["drifted"] for f in report["features"])
            time.sleep(0.5)
        assert drifted, log.read_text()
    finally:
        stop(process)
    assert "/metrics" in log.read_text()
