"""Scrapes and probes first: background threads of the server pause while one is answered.

The scheduler thread shares the server's GIL with the event loop: each snapshot, pickle and
unpickle of an evaluation cycle (0.1-0.5 ms apiece) is time a scrape's rendering cannot run.
Seen with `perf sched` under back-to-back evaluation: a scrape's 0.7 ms of work took 2.6 ms
while the scheduler thread pickled reports beside it. Scrapes are short and rare, so the
thread waits for them at each hand-over instead (at most `MAX_WAIT_SECONDS` per hand-over,
so a client that never reads its response cannot stall evaluation).
"""

from __future__ import annotations

import threading
import time
from typing import Any

#: A pause that lets a thread waiting for the GIL (the event loop's) take it. numpy gives the GIL
#: up and takes it back around each array operation, and every such hand-back restarts the
#: waiting thread's switch interval, so a run of numpy work (a snapshot: ~0.8 ms) can starve the
#: event loop for all of it; pausing before and after each keeps the wait to one run.
HAND_OVER_SECONDS = 0.0001
#: Longest a hand-over waits for the requests in flight to be answered.
MAX_WAIT_SECONDS = 0.005
#: Requests answered first: Prometheus' scrape and the Kubernetes probes.
PRIORITY_PATHS = frozenset({"/metrics", "/healthz", "/readyz"})


class RequestPriority:
    """Counts priority requests in flight; `hand_over` is what background threads call between
    stretches of GIL work."""

    def __init__(self) -> None:
        self._in_flight = 0
        self._lock = threading.Lock()
        self._idle = threading.Event()
        self._idle.set()

    def begin(self) -> None:
        with self._lock:
            self._in_flight += 1
            self._idle.clear()

    def end(self) -> None:
        with self._lock:
            self._in_flight -= 1
            if not self._in_flight:
                self._idle.set()

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def hand_over(self) -> None:
        """Let the event loop take the GIL, then wait (bounded) until no priority request is
        in flight."""
        time.sleep(HAND_OVER_SECONDS)
        self._idle.wait(MAX_WAIT_SECONDS)


def hand_over() -> None:
    """The hand-over of a thread with no priority requests to wait for."""
    time.sleep(HAND_OVER_SECONDS)


class PriorityRequests:
    """ASGI middleware: marks requests to `PRIORITY_PATHS` in flight until their response is
    sent."""

    def __init__(self, app: Any, priority: RequestPriority) -> None:
        self.app = app
        self.priority = priority

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] not in PRIORITY_PATHS:
            await self.app(scope, receive, send)
            return
        self.priority.begin()
        try:
            await self.app(scope, receive, send)
        finally:
            self.priority.end()
