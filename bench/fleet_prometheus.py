"""The fleet's targets and a real Prometheus over them, for bench_fleet_rules.py.

`Targets` serves static `/metrics` bodies, one loopback port each (so each is its own
`instance`), from threads of this process (stdlib `http.server`), gzip when asked as
Prometheus does. `measure` starts Debian's `prometheus` on a free port with the shipped
`deploy/prometheus/prometheus.yml` (its `drift-exporter` job pointed at the targets, its
self-scrape at itself, no Alertmanager) and every rule file in `deploy/prometheus/rules/` as it
is at run time, waits until every target has been scraped whole, then reads Prometheus's own
`/metrics` twice a second until each rule group has run `evaluations` times after that, and
reads what it costs from its metrics, its HTTP API and /proc. It stops only the process it
started, by pid.
"""

from __future__ import annotations

import contextlib
import gzip
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import yaml
from common import stop_process
from fleet_bodies import parse_exposition

ROOT = Path(__file__).resolve().parents[1]
PROMETHEUS_DIR = ROOT / "deploy" / "prometheus"


class Targets:
    """One ThreadingHTTPServer per body on 127.0.0.1, each on its own free port."""

    def __init__(self, bodies: Sequence[bytes]) -> None:
        self.servers: list[ThreadingHTTPServer] = []
        for body in bodies:
            compressed = gzip.compress(body, compresslevel=1)
            self.servers.append(ThreadingHTTPServer(("127.0.0.1", 0), _handler(body, compressed)))
        self.threads = [
            threading.Thread(target=server.serve_forever, daemon=True) for server in self.servers
        ]
        for thread in self.threads:
            thread.start()

    @property
    def addresses(self) -> list[str]:
        return [f"127.0.0.1:{server.server_address[1]}" for server in self.servers]

    def close(self) -> None:
        for server in self.servers:
            server.shutdown()
            server.server_close()


def _handler(body: bytes, compressed: bytes) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?")[0] != "/metrics":
                self.send_error(404)
                return
            gzipped = "gzip" in self.headers.get("Accept-Encoding", "")
            payload = compressed if gzipped else body
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            if gzipped:
                self.send_header("Content-Encoding", "gzip")
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


@dataclass
class Measurement:
    """What one Prometheus run over one fleet cost."""

    head_series: int = 0
    expected_samples_per_target: int = 0
    samples_per_target: list[int] = field(default_factory=list)
    scrape_seconds: list[float] = field(default_factory=list)
    #: rule group ("file;group") -> [(evaluation time, seconds, samples written), ...]
    evaluations: dict[str, list[tuple[float, float, int]]] = field(default_factory=dict)
    rules_per_group: dict[str, int] = field(default_factory=dict)
    failures: dict[str, float] = field(default_factory=dict)
    #: rule group -> iterations missed (an evaluation that overran the interval) by the end
    missed: dict[str, float] = field(default_factory=dict)
    #: False if some group had fewer than the evaluations asked for when the run's bound came
    complete: bool = True
    #: model -> (scraped series, series recorded by rules), from `count({model=...})`
    per_model: dict[str, tuple[int, int]] = field(default_factory=dict)
    rss_bytes: int = 0
    peak_rss_bytes: int = 0
    cpu_seconds: float = 0.0
    wall_seconds: float = 0.0
    load_average: str = ""

    def durations(self, group: str) -> list[float]:
        return [seconds for _, seconds, _ in self.evaluations[group]]


def prometheus_config(
    targets: Sequence[str], port: int, rules: Path, interval_seconds: float
) -> dict[str, Any]:
    """The shipped prometheus.yml, rewritten for this run (addresses, intervals, rules)."""
    config: dict[str, Any] = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    interval = f"{interval_seconds:g}s"
    config["global"].update(
        scrape_interval=interval,
        evaluation_interval=interval,
        scrape_timeout=f"{min(interval_seconds, 10.0):g}s",
    )
    config["rule_files"] = [str(rules / "*.yml")]
    config.pop("alerting", None)  # the alerts are evaluated all the same; nothing to send them to
    for job in config["scrape_configs"]:
        addresses = list(targets) if job["job_name"] == "drift-exporter" else [f"127.0.0.1:{port}"]
        job["static_configs"] = [{"targets": addresses}]
    return config


@contextlib.contextmanager
def running_prometheus(
    targets: Sequence[str], interval_seconds: float
) -> Iterator[tuple[subprocess.Popen[bytes], str, Path]]:
    """Prometheus on 127.0.0.1 and a free port, data in a temporary directory; stopped by pid."""
    if shutil.which("prometheus") is None:
        raise RuntimeError("prometheus is not installed (apt-get install prometheus)")
    workdir = Path(tempfile.mkdtemp(prefix="drift-fleet-"))
    rules = workdir / "rules"
    shutil.copytree(PROMETHEUS_DIR / "rules", rules)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    config = workdir / "prometheus.yml"
    config.write_text(yaml.safe_dump(prometheus_config(targets, port, rules, interval_seconds)))
    log = workdir / "prometheus.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [
                "prometheus",
                f"--config.file={config}",
                f"--storage.tsdb.path={workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--query.timeout=10m",
            ],
            stdout=sink,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait(lambda: _ready(base, process, log), "Prometheus not ready", 120)
        yield process, base, log
    finally:
        stop_process(process, 60)
        shutil.rmtree(workdir, ignore_errors=True)


def _ready(base: str, process: subprocess.Popen[bytes], log: Path) -> bool:
    if process.poll() is not None:
        raise RuntimeError(f"prometheus exited with {process.returncode}:\n{_tail(log)}")
    try:
        return httpx.get(f"{base}/-/ready", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _tail(log: Path, lines: int = 30) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def _wait(condition: Any, what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} after {timeout:g} s")
        time.sleep(0.5)


def query(base: str, expr: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{base}/api/v1/query", params={"query": expr}, timeout=300)
    body = response.json()
    if body.get("status") != "success":
        raise RuntimeError(f"query {expr!r} failed: {body}")
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def _scalar(base: str, expr: str) -> float:
    result = query(base, expr)
    return float(result[0]["value"][1]) if result else 0.0


def own_metrics(base: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    """Prometheus's own /metrics: sample name -> [(labels, value), ...]."""
    text = httpx.get(f"{base}/metrics", timeout=30).text
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in parse_exposition(text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((dict(sample.labels), sample.value))
    return samples


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_bytes(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of a process in bytes."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) * 1024
    return values["VmRSS"], values["VmHWM"]


def measure(
    targets: Sequence[str],
    models: Sequence[str],
    samples_per_target: int,
    interval_seconds: float,
    evaluations: int,
) -> Measurement:
    """Run Prometheus over `targets` for `evaluations` rule evaluations after the first whole
    scrape of every target (see the module docstring)."""
    result = Measurement(expected_samples_per_target=samples_per_target)
    expected = samples_per_target * len(targets)
    began = time.time()
    with running_prometheus(targets, interval_seconds) as (process, base, log):
        _wait(
            lambda: _scraped(base, len(targets)) >= expected,
            f"Prometheus never scraped all {len(targets)} targets whole ({expected:,} samples)",
            120 + 4 * interval_seconds,
        )
        started, cpu_started = time.time(), cpu_seconds(process.pid)
        print(f"  all targets scraped whole after {started - began:.0f} s", flush=True)
        # A bound on the run, not a speed bound: a group slower than the interval misses
        # iterations (counted), and one that has not run `evaluations` times by then is
        # reported with the evaluations it had (`complete` False), not waited for.
        deadline = time.monotonic() + 2 * (evaluations + 2) * interval_seconds + 60
        done = 0
        while True:
            metrics = own_metrics(base)
            seen = _record_evaluations(metrics, started, result)
            least = min((len(runs) for runs in result.evaluations.values()), default=0)
            if least > done:
                done = least
                print(f"  {done} evaluation(s) of every rule group", flush=True)
            if seen and least >= evaluations:
                break
            if time.monotonic() > deadline:
                result.complete = False
                counts = {group: len(runs) for group, runs in result.evaluations.items()}
                print(f"  stopped waiting; evaluations per group: {counts}", flush=True)
                break
            time.sleep(0.5)
        result.missed = {
            _short(labels["rule_group"]): value
            for labels, value in metrics.get("prometheus_rule_group_iterations_missed_total", [])
        }
        result.cpu_seconds = cpu_seconds(process.pid) - cpu_started
        result.wall_seconds = time.time() - started
        result.rss_bytes, result.peak_rss_bytes = rss_bytes(process.pid)
        result.load_average = Path("/proc/loadavg").read_text().split()[0]
        _read_totals(base, models, result)
        if any(result.failures.values()):
            print(_tail(log))
    return result


def _scraped(base: str, targets: int) -> float:
    if _scalar(base, 'count(up{job="drift-exporter"} == 1)') < targets:
        return 0.0
    return _scalar(base, 'sum(scrape_samples_scraped{job="drift-exporter"})')


def _record_evaluations(
    metrics: dict[str, list[tuple[dict[str, str], float]]], since: float, result: Measurement
) -> bool:
    """Add each rule group's last evaluation if it is new and started after `since`."""
    timestamps = {
        labels["rule_group"]: value
        for labels, value in metrics.get(
            "prometheus_rule_group_last_evaluation_timestamp_seconds", []
        )
    }
    durations = {
        labels["rule_group"]: value
        for labels, value in metrics.get("prometheus_rule_group_last_duration_seconds", [])
    }
    written = {
        labels["rule_group"]: value
        for labels, value in metrics.get("prometheus_rule_group_last_evaluation_samples", [])
    }
    for labels, value in metrics.get("prometheus_rule_group_rules", []):
        result.rules_per_group[_short(labels["rule_group"])] = int(value)
    for group, stamp in timestamps.items():
        runs = result.evaluations.setdefault(_short(group), [])
        if stamp > since and (not runs or runs[-1][0] != stamp):
            runs.append((stamp, durations.get(group, float("nan")), int(written.get(group, 0))))
    return bool(timestamps)


def _read_totals(base: str, models: Sequence[str], result: Measurement) -> None:
    metrics = own_metrics(base)
    result.head_series = int(metrics["prometheus_tsdb_head_series"][0][1])
    result.failures = {
        _short(labels["rule_group"]): value
        for labels, value in metrics.get("prometheus_rule_evaluation_failures_total", [])
    }
    result.samples_per_target = sorted(
        int(float(row["value"][1]))
        for row in query(base, 'scrape_samples_scraped{job="drift-exporter"}')
    )
    result.scrape_seconds = sorted(
        float(row["value"][1])
        for row in query(base, 'scrape_duration_seconds{job="drift-exporter"}')
    )
    # One model at a time: `count by (model)` over the whole head timed out (2 min) at load 12.
    for model in models:
        every = _scalar(base, f'count({{model="{model}"}})')
        recorded = _scalar(base, f'count({{__name__=~".+:.+", model="{model}"}})')
        result.per_model[model] = (int(every - recorded), int(recorded))


def _short(group: str) -> str:
    """`/tmp/.../rules/drift_alerts.yml;drift-features` -> `drift_alerts.yml;drift-features`."""
    path, _, name = group.rpartition(";")
    return f"{Path(path).name};{name}"
