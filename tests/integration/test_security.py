"""Bearer auth (401 vs 403, which routes), and HTTPS with a self-signed certificate."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from exporter.app import create_app
from exporter.settings import Settings
from tests.integration.payloads import seeded_records
from tests.support import STARTUP_SECONDS, free_port, start_sidecar, stop

TOKEN = "s3cr3t-token-0123456789"
GOOD = {"authorization": f"Bearer {TOKEN}"}


def app_client(**auth: object) -> TestClient:
    return TestClient(create_app(Settings(auth={"token": TOKEN, **auth}), run_scheduler=False))


@pytest.fixture
def client() -> Iterator[TestClient]:
    with app_client() as test_client:
        yield test_client


def upload(client: TestClient, headers: dict[str, str]) -> httpx.Response:
    return client.put(
        "/v1/models/credit/reference", json={"records": seeded_records(1, 50)}, headers=headers
    )


def test_writes_need_the_token(client: TestClient) -> None:
    missing = upload(client, {})
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"].startswith("Bearer")
    assert missing.json()["location"] == "header.authorization"
    assert upload(client, {"authorization": "Basic dXNlcjpwYXNz"}).status_code == 401
    assert upload(client, {"authorization": "Bearer "}).status_code == 401
    assert upload(client, {"authorization": "Bearer wrong"}).status_code == 403
    assert client.get("/v1/models").json() == {"models": []}  # nothing was created
    assert upload(client, GOOD).status_code == 201
    records = {"records": seeded_records(2, 5)}
    assert client.post("/v1/models/credit/predictions", json=records).status_code == 401
    assert (
        client.post("/v1/models/credit/predictions", json=records, headers=GOOD).status_code == 202
    )
    assert client.post("/v1/models/credit/evaluate").status_code == 401
    assert client.delete("/v1/models/credit").status_code == 401


def test_reads_metrics_and_probes_stay_open_by_default(client: TestClient) -> None:
    assert upload(client, GOOD).status_code == 201
    assert client.get("/v1/models").status_code == 200
    assert client.get("/v1/models/credit/reference").status_code == 200
    assert client.get("/metrics").status_code == 200
    assert client.get("/healthz").status_code == 200


def test_reads_and_metrics_can_be_protected_but_probes_never() -> None:
    with app_client(protect_reads=True, protect_metrics=True) as client:
        assert client.get("/v1/models").status_code == 401
        assert client.get("/openapi.json").status_code == 401
        assert client.get("/metrics").status_code == 401
        assert client.get("/metrics", headers={"authorization": "Bearer nope"}).status_code == 403
        assert client.get("/metrics", headers=GOOD).status_code == 200
        assert client.get("/v1/models", headers=GOOD).status_code == 200
        assert client.get("/healthz").status_code == 200
        assert client.get("/readyz").status_code in (200, 503)


def test_refusals_are_counted_and_the_token_never_appears(client: TestClient) -> None:
    upload(client, {})
    upload(client, {"authorization": "Bearer wrong"})
    text = client.get("/metrics").text
    assert 'drift_requests_rejected_total{reason="unauthorized"} 2.0' in text
    assert TOKEN not in text
    assert TOKEN not in repr(client.app.state.settings)


def test_token_from_a_file(tmp_path: Path) -> None:
    secret = tmp_path / "token"
    secret.write_text(TOKEN + "\n")
    with TestClient(
        create_app(Settings(auth={"token_file": secret}), run_scheduler=False)
    ) as client:
        assert upload(client, {}).status_code == 401
        assert upload(client, GOOD).status_code == 201


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl not installed")
def test_https_with_a_self_signed_certificate(tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    config = tmp_path / "config.yml"
    config.write_text(f"tls:\n  cert_file: {cert}\n  key_file: {key}\nauth:\n  token: {TOKEN}\n")
    port = free_port()
    process = start_sidecar(config, port, tmp_path / "sidecar.log")
    try:
        wait_for_tls(f"https://127.0.0.1:{port}/healthz", cert, process)
        with httpx.Client(
            base_url=f"https://127.0.0.1:{port}",
            verify=ssl.create_default_context(cafile=str(cert)),
            timeout=30,
        ) as client:
            response = client.put(
                "/v1/models/credit/reference", json={"records": seeded_records(1, 50)}, headers=GOOD
            )
            assert response.status_code == 201
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
    finally:
        stop(process)
    assert TOKEN not in (tmp_path / "sidecar.log").read_text()


def wait_for_tls(url: str, cert: Path, process: subprocess.Popen[bytes]) -> None:
    import time

    deadline = time.monotonic() + STARTUP_SECONDS  # a sidecar took 10-13 s under load
    while time.monotonic() < deadline:
        assert process.poll() is None, "sidecar exited"
        try:
            if (
                httpx.get(
                    url, verify=ssl.create_default_context(cafile=str(cert)), timeout=5
                ).status_code
                == 200
            ):
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise TimeoutError(url)
