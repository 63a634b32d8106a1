"""The server and its evaluation worker run BLAS on one thread (idle pool threads spin)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from exporter.app import create_app
from exporter.blas import blas_threads
from exporter.evaluation.worker import EvaluationWorker
from exporter.settings import Settings


def test_the_app_limits_every_loaded_blas_library_to_one_thread() -> None:
    with TestClient(create_app(Settings(), run_scheduler=False)):
        threads = blas_threads()
    assert threads, "numpy and scipy load a BLAS library"
    assert set(threads) == {1}


def test_a_worker_forked_after_the_limit_inherits_it() -> None:
    with TestClient(create_app(Settings(), run_scheduler=False)):
        worker = EvaluationWorker()
        try:
            assert set(worker.call(blas_threads)) == {1}
        finally:
            worker.close()
