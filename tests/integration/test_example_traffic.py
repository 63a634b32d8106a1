"""The example stack as compose runs it, with real processes: sidecar, example model server,
and examples/traffic.py driving /predict; the age drift it injects reaches the sidecar."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.support import ROOT, free_port, start_sidecar, stop, wait_for


def test_traffic_through_the_example_model_server_shows_drift(tmp_path: Path) -> None:
    config = tmp_path / "sidecar.yml"
    config.write_text("evaluation_interval_seconds: 1\nmin_records: 200\n")
    sidecar_port, server_port = free_port(), free_port()
    sidecar_url = f"http://127.0.0.1:{sidecar_port}"
    server_url = f"http://127.0.0.1:{server_port}"
    sidecar = start_sidecar(config, sidecar_port, tmp_path / "sidecar.log")
    environment = {
        **os.environ,
        "DRIFT_SIDECAR_URL": sidecar_url,
        "DRIFT_FLUSH_INTERVAL_SECONDS": "0.2",
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "examples.model_server:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(server_port),
        ],
        cwd=ROOT,
        env=environment,
        stdout=(tmp_path / "server.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for(f"{sidecar_url}/readyz", process=sidecar)
        wait_for(f"{server_url}/healthz", process=server)
        traffic = subprocess.run(
            [
                sys.executable,
                "-m",
                "examples.traffic",
                "--sidecar",
                sidecar_url,
                "--model-server",
                server_url,
                "--records-per-second",
                "400",
                "--drift-after-seconds",
                "3",
                "--duration-seconds",
                "8",
            ],
            cwd=ROOT,
            capture_output=True,
            timeout=90,
        )
        assert traffic.returncode == 0, traffic.stderr.decode()
        assert b"age drift" in traffic.stdout
        time.sleep(1.5)  # the model server's logger flushes every 0.2 s
        report = httpx.post(f"{sidecar_url}/v1/models/credit-risk/evaluate", timeout=30).json()
    finally:
        stop(server)
        stop(sidecar)
    assert report["status"] == "ok", report
    drifted = {feature["name"] for feature in report["features"] if feature["drifted"]}
    assert "age" in drifted
    assert report["window_records"] >= 2_000
