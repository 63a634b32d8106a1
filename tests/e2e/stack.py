"""Run the shipped monitoring stack for real: Prometheus and Alertmanager on free loopback ports,
with the shipped configs rewritten only where a test must (addresses, intervals, `for:`)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.support import ROOT, free_port, stop, wait_for, wait_until

DEPLOY = ROOT / "deploy"
#: Alerts about warm-up states keep their shipped `for:`: with seconds they would fire while
#: the test's window is still filling, or before Prometheus's first scrape (its target
#: discovery takes about 5 s to start scraping), which says nothing about the rules.
WARM_UP_ALERTS = ("ModelDriftWindowTooSmall", "ModelDriftNoTraffic", "ModelDriftExporterAbsent")


@dataclass
class WebhookReceiver:
    """An HTTP server that records every Alertmanager webhook payload with its arrival time."""

    port: int = field(default_factory=free_port)
    payloads: list[tuple[float, dict[str, Any]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        received = self.payloads

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                received.append((time.monotonic(), json.loads(self.rfile.read(length))))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/alerts"

    def alerts(self) -> Iterator[tuple[float, dict[str, Any]]]:
        for arrived, payload in list(self.payloads):
            for alert in payload.get("alerts", []):
                yield arrived, alert

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def shortened_rules(source: Path, target: Path, for_seconds: int) -> None:
    """Copy a rule file with every `for:` cut to `for_seconds`, warm-up alerts excepted, and
    the drift alerts' fresh-evidence spans (15 min of records, 65 min of time) cut to
    `for_seconds` too: the test's window (2,000 records) turns over in a few seconds of its
    traffic, so the records path is what it exercises; the 65 min time path then simply stays
    longer than the test."""
    text = source.read_text()
    out: list[str] = []
    current = ""
    for line in text.splitlines():
        match = re.match(r"\s*- alert: (\w+)", line)
        if match:
            current = match.group(1)
        if re.match(r"\s*for: \d+[smh]\s*$", line) and current not in WARM_UP_ALERTS:
            line = re.sub(r"for: \d+[smh]", f"for: {for_seconds}s", line)
        line = re.sub(r"(_since >= )900\b", rf"\g<1>{for_seconds}", line)
        line = line.replace(
            "increase(drift_records_total[15m])", f"increase(drift_records_total[{for_seconds}s])"
        )
        out.append(line)
    target.write_text("\n".join(out) + "\n")


@dataclass
class PrometheusApi:
    """The HTTP query API of a Prometheus server at `url`."""

    url: str

    def query(self, expr: str) -> list[dict[str, Any]]:
        response = httpx.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=10)
        body = response.json()
        assert body["status"] == "success", f"{expr}: {body}"
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    def values(self, expr: str, *keys: str) -> dict[tuple[str, ...], float]:
        """{label values at `keys`: value} of an instant query."""
        return {
            tuple(item["metric"].get(key, "") for key in keys): float(item["value"][1])
            for item in self.query(expr)
        }


@dataclass
class Stack:
    prometheus: str
    alertmanager: str
    processes: list[subprocess.Popen[bytes]]

    def query(self, expr: str) -> list[dict[str, Any]]:
        return PrometheusApi(self.prometheus).query(expr)

    def firing(self, alertname_regex: str = "ModelDrift.*") -> list[dict[str, str]]:
        expr = f'ALERTS{{alertname=~"{alertname_regex}", alertstate="firing"}}'
        return [series["metric"] for series in self.query(expr)]

    def close(self) -> None:
        for process in self.processes:
            stop(process)


def start_stack(
    workdir: Path,
    sidecar_port: int | Sequence[int],
    webhook: WebhookReceiver,
    *,
    interval_seconds: int = 1,
    for_seconds: int = 5,
) -> Stack:
    """Alertmanager, then Prometheus, both from the shipped configs, on free ports; Prometheus
    scrapes every sidecar port given (the replicas of a fleet) in the drift-exporter job."""
    for binary in ("prometheus", "prometheus-alertmanager"):
        if shutil.which(binary) is None:
            raise RuntimeError(
                f"{binary} is not installed (apt-get install prometheus prometheus-alertmanager)"
            )
    am_port, prom_port = free_port(), free_port()

    alertmanager = yaml.safe_load((DEPLOY / "alertmanager" / "alertmanager.yml").read_text())
    _shorten_routes(alertmanager["route"])
    for receiver in alertmanager["receivers"]:
        for hook in receiver.get("webhook_configs", []):
            hook["url"] = webhook.url
    am_config = workdir / "alertmanager.yml"
    am_config.write_text(yaml.safe_dump(alertmanager))

    rules = workdir / "rules"
    rules.mkdir()
    for rule_file in sorted((DEPLOY / "prometheus" / "rules").glob("*.yml")):
        shortened_rules(rule_file, rules / rule_file.name, for_seconds)
    prometheus = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    prometheus["global"].update(
        scrape_interval=f"{interval_seconds}s",
        scrape_timeout=f"{interval_seconds}s",
        evaluation_interval=f"{interval_seconds}s",
    )
    prometheus["rule_files"] = [str(rules / "*.yml")]
    prometheus["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] = [
        f"127.0.0.1:{am_port}"
    ]
    sidecar_ports = [sidecar_port] if isinstance(sidecar_port, int) else list(sidecar_port)
    for job in prometheus["scrape_configs"]:
        job["static_configs"][0]["targets"] = (
            [f"127.0.0.1:{port}" for port in sidecar_ports]
            if job["job_name"] == "drift-exporter"
            else [f"127.0.0.1:{prom_port}"]
        )
    prom_config = workdir / "prometheus.yml"
    prom_config.write_text(yaml.safe_dump(prometheus))

    processes: list[subprocess.Popen[bytes]] = []
    am_log = (workdir / "alertmanager.log").open("wb")
    processes.append(
        subprocess.Popen(
            [
                "prometheus-alertmanager",
                f"--config.file={am_config}",
                f"--storage.path={workdir / 'am-data'}",
                f"--web.listen-address=127.0.0.1:{am_port}",
                "--cluster.listen-address=",
            ],
            stdout=am_log,
            stderr=subprocess.STDOUT,
        )
    )
    processes.append(start_prometheus(prom_config, workdir, prom_port))
    stack = Stack(f"http://127.0.0.1:{prom_port}", f"http://127.0.0.1:{am_port}", processes)
    try:
        wait_for(f"{stack.alertmanager}/-/ready", process=processes[0])
        wait_for(f"{stack.prometheus}/-/ready", process=processes[1])
        # Deadlines, not speed bounds: the first scrape comes ~5 s after Prometheus is ready.
        wait_until(
            lambda: len(stack.query('up{job="drift-exporter"} == 1')) == len(sidecar_ports),
            "Prometheus never scraped every sidecar",
            timeout=120,
        )
    except Exception:
        stack.close()
        raise
    return stack


def start_prometheus(config: Path, workdir: Path, port: int) -> subprocess.Popen[bytes]:
    """Prometheus on 127.0.0.1:`port` with `config`, its data and log under `workdir`."""
    log = (workdir / "prometheus.log").open("wb")
    return subprocess.Popen(
        [
            "prometheus",
            f"--config.file={config}",
            f"--storage.tsdb.path={workdir / 'prom-data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def _shorten_routes(route: dict[str, Any], *, root: bool = True) -> None:
    """Notify within a second instead of after the shipped grouping waits."""
    for key in ("group_wait", "group_interval"):
        if root or key in route:
            route[key] = "1s"
    for child in route.get("routes", []):
        _shorten_routes(child, root=False)
