"""Evaluation (and rendering) in a child process: neither competes with the event loop for the GIL.

In a thread, evaluation starved the event loop: numpy releases the GIL around every array
operation and takes it straight back, and each hand-back restarts the wait of the thread that
asked for it, so a scrape arriving mid-evaluation waited 2-5 ms per GIL hand-over (measured),
whatever `sys.setswitchinterval` said. A child process evaluates on the other core instead.

The child is forked when the app starts (before it serves, with the modules already imported
and shared copy-on-write), answers one evaluation at a time, and is replaced if it dies. The
window snapshot goes to it as a pickle whose arrays travel out of band (pickle protocol 5:
written straight from the arrays' memory, not copied into the pickle); the report comes back
as an ordinary pickle. Nothing of a model stays in the child between evaluations. The drift
families' exposition text is rendered and deflated there too (`render`), from the reports
sent back.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import pickle
import signal
import threading
import traceback
from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from exporter.evaluation.evaluator import EvaluationReport, evaluate
from exporter.memory import release_freed_memory
from exporter.prometheus.collectors import render_deflated
from exporter.prometheus.compression import DeflatedText

log = logging.getLogger(__name__)


#: Added to the child's niceness (lower CPU priority than the server's threads).
WORKER_NICENESS = 10
#: Longest wait for one answer before the child is taken for hung and replaced (evaluating
#: 10 models x 50 features takes ~0.1 s each; this leaves room for far larger models).
CALL_TIMEOUT_SECONDS = 120.0


class WorkerError(RuntimeError):
    """The evaluation failed in the child (its traceback is the message) or the child died."""


@dataclass(frozen=True)
class _Failed:
    traceback: str


class EvaluationWorker:
    """One child process running `exporter.evaluation.evaluator.evaluate` and
    `exporter.prometheus.collectors.render_deflated`; thread-safe (calls queue)."""

    def __init__(self, timeout: float = CALL_TIMEOUT_SECONDS) -> None:
        self._timeout = timeout
        self._lock = threading.Lock()
        self._context = multiprocessing.get_context("fork")
        self._process: Any = None
        self._connection: Connection | None = None
        self._start()

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def evaluate(self, *arguments: Any, **keywords: Any) -> EvaluationReport:
        """`evaluator.evaluate(...)` in the child; WorkerError if it fails there."""
        report: EvaluationReport = self.call(evaluate, *arguments, **keywords)
        return report

    def render(self, reports: Mapping[str, EvaluationReport], suffix: bytes = b"") -> DeflatedText:
        """`collectors.render_deflated(reports, suffix)` in the child: rendering and
        deflating 4,000 series takes ~16 + 3 ms of CPU there instead of here."""
        pickled = []
        for model, report in reports.items():
            pickled.append((model, pickle.dumps(report, protocol=5)))
        rendered: DeflatedText = self.call(_render_pickled, pickled, suffix)
        return rendered

    def call(self, function: Callable[..., Any], *arguments: Any, **keywords: Any) -> Any:
        """`function(*arguments, **keywords)` in the child (a module-level function: it is
        pickled by name); WorkerError if it raises there or the child dies meanwhile."""
        buffers: list[pickle.PickleBuffer] = []
        payload = pickle.dumps(
            (function, arguments, keywords), protocol=5, buffer_callback=buffers.append
        )
        with self._lock:
            if self._connection is None or not self._process.is_alive():
                self._restart("it was not running")
            try:
                self._send(payload, buffers)
            except OSError as error:
                # Dead before it read the request (so nothing can have made it die): once more.
                self._restart(f"it was gone ({error!r})")
                self._send(payload, buffers)
            try:
                reply = self._receive(function.__name__)
            except TimeoutError as error:
                self._restart(f"it hung: {error}")
                raise WorkerError(f"evaluation worker hung: {error}") from None
            except (EOFError, OSError) as error:
                self._restart(f"it died during {function.__name__} ({error!r})")
                raise WorkerError(
                    f"evaluation worker died during {function.__name__}: {error!r}"
                ) from None
        if isinstance(reply, _Failed):
            raise WorkerError(reply.traceback)
        return reply

    def _send(self, payload: bytes, buffers: list[pickle.PickleBuffer]) -> None:
        connection = self._connection
        assert connection is not None
        connection.send_bytes(len(buffers).to_bytes(4, "little") + payload)
        for buffer in buffers:
            connection.send_bytes(buffer.raw())

    def _receive(self, doing: str) -> Any:
        connection = self._connection
        assert connection is not None
        if not connection.poll(self._timeout):
            # Hung (say, on a lock some thread held when it was forked): replaced, not awaited.
            raise TimeoutError(f"no answer to {doing} in {self._timeout:g} s")
        return connection.recv()

    def close(self, timeout: float = 5.0) -> None:
        with self._lock:
            self._stop(timeout)

    def _start(self) -> None:
        parent, child = self._context.Pipe(duplex=True)
        process = self._context.Process(
            target=_serve, args=(child, parent), name="drift-evaluation-worker", daemon=True
        )
        process.start()
        child.close()
        self._process, self._connection = process, parent

    def _restart(self, why: str) -> None:
        log.warning("restarting the evaluation worker: %s", why)
        self._stop(1.0)
        self._start()

    def _stop(self, timeout: float) -> None:
        process, connection = self._process, self._connection
        self._process = self._connection = None
        if connection is not None:
            with suppress(OSError):
                connection.send_bytes(b"")  # the request to exit
            connection.close()
        if process is not None:
            process.join(timeout)
            if process.is_alive():
                process.kill()
                process.join(timeout)


def _render_pickled(pickled: list[tuple[str, bytes]], suffix: bytes) -> DeflatedText:
    """In the child: the reports `EvaluationWorker.render` pickled one by one, rendered."""
    return render_deflated({model: pickle.loads(report) for model, report in pickled}, suffix)


def _serve(connection: Connection, parent_end: Connection) -> None:
    """The child: evaluate what arrives until an empty message or the parent's end closes."""
    parent_end.close()
    # The parent decides when the child stops: Ctrl-C reaches the whole process group, and the
    # handlers inherited from the server (uvicorn's) would only set a flag nobody reads here.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    # Background work: where the cores are all busy, requests get the CPU first.
    with suppress(OSError):
        os.nice(WORKER_NICENESS)
    while True:
        try:
            message = connection.recv_bytes()
        except (EOFError, OSError):
            return
        if not message:
            return
        count = int.from_bytes(message[:4], "little")
        try:
            buffers = [connection.recv_bytes() for _ in range(count)]
        except (EOFError, OSError):
            return
        try:
            function, arguments, keywords = pickle.loads(message[4:], buffers=buffers)
            reply: Any = function(*arguments, **keywords)
        except Exception:
            reply = _Failed(traceback.format_exc())
        try:
            connection.send(reply)
        except (EOFError, OSError):
            return
        del function, arguments, keywords, buffers, reply
        release_freed_memory()  # the snapshot and the evaluation's temporaries
