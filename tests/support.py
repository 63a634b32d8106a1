"""Helpers shared by the integration and end-to-end tests: free ports and server processes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import httpx

ROOT = Path(__file__).resolve().parents[1]
#: The sidecar's pooling families (issue 14's fleet contract, docs/metrics.md), written out
#: here rather than read from the code: the tests hold the code to the contract.
POOLING_FAMILIES = (
    "drift_feature_window_bin_records",
    "drift_feature_reference_bin_records",
    "drift_prediction_window_bin_records",
    "drift_prediction_reference_bin_records",
    "drift_feature_missing_records",
    "drift_feature_type_mismatch_records",
    "drift_feature_unseen_category_records",
    "drift_feature_out_of_range_records",
    "drift_noise_quantile_z",
    "drift_prediction_noise_quantile_z",
)
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


#: How long a process may take to start answering. A deadline, not a speed bound: on a loaded
#: 2-core machine a sidecar took 10-13 s to answer /readyz (imports and the forked worker).
STARTUP_SECONDS = 120.0


def wait_for(
    url: str, timeout: float = STARTUP_SECONDS, process: subprocess.Popen[bytes] | None = None
) -> None:
    """Poll `url` until it answers 200, failing early if `process` died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before {url} came up")
        try:
            if httpx.get(url, timeout=5.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


def wait_until(
    condition: Callable[[], T],
    what: str | Callable[[], str],
    timeout: float = 60.0,
    interval: float = 0.2,
) -> T:
    """Poll `condition` until it returns something truthy and return that; at the deadline,
    fail with `what` (or what it returns, to show the last state seen). The deadline only bounds
    a wait for the real condition: under load the wait is longer, the assertion no weaker."""
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        if time.monotonic() > deadline:
            message = what() if callable(what) else what
            raise AssertionError(f"{message} (waited {timeout:g} s)")
        time.sleep(interval)
    return result


def start_sidecar(
    config: Path,
    port: int,
    log: Path,
    env: dict[str, str] | None = None,
    host: str = "127.0.0.1",
) -> subprocess.Popen[bytes]:
    """`python -m exporter serve` on `host`:`port`, logging to `log`."""
    command = [
        sys.executable,
        "-m",
        "exporter",
        "serve",
        "--config",
        str(config),
        "--host",
        host,
        "--port",
        str(port),
    ]
    handle = log.open("wb")
    return subprocess.Popen(
        command,
        stdout=handle,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
    )


def stop(process: subprocess.Popen[bytes], timeout: float = 10.0) -> int:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)
    return process.returncode
