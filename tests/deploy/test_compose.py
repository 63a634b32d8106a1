"""docker-compose.yml and Dockerfile: services, mounts, ports, and agreement with the configs."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import PurePosixPath
from typing import Any

import pytest
from deploy_support import ALERTMANAGER_DIR, GRAFANA_DIR, PROMETHEUS_DIR, REPO_ROOT, load_yaml

COMPOSE = REPO_ROOT / "docker-compose.yml"
DOCKERFILE = REPO_ROOT / "Dockerfile"
SERVICES = {
    "sidecar",
    "model-server",
    "model-traffic",
    "prometheus",
    "alertmanager",
    "retrain-webhook",
    "grafana",
}


def _compose() -> dict[str, Any]:
    compose: dict[str, Any] = load_yaml(COMPOSE)
    return compose


def _service(name: str) -> dict[str, Any]:
    service: dict[str, Any] = _compose()["services"][name]
    return service


def _binds(service: dict[str, Any]) -> dict[str, str]:
    """Bind mounts as {container path: host path}; named volumes are left out."""
    binds = {}
    for volume in service.get("volumes", []):
        if isinstance(volume, dict):
            if volume.get("type") == "bind":
                binds[volume["target"]] = volume["source"]
            continue
        source, target = volume.split(":")[:2]
        if source.startswith((".", "/", "~")):
            binds[target] = source
    return binds


def _command(service: dict[str, Any]) -> list[str]:
    command = service.get("command", [])
    return command.split() if isinstance(command, str) else [str(part) for part in command]


def _published_ports(service: dict[str, Any]) -> set[str]:
    return {str(port) for port in service.get("ports", [])}


def test_all_services_are_defined() -> None:
    assert set(_compose()["services"]) == SERVICES


def test_every_bind_mounted_host_path_exists() -> None:
    for name, service in _compose()["services"].items():
        for target, source in _binds(service).items():
            assert (REPO_ROOT / source).exists(), f"{name}: {source} -> {target}"


def test_sidecar_builds_the_image_and_runs_the_demo_on_9808() -> None:
    sidecar = _service("sidecar")
    build = sidecar["build"]
    assert build == "." or build.get("context") == "."
    assert _command(sidecar) == [
        "drift-exporter",
        "demo",
        "--host",
        "0.0.0.0",
        "--port",
        "9808",
    ]
    assert "9808:9808" in _published_ports(sidecar)


def test_prometheus_mounts_its_config_directory() -> None:
    prometheus = _service("prometheus")
    assert prometheus["image"].startswith("prom/prometheus:")
    binds = _binds(prometheus)
    assert binds["/etc/prometheus"] == "./deploy/prometheus"
    assert "--config.file=/etc/prometheus/prometheus.yml" in _command(prometheus)
    assert (PROMETHEUS_DIR / "prometheus.yml").is_file()
    assert "9090:9090" in _published_ports(prometheus)


def test_alertmanager_mounts_its_config_file() -> None:
    alertmanager = _service("alertmanager")
    assert alertmanager["image"].startswith("prom/alertmanager:")
    binds = _binds(alertmanager)
    config_flag = next(a for a in _command(alertmanager) if a.startswith("--config.file="))
    container_path = config_flag.split("=", 1)[1]
    assert binds[container_path] == "./deploy/alertmanager/alertmanager.yml"
    assert "9093:9093" in _published_ports(alertmanager)


def test_retrain_webhook_runs_the_example_consumer_on_the_configured_port() -> None:
    webhook = _service("retrain-webhook")
    assert webhook["image"] == "python:3.11-slim"
    command = _command(webhook)
    script = next(part for part in command if part.endswith("retrain_webhook.py"))
    assert _binds(webhook)[script] == "./deploy/alertmanager/retrain_webhook.py"
    port = command[command.index("--port") + 1]
    assert command[command.index("--host") + 1] == "0.0.0.0"
    # alertmanager.yml must point at this service and port.
    url = f"http://retrain-webhook:{port}/alerts"
    assert url in (ALERTMANAGER_DIR / "alertmanager.yml").read_text()


def test_grafana_mounts_provisioning_and_dashboards_and_allows_anonymous_viewers() -> None:
    grafana = _service("grafana")
    assert grafana["image"].startswith("grafana/grafana:")
    binds = _binds(grafana)
    assert binds["/etc/grafana/provisioning"] == "./deploy/grafana/provisioning"
    provider = load_yaml(GRAFANA_DIR / "provisioning/dashboards/dashboards.yml")["providers"][0]
    assert binds[provider["options"]["path"]] == "./deploy/grafana/dashboards"
    environment = grafana["environment"]
    assert str(environment["GF_AUTH_ANONYMOUS_ENABLED"]).lower() == "true"
    assert environment["GF_AUTH_ANONYMOUS_ORG_ROLE"] == "Viewer"
    assert "3000:3000" in _published_ports(grafana)
    home = PurePosixPath(environment["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"])
    assert (GRAFANA_DIR / "dashboards" / home.name).is_file()


def test_prometheus_config_targets_the_compose_services() -> None:
    config = load_yaml(PROMETHEUS_DIR / "prometheus.yml")
    targets = {
        job["job_name"]: [t for sc in job["static_configs"] for t in sc["targets"]]
        for job in config["scrape_configs"]
    }
    host, port = targets["drift-exporter"][0].split(":")
    assert host in SERVICES and f"{port}:{port}" in _published_ports(_service(host))
    (alertmanager,) = config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"]
    assert alertmanager.split(":")[0] in SERVICES


def test_grafana_datasource_targets_the_prometheus_service() -> None:
    datasource = load_yaml(GRAFANA_DIR / "provisioning/datasources/prometheus.yml")
    url = datasource["datasources"][0]["url"]
    assert url == "http://prometheus:9090"


def _dockerfile_instructions() -> list[str]:
    """Instructions with backslash continuations joined and comments dropped."""
    instructions: list[str] = []
    pending = ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        pending = f"{pending} {line}" if pending else line
        if pending.endswith("\\"):
            pending = pending[:-1].rstrip()
            continue
        instructions.append(pending)
        pending = ""
    return instructions


def test_dockerfile_builds_one_sidecar_image() -> None:
    instructions = _dockerfile_instructions()
    assert instructions[0] == "FROM python:3.11-slim"
    assert sum(i.startswith("FROM ") for i in instructions) == 1
    assert any(i.startswith("RUN pip install . ") or i == "RUN pip install ." for i in instructions)
    assert "EXPOSE 9808" in instructions
    (cmd,) = [i for i in instructions if i.startswith("CMD ")]
    assert json.loads(cmd.removeprefix("CMD ")) == ["drift-exporter", "serve", "--host", "0.0.0.0"]
    user = next(i for i in instructions if i.startswith("USER "))
    assert "root" not in user


def test_docker_compose_config_is_valid() -> None:
    docker = shutil.which("docker")
    if docker is None:
        pytest.skip("docker CLI not installed")
    probe = subprocess.run([docker, "compose", "version"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip("docker compose plugin not installed")
    result = subprocess.run(
        [docker, "compose", "-f", str(COMPOSE), "config", "--quiet"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


def test_the_example_model_services_run_modules_the_image_ships() -> None:
    services = _compose()["services"]
    dockerfile = (REPO_ROOT / "Dockerfile").read_text()
    assert "COPY examples ./examples" in dockerfile
    assert services["model-server"]["command"][1] == "examples.model_server:create_app"
    assert (REPO_ROOT / "examples" / "model_server.py").is_file()
    assert services["model-traffic"]["command"][:3] == ["python", "-m", "examples.traffic"]
    assert (REPO_ROOT / "examples" / "traffic.py").is_file()
    assert services["model-server"]["environment"]["DRIFT_SIDECAR_URL"] == "http://sidecar:9808"
