"""The shipped scrape-with-token example, run for real: Prometheus scrapes a sidecar whose
/metrics needs the bearer token, and a wrong token shows up as a failed scrape."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import httpx
import pytest
import yaml

from tests.e2e.stack import DEPLOY, start_prometheus
from tests.support import free_port, start_sidecar, stop, wait_for

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(shutil.which("prometheus") is None, reason="needs Debian's prometheus"),
]

TOKEN = "scrape-token-9f8e7d"


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
    prometheus = start_prometheus(config, tmp_path, prom_port)
    try:
        wait_for(f"http://127.0.0.1:{sidecar_port}/healthz", process=sidecar)
        wait_for(f"http://127.0.0.1:{prom_port}/-/ready", process=prometheus)
        deadline = time.monotonic() + 30
        up: list[dict[str, object]] = []
        while time.monotonic() < deadline and not up:
            response = httpx.get(
                f"http://127.0.0.1:{prom_port}/api/v1/query",
                params={"query": 'up{job="drift-exporter"}'},
            )
            up = response.json()["data"]["result"]
            time.sleep(0.3)
        assert up, "Prometheus never scraped the sidecar"
        assert float(up[0]["value"][1]) == expected_up
    finally:
        stop(prometheus)
        stop(sidecar)
