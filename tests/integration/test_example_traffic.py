"""The example stack as compose runs it, with real processes: sidecar, example model server,
and examples/traffic.py driving /predict; the age drift it injects reaches the sidecar."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

from tests.support import ROOT, free_port, start_sidecar, stop, wait_for, wait_until


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

        # The model server's logger flushes every 0.2 s: wait until it has sent everything it
        # logged and the sidecar has counted it, rather than for a guessed time.
        def delivered() -> dict[str, int] | None:
            stats = logger_stats(server_url)
            done = stats["queued"] == 0 and stats["sent"] == records_total(sidecar_url) > 0
            return stats if done else None

        logged = wait_until(
            delivered,
            lambda: (
                f"the sidecar counted {records_total(sidecar_url):g} records, the model "
                f"server's logger: {logger_stats(server_url)}"
            ),
        )
        report = httpx.post(f"{sidecar_url}/v1/models/credit-risk/evaluate", timeout=30).json()
    finally:
        stop(server)
        stop(sidecar)
    assert report["status"] == "ok", report
    drifted = {feature["name"] for feature in report["features"] if feature["drifted"]}
    assert "age" in drifted
    # Everything served reached the window. How much that is depends on how fast this machine
    # ran the 8 s of traffic (3,200 records unloaded), so it is not a fixed number.
    assert report["window_records"] == logged["sent"]


def logger_stats(server_url: str) -> dict[str, int]:
    stats: dict[str, int] = httpx.get(f"{server_url}/drift-logger", timeout=30).json()
    return stats


def records_total(sidecar_url: str) -> float:
    needle = 'drift_records_total{model="credit-risk"} '
    for line in httpx.get(f"{sidecar_url}/metrics", timeout=30).text.splitlines():
        if line.startswith(needle):
            return float(line[len(needle) :])
    return 0.0
