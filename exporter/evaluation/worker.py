"""Evaluation in a child process: it does not compete with the event loop for the GIL.

In a thread, evaluation starved the event loop: numpy releases the GIL around every array
operation and takes it straight back, and each hand-back restarts the wait of the thread that
asked for it, so a scrape arriving mid-evaluation waited 2-5 ms per GIL hand-over (measured).
A child process evaluates on the other core instead.

The child is the one worker of a `concurrent.futures.ProcessPoolExecutor`. The app's first
child is forked from the server at start-up, while the server still has one thread
(`fork_first`): it shares the imported modules and the start-up state copy-on-write, ~35 MiB
of its own at its peak instead of ~135 MiB for a fork server and its child
(bench/README.md). Every later child (the replacement of one that died or hung) comes from
the fork server ("forkserver" start method: a fresh interpreter, started by fork + exec when
first needed, that imports the evaluation modules once, `PRELOAD`), so no child is ever
forked from the multi-threaded server. The call and its arguments travel as a `Parcel`
(exporter.evaluation.transport): the arrays in a shared-memory file the server writes once
and the child maps, the rest as a small pickle through the executor, which the child unpickles
inside the call (`_call`): a payload that fails to unpickle, like an evaluation that raises, is
a `WorkerError` for that call only, and the child goes on serving. The file is gone once the
call is over, however it ended. Nothing of a model stays in the child between calls.
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
import os
import select
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import suppress
from typing import Any

from exporter.blas import use_one_blas_thread
from exporter.evaluation.evaluator import evaluate
from exporter.evaluation.report import EvaluationReport
from exporter.evaluation.transport import Parcel, open_parcel, parcel
from exporter.memory import release_freed_memory

log = logging.getLogger(__name__)

#: Imported once by the fork server, so each child starts with numpy and scipy loaded.
PRELOAD = ("exporter.evaluation.evaluator",)
#: Added to the child's niceness (lower CPU priority than the server's threads).
#: prctl(2) option: the signal sent to this process when its parent dies.
_PR_SET_PDEATHSIG = 1
WORKER_NICENESS = 10
#: Longest wait for one answer before the child is taken for hung and replaced (evaluating
#: 10 models x 50 features takes ~0.1 s each; this leaves room for far larger models).
CALL_TIMEOUT_SECONDS = 120.0


class WorkerError(RuntimeError):
    """The call failed in the child (the child's exception is the cause), or the child died
    or hung meanwhile."""


def start_fork_server() -> None:
    """Start the fork server with `PRELOAD` imported, unless it runs already (it starts by
    fork + exec, so this is safe beside other threads)."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(PRELOAD))
    from multiprocessing import forkserver

    forkserver.ensure_running()


class EvaluationWorker:
    """One child process running `exporter.evaluation.evaluator.evaluate`; thread-safe (calls
    queue)."""

    def __init__(self, timeout: float = CALL_TIMEOUT_SECONDS, *, fork_first: bool = False) -> None:
        """`fork_first`: fork the first child from this process, if it has one thread (the
        app's lifespan, before serving), so that it shares the imported modules and the
        start-up state copy-on-write instead of holding its own; every other child comes from
        the fork server."""
        self._timeout = timeout
        self._lock = threading.Lock()
        self._pool: ProcessPoolExecutor | None = None
        self._pid: int | None = None
        self._exited: int | None = None  # a pidfd of the child: readable once it has exited
        single_threaded = threading.active_count() == 1
        with self._lock:
            self._start("fork" if fork_first and single_threaded else "forkserver")

    @property
    def pid(self) -> int | None:
        return self._pid

    def evaluate(self, *arguments: Any, **keywords: Any) -> EvaluationReport:
        """`evaluator.evaluate(...)` in the child; WorkerError if it fails there."""
        report: EvaluationReport = self.call(evaluate, *arguments, **keywords)
        return report

    def call(self, function: Callable[..., Any], *arguments: Any, **keywords: Any) -> Any:
        """`function(*arguments, **keywords)` in the child (a module-level function: it is
        pickled by name); WorkerError if it raises there, or the child dies or hangs."""
        name = getattr(function, "__name__", repr(function))
        # The child's memory peaks during the call: hand back the server's freed pages (what
        # ingest freed since the last evaluation) first, so both peaks do not add up.
        release_freed_memory()
        with parcel((function, arguments, keywords)) as sent, self._lock:
            if self._pool is None or self._child_exited():
                self._restart("it was not running")
            assert self._pool is not None
            try:
                future = self._pool.submit(_call, sent)
            except BrokenProcessPool:  # it died between calls, unnoticed until now
                self._restart("it was gone")
                future = self._pool.submit(_call, sent)
            done, _ = wait([future], self._timeout)
            if not done:
                self._restart(f"it hung: no answer to {name} in {self._timeout:g} s")
                raise WorkerError(
                    f"evaluation worker hung: no answer to {name} in {self._timeout:g} s"
                )
            error = future.exception()
            if isinstance(error, BrokenProcessPool):
                self._restart(f"it died during {name}")
                raise WorkerError(f"evaluation worker died during {name}")
            if error is not None:
                raise WorkerError(f"{name} failed in the evaluation worker: {error!r}") from error
            return future.result()

    def close(self, timeout: float = 5.0) -> None:
        with self._lock:
            self._stop(timeout)

    def _start(self, method: str = "forkserver") -> None:
        if method == "forkserver":
            start_fork_server()
        pool = ProcessPoolExecutor(
            1, mp_context=multiprocessing.get_context(method), initializer=_child_start
        )
        # The child now, not at the first evaluation; and its pid, to kill it if it hangs.
        pid: int = pool.submit(os.getpid).result(self._timeout)
        self._pool, self._pid = pool, pid
        self._exited = None
        with suppress(OSError, AttributeError):  # pidfd: Linux 5.3+
            self._exited = os.pidfd_open(pid)

    def _restart(self, why: str) -> None:
        log.warning(
            "restarting the evaluation worker",
            extra={"event": "evaluation_worker_restart", "reason": why, "pid": self.pid},
        )
        self._stop(1.0)
        self._start()

    def _child_exited(self) -> bool:
        """Whether the child has exited: its pidfd is readable, or /proc shows it a zombie or
        gone (the fallback where pidfd_open is refused, as in some sandboxes; a CI run there
        found a killed child only at the call)."""
        if self._exited is not None and select.select([self._exited], [], [], 0)[0]:
            return True
        return self._pid is not None and _exited_per_proc(self._pid)

    def _stop(self, timeout: float) -> None:
        pool, pid, exited = self._pool, self._pid, self._exited
        self._pool = self._pid = self._exited = None
        if pool is None:
            return
        pool.shutdown(wait=False, cancel_futures=True)  # the child exits after its call
        if pid is not None and not _wait_exit(pid, exited, timeout):
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)  # hung
        if exited is not None:
            os.close(exited)


def _exited_per_proc(pid: int) -> bool:
    """Linux without a pidfd: the process is a zombie, or gone (where there is no /proc,
    the executor's own check, at the call, has to do)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            state = stat.read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return os.path.isdir("/proc/self")
    except (OSError, IndexError):
        return False
    return state in ("Z", "X")


def _wait_exit(pid: int, exited: int | None, timeout: float) -> bool:
    """Whether the child exits within `timeout` (its pidfd is readable once it has; without
    one, poll the pid, which the fork server reaps)."""
    if exited is not None:
        return bool(select.select([exited], [], [], timeout)[0])
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.01)
    return False


def _child_start() -> None:
    """In the child, first. The parent decides when it stops: Ctrl-C reaches the whole process
    group, and the child must finish its call (or be told to stop), not die mid-call. BLAS runs
    on one thread (exporter.blas). And it is background work: where the cores are all busy,
    requests get the CPU first."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # not the handler of a server it forked from
    _die_with_parent()
    use_one_blas_thread()
    with suppress(OSError):
        os.nice(WORKER_NICENESS)


def _die_with_parent() -> None:
    """Linux: SIGTERM this child when its parent dies. The executor's call queue never reports
    EOF to the child (it holds a copy of the writing end), so a SIGKILLed server would leave
    its worker running for good; a child of the fork server follows it, and it follows the
    server. Elsewhere this does nothing."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        return
    if os.getppid() == 1:  # the parent died before prctl took effect
        os._exit(0)


def _call(sent: Parcel) -> Any:
    """In the child: unpickle the call and make it, so a payload that cannot be unpickled is
    this call's error, not the end of the child."""
    function, arguments, keywords = open_parcel(sent)
    return function(*arguments, **keywords)
