"""`ingest_listen` in one app: writes only on the ingest listener, reads on both.

The listener a request came in on is its ASGI `scope["server"]`; TestClient sets it from the
URL, so `http://127.0.0.1:9808/...` is the main listener and `http://127.0.0.1:9809/...` the
ingest one. tests/integration/test_ingest_listener_process.py drives the real two sockets.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from exporter.api.listeners import READ_METHODS
from exporter.app import create_app
from exporter.settings import Settings
from tests.integration.payloads import seeded_records

ROOT = Path(__file__).resolve().parents[2]
MAIN = "http://127.0.0.1:9808"
INGEST = "http://127.0.0.1:9809"
LOOPBACK_PEER = ("127.0.0.1", 50_000)
REMOTE_PEER = ("10.0.0.7", 50_000)
TOKEN = "listener-t0ken-0123456789"


def app_for(**settings: Any) -> FastAPI:
    return create_app(
        Settings(port=9808, ingest_listen="127.0.0.1:9809", **settings), run_scheduler=False
    )


@pytest.fixture
def app() -> FastAPI:
    return app_for()


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, client=LOOPBACK_PEER) as test_client:
        yield test_client


def write_routes(app: FastAPI) -> list[tuple[str, str]]:
    """(method, path template) of every route that is not a read, from the app's schema."""
    schema = app.openapi()
    return sorted(
        (method.upper(), path)
        for path, item in schema["paths"].items()
        for method in item
        if method.upper() not in READ_METHODS
    )


def rejected(client: TestClient, reason: str) -> float:
    metrics = client.get(f"{MAIN}/metrics").text
    line = f'drift_requests_rejected_total{{reason="{reason}"}} '
    return float(next(row for row in metrics.splitlines() if row.startswith(line)).split()[-1])


def upload(client: TestClient, base: str, **headers: str) -> httpx.Response:
    return client.put(
        f"{base}/v1/models/credit/reference",
        json={"records": seeded_records(1, 200)},
        headers=headers,
    )


def test_every_write_on_the_main_listener_is_refused_naming_the_ingest_listener(
    client: TestClient, app: FastAPI
) -> None:
    assert upload(client, INGEST).status_code == 201
    before = client.get(f"{MAIN}/v1/models").json()
    routes = write_routes(app)
    assert len(routes) >= 8  # reference, predictions (3 forms), labels, cloudevents, delete, ...
    for method, template in routes:
        response = client.request(
            method, MAIN + template.replace("{model}", "credit"), json={"records": []}
        )
        assert response.status_code == 403, (method, template, response.text)
        body = response.json()
        assert body["location"] == "listener"
        assert "ingest listener 127.0.0.1:9809 (ingest_listen)" in body["detail"]
        assert "this listener (127.0.0.1:9808)" in body["detail"]
    assert client.get(f"{MAIN}/v1/models").json() == before  # nothing changed
    assert rejected(client, "wrong_listener") == len(routes)


def test_writes_on_the_ingest_listener_reach_their_routes(client: TestClient) -> None:
    assert upload(client, INGEST).status_code == 201
    posted = client.post(
        f"{INGEST}/v1/models/credit/predictions", json={"records": seeded_records(2, 50)}
    )
    assert posted.status_code == 202
    assert posted.json() == {"accepted": 50}
    assert client.post(f"{INGEST}/v1/models/credit/evaluate").status_code == 200
    assert client.delete(f"{INGEST}/v1/models/credit").status_code == 204
    assert rejected(client, "wrong_listener") == 0


def test_reads_metrics_probes_and_docs_answer_on_both_listeners(client: TestClient) -> None:
    assert upload(client, INGEST).status_code == 201
    for base in (MAIN, INGEST):
        for path in (
            "/metrics",
            "/healthz",  # /readyz waits for the scheduler: the process test reads it
            "/v1/models",
            "/v1/models/credit/reference",
            "/docs",
            "/openapi.json",
        ):
            assert client.get(base + path).status_code == 200, (base, path)


def test_a_loopback_ingest_listener_refuses_writes_from_a_non_loopback_peer(
    app: FastAPI,
) -> None:
    with TestClient(app, client=LOOPBACK_PEER) as local:
        remote = TestClient(app, client=REMOTE_PEER)  # same app, already started
        response = upload(remote, INGEST)
        assert response.status_code == 403
        assert response.json()["location"] == "listener"
        assert "loopback clients only; this one came from 10.0.0.7" in response.json()["detail"]
        assert remote.get(f"{INGEST}/v1/models").status_code == 200  # reads stay open
        assert local.get(f"{MAIN}/v1/models").json() == {"models": []}
        assert upload(local, INGEST).status_code == 201


def test_a_non_loopback_ingest_listener_takes_writes_from_any_peer() -> None:
    app = create_app(Settings(port=9808, ingest_listen="0.0.0.0:9809"), run_scheduler=False)
    with TestClient(app, client=REMOTE_PEER) as remote:
        assert upload(remote, "http://10.0.0.5:9809").status_code == 201
        assert upload(remote, "http://10.0.0.5:9808").status_code == 403


def test_auth_keeps_working_on_both_listeners() -> None:
    good = {"authorization": f"Bearer {TOKEN}"}
    app = app_for(auth={"token": TOKEN, "protect_metrics": True})
    with TestClient(app, client=LOOPBACK_PEER) as client:
        assert upload(client, INGEST).status_code == 401
        assert upload(client, INGEST, authorization=f"Bearer {TOKEN}-wrong").status_code == 403
        # The listener check comes first: the right token does not open the main listener.
        refused = upload(client, MAIN, **good)
        assert refused.status_code == 403
        assert refused.json()["location"] == "listener"
        assert upload(client, INGEST, **good).status_code == 201
        for base in (MAIN, INGEST):
            assert client.get(f"{base}/metrics").status_code == 401
            assert client.get(f"{base}/metrics", headers=good).status_code == 200
        metrics = client.get(f"{MAIN}/metrics", headers=good).text
        # 401 and 403 on the ingest listener's upload, 401 on each listener's /metrics.
        assert 'drift_requests_rejected_total{reason="unauthorized"} 4.0' in metrics
        assert 'drift_requests_rejected_total{reason="wrong_listener"} 1.0' in metrics


def test_without_ingest_listen_every_route_is_served_on_the_one_listener() -> None:
    app = create_app(Settings(port=9808), run_scheduler=False)
    with TestClient(app, client=REMOTE_PEER) as client:
        assert upload(client, MAIN).status_code == 201
        assert upload(client, "http://10.0.0.5:9999").status_code == 200  # any address


def test_docs_api_names_every_write_route_as_served_by_the_ingest_listener(
    app: FastAPI,
) -> None:
    text = (ROOT / "docs" / "api.md").read_text()
    section = re.search(r"\n## Writes and the ingest listener\n(.*?)(?=\n## |\Z)", text, re.S)
    assert section is not None, "docs/api.md has no 'Writes and the ingest listener' section"
    missing = [
        f"{method} {path}"
        for method, path in write_routes(app)
        if f"`{method} {path}`" not in section.group(1)
    ]
    assert not missing, f"write routes docs/api.md does not list: {missing}"
    assert "wrong_listener" in section.group(1)
