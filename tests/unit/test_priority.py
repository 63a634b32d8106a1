"""Scrapes and probes first: the hand-over waits for them, bounded, and only for them."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

from exporter import priority as priority_module
from exporter.priority import MAX_WAIT_SECONDS, PriorityRequests, RequestPriority


def test_hand_over_returns_at_once_when_nothing_is_in_flight() -> None:
    gate = RequestPriority()
    started = time.perf_counter()
    gate.hand_over()
    assert time.perf_counter() - started < MAX_WAIT_SECONDS


def test_hand_over_waits_for_the_request_in_flight_to_end() -> None:
    gate = RequestPriority()
    gate.begin()
    gate.begin()
    gate.end()  # one of two answered: still in flight
    finished = threading.Event()

    def background() -> None:
        gate.hand_over()
        finished.set()

    waiting = threading.Thread(target=background)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(priority_module, "MAX_WAIT_SECONDS", 5.0)
        waiting.start()
        assert not finished.wait(0.05), "handed over while a scrape was in flight"
        gate.end()
        assert finished.wait(1.0)
    waiting.join()
    assert gate.in_flight == 0


def test_hand_over_never_waits_longer_than_its_bound() -> None:
    gate = RequestPriority()
    gate.begin()  # a scrape whose client never reads its response
    started = time.perf_counter()
    gate.hand_over()
    assert MAX_WAIT_SECONDS <= time.perf_counter() - started < MAX_WAIT_SECONDS + 0.5


def _through_middleware(path: str, gate: RequestPriority) -> list[int]:
    seen: list[int] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(gate.in_flight)
        await send({"type": "http.response.body", "body": b""})
        seen.append(gate.in_flight)

    async def send(message: Any) -> None:
        pass

    middleware = PriorityRequests(app, gate)
    asyncio.run(middleware({"type": "http", "path": path}, None, send))
    seen.append(gate.in_flight)
    return seen


@pytest.mark.parametrize("path", ["/metrics", "/healthz", "/readyz"])
def test_scrapes_and_probes_are_in_flight_until_answered(path: str) -> None:
    assert _through_middleware(path, RequestPriority()) == [1, 1, 0]


@pytest.mark.parametrize("path", ["/v1/models/m/predictions", "/v1/models", "/"])
def test_other_requests_do_not_hold_background_work(path: str) -> None:
    assert _through_middleware(path, RequestPriority()) == [0, 0, 0]


def test_a_failing_request_still_ends() -> None:
    gate = RequestPriority()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise RuntimeError("handler bug")

    with pytest.raises(RuntimeError):
        asyncio.run(PriorityRequests(app, gate)({"type": "http", "path": "/metrics"}, None, None))
    assert gate.in_flight == 0


def test_the_app_marks_scrapes_before_any_other_middleware() -> None:
    from exporter.app import create_app
    from exporter.settings import Settings

    app = create_app(Settings(auth={"token": "t" * 32}), run_scheduler=False)
    assert app.user_middleware[0].cls is PriorityRequests  # the outermost
