"""Both evaluation modes through the app: a worker process (the default) and the thread.

The same data gives the same report and the same drift text either way; the worker runs while
the app does and is gone once it stops.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from exporter.app import create_app
from exporter.settings import Settings
from tests.integration.payloads import seeded_records

NOW = 1_800_000_000.0


def _running(pid: int) -> bool:
    """Alive, not a zombie waiting to be reaped."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")


def _drive(mode: str) -> tuple[dict[str, Any], str, int | None]:
    settings = Settings(min_records=50, evaluation_worker=mode)
    app = create_app(settings, clock=lambda: NOW, timer=lambda: 0.0, run_scheduler=False)
    with TestClient(app) as client:
        worker = app.state.evaluation_worker
        pid = None if worker is None else worker.pid
        assert pid is None or _running(pid)
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
    assert pid is None or not _running(pid), "the worker outlived the app"
    drift = "\n".join(line for line in text.splitlines() if line.startswith("drift_feature_"))
    return report, drift, pid


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")
def test_the_worker_process_and_the_thread_give_the_same_report_and_text() -> None:
    in_process, process_text, child = _drive("process")
    in_thread, thread_text, none = _drive("thread")
    assert child is not None and none is None
    assert in_process == in_thread
    assert in_process["drift"]["features_drifted"] >= 1
    assert process_text == thread_text
    assert 'drift_feature_psi{feature="x",model="credit"}' in process_text
