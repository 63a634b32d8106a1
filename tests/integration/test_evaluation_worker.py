"""Both evaluation modes through the app: a forked worker process (the default) and the thread.

The same data gives the same report and the same drift text either way; the worker is a child
of the server while it runs and is gone once the app stops.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from exporter.app import create_app
from exporter.settings import Settings
from tests.integration.payloads import seeded_records

NOW = 1_800_000_000.0


def _children() -> set[int]:
    """This process's child processes (a child is listed under the thread that forked it)."""
    found: set[int] = set()
    for task in Path(f"/proc/{os.getpid()}/task").iterdir():
        try:
            found.update(int(pid) for pid in (task / "children").read_text().split())
        except FileNotFoundError:  # a thread that ended meanwhile
            continue
    return found


def _drive(mode: str) -> tuple[dict[str, Any], str, set[int]]:
    settings = Settings(min_records=50, evaluation_worker=mode)
    before = _children()
    app = create_app(settings, clock=lambda: NOW, timer=lambda: 0.0, run_scheduler=False)
    with TestClient(app) as client:
        during = _children() - before
        assert (
            client.put(
                "/v1/models/credit/reference", json={"records": seeded_records(1, 400)}
            ).status_code
            == 201
        )
        body = {"records": seeded_records(2, 300, shift=0.8)}
        assert client.post("/v1/models/credit/predictions", json=body).status_code == 202
        response = client.post("/v1/models/credit/evaluate")
        assert response.status_code == 200, response.text
        report = response.json()
        text = client.get("/metrics").text
    assert not (_children() - before), "the worker outlived the app"
    drift = "\n".join(line for line in text.splitlines() if line.startswith("drift_feature_"))
    return report, drift, during


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")
def test_the_worker_process_and_the_thread_give_the_same_report_and_text() -> None:
    in_process, process_text, forked = _drive("process")
    in_thread, thread_text, none = _drive("thread")
    assert len(forked) == 1 and not none
    assert in_process == in_thread
    assert in_process["drift"]["features_drifted"] >= 1
    assert process_text == thread_text
    assert 'drift_feature_psi{feature="x",model="credit"}' in process_text
