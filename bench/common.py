"""Shared pieces of the benchmarks: the seeded workload, the in-process objects, a real server.

Every benchmark compares drift-exporter with a baseline measured in the same run on the same
data, so the ratios travel between machines even though the absolute figures do not. The
workload is generated from `np.random.default_rng(seed)`; nothing is downloaded.

This module imports only numpy and the standard library at import time, so a second interpreter
(for example a virtualenv holding alibi-detect, which needs numpy < 2) can generate the very same
data with `columnar_workload`.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import platform
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

SEED = 20_240_611
REFERENCE_ROWS = 50_000
WINDOW_RECORDS = 5_000
BATCH_RECORDS = 1_000
MODEL = "bench-credit"

NUMERIC = ("age", "income", "balance", "tenure_months", "risk_score")
CATEGORICAL = ("country", "device", "plan")
FEATURES = NUMERIC + CATEGORICAL

COUNTRIES = tuple(f"C{i:02d}" for i in range(20))
DEVICES = ("web", "ios", "android", "api")
PLANS = ("free", "plus", "pro")


# --------------------------------------------------------------------------- workload


def columnar_workload(seed: int, rows: int, *, drifted: bool = False) -> dict[str, np.ndarray]:
    """Columns of the 8-feature workload (5 numeric, 3 categorical) plus the prediction.

    `drifted` shifts income up 10 %, moves the device mix and widens balance: the traffic
    benchmarks then measure statistics over a window that really differs from the reference.
    """
    rng = np.random.default_rng(seed)
    country_weights = 1.0 / np.arange(1, len(COUNTRIES) + 1)  # Zipf-like, 20 categories
    device_shares = (0.25, 0.25, 0.4, 0.1) if drifted else (0.45, 0.3, 0.2, 0.05)
    columns: dict[str, np.ndarray] = {
        "age": rng.normal(41, 11, rows).clip(18, 90).round(),
        "income": rng.lognormal(10.6 + (0.1 if drifted else 0.0), 0.45, rows).round(2),
        "balance": rng.normal(1_000, 550 if drifted else 400, rows).round(2),
        "tenure_months": rng.integers(0, 120, rows).astype(np.float64),
        "risk_score": rng.beta(2, 5, rows).round(4),
        "country": rng.choice(np.array(COUNTRIES), rows, p=country_weights / country_weights.sum()),
        "device": rng.choice(np.array(DEVICES), rows, p=device_shares),
        "plan": rng.choice(np.array(PLANS), rows, p=(0.6, 0.3, 0.1)),
    }
    logit = (
        -1.0
        + 0.9 * (np.log(columns["income"]) - 10.6)
        - 2.5 * (columns["risk_score"] - 0.28)
        + 0.02 * (columns["age"] - 41)
    )
    columns["prediction"] = (1.0 / (1.0 + np.exp(-logit))).round(5)
    return columns


def workload_fingerprint(columns: dict[str, np.ndarray]) -> str:
    """A short digest of the columns, to show two interpreters generated the same data."""
    import hashlib

    digest = hashlib.sha256()
    for name in sorted(columns):
        values = columns[name]
        digest.update(name.encode())
        digest.update(
            values.astype(str).tobytes() if values.dtype.kind == "U" else values.tobytes()
        )
    return digest.hexdigest()[:12]


def records_from_columns(columns: dict[str, np.ndarray]) -> list[dict[str, Any]]:
    """The same data as `{"features": {...}, "prediction": p}` records with plain JSON types."""
    names = [name for name in columns if name != "prediction"]
    lists = [columns[name].tolist() for name in names]
    predictions = columns["prediction"].tolist()
    return [
        {"features": dict(zip(names, row, strict=True)), "prediction": prediction}
        for row, prediction in zip(zip(*lists, strict=True), predictions, strict=True)
    ]


def wide_columns(
    seed: int, rows: int, features: int, *, drifted: bool = False
) -> dict[str, np.ndarray]:
    """`features` numeric columns (f00, f01, ...) and a numeric prediction: the wide models."""
    rng = np.random.default_rng(seed)
    columns: dict[str, np.ndarray] = {}
    for j in range(features):
        shift = 0.25 if drifted and j % 5 == 0 else 0.0
        columns[f"f{j:02d}"] = (rng.normal(shift, 1.0 + 0.01 * j, rows)).round(4)
    columns["prediction"] = rng.random(rows).round(5)
    return columns


def json_body(records: Sequence[dict[str, Any]]) -> bytes:
    import orjson

    return orjson.dumps({"records": list(records)})


def batch_bodies(records: Sequence[dict[str, Any]], size: int = BATCH_RECORDS) -> list[bytes]:
    """Pre-serialised `{"records": [...]}` bodies of `size` records each."""
    return [json_body(records[start : start + size]) for start in range(0, len(records), size)]


# --------------------------------------------------------------------------- in-process objects


def bench_settings(**overrides: Any) -> Any:
    """Settings from the defaults and `overrides` only (DRIFT_EXPORTER_* variables are ignored)."""
    from exporter.settings import Settings

    saved = {
        key: os.environ.pop(key) for key in list(os.environ) if key.startswith("DRIFT_EXPORTER_")
    }
    try:
        return Settings(**overrides)
    finally:
        os.environ.update(saved)


def build_reference_profile(model: str, body: bytes, settings: Any) -> Any:
    """The profile PUT /v1/models/{model}/reference would build from this JSON body."""
    from exporter.ingest.media import JSON
    from exporter.ingest.reference import decode_reference
    from exporter.window.profile import build_profile

    table = decode_reference(
        body,
        JSON,
        settings.limits.max_records_per_request,
        prediction_column=settings.prediction_column,
        label_column=settings.label_column,
        declared={},
    )
    return build_profile(
        model,
        table.columns,
        table.predictions,
        table.labels,
        declared={},
        prediction_kind=None,
        settings=settings.reference,
    )


def decode_batch(body: bytes, settings: Any) -> Any:
    from exporter.ingest.media import JSON
    from exporter.ingest.records import decode_predictions

    return decode_predictions(body, JSON, settings.limits.max_records_per_request)


# --------------------------------------------------------------------------- a real server


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _yaml(value: Any, indent: int = 0) -> str:
    """A tiny YAML writer for nested dicts of scalars (JSON scalars are valid YAML)."""
    lines = []
    for key, item in value.items():
        if isinstance(item, dict):
            lines.append(f"{' ' * indent}{key}:")
            lines.append(_yaml(item, indent + 2))
        else:
            lines.append(f"{' ' * indent}{key}: {json.dumps(item)}")
    return "\n".join(lines)


@dataclass
class Server:
    """`drift-exporter serve` as a child process on 127.0.0.1 and a free port."""

    process: subprocess.Popen[bytes]
    base: str
    log: Path
    workdir: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server process so far (all its threads)."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks

    def memory_kib(self) -> dict[str, int]:
        """VmRSS (now), VmHWM (peak) and RssAnon of the server process, in KiB."""
        return vm_kib(self.pid)

    def child_pids(self) -> list[int]:
        """The server's child processes."""
        return children_of(self.pid)

    def descendant_pids(self) -> list[int]:
        """The server's children, their children, ... (the evaluation worker and, with the
        forkserver start method, the fork server and the resource tracker)."""
        found, queue = [], children_of(self.pid)
        while queue:
            pid = queue.pop(0)
            found.append(pid)
            queue.extend(children_of(pid))
        return found

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def children_of(pid: int) -> list[int]:
    """A process's children (listed under the thread that started each)."""
    found: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(FileNotFoundError):
                found.extend(int(child) for child in (task / "children").read_text().split())
    except FileNotFoundError:
        pass
    return found


def vm_kib(pid: int | str = "self") -> dict[str, int]:
    """VmRSS (now), VmHWM (peak) and RssAnon of a process, in KiB, from /proc/PID/status."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM", "RssAnon"):
            values[key] = int(rest.split()[0])
    return values


def _server_command() -> list[str]:
    """`drift-exporter` from this interpreter's environment, else `python -m exporter` (the same
    entry point, exporter.cli:main)."""
    script = Path(sys.executable).with_name("drift-exporter")
    if script.exists():
        return [str(script)]
    found = shutil.which("drift-exporter")
    return [found] if found else [sys.executable, "-m", "exporter"]


@contextlib.contextmanager
def running_server(config: dict[str, Any], *, ready_timeout: float = 30.0) -> Iterator[Server]:
    """Start `drift-exporter serve --config FILE --port P`, wait for /readyz, stop it after."""
    import httpx

    workdir = Path(tempfile.mkdtemp(prefix="drift-bench-"))
    port = free_port()
    config = {"host": "127.0.0.1", "port": port, "log_level": "warning", **config}
    config_file = workdir / "config.yml"
    config_file.write_text(_yaml(config) + "\n")
    log = workdir / "server.log"
    env = {key: value for key, value in os.environ.items() if not key.startswith("DRIFT_EXPORTER_")}
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [*_server_command(), "serve", "--config", str(config_file), "--port", str(port)],
            stdout=sink,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
        )
    server = Server(process, f"http://127.0.0.1:{port}", log, workdir)
    try:
        deadline = time.monotonic() + ready_timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"server exited with {process.returncode}:\n{server.log_tail()}")
            try:
                if httpx.get(f"{server.base}/readyz", timeout=1.0).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"server not ready after {ready_timeout} s:\n{server.log_tail()}"
                )
            time.sleep(0.05)
        yield server
    finally:
        stop_process(process, 15)
        shutil.rmtree(workdir, ignore_errors=True)


def upload_reference(base: str, model: str, body: bytes) -> dict[str, Any]:
    import httpx

    response = httpx.put(
        f"{base}/v1/models/{model}/reference",
        content=body,
        headers={"content-type": "application/json"},
        timeout=120.0,
    )
    if response.status_code not in (200, 201):
        raise RuntimeError(f"reference upload failed: {response.status_code} {response.text[:500]}")
    result: dict[str, Any] = response.json()
    return result


# --------------------------------------------------------------------------- timing and output


def repeat_timed(function: Callable[[], Any], *, repeat: int, warmup: int = 1) -> list[float]:
    """Wall seconds of `repeat` calls after `warmup` untimed ones."""
    for _ in range(warmup):
        function()
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        timings.append(time.perf_counter() - started)
    return timings


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100), linear interpolation, as numpy's default."""
    return float(np.percentile(np.asarray(values, dtype=np.float64), q))


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def cpu_seconds_self() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def fmt_rate(per_second: float) -> str:
    return f"{per_second:,.0f}"


def fmt_seconds(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.0f} us"


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A Markdown table, aligned so it also reads in a terminal."""
    cells = [[str(h) for h in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"

    print(line(cells[0]))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in cells[1:]:
        print(line(row))


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def nproc() -> int:
    try:
        return int(subprocess.run(["nproc"], capture_output=True, text=True, check=True).stdout)
    except (OSError, ValueError, subprocess.CalledProcessError):
        return os.cpu_count() or 0


def load_average() -> str:
    """The 1-minute load average: other work on the machine skews every timing."""
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        return "?"


def machine_line() -> str:
    return (
        f"{_dt.date.today().isoformat()}; {nproc()} cores ({cpu_model()}); "
        f"Python {platform.python_version()}; numpy {np.__version__}; load {load_average()}"
    )


@dataclass
class Summary:
    """The one-line results a benchmark hands to run_all's table."""

    bench: str
    rows: list[dict[str, str]] = field(default_factory=list)

    def add(
        self, target: str, measured: str, baseline: str, ratio: str, goal: str, met: str
    ) -> None:
        self.rows.append(
            {
                "target": target,
                "measured": measured,
                "baseline": baseline,
                "ratio": ratio,
                "goal": goal,
                "met": met,
            }
        )

    def write(self, path: str | None) -> None:
        if path:
            Path(path).write_text(json.dumps({"bench": self.bench, "rows": self.rows}, indent=2))


def yes_no(condition: bool) -> str:
    return "yes" if condition else "no"


def add_summary_argument(parser: Any) -> None:
    parser.add_argument(
        "--summary-json", help="also write the summary rows to this file (used by run_all.py)"
    )


def stop_process(process: subprocess.Popen[Any], timeout: float) -> None:
    """Stop a process this benchmark started, by its handle: SIGTERM, then SIGKILL after
    `timeout` seconds."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
