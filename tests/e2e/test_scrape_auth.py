"""The shipped scrape-with-token example, run for real: Prometheus scrapes a sidecar whose
/metrics needs the bearer token, and a wrong token shows up as a failed scrape."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.e2e.stack import DEPLOY, start_prometheus
from tests.support import free_port, start_sidecar, stop, wait_for, wait_until

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(shutil.which("prometheus") is None, reason="needs Debian's prometheus"),
]

TOKEN = "scrape-token-9f8e7d"


def sidecar_target(prometheus: str) -> dict[str, Any] | None:
    """The drift-exporter target as /api/v1/targets shows it, once Prometheus has scraped it."""
    response = httpx.get(f"{prometheus}/api/v1/targets", params={"state": "active"}, timeout=10)
    for target in response.json()["data"]["activeTargets"]:
        if target["labels"].get("job") == "drift-exporter" and target["health"] != "unknown":
            return dict(target)
    return None


def up_values(prometheus: str, expr: str = 'up{job="drift-exporter"}') -> list[float]:
    response = httpx.get(f"{prometheus}/api/v1/query", params={"query": expr}, timeout=10)
    return [float(series["value"][1]) for series in response.json()["data"]["result"]]


@pytest.mark.parametrize(("scrape_token", "expected_up"), [(TOKEN, 1.0), ("wrong-token", 0.0)])
def test_prometheus_scrapes_a_protected_sidecar_only_with_its_token(
    tmp_path: Path, scrape_token: str, expected_up: float
) -> None:
    sidecar_config = tmp_path / "sidecar.yml"
    sidecar_config.write_text(f"auth:\n  token: {TOKEN}\n  protect_metrics: true\n")
    sidecar_port, prom_port = free_port(), free_port()
    sidecar = start_sidecar(sidecar_config, sidecar_port, tmp_path / "sidecar.log")
    (tmp_path / "token").write_text(scrape_token)
    example = yaml.safe_load(
        (DEPLOY / "prometheus" / "examples" / "scrape-with-token.yml").read_text()
    )
    job = example["scrape_configs"][0]
    job["scheme"] = "http"  # TLS is covered by tests/integration/test_security.py
    del job["tls_config"]
    job["authorization"]["credentials_file"] = str(tmp_path / "token")
    job["static_configs"][0]["targets"] = [f"127.0.0.1:{sidecar_port}"]
    example["global"] = {"scrape_interval": "1s", "scrape_timeout": "1s"}
    config = tmp_path / "prometheus.yml"
    config.write_text(yaml.safe_dump(example))
    prometheus: subprocess.Popen[bytes] | None = None
    base = f"http://127.0.0.1:{prom_port}"
    try:
        # Listening before Prometheus starts, so no scrape can find the port closed: an up of 0
        # then means the sidecar answered and refused, not that it was still starting.
        wait_for(f"http://127.0.0.1:{sidecar_port}/healthz", process=sidecar)
        prometheus = start_prometheus(config, tmp_path, prom_port)
        wait_for(f"{base}/-/ready", process=prometheus)
        if expected_up == 1.0:
            # One accepted scrape proves the token works; a scrape that timed out under load
            # before it (scrape_timeout is 1 s) is waited through, not taken as the answer.
            wait_until(
                lambda: up_values(base) == [1.0],
                lambda: f"no scrape with the token succeeded: {sidecar_target(base)}",
            )
        else:

            def refused() -> dict[str, Any] | None:
                target = sidecar_target(base)
                return target if target and "403" in target["lastError"] else None

            # Refused by the sidecar (403), not merely failed (a timeout is also up == 0).
            target = wait_until(
                refused, lambda: f"no scrape was refused with 403: {sidecar_target(base)}"
            )
            assert target["health"] == "down", target
            assert up_values(base) == [0.0]
            # ... and no scrape with the wrong token ever got through.
            assert up_values(base, 'max_over_time(up{job="drift-exporter"}[1h])') == [0.0]
    finally:
        if prometheus is not None:
            stop(prometheus)
        stop(sidecar)
