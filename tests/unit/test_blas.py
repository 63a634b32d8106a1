"""The serving process and its evaluation worker run BLAS on one thread (idle pool threads
spin)."""

from __future__ import annotations

import subprocess
import sys

_PROBE = """
from exporter.blas import blas_threads
from exporter.evaluation.worker import EvaluationWorker
from exporter.process import tune_for_serving
tune_for_serving()
worker = EvaluationWorker()
try:
    print(sorted(set(blas_threads())), sorted(set(worker.call(blas_threads))))
finally:
    worker.close()
"""


def test_the_served_process_and_its_worker_use_one_blas_thread() -> None:
    completed = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=120, check=True
    )
    assert completed.stdout.split("\n")[-2] == "[1] [1]"
