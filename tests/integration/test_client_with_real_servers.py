"""The client side against real processes: a sidecar (`python -m exporter serve`) and the example
model server (uvicorn), each on a free port.

Traffic sent to the model server reaches the sidecar through DriftMiddleware and DriftLogger, and
a shifted input shows up as drift. With the sidecar down the client neither blocks nor raises,
drops what it must and counts it, and records logged after the sidecar is back get through.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from exporter.client import DriftLogger
from tests.support import ROOT, free_port, start_sidecar, stop, wait_for, wait_until

MODEL = "credit-risk"
CONFIG = """\
evaluation_interval_seconds: 3600   # evaluated on demand by the test (POST /evaluate)
min_records: 200
window:
  max_records: 5000
  slices: 10
"""


def example() -> ModuleType:
    """examples/model_server.py, loaded by path (examples/ is not a package)."""
    spec = importlib.util.spec_from_file_location(
        "example_model_server", ROOT / "examples" / "model_server.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    return module


class Sidecar:
    """A sidecar process that can be stopped and started again on the same port."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.config = directory / "config.yml"
        self.config.write_text(CONFIG)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.starts = 0
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.starts += 1
        log = self.directory / f"sidecar-{self.starts}.log"
        self.process = start_sidecar(self.config, self.port, log)
        wait_for(f"{self.url}/readyz", process=self.process)

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)

    def upload_reference(self, records: list[dict[str, Any]]) -> None:
        response = httpx.put(
            f"{self.url}/v1/models/{MODEL}/reference", json={"records": records}, timeout=30
        )
        assert response.status_code == 201, response.text

    def records_total(self) -> float:
        needle = f'drift_records_total{{model="{MODEL}"}} '
        for line in httpx.get(f"{self.url}/metrics", timeout=5).text.splitlines():
            if line.startswith(needle):
                return float(line[len(needle) :])
        return 0.0

    def wait_for_records(self, expected: int) -> None:
        counted = [0.0]

        def arrived() -> bool:
            counted[0] = self.records_total()
            return counted[0] >= expected

        wait_until(arrived, lambda: f"sidecar counted {counted[0]:g} of {expected} records")
        assert counted[0] == expected


@pytest.fixture(scope="module")
def model_server() -> ModuleType:
    return example()


@pytest.fixture
def sidecar(tmp_path: Path, model_server: ModuleType) -> Iterator[Sidecar]:
    running = Sidecar(tmp_path)
    running.start()
    try:
        running.upload_reference(model_server.reference_records(seed=0, rows=3_000))
        yield running
    finally:
        running.stop()


@pytest.fixture
def served_model(sidecar: Sidecar, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    env = {
        **os.environ,
        "DRIFT_SIDECAR_URL": sidecar.url,
        "DRIFT_MODEL": MODEL,
        "DRIFT_FLUSH_INTERVAL_SECONDS": "0.2",
    }
    with (tmp_path / "model-server.log").open("wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "examples.model_server:create_app",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            env=env,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{url}/healthz", process=process)
        yield url
    finally:
        stop(process)


def send(url: str, rows: list[dict[str, float]], batch: int = 50) -> None:
    """The rows to the model server: the first one alone, the rest in `instances` batches."""
    with httpx.Client(base_url=url, timeout=10) as client:
        single = client.post("/predict", json={"features": rows[0]})
        assert single.status_code == 200 and 0 <= single.json()["prediction"] <= 1
        for start in range(1, len(rows), batch):
            chunk = rows[start : start + batch]
            response = client.post("/predict", json={"instances": chunk})
            assert response.status_code == 200, response.text
            assert len(response.json()["predictions"]) == len(chunk)


def test_served_traffic_reaches_the_sidecar_and_a_shift_shows_as_drift(
    sidecar: Sidecar, served_model: str, model_server: ModuleType
) -> None:
    steady = model_server.as_rows(model_server.applicants(seed=11, rows=600))
    send(served_model, steady)
    sidecar.wait_for_records(600)

    shifted = model_server.as_rows(model_server.applicants(seed=12, rows=1_000, age_shift=15.0))
    send(served_model, shifted)
    sidecar.wait_for_records(1_600)

    report = httpx.post(f"{sidecar.url}/v1/models/{MODEL}/evaluate", timeout=30).json()
    drifted = {feature["name"]: feature["drifted"] for feature in report["features"]}
    assert drifted == {"age": True, "income": False, "tenure_years": False}
    assert report["window_records"] == 1_600
    stats = httpx.get(f"{served_model}/drift-logger").json()
    assert stats["sent"] == 1_600 and stats["queued"] == 0
    assert stats["failed_requests"] == stats["rejected"] == 0

    # The sidecar goes away: the model server keeps answering, its logger counts the failures.
    sidecar.stop()
    send(served_model, steady[:101])
    wait_until(
        lambda: httpx.get(f"{served_model}/drift-logger").json()["failed_requests"] > 0,
        "the logger never noticed the sidecar was down",
    )


def test_the_logger_never_blocks_or_raises_while_the_sidecar_is_down(
    sidecar: Sidecar, model_server: ModuleType
) -> None:
    rows = model_server.as_rows(model_server.applicants(seed=21, rows=500))
    logger = DriftLogger(
        sidecar.url,
        MODEL,
        batch_size=200,
        flush_interval_seconds=0.05,
        max_queue=2_000,
        # Generous for a sidecar that is up and loaded; one that is down refuses at once.
        timeout_seconds=30,
        max_retries=1,
        # Each batch waits 0.25-0.5 s to be retried and then dropped while the sidecar is down,
        # so the sender drains at most ~800 records/s: the queue overflows unless 10,000 log()
        # calls take over 10 s (about 0.1 s under load).
        backoff_seconds=0.5,
    )
    for row in rows[:100]:
        logger.log(row, 0.5)
    assert logger.flush(timeout=10)
    sidecar.wait_for_records(100)

    sidecar.stop()
    errors: list[BaseException] = []

    def produce(worker: int) -> None:
        try:
            for i in range(2_500):
                logger.log(rows[i % len(rows)], 0.5, id=f"{worker}-{i}")
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=produce, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []

    assert logger.flush(timeout=60)
    down = logger.stats()
    assert down.sent == 100
    assert down.failed_requests > 0
    # Not waiting for the sender is what makes the queue overflow: a log() that waited for
    # its batch to be sent (or given up) would never find the queue full. How long a call
    # takes is the machine's business (bench/, not here): it is not asserted.
    assert down.dropped_queue_full > 0
    assert down.dropped_queue_full + down.dropped_after_retries == 10_000
    assert down.queued == 0

    # Back up (empty, as a restarted sidecar is): later records get through.
    sidecar.start()
    sidecar.upload_reference(model_server.reference_records(seed=0, rows=3_000))
    for row in rows[:300]:
        logger.log(row, 0.5)
    assert logger.flush(timeout=60)
    assert logger.close(timeout=5)
    assert logger.stats().sent == 400
    sidecar.wait_for_records(300)
