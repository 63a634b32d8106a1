"""A real sidecar killed with SIGKILL mid-ingest keeps its reference and all but the last
snapshot interval of its window; SIGTERM writes a final snapshot."""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient

from exporter.app import create_app
from exporter.settings import Settings
from tests.integration.payloads import seeded_records
from tests.support import free_port, start_sidecar, stop, wait_for, wait_until

INTERVAL = 0.5


def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.yml"
    path.write_text(
        f"state_dir: {tmp_path / 'state'}\n"
        f"snapshot_interval_seconds: {INTERVAL}\n"
        "evaluation_interval_seconds: 1\n"
        "window:\n  max_records: 1000000\n  duration_seconds: null\n"
    )
    return path


def start(tmp_path: Path, port: int, log: str):
    process = start_sidecar(config(tmp_path), port, tmp_path / log)
    wait_for(f"http://127.0.0.1:{port}/readyz", process=process)
    return process


def records_total(client: httpx.Client) -> int:
    return client.get("/v1/models").json()["models"][0]["records_total"]


def file_version(path: Path) -> tuple[int, int, int] | None:
    """Changes whenever a snapshot is renamed over `path` (a new inode, mtime and size)."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return stat.st_ino, stat.st_mtime_ns, stat.st_size


def wait_for_a_new_snapshot(path: Path) -> None:
    before = file_version(path)
    wait_until(lambda: file_version(path) != before, f"no snapshot replaced {path}", timeout=120)


def test_sigkill_mid_ingest_loses_at_most_one_snapshot_interval(tmp_path: Path) -> None:
    port = free_port()
    process = start(tmp_path, port, "first.log")
    base = f"http://127.0.0.1:{port}"
    acknowledged: list[int] = []  # the running total after each 202
    posted: list[int] = []  # ... and before each POST: the last may be cut off by the kill
    stop_sending = threading.Event()
    batch = seeded_records(5, 100)

    def send() -> None:
        total = 0
        with httpx.Client(base_url=base, timeout=30) as client:
            while not stop_sending.is_set():
                posted.append(total + 100)
                try:
                    response = client.post("/v1/models/credit/predictions", json={"records": batch})
                except httpx.HTTPError:
                    return
                if response.status_code == 202:
                    total += 100
                    acknowledged.append(total)

    try:
        with httpx.Client(base_url=base, timeout=30) as client:
            reference = client.put(
                "/v1/models/credit/reference", json={"records": seeded_records(1, 3_000)}
            )
            assert reference.status_code == 201
            # The profile summary; the upload's own findings are not part of the profile.
            upload_only = ("prediction_drift", "prediction_column", "warnings")
            summary = {k: v for k, v in reference.json().items() if k not in upload_only}
        sender = threading.Thread(target=send)
        sender.start()
        # Killed once a snapshot exported after some acknowledgement is on disk, whenever that
        # is: one thread writes the snapshots one after another, so the first rename seen after
        # `covered` was acknowledged may hold a state exported before it, but the next snapshot
        # was exported after that rename and holds `covered`. What came later is at most one
        # snapshot interval of traffic; how long that is in seconds depends on the machine.
        snapshot = tmp_path / "state" / "models" / "credit.npz"
        wait_until(lambda: acknowledged, "nothing was acknowledged", timeout=120)
        covered = acknowledged[-1]
        wait_for_a_new_snapshot(snapshot)
        wait_for_a_new_snapshot(snapshot)
        children = _children(process.pid)
        assert children, "the sidecar has no evaluation worker to check"
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        stop_sending.set()
        sender.join(30)
        # Its evaluation worker follows it (prctl PR_SET_PDEATHSIG), not left running for good.
        wait_until(lambda: not any(_alive(pid) for pid in children), "the worker outlived it")
    finally:
        stop(process)

    process = start(tmp_path, port, "second.log")
    try:
        with httpx.Client(base_url=base, timeout=30) as client:
            assert client.get("/v1/models/credit/reference").json() == summary
            survived = records_total(client)
    finally:
        stop(process)
    # At least what the last snapshot before the kill held; at most what was sent (a batch the
    # server took but could not acknowledge before it died may be in that snapshot).
    assert covered <= survived <= posted[-1], (covered, survived, acknowledged[-1], posted[-1])
    assert covered > 0


def _children(pid: int) -> list[int]:
    """Direct children of `pid`, from /proc (every thread's list)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(child) for child in (task / "children").read_text().split()]
    return found


def _alive(pid: int) -> bool:
    """Running, not merely a zombie awaiting its reaper."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_sigterm_writes_a_final_snapshot(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = start(tmp_path, port, "first.log")
    try:
        with httpx.Client(base_url=base, timeout=30) as client:
            assert (
                client.put(
                    "/v1/models/credit/reference", json={"records": seeded_records(1, 500)}
                ).status_code
                == 201
            )
            assert (
                client.post(
                    "/v1/models/credit/predictions", json={"records": seeded_records(2, 321)}
                ).status_code
                == 202
            )
        process.send_signal(signal.SIGTERM)
        process.wait(60)  # a graceful stop, given time under load
    finally:
        stop(process)
    process = start(tmp_path, port, "second.log")
    try:
        with httpx.Client(base_url=base, timeout=30) as client:
            assert records_total(client) == 321  # not just what the last interval caught
            assert client.get("/v1/models").json()["models"][0]["window_records"] == 321
    finally:
        stop(process)


def test_a_corrupt_state_file_does_not_stop_the_sidecar(tmp_path: Path) -> None:
    models = tmp_path / "state" / "models"
    models.mkdir(parents=True)
    (models / "credit.npz").write_bytes(b"PK\x03\x04 not really a zip")
    port = free_port()
    process = start(tmp_path, port, "sidecar.log")
    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics").text
        assert "drift_state_rejected_files_total 1.0" in text
        assert httpx.get(f"http://127.0.0.1:{port}/v1/models").json() == {"models": []}
    finally:
        stop(process)
    assert list(models.glob("credit.npz.rejected-*"))
    assert "cannot be restored" in (tmp_path / "sidecar.log").read_text()


def _forge_meta(path: Path, edit: Any) -> None:
    """Rewrite a real snapshot's metadata with `edit` (which may return a replacement)."""
    with np.load(path, allow_pickle=False) as data:
        arrays = {name: data[name] for name in data.files}
    meta = json.loads(arrays.pop("meta").tobytes())
    edited = edit(meta)
    arrays["meta"] = np.frombuffer(json.dumps(meta if edited is None else edited).encode(), "u1")
    with path.open("wb") as handle:
        np.savez(handle, **arrays)


def test_forged_state_files_are_set_aside_and_the_sidecar_starts(tmp_path: Path) -> None:
    state = tmp_path / "state"
    settings = Settings(state_dir=state, snapshot_interval_seconds=3_600)
    with TestClient(create_app(settings, run_scheduler=False)) as client:
        for model in ("credit", "churn"):
            response = client.put(
                f"/v1/models/{model}/reference", json={"records": seeded_records(1, 200)}
            )
            assert response.status_code == 201
    models = state / "models"
    _forge_meta(models / "credit.npz", lambda meta: [meta])
    _forge_meta(models / "churn.npz", lambda meta: meta["profile"].update(model="../../x"))
    with TestClient(create_app(settings, run_scheduler=False)) as client:
        assert client.get("/v1/models").json() == {"models": []}
        assert "drift_state_rejected_files_total 2.0" in client.get("/metrics").text
    # The final snapshot at shutdown wrote nothing, inside or outside the state directory.
    assert sorted(path.name.split(".")[0] for path in models.iterdir()) == ["churn", "credit"]
    assert all(".rejected-" in path.name for path in models.iterdir())
    assert [path for path in tmp_path.rglob("*") if state not in path.parents] == [state]


def test_a_deleted_model_stays_deleted_after_a_restart(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path / "state", snapshot_interval_seconds=3_600)
    with TestClient(create_app(settings, run_scheduler=False)) as client:
        for model in ("credit", "churn"):
            response = client.put(
                f"/v1/models/{model}/reference", json={"records": seeded_records(1, 200)}
            )
            assert response.status_code == 201
        assert client.delete("/v1/models/credit").status_code == 204
    # The final snapshot at shutdown wrote the model that is left, not the deleted one.
    with TestClient(create_app(settings, run_scheduler=False)) as client:
        listed = [entry["model"] for entry in client.get("/v1/models").json()["models"]]
        assert listed == ["churn"]


@pytest.fixture(autouse=True)
def _short(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DRIFT_EXPORTER_STATE_DIR", raising=False)
