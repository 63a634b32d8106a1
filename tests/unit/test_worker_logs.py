"""The evaluation worker's restart line: structured, with why and which child was replaced."""

from __future__ import annotations

import logging
import os
import signal
import time
from pathlib import Path

import pytest

from exporter.evaluation.worker import EvaluationWorker, WorkerError
from exporter.logs import fields


def restarts(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if getattr(r, "event", None) == "evaluation_worker_restart"]


def test_a_dead_child_is_logged_with_the_reason_and_its_pid(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="exporter.evaluation.worker")
    first = _kill_the_child_then_call(EvaluationWorker())
    (line,) = restarts(caplog)
    assert line.levelname == "WARNING"
    assert line.getMessage() == "restarting the evaluation worker"
    logged = fields(line)
    # Which check sees the death first depends on when the executor notices it.
    assert logged.pop("reason") in {"it was not running", "it was gone", "it died during getpid"}
    assert logged == {"event": "evaluation_worker_restart", "pid": first}


def _kill_the_child_then_call(worker: EvaluationWorker) -> int:
    """SIGKILL the worker's child between calls, check the next call runs in a new child, close
    the worker; the killed child's pid."""
    try:
        first = worker.pid
        assert first is not None
        os.kill(first, signal.SIGKILL)
        assert _dead(first)
        assert worker.call(os.getpid) not in (first, os.getpid())
    finally:
        worker.close()
    return first


def _dead(pid: int, timeout: float = 5.0) -> bool:
    """Killed: a zombie (left for the worker to reap) or gone."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.02)
    return False


def test_a_hung_child_is_logged_with_the_reason(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="exporter.evaluation.worker")
    worker = EvaluationWorker(timeout=0.5)
    try:
        first = worker.pid
        with pytest.raises(WorkerError):
            worker.call(time.sleep, 30)
    finally:
        worker.close()
    (line,) = restarts(caplog)
    assert fields(line) == {
        "event": "evaluation_worker_restart",
        "reason": "it hung: no answer to sleep in 0.5 s",
        "pid": first,
    }


def test_without_a_pidfd_a_killed_child_is_found_before_the_call(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Some sandboxes refuse pidfd_open: /proc still tells the child is dead, so the next call
    goes to a new child instead of failing (a CI run once failed here)."""

    def refused(pid: int, flags: int = 0) -> int:
        raise PermissionError("pidfd_open refused")

    monkeypatch.setattr(os, "pidfd_open", refused)
    caplog.set_level(logging.WARNING, logger="exporter.evaluation.worker")
    first = _kill_the_child_then_call(EvaluationWorker())
    (line,) = restarts(caplog)
    assert fields(line) == {
        "event": "evaluation_worker_restart",
        "reason": "it was not running",
        "pid": first,
    }
