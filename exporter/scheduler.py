"""The evaluation schedule: every interval, evaluate every model and publish the reports.

A thread takes each model's snapshot and hands it to the evaluator (by default in a child
process, exporter.worker); evaluation (scipy, sorting) never runs on the event loop or inside a
scrape: ingest keeps answering while a cycle runs, and scrapes serve the text the last cycle
rendered.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace

from prometheus_client import Histogram

from exporter.config import Settings
from exporter.evaluator import EvaluationReport, evaluate, failed_report
from exporter.memory import release_freed_memory
from exporter.metrics import ReportBoard
from exporter.store import ModelWindow, WindowStore

log = logging.getLogger(__name__)


_pause_lock = threading.Lock()
_pauses = 0
_resume = False


@contextmanager
def collector_paused() -> Iterator[None]:
    """No cyclic-GC pass while an evaluation runs and renders.

    Evaluating and rendering 10 models x 50 features allocates tens of thousands of objects that
    live for the length of the cycle: collector passes during it kept promoting them, and the
    full collections that followed (5 ms on average, up to 13 ms, found nothing to free) ran
    on whichever thread allocated next, mostly the event loop's. None of it is cyclic garbage:
    it is freed by reference counting when the cycle ends, and the collector resumes then.
    Nested and concurrent pauses (a POST /evaluate during a cycle) resume it once, at the last.
    """
    global _pauses, _resume
    with _pause_lock:
        if _pauses == 0:
            _resume = gc.isenabled()  # left off if it was off before
            gc.disable()
        _pauses += 1
    try:
        yield
    finally:
        with _pause_lock:
            _pauses -= 1
            if _pauses == 0 and _resume:
                gc.enable()


class EvaluationScheduler:
    """Owns the worker thread; `evaluate_now` serves POST /evaluate from a pool thread.

    `evaluator` is `exporter.evaluator.evaluate` or a stand-in with its signature: the app
    passes `EvaluationWorker.evaluate`, which runs it in a child process.
    """

    def __init__(
        self,
        store: WindowStore,
        board: ReportBoard,
        settings: Settings,
        duration: Histogram,
        clock: Callable[[], float] = time.time,
        timer: Callable[[], float] = time.perf_counter,
        evaluator: Callable[..., EvaluationReport] = evaluate,
    ) -> None:
        self._store = store
        self._board = board
        self._settings = settings
        self._duration = duration
        self._clock = clock
        self._timer = timer
        self._evaluator = evaluator
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="drift-evaluator", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def run_once(self) -> list[EvaluationReport]:
        """Evaluate every model and publish all reports together (one render per cycle)."""
        with collector_paused():
            reports = [self._evaluate(model, window) for model, window in self._store.windows()]
            # A model deleted while the cycle ran must not come back through its last report.
            self._board.publish([report for report in reports if report.model in self._store])
        release_freed_memory()  # the snapshots, pickles and render of the cycle
        return reports

    def evaluate_now(self, model: str) -> EvaluationReport:
        """Evaluate one model now and publish it; raises RequestError for an unknown model."""
        with collector_paused():
            report = self._evaluate(model, self._store.get(model))
            self._board.publish([report])
        release_freed_memory()
        return report

    def _evaluate(self, model: str, window: ModelWindow) -> EvaluationReport:
        settings = self._settings
        min_records = settings.min_records_for(model)
        started = self._timer()
        try:
            window.feed_detectors()  # errors of pairs no request has fed yet, if any
            report = self._evaluator(
                window.snapshot(),
                settings.drift,
                min_records,
                self._clock(),
                min_labels=settings.min_labels_for(model),
            )
        except Exception as error:  # a bug, not client input: keep serving, say so loudly
            log.exception("evaluation of model %r failed", model)
            return failed_report(
                self._board.get(model),
                model,
                self._clock(),
                repr(error),
                min_records,
                settings.drift,
            )
        elapsed = self._timer() - started
        self._duration.labels(model).observe(elapsed)
        return replace(report, duration_seconds=elapsed)

    def _run(self) -> None:
        interval = self._settings.evaluation_interval_seconds
        while not self._stop.wait(interval):
            try:
                self.run_once()
            except Exception:
                log.exception("evaluation cycle failed")
