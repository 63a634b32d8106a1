"""A fleet on one machine: N sidecars (one model's replicas), the traffic split between them,
and Prometheus servers in the two layouts the pooled rules must give the same answer in: one
server scraping every sidecar, and two leaf servers federated by a third."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.e2e.stack import PrometheusApi, start_prometheus
from tests.support import free_port, start_sidecar, stop, wait_for, wait_until

_SAMPLE = re.compile(r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>.*)\})? (?P<value>\S+)$")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


@dataclass
class Fleet:
    """Sidecar processes on free loopback ports, stopped by their own pids."""

    ports: list[int]
    processes: list[Any] = field(default_factory=list)

    @property
    def urls(self) -> list[str]:
        return [f"http://127.0.0.1:{port}" for port in self.ports]

    def close(self) -> None:
        for process in self.processes:
            stop(process)


def start_fleet(workdir: Path, config_text: str, count: int) -> Fleet:
    """`count` sidecars with the same config, each logging to its own file, all ready."""
    config = workdir / "sidecar.yml"
    config.write_text(config_text)
    fleet = Fleet([free_port() for _ in range(count)])
    try:
        for i, port in enumerate(fleet.ports):
            fleet.processes.append(start_sidecar(config, port, workdir / f"sidecar-{i}.log"))
        for url, process in zip(fleet.urls, fleet.processes, strict=True):
            wait_for(f"{url}/readyz", process=process)
    except Exception:
        fleet.close()
        raise
    return fleet


def split(records: Sequence[dict[str, Any]], weights: Sequence[int]) -> list[list[dict[str, Any]]]:
    """Deal `records` to len(weights) replicas in proportion to `weights`, as a weighted
    round-robin load balancer does: in each cycle of sum(weights) records, replica i gets
    weights[i] of them."""
    shares: list[list[dict[str, Any]]] = [[] for _ in weights]
    cycle = [i for i, weight in enumerate(weights) for _ in range(weight)]
    for position, record in enumerate(records):
        shares[cycle[position % len(cycle)]].append(record)
    return shares


def post(url: str, path: str, body: dict[str, Any], *, method: str = "POST") -> None:
    response = httpx.request(method, f"{url}{path}", json=body, timeout=60)
    assert response.status_code in (200, 201, 202), f"{method} {path}: {response.text}"


def scrape(url: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """A sidecar's /metrics as {(name, labels): value} (text format, no timestamps)."""
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for line in httpx.get(f"{url}/metrics", timeout=30).text.splitlines():
        match = _SAMPLE.match(line)
        if line.startswith("#") or match is None:
            continue
        labels = frozenset(_LABEL.findall(match["labels"] or ""))
        samples[(match["name"], labels)] = float(match["value"])
    return samples


def series(
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> dict[frozenset[tuple[str, str]], float]:
    """The samples of `name` whose labels include `labels`."""
    wanted = set(labels.items())
    return {
        key: value for (metric, key), value in samples.items() if metric == name and wanted <= key
    }


class Prometheus(PrometheusApi):
    """A Prometheus process of our own, with `config`, its data and log under `workdir`."""

    def __init__(self, workdir: Path, config: dict[str, Any]) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        path = workdir / "prometheus.yml"
        path.write_text(yaml.safe_dump(config))
        self.process = start_prometheus(path, workdir, self.port)
        super().__init__(f"http://127.0.0.1:{self.port}")

    def close(self) -> None:
        stop(self.process)


def _global(interval_seconds: int) -> dict[str, str]:
    interval = f"{interval_seconds}s"
    return {
        "scrape_interval": interval,
        "scrape_timeout": interval,
        "evaluation_interval": interval,
    }


def sidecar_job(targets: Iterable[str]) -> dict[str, Any]:
    return {"job_name": "drift-exporter", "static_configs": [{"targets": list(targets)}]}


def start_federation(
    workdir: Path, fleet: Fleet, rules: Path, interval_seconds: int = 1
) -> list[Prometheus]:
    """Two leaf servers, each scraping half of the sidecars (no rules), and a global server
    that federates the sidecars' series from both (`honor_labels`, so job and instance stay
    the sidecars') and evaluates the shipped rules. Returns [leaf, leaf, global]."""
    targets = [f"127.0.0.1:{port}" for port in fleet.ports]
    halves = (targets[: len(targets) // 2], targets[len(targets) // 2 :])
    servers: list[Prometheus] = []
    try:
        for i, half in enumerate(halves):
            config = {"global": _global(interval_seconds), "scrape_configs": [sidecar_job(half)]}
            servers.append(Prometheus(workdir / f"leaf-{i}", config))
        federate = {
            "job_name": "federate",
            "honor_labels": True,
            "metrics_path": "/federate",
            "params": {"match[]": ['{job="drift-exporter"}']},
            "static_configs": [{"targets": [f"127.0.0.1:{leaf.port}" for leaf in servers]}],
        }
        config = {
            "global": _global(interval_seconds),
            "rule_files": [str(rules / "*.yml")],
            "scrape_configs": [federate],
        }
        servers.append(Prometheus(workdir / "global", config))
        for server in servers:
            wait_for(f"{server.url}/-/ready", process=server.process)
        wait_until(
            lambda: len(servers[-1].query('up{job="drift-exporter"} == 1')) == len(targets),
            "the global server never federated every sidecar's up series",
            timeout=120,
        )
    except Exception:
        for server in servers:
            server.close()
        raise
    return servers
