"""Process-wide switches belong to the CLI's start-up: building and running an app in a test
changes none of them, and `tune_for_serving` sets them in the serving process."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
from typing import Any

from fastapi.testclient import TestClient

from exporter.app import create_app
from exporter.blas import blas_threads
from exporter.settings import Settings


def _switches() -> dict[str, Any]:
    return {
        "gc_threshold": gc.get_threshold(),
        "gc_enabled": gc.isenabled(),
        "gc_frozen": gc.get_freeze_count(),
        "switch_interval": sys.getswitchinterval(),
        "blas_threads": blas_threads(),
    }


def test_an_app_and_its_lifespan_change_nothing_process_wide() -> None:
    before = _switches()
    with TestClient(create_app(Settings(min_records=50), run_scheduler=False)) as client:
        assert client.get("/readyz").status_code == 503  # the lifespan ran; no scheduler
        during = _switches()
    assert during == before
    assert _switches() == before


_PROBE = """
import gc, json, sys
from exporter.blas import blas_threads
from exporter.process import GC_THRESHOLDS, tune_for_serving
tune_for_serving()
print(json.dumps({
    "gc_threshold": list(gc.get_threshold()) == list(GC_THRESHOLDS),
    "blas_threads": blas_threads(),
}))
"""


def test_tune_for_serving_sets_the_switches_in_its_own_process() -> None:
    completed = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=120, check=True
    )
    tuned = json.loads(completed.stdout.splitlines()[-1])
    assert tuned["gc_threshold"]
    assert tuned["blas_threads"] and set(tuned["blas_threads"]) == {1}
