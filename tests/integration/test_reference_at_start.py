"""The profile round trip of issue 15, with real sidecar processes.

A profile built offline and named by `models.<name>.reference` gives the same drift report as
a PUT of the data it was built from, after the same traffic. Readiness waits for every
configured reference: a URL this test serves and holds (so "loading" is observable, not a race),
and a broken file, named in the 503 until it is fixed and re-read while the sidecar runs.
"""

from __future__ import annotations

import http.server
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from exporter.cli import main
from tests.support import free_port, start_sidecar, stop, wait_for, wait_until

SETTINGS = """\
evaluation_interval_seconds: 3600
evaluation_worker: thread
min_records: 100
reference_poll_interval_seconds: 0.5
window: {max_records: 5000, slices: 4, sample_size: 5000}
"""


def training_csv(rows: int = 2_000) -> bytes:
    rng = np.random.default_rng(11)
    lines = ["age,country,prediction"]
    for _ in range(rows):
        age, country, score = rng.normal(40, 10), rng.choice(["fr", "de", "us"]), rng.uniform()
        lines.append(f"{age:.3f},{country},{score:.4f}")
    return ("\n".join(lines) + "\n").encode()


def traffic(count: int = 1_500) -> dict[str, Any]:
    rng = np.random.default_rng(12)  # shifted: the report has drift to agree on
    return {
        "records": [
            {
                "features": {
                    "age": round(float(rng.normal(45, 10)), 3),
                    "country": str(rng.choice(["fr", "de", "us", "uk"], p=[0.4, 0.3, 0.2, 0.1])),
                },
                "prediction": round(float(rng.uniform()), 4),
            }
            for _ in range(count)
        ]
    }


class HeldReference:
    """An HTTP server answering with `body` only once `release` is set."""

    def __init__(self, body: bytes) -> None:
        self.release = threading.Event()
        held = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                held.release.wait(120)
                self.send_response(200)
                self.send_header("Content-Type", "text/csv")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/slow.csv"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> HeldReference:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def processes() -> Iterator[list[Any]]:
    started: list[Any] = []
    yield started
    for process in started:
        stop(process)


def report(base: str, model: str) -> dict[str, Any]:
    evaluated = httpx.post(f"{base}/v1/models/{model}/evaluate", timeout=60)
    assert evaluated.status_code == 200, evaluated.text
    body = httpx.get(f"{base}/v1/models/{model}/drift", timeout=10).json()
    for key in ("evaluated_at", "last_success_at", "duration_seconds"):
        body.pop(key)
    return dict(body)


def readiness(base: str) -> tuple[int, dict[str, Any]]:
    answer = httpx.get(f"{base}/readyz", timeout=5)
    return answer.status_code, answer.json()


def test_a_configured_profile_judges_as_a_put_of_its_data_and_readiness_waits_for_it(
    tmp_path: Path, processes: list[Any]
) -> None:
    data = tmp_path / "train.csv"
    data.write_bytes(training_csv())
    (tmp_path / "settings.yml").write_text(SETTINGS)
    profile = tmp_path / "credit.profile"
    build = ["profile", "build", str(data), "-o", str(profile)]
    assert main([*build, "--config", str(tmp_path / "settings.yml")]) == 0
    broken = tmp_path / "broken.profile"
    broken.write_bytes(profile.read_bytes()[:-50])
    with HeldReference(training_csv(300)) as held:
        configured = tmp_path / "configured.yml"
        configured.write_text(
            SETTINGS + f"models:\n  credit: {{reference: {profile}}}\n"
            f"  slow: {{reference: '{held.url}'}}\n  broken: {{reference: 'file://{broken}'}}\n"
        )
        put = tmp_path / "put.yml"
        put.write_text(SETTINGS)
        a_port, b_port = free_port(), free_port()
        a, b = f"http://127.0.0.1:{a_port}", f"http://127.0.0.1:{b_port}"
        processes.append(start_sidecar(configured, a_port, tmp_path / "a.log"))
        processes.append(start_sidecar(put, b_port, tmp_path / "b.log"))
        wait_for(f"{a}/healthz", process=processes[0])
        wait_for(f"{b}/readyz", process=processes[1])

        def both_named() -> dict[str, Any] | None:
            status, body = readiness(a)
            refs = body.get("references", {})
            return body if status == 503 and "truncated" in refs.get("broken", "") else None

        body = wait_until(both_named, lambda: f"readiness of a: {readiness(a)}")
        assert body["status"] == "references not loaded"
        assert body["references"]["slow"] == "loading"  # held by this test: never a race
        assert body["references"]["broken"].startswith(f"file://{broken}: truncated: the payload")
        assert "credit" not in body["references"]

        uploaded = httpx.put(
            f"{b}/v1/models/credit/reference",
            content=data.read_bytes(),
            headers={"Content-Type": "text/csv"},
        )
        assert uploaded.status_code == 201, uploaded.text
        for base in (a, b):  # the other models' state holds up nothing for this one
            sent = httpx.post(f"{base}/v1/models/credit/predictions", json=traffic(), timeout=60)
            assert sent.status_code == 202, sent.text
        from_file, from_put = report(a, "credit"), report(b, "credit")
        assert from_file["status"] == "ok" and from_file["drift"]["features_drifted"] >= 1
        assert from_file == from_put

        held.release.set()
        wait_until(
            lambda: set(readiness(a)[1].get("references", {})) == {"broken"},
            lambda: f"readiness of a after the URL answered: {readiness(a)}",
        )
        fixed = broken.with_name(".broken.tmp")  # written aside, renamed over: never half read
        fixed.write_bytes(profile.read_bytes())
        os.replace(fixed, broken)
        wait_until(lambda: readiness(a)[0] == 200, lambda: f"readiness of a: {readiness(a)}")
    metrics = httpx.get(f"{a}/metrics", timeout=10).text
    assert 'drift_reference_loaded{model="broken"} 1.0' in metrics
    assert 'drift_reference_load_failures_total{model="broken"} 1.0' in metrics
    assert 'drift_reference_load_failures_total{model="slow"} 0.0' in metrics
    log = (tmp_path / "a.log").read_text()
    assert f"model broken: reference cannot be loaded: file://{broken}: truncated" in log
