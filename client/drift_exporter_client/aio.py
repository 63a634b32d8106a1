"""AsyncDriftLogger: the thread-backed DriftLogger for asyncio apps, its waits awaitable."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from types import TracebackType
from typing import Any

import httpx

from drift_exporter_client.logger import DriftLogger, LoggerStats


class AsyncDriftLogger:
    """DriftLogger for asyncio apps: the same logger, with `flush` and `aclose` awaitable.

    It is deliberately the thread-backed logger, not an asyncio task. `log()` only takes a lock
    for a deque append (microseconds, no I/O), so calling it from a coroutine never stalls the
    event loop; while serialising a batch to JSON and waiting on the network happen on the
    logger's own thread, so a 500-record batch never delays the app's requests. It also keeps
    working across event loops (test clients, reloads) and needs one implementation of the
    retry, backoff and counting rules. Only the waits of `flush` and `close` would block, so
    they run in a worker thread here.
    """

    def __init__(
        self,
        url: str,
        model: str,
        token: str | None = None,
        *,
        batch_size: int = 500,
        flush_interval_seconds: float = 1.0,
        max_queue: int = 100_000,
        timeout_seconds: float = 5.0,
        max_retries: int = 5,
        backoff_seconds: float = 0.5,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.logger = DriftLogger(
            url,
            model,
            token,
            batch_size=batch_size,
            flush_interval_seconds=flush_interval_seconds,
            max_queue=max_queue,
            timeout_seconds=timeout_seconds,
            max_retries=max_retries,
            backoff_seconds=backoff_seconds,
            transport=transport,
        )

    def log(
        self,
        features: Mapping[str, Any],
        prediction: Any = None,
        *,
        id: str | None = None,
        timestamp: float | None = None,
        label: Any = None,
        latency_seconds: float | None = None,
    ) -> None:
        """Queue one served prediction; never blocks the event loop, never raises."""
        self.logger.log(
            features,
            prediction,
            id=id,
            timestamp=timestamp,
            label=label,
            latency_seconds=latency_seconds,
        )

    def log_label(self, id: str, label: Any) -> None:
        self.logger.log_label(id, label)

    def stats(self) -> LoggerStats:
        return self.logger.stats()

    async def flush(self, timeout: float | None = None) -> bool:
        """As `DriftLogger.flush`, waiting in a worker thread instead of the event loop."""
        return await asyncio.to_thread(self.logger.flush, timeout)

    async def aclose(self, timeout: float | None = 10.0) -> bool:
        """As `DriftLogger.close` (`timeout` seconds for the queue to be sent, 10 by default; what
        is still unsent then is counted in `dropped_after_close`), waiting in a worker thread
        instead of the event loop."""
        return await asyncio.to_thread(self.logger.close, timeout)

    async def __aenter__(self) -> AsyncDriftLogger:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()
