"""The evaluation child process: the same reports as evaluating in-process, failures that say
why and end only their own call, and a child that is replaced (from the fork server, never
from this multi-threaded process) when it dies, and stopped when closed."""

from __future__ import annotations

import os
import pickle
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from exporter.evaluation.evaluator import evaluate
from exporter.evaluation.transport import parcel
from exporter.evaluation.worker import EvaluationWorker, WorkerError
from exporter.ingest.records import LabelBatch, PredictionBatch
from exporter.settings import DriftSettings, ReferenceSettings, Settings
from exporter.window.model import ModelWindow
from exporter.window.profile import build_profile
from exporter.window.snapshot import WindowSnapshot

NOW = 1_800_000_000.0


@pytest.fixture(scope="module")
def worker() -> Iterator[EvaluationWorker]:
    started = EvaluationWorker()
    yield started
    started.close()


def _snapshot(seed: int = 0, shift: float = 0.4) -> WindowSnapshot:
    """A window of numeric, categorical and boolean features, a score and labels, drifted."""
    rng = np.random.default_rng(seed)
    n = 3_000

    def draw(size: int, offset: float) -> dict[str, Any]:
        x = rng.normal(offset, 1.0, size)
        return {
            "x": x.tolist(),
            "city": rng.choice(["Lyon", "Gent", "Turku", "Porto"], size).tolist(),
            "vip": (rng.random(size) < 0.2).tolist(),
            "score": (1.0 / (1.0 + np.exp(-x))).tolist(),
            "label": (rng.random(size) < 0.5).astype(int).tolist(),
        }

    reference = draw(n, 0.0)
    profile = build_profile(
        "m",
        {name: reference[name] for name in ("x", "city", "vip")},
        reference["score"],
        reference["label"],
        declared={},
        prediction_kind=None,
        settings=ReferenceSettings(),
    )
    window = ModelWindow(profile, Settings(), lambda: NOW - 1.0)
    live = draw(2_000, shift)
    features = [
        {"x": x, "city": city, "vip": vip}
        for x, city, vip in zip(live["x"], live["city"], live["vip"], strict=True)
    ]
    ids: list[str | None] = [f"r{i}" for i in range(len(features))]
    window.append(PredictionBatch(features, live["score"], ids, [None] * len(features)))
    window.add_labels(LabelBatch([f"r{i}" for i in range(1_500)], live["label"][:1_500]))
    return window.snapshot()


def test_the_child_reports_exactly_what_evaluate_reports_in_process(
    worker: EvaluationWorker,
) -> None:
    snapshot = _snapshot()
    drift = DriftSettings(correction="benjamini_hochberg")
    ours = worker.evaluate(snapshot, drift, 100, NOW, min_labels=50)
    theirs = evaluate(snapshot, drift, 100, NOW, min_labels=50)
    assert ours.to_dict() == theirs.to_dict()
    assert ours.features_drifted == theirs.features_drifted >= 1
    assert ours.performance is not None


def test_a_snapshots_arrays_reach_the_child_outside_the_pickle() -> None:
    snapshot = _snapshot()
    arrays = sum(column.counts.nbytes for column in snapshot.columns) + sum(
        column.sample.nbytes for column in snapshot.columns if column.sample is not None
    )
    call = (evaluate, (snapshot,), {})
    with parcel(call) as sent:
        assert sent.path is not None
        assert sum(length for _, length in sent.spans) >= arrays
        # The window's arrays (and the profile's) are out of the pickle.
        assert len(sent.pickled) <= len(pickle.dumps(call, protocol=5)) - arrays


def test_a_failure_in_the_child_is_a_worker_error_with_its_cause(
    worker: EvaluationWorker,
) -> None:
    with pytest.raises(WorkerError, match="AttributeError"):
        worker.evaluate(None, DriftSettings(), 100, NOW)
    # ... and the child goes on serving.
    assert worker.evaluate(_snapshot(1), DriftSettings(), 100, NOW).model == "m"


class _Unreadable(int):
    """Pickles fine here; unpickling it raises (int("not a number")), as a payload whose class
    the child cannot rebuild would."""

    def __reduce__(self) -> Any:
        return (int, ("not a number",))


def test_a_payload_the_child_cannot_unpickle_fails_that_call_only() -> None:
    worker = EvaluationWorker()
    try:
        child = worker.pid
        with pytest.raises(WorkerError, match="ValueError"):
            worker.evaluate(_snapshot(6), DriftSettings(), _Unreadable(), NOW)
        report = worker.evaluate(_snapshot(6), DriftSettings(), 100, NOW)
        assert report.status == "ok"
        assert worker.pid == child  # the same child served it: none died
        assert worker.call(os.getpid) == child
    finally:
        worker.close()


def test_children_are_forked_from_the_fork_server_not_from_this_process() -> None:
    worker = EvaluationWorker()
    try:
        first = worker.pid
        assert first is not None
        fork_server = worker.call(os.getppid)
        assert fork_server != os.getpid()
        os.kill(first, signal.SIGKILL)
        assert _dead(first)
        assert worker.evaluate(_snapshot(7), DriftSettings(), 100, NOW).status == "ok"
        assert worker.pid not in (None, first)
        assert worker.call(os.getppid) == fork_server
    finally:
        worker.close()


def _dead(pid: int, timeout: float = 5.0) -> bool:
    """Exited, every thread of it (its pidfd is readable then, as the worker's own is), reaped
    or not."""
    try:
        handle = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        return bool(select.select([handle], [], [], timeout)[0])
    finally:
        os.close(handle)


def test_a_killed_child_is_replaced_on_the_next_evaluation() -> None:
    worker = EvaluationWorker()
    try:
        first = worker.pid
        assert first is not None
        os.kill(first, signal.SIGKILL)
        assert _dead(first)
        report = worker.evaluate(_snapshot(2), DriftSettings(), 100, NOW)
        assert report.status == "ok"
        assert worker.pid not in (None, first)
    finally:
        worker.close()


def test_a_child_that_dies_while_evaluating_is_a_worker_error_then_replaced() -> None:
    worker = EvaluationWorker()
    try:
        first = worker.pid
        assert first is not None
        with pytest.raises(WorkerError, match="died during evaluate"):
            worker.evaluate(_snapshot(4), DriftSettings(), 100, NOW, min_labels=_Suicide())
        assert worker.evaluate(_snapshot(4), DriftSettings(), 100, NOW).status == "ok"
        assert worker.pid not in (None, first)
    finally:
        worker.close()


class _Suicide(int):
    """Kills the process that unpickles it: a child dying mid-evaluation."""

    def __reduce__(self) -> Any:
        return (os._exit, (3,))


def test_a_child_that_does_not_answer_in_time_is_a_worker_error_then_replaced() -> None:
    # The timeout also bounds the replacement's first evaluation below, in a child niced to
    # background priority: ~40 ms on a loaded 2-core machine, so 5 s, not 0.5 s.
    worker = EvaluationWorker(timeout=5.0)
    try:
        first = worker.pid
        with pytest.raises(WorkerError, match=r"hung: no answer to sleep in 5 s"):
            worker.call(time.sleep, 600)
        assert worker.pid not in (None, first)
        assert worker.evaluate(_snapshot(5), DriftSettings(), 100, NOW).status == "ok"
    finally:
        worker.close()


def _ignored_signals(pid: int) -> int:
    """The SigIgn mask of /proc/<pid>/status: bit n - 1 is set if signal n is ignored."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigIgn:"):
            return int(line.split()[1], 16)
    raise AssertionError(f"no SigIgn in /proc/{pid}/status")


def test_the_child_ignores_ctrl_c_and_stops_when_closed() -> None:
    worker = EvaluationWorker()
    pid = worker.pid
    assert pid is not None
    # An answer comes from its serving loop, so the child has set its signal handlers: a
    # SIGINT sent earlier could find a child still starting, whatever the test slept.
    assert worker.call(os.getpid) == pid
    assert _ignored_signals(pid) & (1 << (signal.SIGINT - 1))
    os.kill(pid, signal.SIGINT)  # what Ctrl-C sends the whole process group
    assert worker.evaluate(_snapshot(3), DriftSettings(), 100, NOW).status == "ok"
    assert worker.pid == pid  # served by the same child, not a replacement
    worker.close()
    assert worker.pid is None
    assert _dead(pid, timeout=5.0)  # exited when told to (its parent reaps it)


_FORK_FIRST = """
import os, select, signal
from exporter.evaluation.worker import EvaluationWorker

if __name__ == "__main__":
    worker = EvaluationWorker(fork_first=True)
    try:
        first = worker.pid
        print(worker.call(os.getppid) == os.getpid())
        exited = os.pidfd_open(first)
        os.kill(first, signal.SIGKILL)
        select.select([exited], [], [], 5.0)
        print(worker.call(os.getpid) != first, worker.call(os.getppid) == os.getpid())
    finally:
        worker.close()
"""


def test_fork_first_forks_the_first_child_here_and_replacements_from_the_fork_server(
    tmp_path: Path,
) -> None:
    script = tmp_path / "fork_first.py"
    script.write_text(_FORK_FIRST)
    completed = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120, check=True
    )
    # One thread here: the first child is ours; its replacement is the fork server's.
    assert completed.stdout.split() == ["True", "True", "False"]


def test_fork_first_uses_the_fork_server_while_other_threads_run() -> None:
    release = threading.Event()
    other = threading.Thread(target=release.wait)
    other.start()
    try:
        worker = EvaluationWorker(fork_first=True)
        try:
            assert worker.call(os.getppid) != os.getpid()
        finally:
            worker.close()
    finally:
        release.set()
        other.join()
