"""create_app(settings): the one place objects are built and wired together.

The lifespan builds the registry, store, report board and evaluation scheduler and puts them on
app.state; nothing lives at module level, so tests can run many apps side by side.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from prometheus_client import CollectorRegistry

from exporter import __version__
from exporter.api import api_router, docs
from exporter.api.auth import BearerAuth, load_token
from exporter.api.errors import domain_error, validation_error
from exporter.api.listeners import IngestListener
from exporter.errors import DomainError
from exporter.evaluation.evaluator import evaluate
from exporter.evaluation.report import EvaluationReport
from exporter.evaluation.scheduler import EvaluationScheduler
from exporter.evaluation.worker import EvaluationWorker
from exporter.ingest.formats.cloudevents import CloudEventJoiner
from exporter.prometheus.board import ReportBoard, evaluation_duration_histogram
from exporter.prometheus.collectors import LiveCollector, PersistenceCollector, RejectionCounter
from exporter.prometheus.references import ReferenceCollector
from exporter.settings import Settings
from exporter.window.persistence import SnapshotWriter, StateDirectory
from exporter.window.references import ReferenceLoader
from exporter.window.store import WindowStore

log = logging.getLogger(__name__)


@dataclass
class _Running:
    """What the lifespan starts before serving and stops after."""

    scheduler: EvaluationScheduler
    worker: EvaluationWorker | None
    writer: SnapshotWriter | None
    references: ReferenceLoader | None = None

    def start(self, run_scheduler: bool) -> None:
        if run_scheduler:
            self.scheduler.start()
        if self.writer is not None:
            self.writer.start()
        if self.references is not None:  # after the worker's fork: threads of their own
            self.references.start()

    def stop(self) -> None:
        if self.references is not None:
            self.references.stop()
        self.scheduler.stop()
        if self.worker is not None:
            self.worker.close()
        if self.writer is not None:
            self.writer.stop()  # the final snapshot of a graceful shutdown


def create_app(
    settings: Settings,
    *,
    clock: Callable[[], float] = time.time,
    timer: Callable[[], float] = time.perf_counter,
    run_scheduler: bool = True,
    evaluator: Callable[..., EvaluationReport] | None = None,
) -> FastAPI:
    """The sidecar's ASGI app. `clock`/`timer` are injectable for deterministic tests;
    `run_scheduler=False` leaves evaluation to explicit calls (POST /evaluate, run_once);
    `evaluator` stands in for `exporter.evaluation.evaluator.evaluate`, called in this process
    (tests), whatever `evaluation_worker` says."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        running = _build(app, settings, clock, timer, evaluator)
        running.start(run_scheduler)
        try:
            yield
        finally:
            running.stop()

    app = FastAPI(
        title="drift-exporter",
        version=__version__,
        description="Watches ML models in production for drift; Prometheus scrapes /metrics.",
        lifespan=lifespan,
        # Served by exporter.api.docs from installed files instead of a CDN: no internet needed.
        docs_url=None,
        redoc_url=None,
    )
    app.include_router(api_router)
    app.mount(docs.STATIC_URL, docs.static_files(), name="docs-static")
    token = load_token(settings.auth)
    if token is not None:
        app.add_middleware(
            BearerAuth,
            token=token,
            protect_reads=settings.auth.protect_reads,
            protect_metrics=settings.auth.protect_metrics,
            on_reject=lambda reason: app.state.rejections.increment(reason),
        )
    ingest = settings.ingest_address
    if ingest is not None:  # outside auth: a write to the main listener is refused, token or not
        app.add_middleware(
            IngestListener,
            ingest=ingest,
            on_reject=lambda reason: app.state.rejections.increment(reason),
        )
    app.add_exception_handler(DomainError, domain_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    return app


def _build(
    app: FastAPI,
    settings: Settings,
    clock: Callable[[], float],
    timer: Callable[[], float],
    evaluator: Callable[..., EvaluationReport] | None,
) -> _Running:
    """Build the registry, store, board, joiner, persistence and scheduler onto app.state."""
    registry = CollectorRegistry(auto_describe=False)
    store = WindowStore(settings, clock=clock)
    # Rendered once per evaluation with the drift families, not per scrape.
    evaluation_registry = CollectorRegistry(auto_describe=False)
    duration = evaluation_duration_histogram(evaluation_registry)
    board = ReportBoard(evaluation_registry)
    rejections = RejectionCounter()
    cloudevents = settings.cloudevents
    joiner = CloudEventJoiner(
        cloudevents.max_pending,
        cloudevents.max_age_seconds,
        max_pending_bytes=cloudevents.max_pending_bytes,
    )
    registry.register(LiveCollector(store, rejections, joiner))
    state, writer = _persistence(settings, store, clock)
    registry.register(PersistenceCollector(state))
    evaluating, worker = _evaluation(settings, evaluator)
    scheduler = EvaluationScheduler(
        store, board, settings, duration, clock=clock, timer=timer, evaluator=evaluating
    )
    app.state.state_directory = state
    app.state.settings = settings
    app.state.registry = registry
    app.state.store = store
    app.state.board = board
    app.state.rejections = rejections
    app.state.cloudevent_joiner = joiner
    app.state.evaluation_duration = duration
    app.state.scheduler = scheduler
    app.state.evaluation_worker = worker
    app.state.references = _references(settings, store, state, board, registry)
    return _Running(scheduler, worker, writer, app.state.references)


def _references(
    settings: Settings,
    store: WindowStore,
    state: StateDirectory | None,
    board: ReportBoard,
    registry: CollectorRegistry,
) -> ReferenceLoader | None:
    """The loader of the references the config names (none when it names none)."""
    if not any(declared.reference for declared in settings.models.values()):
        return None
    loader = ReferenceLoader(settings, store, state, installed=board.discard)
    registry.register(ReferenceCollector(loader))
    return loader


def _persistence(
    settings: Settings, store: WindowStore, clock: Callable[[], float]
) -> tuple[StateDirectory | None, SnapshotWriter | None]:
    """Restore the windows from `state_dir` and make their snapshot writer (none without)."""
    if settings.state_dir is None:
        return None, None
    state = StateDirectory(settings.state_dir)
    restored = state.restore_into(store)
    if restored:
        log.info("restored %d model(s) from %s", len(restored), settings.state_dir)
    return state, SnapshotWriter(state, store, settings.snapshot_interval_seconds, clock=clock)


def _evaluation(
    settings: Settings, evaluator: Callable[..., EvaluationReport] | None
) -> tuple[Callable[..., EvaluationReport], EvaluationWorker | None]:
    """What evaluates: a test's stand-in, the worker process, or this process."""
    if evaluator is not None:
        return evaluator, None
    if settings.evaluation_worker == "process":
        # Before serving, while the server has one thread: the first child is forked from it
        # (sharing its modules copy-on-write); replacements come from a fork server.
        worker = EvaluationWorker(fork_first=True)
        return worker.evaluate, worker
    return evaluate, None
