"""DriftLogger against an in-process fake sidecar (httpx.MockTransport): batching, retries,
bounds, counters, flush/close, and that the caller is never blocked or raised into."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import numpy as np
import pytest

from drift_exporter_client import AsyncDriftLogger, DriftLogger, LoggerStats, __version__
from tests.support import ROOT


class FakeSidecar:
    """Records every request; answers with `status(attempt)` (202 by default)."""

    def __init__(self, answer: Callable[[httpx.Request, int], httpx.Response] | None = None):
        self.requests: list[httpx.Request] = []
        self.lock = threading.Lock()
        self.release = threading.Event()
        self.release.set()
        self._answer = answer

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.release.wait(10)
        with self.lock:
            self.requests.append(request)
            attempt = len(self.requests)
        if self._answer is not None:
            return self._answer(request, attempt)
        return httpx.Response(202, json={"accepted": 0})

    def bodies(self) -> list[dict[str, Any]]:
        with self.lock:
            return [json.loads(request.content) for request in self.requests]

    def records(self) -> list[dict[str, Any]]:
        return [r for body in self.bodies() for r in body.get("records", ())]


def make_logger(sidecar: FakeSidecar, **options: Any) -> DriftLogger:
    settings: dict[str, Any] = {
        "batch_size": 100,
        "flush_interval_seconds": 60.0,
        "backoff_seconds": 0.001,
        "transport": httpx.MockTransport(sidecar),
    }
    settings.update(options)
    return DriftLogger("http://sidecar:9808/", "credit", **settings)


@pytest.fixture
def sidecar() -> FakeSidecar:
    return FakeSidecar()


@pytest.fixture
def logger(sidecar: FakeSidecar) -> Iterator[DriftLogger]:
    logger = make_logger(sidecar)
    yield logger
    logger.close(timeout=5)


def wait_until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.005)


def test_records_are_posted_in_our_json_shape(sidecar: FakeSidecar) -> None:
    logger = make_logger(sidecar, token="s3cret")
    before = time.time()
    logger.log({"age": 41, "country": "DE"}, 0.82, id="req-17")
    logger.log({"age": 30}, timestamp=1_800_000_000.5)
    assert logger.flush(timeout=5)
    (request,) = sidecar.requests
    assert request.url == "http://sidecar:9808/v1/models/credit/predictions"
    assert request.headers["authorization"] == "Bearer s3cret"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"] == f"drift-exporter-client/{__version__}"
    first, second = sidecar.records()
    assert first["features"] == {"age": 41, "country": "DE"}
    assert (first["prediction"], first["id"]) == (0.82, "req-17")
    assert before <= first["timestamp"] <= time.time()
    assert second == {"features": {"age": 30}, "prediction": None, "timestamp": 1_800_000_000.5}
    assert logger.stats() == LoggerStats(0, 2, 0, 0, 0, 0)
    logger.close()


def test_inline_labels_and_latencies_travel_with_the_record(
    logger: DriftLogger, sidecar: FakeSidecar
) -> None:
    logger.log({"a": 1}, 0.9, id="r1", label=1, latency_seconds=0.012, timestamp=5.0)
    logger.log({"a": 2}, 0.1, timestamp=6.0)
    assert logger.flush(timeout=5)
    assert sidecar.records() == [
        {
            "features": {"a": 1},
            "prediction": 0.9,
            "timestamp": 5.0,
            "id": "r1",
            "label": 1,
            "latency_seconds": 0.012,
        },
        {"features": {"a": 2}, "prediction": 0.1, "timestamp": 6.0},
    ]


def test_the_features_are_copied_when_logged(logger: DriftLogger, sidecar: FakeSidecar) -> None:
    features = {"age": 41}
    logger.log(features, 1)
    features["age"] = 99
    logger.flush(timeout=5)
    assert sidecar.records()[0]["features"] == {"age": 41}


def test_no_token_sends_no_authorization(logger: DriftLogger, sidecar: FakeSidecar) -> None:
    logger.log({"a": 1})
    logger.flush(timeout=5)
    assert "authorization" not in sidecar.requests[0].headers


def test_labels_go_to_the_labels_route(logger: DriftLogger, sidecar: FakeSidecar) -> None:
    logger.log({"a": 1}, 0.5, id="r1")
    logger.log_label("r1", 1)
    assert logger.flush(timeout=5)
    paths = sorted(request.url.path for request in sidecar.requests)
    assert paths == ["/v1/models/credit/labels", "/v1/models/credit/predictions"]
    assert {"labels": [{"id": "r1", "label": 1}]} in sidecar.bodies()
    assert logger.stats().sent == 2


def test_a_full_batch_is_sent_without_waiting_for_the_interval(sidecar: FakeSidecar) -> None:
    logger = make_logger(sidecar, batch_size=3, flush_interval_seconds=60)
    for i in range(7):
        logger.log({"i": i})
    wait_until(lambda: len(sidecar.requests) == 2)
    time.sleep(0.05)
    assert [len(body["records"]) for body in sidecar.bodies()] == [3, 3]
    assert logger.stats().queued == 1
    assert logger.flush(timeout=5)
    assert [len(body["records"]) for body in sidecar.bodies()] == [3, 3, 1]
    logger.close()


def test_a_partial_batch_is_sent_after_the_flush_interval(sidecar: FakeSidecar) -> None:
    logger = make_logger(sidecar, batch_size=100, flush_interval_seconds=0.05)
    logger.log({"a": 1})
    logger.log({"a": 2})
    # No flush and no full batch: only the interval sends them (in one request, or in two if
    # this thread was descheduled for over 0.05 s between the two calls).
    wait_until(lambda: len(sidecar.records()) == 2)
    assert [r["features"] for r in sidecar.records()] == [{"a": 1}, {"a": 2}]
    logger.close()


def test_transient_failures_are_retried_with_backoff() -> None:
    def flaky(request: httpx.Request, attempt: int) -> httpx.Response:
        if attempt == 1:
            raise httpx.ConnectError("connection refused", request=request)
        if attempt == 2:
            return httpx.Response(503, json={"detail": "starting"})
        if attempt == 3:
            return httpx.Response(429, headers={"retry-after": "0.01"})
        return httpx.Response(202)

    sidecar = FakeSidecar(flaky)
    logger = make_logger(sidecar, max_retries=5)
    logger.log({"a": 1})
    assert logger.flush(timeout=5)
    assert len(sidecar.requests) == 4
    stats = logger.stats()
    assert (stats.sent, stats.failed_requests, stats.dropped_after_retries) == (1, 3, 0)
    logger.close()


def test_a_batch_is_dropped_after_max_retries(caplog: pytest.LogCaptureFixture) -> None:
    sidecar = FakeSidecar(lambda request, attempt: httpx.Response(500))
    logger = make_logger(sidecar, max_retries=2)
    with caplog.at_level(logging.WARNING, logger="drift_exporter_client"):
        for i in range(3):
            logger.log({"i": i})
        assert logger.flush(timeout=5)
        logger.log({"i": 3})
        assert logger.flush(timeout=5)
    stats = logger.stats()
    assert len(sidecar.requests) == 6  # 1 + 2 retries, twice
    assert (stats.failed_requests, stats.dropped_after_retries, stats.sent) == (6, 4, 0)
    assert len([r for r in caplog.records if "is failing" in r.message]) == 1
    logger.close()


def test_a_4xx_is_dropped_at_once_and_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    detail = "path.model: unknown model 'credit': upload its reference first"
    sidecar = FakeSidecar(lambda request, attempt: httpx.Response(404, json={"detail": detail}))
    logger = make_logger(sidecar)
    with caplog.at_level(logging.WARNING, logger="drift_exporter_client"):
        logger.log({"a": 1})
        logger.flush(timeout=5)
        logger.log({"a": 2})
        logger.flush(timeout=5)
    assert len(sidecar.requests) == 2
    stats = logger.stats()
    assert (stats.rejected, stats.failed_requests, stats.sent) == (2, 0, 0)
    warnings = [r.getMessage() for r in caplog.records if "rejected" in r.getMessage()]
    assert len(warnings) == 1 and detail in warnings[0]
    logger.close()


def test_a_full_queue_drops_its_oldest_records(sidecar: FakeSidecar) -> None:
    sidecar.release.clear()  # the sidecar hangs: the first batch stays in flight
    logger = make_logger(sidecar, batch_size=2, max_queue=5)
    logger.log({"i": 0})
    logger.log({"i": 1})
    wait_until(lambda: logger.stats().queued == 2 and not logger._queue)
    for i in range(2, 20):
        logger.log({"i": i})
    stats = logger.stats()
    assert (stats.queued, stats.dropped_queue_full) == (7, 13)
    assert not logger.flush(timeout=0.05)
    sidecar.release.set()
    assert logger.flush(timeout=5)
    assert [r["features"]["i"] for r in sidecar.records()] == [0, 1, 15, 16, 17, 18, 19]
    logger.close()


def test_log_never_raises_and_counts_what_it_cannot_use(logger: DriftLogger) -> None:
    logger.log(None)  # type: ignore[arg-type]
    logger.log([1, 2, 3])  # type: ignore[arg-type]
    assert logger.stats().dropped_invalid == 2


def test_numpy_values_and_non_finite_floats_become_valid_json(
    logger: DriftLogger, sidecar: FakeSidecar
) -> None:
    logger.log(
        {"a": float("nan"), "b": np.float32(1.5), "c": np.int64(3), "d": np.array([1, 2])},
        np.float64("inf"),
    )
    logger.log({"e": math.inf, "f": (1, 2)}, np.bool_(True))
    assert logger.flush(timeout=5)
    first, second = sidecar.records()
    assert first["features"] == {"a": None, "b": 1.5, "c": 3, "d": [1, 2]}
    assert first["prediction"] is None
    assert second["features"] == {"e": None, "f": [1, 2]} and second["prediction"] is True


def test_close_flushes_and_later_logs_are_counted(sidecar: FakeSidecar) -> None:
    logger = make_logger(sidecar)
    for i in range(5):
        logger.log({"i": i})
    assert logger.close(timeout=5)
    assert len(sidecar.records()) == 5
    logger.log({"i": 5})
    assert logger.stats().dropped_after_close == 1
    assert logger.close(timeout=5)


def test_close_gives_up_on_a_failing_sidecar_within_its_timeout() -> None:
    sidecar = FakeSidecar(lambda request, attempt: httpx.Response(503))
    # The failed batch waits 60-120 s (jittered) before its retry: a close that waited for it
    # could not return within the 30 s this test waits for close, however loaded the machine.
    logger = make_logger(
        sidecar, backoff_seconds=120.0, max_retries=10, flush_interval_seconds=0.01
    )
    for i in range(3):
        logger.log({"i": i})
    wait_until(lambda: len(sidecar.requests) >= 1)
    closed: list[bool] = []
    closer = threading.Thread(target=lambda: closed.append(logger.close(timeout=0.2)))
    closer.start()
    closer.join(30)
    assert not closer.is_alive(), "close(timeout=0.2) waited for the retry"
    assert closed == [False]
    wait_until(lambda: logger.stats().queued == 0)  # the batch waiting to retry is let go
    stats = logger.stats()
    assert (stats.dropped_after_close, stats.dropped_after_retries, stats.sent) == (3, 0, 0)
    assert len(sidecar.requests) == 1  # no attempt after close gave up


class BlockingSidecar:
    """Accepts every batch, but holds each request until `release` is set."""

    def __init__(self) -> None:
        self.arrived = threading.Event()
        self.release = threading.Event()
        self.records = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.arrived.set()
        self.release.wait(10)
        self.records += len(json.loads(request.content)["records"])
        return httpx.Response(202, json={"accepted": 0})


def test_close_drops_the_waiting_queue_at_its_timeout_and_counts_it() -> None:
    sidecar = BlockingSidecar()
    logger = DriftLogger(
        "http://sidecar:9808", "credit", batch_size=2, transport=httpx.MockTransport(sidecar)
    )
    logger.log({"i": 0})
    logger.log({"i": 1})  # a full batch: sent at once, and held by the sidecar
    assert sidecar.arrived.wait(5)
    for i in range(2, 5):
        logger.log({"i": i})
    assert not logger.close(timeout=0.05)
    # Counted by the time close returns: the three waiting records are dropped, the batch on
    # the wire is still queued until its request ends.
    assert (logger.stats().dropped_after_close, logger.stats().queued) == (3, 2)
    sidecar.release.set()
    wait_until(lambda: logger.stats().queued == 0)
    assert logger.stats() == LoggerStats(
        queued=0,
        sent=2,
        dropped_queue_full=0,
        dropped_after_retries=0,
        rejected=0,
        failed_requests=0,
        dropped_invalid=0,
        dropped_after_close=3,
    )
    assert sidecar.records == 2


def test_async_aclose_takes_a_timeout_and_counts_what_it_dropped() -> None:
    sidecar = BlockingSidecar()

    async def serve() -> tuple[bool, LoggerStats]:
        logger = AsyncDriftLogger(
            "http://sidecar:9808", "credit", batch_size=1, transport=httpx.MockTransport(sidecar)
        )
        logger.log({"i": 0})
        assert await asyncio.to_thread(sidecar.arrived.wait, 5)
        logger.log({"i": 1})
        logger.log_label("r1", 1)
        closed = await logger.aclose(timeout=0.05)
        return closed, logger.stats()

    closed, stats = asyncio.run(serve())
    sidecar.release.set()
    assert not closed
    assert (stats.dropped_after_close, stats.queued) == (2, 1)


def test_a_context_manager_closes(sidecar: FakeSidecar) -> None:
    with make_logger(sidecar) as logger:
        logger.log({"a": 1})
    assert len(sidecar.records()) == 1
    assert logger.stats().sent == 1


def test_many_threads_can_log_at_once(logger: DriftLogger, sidecar: FakeSidecar) -> None:
    def produce(worker: int) -> None:
        for i in range(1_000):
            logger.log({"i": i}, id=f"{worker}-{i}")

    threads = [threading.Thread(target=produce, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert logger.flush(timeout=10)
    ids = [record["id"] for record in sidecar.records()]
    assert len(ids) == len(set(ids)) == 8_000
    assert logger.stats().sent == 8_000
    assert all(len(body["records"]) <= 100 for body in sidecar.bodies())


def test_flush_on_an_idle_logger_returns_at_once(logger: DriftLogger) -> None:
    assert logger.flush(timeout=0)
    assert logger.stats() == LoggerStats(0, 0, 0, 0, 0, 0)


def test_invalid_settings_are_refused() -> None:
    with pytest.raises(ValueError):
        DriftLogger("http://x", "")
    with pytest.raises(ValueError):
        DriftLogger("http://x", "m", batch_size=0)
    with pytest.raises(ValueError):
        DriftLogger("http://x", "m", flush_interval_seconds=0)


def test_async_logger_flushes_and_closes_without_blocking_the_loop(sidecar: FakeSidecar) -> None:
    async def serve() -> tuple[LoggerStats, int]:
        async with AsyncDriftLogger(
            "http://sidecar:9808", "credit", transport=httpx.MockTransport(sidecar)
        ) as logger:
            ticks = 0

            async def tick() -> None:
                nonlocal ticks
                while True:
                    ticks += 1
                    await asyncio.sleep(0)

            ticker = asyncio.create_task(tick())
            sidecar.release.clear()
            logger.log({"a": 1}, 0.5, id="r1")
            logger.log_label("r1", 0)
            waiting = asyncio.create_task(logger.flush(timeout=30))
            # The sidecar holds the batch, so flush cannot be done: if it blocked the loop,
            # the ticker could not tick until it timed out (and returned False).
            seen = ticks
            while ticks < seen + 10:
                await asyncio.sleep(0)
            still_waiting = not waiting.done()
            sidecar.release.set()
            assert await waiting
            ticker.cancel()
            return logger.stats(), still_waiting

    stats, still_waiting = asyncio.run(serve())
    assert stats.sent == 2
    assert still_waiting  # the loop kept running while flush waited


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_starts_its_own_worker_with_an_empty_queue(sidecar: FakeSidecar) -> None:
    logger = make_logger(sidecar)
    logger.log({"who": "parent"})
    assert logger.flush(timeout=5)
    sidecar.release.clear()
    logger.log({"who": "parent-pending"})  # stays queued in the parent
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        code = 1
        try:
            sidecar.release.set()
            before = len(sidecar.requests)
            logger.log({"who": "child"})
            if logger.flush(timeout=5):
                records = [r for body in sidecar.bodies()[before:] for r in body["records"]]
                code = 0 if [r["features"]["who"] for r in records] == ["child"] else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    sidecar.release.set()
    assert os.waitstatus_to_exitcode(status) == 0
    assert logger.flush(timeout=5)
    logger.close()


def test_the_client_imports_none_of_the_sidecars_dependencies() -> None:
    """Also through the `exporter.client` re-exports (tests/integration/
    test_client_distribution.py checks `drift_exporter_client` installed alone)."""
    code = (
        "import sys, exporter.client, exporter.client.flask, exporter.client.middleware\n"
        "import drift_exporter_client, drift_exporter_client.flask\n"
        "heavy = ('numpy', 'scipy', 'fastapi', 'starlette', 'pydantic', 'prometheus_client',"
        " 'orjson', 'yaml', 'flask', 'cloudevents')\n"
        "print(','.join(m for m in heavy if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""
