"""DriftLogger: log served predictions to the sidecar without ever blocking or failing the caller.

`log()` copies the record into a bounded in-memory queue and returns; a daemon thread sends the
queue in batches (every `batch_size` records, or `flush_interval_seconds` after the oldest
waiting one arrived) to `POST /v1/models/{model}/predictions`, and labels to
`POST /v1/models/{model}/labels`. Bounds and what happens at them:

* queue: at most `max_queue` waiting items; a full queue drops its oldest item
  (`dropped_queue_full`), so a long outage keeps the newest traffic;
* transient failures (connection errors, timeouts, 5xx, 429) are retried `max_retries` times
  with exponential backoff from `backoff_seconds` (jittered, honouring `Retry-After` on 429),
  each failed attempt counted in `failed_requests`; then the batch is dropped
  (`dropped_after_retries`);
* a 4xx (other than 429) means the sidecar will never accept the batch (unknown model, bad
  name, too large): it is dropped at once (`rejected`) and the sidecar's `detail` is logged, once;
* `close(timeout)` waits `timeout` seconds (10 by default) for the queue to be sent; what is
  unsent then is dropped (`dropped_after_close`), as is anything logged after `close`.

Only httpx and the standard library are imported, so a model server can use this module without
the sidecar's dependencies (numpy, FastAPI, pydantic, prometheus_client).
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
import weakref
from collections import deque
from collections.abc import Mapping
from types import TracebackType
from typing import Any, Final, Literal, NamedTuple
from urllib.parse import quote

import httpx

from drift_exporter_client import wire
from drift_exporter_client._version import __version__
from drift_exporter_client.counts import LoggerStats as LoggerStats

log = logging.getLogger("drift_exporter_client")

_RECORD: Final = "record"
_LABEL: Final = "label"
_MAX_BACKOFF_SECONDS = 30.0

ItemKind = Literal["record", "label"]


class _Entry(NamedTuple):
    seq: int
    enqueued_at: float
    kind: ItemKind
    item: dict[str, Any]


class DriftLogger:
    """Batches predictions and labels to a drift-exporter sidecar from a background thread.

    >>> logger = DriftLogger("http://127.0.0.1:9808", "credit")  # doctest: +SKIP
    >>> logger.log({"age": 41, "country": "DE"}, 0.82, id="req-17")  # doctest: +SKIP
    >>> logger.log_label("req-17", 1)  # doctest: +SKIP
    >>> logger.close()  # doctest: +SKIP

    Thread-safe; also safe to call from asyncio code, since `log()` only appends to the queue
    under a lock held for a few microseconds (see `AsyncDriftLogger` for awaitable
    flush/close). The thread starts at the first `log()`, and again in a forked child
    (gunicorn `--preload`), which starts with an empty queue.
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
        if not model:
            raise ValueError("model must be a non-empty name")
        if batch_size < 1 or max_queue < 1:
            raise ValueError("batch_size and max_queue must be >= 1")
        if flush_interval_seconds <= 0 or timeout_seconds <= 0:
            raise ValueError("flush_interval_seconds and timeout_seconds must be > 0")
        if max_retries < 0 or backoff_seconds < 0:
            raise ValueError("max_retries and backoff_seconds must be >= 0")
        self.url = url.rstrip("/")
        self.model = model
        self.batch_size = batch_size
        self.flush_interval_seconds = flush_interval_seconds
        self.max_queue = max_queue
        self.timeout_seconds = timeout_seconds
        self.max_retries = max_retries
        self.backoff_seconds = backoff_seconds
        self._headers = {
            "content-type": "application/json",
            "user-agent": f"drift-exporter-client/{__version__}",
        }
        if token is not None:
            self._headers["authorization"] = f"Bearer {token}"
        self._paths = {
            _RECORD: f"/v1/models/{quote(model, safe='')}/predictions",
            _LABEL: f"/v1/models/{quote(model, safe='')}/labels",
        }
        self._transport = transport
        self._random = random.Random()
        self._reset_state()
        self._sent = 0
        self._dropped_full = 0
        self._dropped_retries = 0
        self._rejected = 0
        self._failed_requests = 0
        self._dropped_invalid = 0
        self._dropped_closed = 0
        self._warned: set[str] = set()
        self._closed = False
        reference = weakref.ref(self)
        os.register_at_fork(after_in_child=lambda: _after_fork(reference))

    def _reset_state(self) -> None:
        """The queue, its lock and the worker: fresh at start and in a forked child."""
        self._lock = threading.Lock()
        self._work = threading.Condition(self._lock)
        self._done = threading.Condition(self._lock)
        self._queue: deque[_Entry] = deque()
        self._inflight: list[_Entry] = []
        self._seq = 0
        self._flush_waiters = 0
        self._thread: threading.Thread | None = None
        self._abandon = threading.Event()

    # -- the caller's side: never blocks for I/O, never raises ---------------------------------

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
        """Queue one served prediction; `timestamp` (epoch seconds) defaults to now.

        `label` is the ground truth when it is known at serving time (else send it later with
        `log_label`); `latency_seconds` the model server's latency for this prediction.
        """
        try:
            record: dict[str, Any] = {
                "features": dict(features),
                "prediction": prediction,
                "timestamp": time.time() if timestamp is None else timestamp,
            }
            if id is not None:
                record["id"] = id
            if label is not None:
                record["label"] = label
            if latency_seconds is not None:
                record["latency_seconds"] = latency_seconds
        except Exception:  # a non-mapping `features`: the caller's bug must not be ours
            self._drop_invalid("log() needs a mapping of feature name to value")
            return
        self._put(_RECORD, record)

    def log_label(self, id: str, label: Any) -> None:
        """Queue the ground truth for an earlier `log(..., id=id)`."""
        self._put(_LABEL, {"id": id, "label": label})

    def stats(self) -> LoggerStats:
        with self._lock:
            return LoggerStats(
                queued=len(self._queue) + len(self._inflight),
                sent=self._sent,
                dropped_queue_full=self._dropped_full,
                dropped_after_retries=self._dropped_retries,
                rejected=self._rejected,
                failed_requests=self._failed_requests,
                dropped_invalid=self._dropped_invalid,
                dropped_after_close=self._dropped_closed,
            )

    def flush(self, timeout: float | None = None) -> bool:
        """Send now, and wait until everything queued before this call was attempted.

        Attempted means sent, rejected, or given up after retries; items dropped meanwhile (a
        full queue, or `close` abandoning the worker) count as done too. False if `timeout`
        seconds passed first.
        """
        with self._lock:
            target = self._seq
            if self._oldest_unresolved() >= target:
                return True
            self._flush_waiters += 1
            self._work.notify()
            try:
                return self._done.wait_for(lambda: self._oldest_unresolved() >= target, timeout)
            finally:
                self._flush_waiters -= 1

    def close(self, timeout: float | None = 10.0) -> bool:
        """Send what is queued, then stop the thread; later `log()` calls are dropped (counted).

        `timeout` is how long, in seconds, to wait for the queued items to be sent: 10 by
        default; None waits for as long as the retries take (with the default `max_retries` and
        `backoff_seconds`, up to 15.5 s of backoff per batch while the sidecar is down). True if
        everything was attempted in time. Otherwise close gives up and returns False: the items
        still waiting in the queue are dropped at once and counted in `dropped_after_close`, a
        batch waiting to retry is dropped (also `dropped_after_close`), and the worker stops.
        Only a request already on the wire is let finish, within `timeout_seconds`: its batch
        is then counted as `sent` (or `rejected`) or `dropped_after_close`, and until then in
        `queued`.
        """
        with self._lock:
            self._closed = True
            self._work.notify()
            thread = self._thread
        if thread is None or thread is threading.current_thread():
            return True
        thread.join(timeout)
        if not thread.is_alive():
            return True
        with self._lock:
            self._abandon.set()
            dropped = len(self._queue)
            self._dropped_closed += dropped
            self._queue.clear()
            self._work.notify()
            self._done.notify_all()
        log.warning(
            "drift logger for model %r closed before its queue was sent (timeout %s s); "
            "dropped %d waiting items and stops retrying the batch in flight",
            self.model,
            timeout,
            dropped,
        )
        return False

    def __enter__(self) -> DriftLogger:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _put(self, kind: ItemKind, item: dict[str, Any]) -> None:
        try:
            now = time.monotonic()
            with self._lock:
                if self._closed:
                    self._dropped_closed += 1
                    return
                if self._thread is None:
                    self._start()
                queue = self._queue
                if len(queue) >= self.max_queue:
                    queue.popleft()
                    self._dropped_full += 1
                    if self._flush_waiters:
                        self._done.notify_all()
                queue.append(_Entry(self._seq, now, kind, item))
                self._seq += 1
                waiting = len(queue)
                if waiting == 1 or waiting == self.batch_size:
                    self._work.notify()
        except Exception:  # pragma: no cover - e.g. no thread can be started at shutdown
            self._drop_invalid("the logger could not queue an item")

    def _drop_invalid(self, reason: str) -> None:
        with self._lock:
            self._dropped_invalid += 1
        self._warn_once("invalid", "drift logger dropped an item: %s", reason)

    def _start(self) -> None:
        """Start the worker; called with the lock held, at the first item."""
        self._thread = threading.Thread(
            target=self._run, name=f"drift-logger-{self.model}", daemon=True
        )
        self._thread.start()

    def _oldest_unresolved(self) -> int:
        """The sequence number of the oldest item not yet attempted (the next one if none)."""
        if self._inflight:
            return self._inflight[0].seq
        if self._queue:
            return self._queue[0].seq
        return self._seq

    # -- the worker's side -----------------------------------------------------------------------

    def _run(self) -> None:
        client = httpx.Client(
            base_url=self.url,
            headers=self._headers,
            timeout=self.timeout_seconds,
            transport=self._transport,
        )
        try:
            while True:
                batch = self._next_batch()
                if batch is None:
                    return
                try:
                    self._deliver(client, batch)
                except Exception:  # never let a bug kill the worker and strand the queue
                    log.exception("drift logger failed to deliver a batch; dropping it")
                    with self._lock:
                        self._dropped_retries += len(batch)
                with self._lock:
                    self._inflight = []
                    self._done.notify_all()
        finally:
            client.close()
            with self._lock:
                self._done.notify_all()

    def _next_batch(self) -> list[_Entry] | None:
        """Wait for a full batch, the oldest item's deadline, a flush or close; pop the batch."""
        with self._lock:
            while True:
                if self._abandon.is_set():
                    return None
                queue = self._queue
                if queue:
                    due = queue[0].enqueued_at + self.flush_interval_seconds
                    wait = due - time.monotonic()
                    if (
                        len(queue) >= self.batch_size
                        or self._flush_waiters
                        or self._closed
                        or wait <= 0
                    ):
                        count = min(self.batch_size, len(queue))
                        self._inflight = [queue.popleft() for _ in range(count)]
                        return self._inflight
                    self._work.wait(wait)
                elif self._closed:
                    return None
                else:
                    self._work.wait()

    def _deliver(self, client: httpx.Client, batch: list[_Entry]) -> None:
        records = [entry.item for entry in batch if entry.kind == _RECORD]
        labels = [entry.item for entry in batch if entry.kind == _LABEL]
        for kind, items, key in ((_RECORD, records, "records"), (_LABEL, labels, "labels")):
            if not items:
                continue
            outcome = self._post(client, self._paths[kind], wire.encode({key: items}))
            with self._lock:
                if outcome == "sent":
                    self._sent += len(items)
                elif outcome == "rejected":
                    self._rejected += len(items)
                elif outcome == "abandoned":
                    self._dropped_closed += len(items)
                else:
                    self._dropped_retries += len(items)

    def _post(
        self, client: httpx.Client, path: str, body: bytes
    ) -> Literal["sent", "rejected", "gave_up", "abandoned"]:
        for attempt in range(self.max_retries + 1):
            if self._abandon.is_set():  # `close` gave up waiting: no new attempt
                return "abandoned"
            retry_after = 0.0
            try:
                response = client.post(path, content=body)
            except httpx.HTTPError as error:
                self._failed("unreachable", f"{type(error).__name__}: {error}")
            else:
                status = response.status_code
                if status < 300:
                    if "unreachable" in self._warned:
                        self._warned.discard("unreachable")
                        log.info("drift sidecar at %s accepts batches again", self.url)
                    return "sent"
                if status == 429 or status >= 500:
                    self._failed("unreachable", f"HTTP {status}: {wire.detail(response)}")
                    if status == 429:
                        retry_after = wire.retry_after(response)
                else:
                    self._warn_once(
                        f"rejected-{status}",
                        "drift sidecar rejected a batch for model %r (HTTP %d: %s); dropping it. "
                        "Later rejections with this status are not logged.",
                        self.model,
                        status,
                        wire.detail(response),
                    )
                    return "rejected"
            if attempt == self.max_retries:
                break
            delay = min(self.backoff_seconds * 2**attempt, _MAX_BACKOFF_SECONDS)
            delay = delay / 2 + self._random.uniform(0, delay / 2)
            delay = max(delay, retry_after)
            if self._abandon.wait(delay):
                return "abandoned"
        return "gave_up"

    def _failed(self, key: str, what: str) -> None:
        with self._lock:
            self._failed_requests += 1
        self._warn_once(
            key,
            "drift sidecar at %s is failing (%s); retrying with backoff, dropping batches "
            "after %d retries. Further failures are not logged.",
            self.url,
            what,
            self.max_retries,
        )

    def _warn_once(self, key: str, message: str, *args: Any) -> None:
        if key in self._warned:
            log.debug(message, *args)
            return
        self._warned.add(key)
        log.warning(message, *args)


def _after_fork(reference: weakref.ref[DriftLogger]) -> None:
    """In a forked child: the parent's thread and lock are gone; start over, empty."""
    logger = reference()
    if logger is not None:
        logger._reset_state()


def __getattr__(name: str) -> Any:
    """`drift_exporter_client.logger.AsyncDriftLogger`, where it lived before it got a module."""
    if name == "AsyncDriftLogger":
        from drift_exporter_client.aio import AsyncDriftLogger

        return AsyncDriftLogger
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
