"""The evaluation schedule: every interval, evaluate every model and publish the reports.

A thread takes each model's snapshot and hands it to the evaluator (by default in a child
process, exporter.evaluation.worker); evaluation (scipy, sorting) never runs on the event
loop or inside a scrape: ingest keeps answering while a cycle runs, and scrapes serve the
text the last cycle rendered.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import NamedTuple

from prometheus_client import Histogram

from exporter.evaluation.evaluator import evaluate
from exporter.evaluation.report import EvaluationReport, failed_report
from exporter.memory import release_freed_memory
from exporter.prometheus.board import ReportBoard
from exporter.settings import Settings
from exporter.window.model import ModelWindow
from exporter.window.store import WindowStore

log = logging.getLogger(__name__)


class _Evaluated(NamedTuple):
    """A report and the window it was evaluated from; `seconds` is None if it failed."""

    window: ModelWindow
    report: EvaluationReport
    seconds: float | None


class EvaluationScheduler:
    """Owns the worker thread; `evaluate_now` serves POST /evaluate from a pool thread.

    `evaluator` is `exporter.evaluation.evaluator.evaluate` or a stand-in with its signature:
    the app passes `EvaluationWorker.evaluate`, which runs it in a child process.
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
        evaluated = [self._evaluate(model, window) for model, window in self._store.windows()]
        self._publish(evaluated)
        return [item.report for item in evaluated]

    def evaluate_now(self, model: str) -> EvaluationReport:
        """Evaluate one model now and publish it; UnknownModel if it has no reference."""
        evaluated = self._evaluate(model, self._store.get(model))
        self._publish([evaluated])
        return evaluated.report

    def _publish(self, evaluated: list[_Evaluated]) -> None:
        """Publish the reports of the models the store still holds in the window that was
        evaluated; drop the others (deleted meanwhile, or deleted and created anew).

        The check is made at publication, under the board's lock and then the store's. A DELETE
        removes the model from the store, then its duration series, then its report from the
        board: a report admitted before the delete is discarded by it, one checked after is
        dropped here, and a model's evaluation duration is observed only while the store holds
        it, so a deleted model's series is never created again.
        """
        by_report = {id(item.report): item for item in evaluated}

        def admit(report: EvaluationReport) -> bool:
            item = by_report[id(report)]
            return self._store.holds(report.model, item.window, lambda: self._observe(item))

        self._board.publish([item.report for item in evaluated], admit)
        release_freed_memory()  # the snapshots, pickles and render behind these reports

    def _observe(self, item: _Evaluated) -> None:
        if item.seconds is not None:
            self._duration.labels(item.report.model).observe(item.seconds)

    def _evaluate(self, model: str, window: ModelWindow) -> _Evaluated:
        settings = self._settings
        min_records = settings.min_records_for(model)
        started = self._timer()
        try:
            window.feed_detectors()  # errors of pairs no request has fed yet, if any
            snapshot = window.snapshot()
            report = self._evaluator(
                snapshot,
                settings.drift,
                min_records,
                self._clock(),
                min_labels=settings.min_labels_for(model),
                pooling=settings.pooling,
            )
        except Exception as error:  # a bug, not client input: keep serving, say so loudly
            log.exception("evaluation of model %r failed", model)
            failed = failed_report(
                self._board.get(model),
                model,
                self._clock(),
                repr(error),
                min_records,
                settings.drift,
            )
            return _Evaluated(window, failed, None)
        elapsed = self._timer() - started
        return _Evaluated(window, replace(report, duration_seconds=elapsed), elapsed)

    def _run(self) -> None:
        interval = self._settings.evaluation_interval_seconds
        while not self._stop.wait(interval):
            try:
                self.run_once()
            except Exception:
                log.exception("evaluation cycle failed")
