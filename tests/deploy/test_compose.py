"""docker-compose.yml and Dockerfile: services, mounts, ports, and agreement with the configs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path, PurePosixPath
from typing import Any

import httpx
import pytest
from deploy_support import ALERTMANAGER_DIR, GRAFANA_DIR, PROMETHEUS_DIR, REPO_ROOT, load_yaml

from tests.support import free_port, stop, wait_for, wait_until

COMPOSE = REPO_ROOT / "docker-compose.yml"
DOCKERFILE = REPO_ROOT / "Dockerfile"
SERVICES = {
    "profile",
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
        "--config",
        "/etc/drift-exporter/sidecar.yaml",
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


# The credit-risk reference at start-up (issue 15): the one-shot `profile` service builds the
# profile into a named volume, the sidecar's config names it, and nothing uploads it.

PROFILE_VOLUME = "profiles"


def _named_volumes(service: dict[str, Any]) -> dict[str, tuple[str, bool]]:
    """Named volumes as {container path: (volume, read-only)}."""
    named = {}
    for volume in service.get("volumes", []):
        parts = volume.split(":")
        if not parts[0].startswith((".", "/", "~")):
            named[parts[1]] = (parts[0], parts[2:] == ["ro"])
    return named


def _option(command: list[str], flag: str) -> str:
    return command[command.index(flag) + 1]


def _sidecar_config() -> dict[str, Any]:
    sidecar = _service("sidecar")
    source = _binds(sidecar)[_option(_command(sidecar), "--config")]
    config: dict[str, Any] = load_yaml(REPO_ROOT / source)
    return config


def test_profile_service_builds_the_kubernetes_examples_reference_into_the_volume() -> None:
    profile = _service("profile")
    assert profile["image"] == _service("sidecar")["image"]
    command = _command(profile)
    assert command[:3] == ["drift-exporter", "profile", "build"]
    assert _binds(profile)[command[3]] == "./deploy/kubernetes/example-app/credit-risk.csv"
    output = PurePosixPath(_option(command, "-o"))
    volume, read_only = _named_volumes(profile)[str(output.parent)]
    assert (volume, read_only) == (PROFILE_VOLUME, False)
    assert PROFILE_VOLUME in _compose()["volumes"]
    assert profile.get("restart") == "no" and "ports" not in profile


def test_sidecar_loads_the_profile_read_only_once_the_profile_service_succeeded() -> None:
    sidecar = _service("sidecar")
    output = PurePosixPath(_option(_command(_service("profile")), "-o"))
    assert _named_volumes(sidecar)[str(output.parent)] == (PROFILE_VOLUME, True)
    assert _sidecar_config()["models"]["credit-risk"]["reference"] == str(output)
    condition = sidecar["depends_on"]["profile"]["condition"]
    assert condition == "service_completed_successfully"


def test_the_image_has_the_profile_directory_owned_by_its_user() -> None:
    """A new named volume takes the owner of the image's directory it is mounted on: without
    it, root owns the volume and the non-root `profile` service could not write there."""
    output = PurePosixPath(_option(_command(_service("profile")), "-o"))
    instructions = _dockerfile_instructions()
    user = next(i for i in instructions if i.startswith("USER ")).removeprefix("USER ")
    (run,) = [i for i in instructions if i.startswith("RUN pip install .")]
    assert f"install -d -o {user} {output.parent}" in run


def test_traffic_uploads_no_reference_and_uses_the_configured_model() -> None:
    traffic = _service("model-traffic")
    assert "--no-reference" in _command(traffic)
    model = _service("model-server")["environment"]["DRIFT_MODEL"]
    assert model in _sidecar_config()["models"]


def _localize(text: str, mounts: dict[str, Path]) -> str:
    """Container paths in `text` as the host paths mounted there, longest first."""
    for target in sorted(mounts, key=len, reverse=True):
        text = text.replace(target, str(mounts[target]))
    return text


def _local_command(name: str, mounts: dict[str, Path], port: int) -> list[str]:
    """The service's command to run here: `python -m exporter`, its paths and its port."""
    command = [_localize(part, mounts) for part in _command(_service(name))]
    assert command[0] == "drift-exporter"
    command[:1] = [sys.executable, "-m", "exporter"]
    if "--host" in command:
        command[command.index("--host") + 1] = "127.0.0.1"
        command[command.index("--port") + 1] = str(port)
    return command


def _mounts(tmp_path: Path) -> dict[str, Path]:
    """Every compose mount here: bind mounts to the repository, named volumes to `tmp_path`."""
    mounts: dict[str, Path] = {}
    for name in ("profile", "sidecar"):
        service = _service(name)
        mounts.update({t: REPO_ROOT / s for t, s in _binds(service).items()})
        for target, (volume, _) in _named_volumes(service).items():
            mounts[target] = tmp_path / volume
            (tmp_path / volume).mkdir(exist_ok=True)
    return mounts


def test_the_compose_sidecar_loads_the_profile_at_start_and_traffic_needs_no_upload(
    tmp_path: Path,
) -> None:
    """Without Docker: the `profile` service's command, run here; `serve --check-config` on the
    sidecar's config; the sidecar's command (the demo, with the config) on a free port until
    /readyz; then the example model server and `examples/traffic.py` as compose runs them."""
    mounts = _mounts(tmp_path)
    environment = {k: v for k, v in os.environ.items() if not k.startswith("DRIFT_EXPORTER_")}
    built = subprocess.run(
        _local_command("profile", mounts, 0),
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert built.returncode == 0, built.stderr
    sidecar_args = _command(_service("sidecar"))
    config = tmp_path / "sidecar.yaml"
    config_source = mounts[_option(sidecar_args, "--config")]
    config.write_text(_localize(config_source.read_text(encoding="utf-8"), mounts))
    mounts[_option(sidecar_args, "--config")] = config
    checked = subprocess.run(
        [sys.executable, "-m", "exporter", "serve", "--config", str(config), "--check-config"],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert checked.returncode == 0, checked.stderr
    header, *rows = mounts[_command(_service("profile"))[3]].read_text().splitlines()
    features = len(header.split(",")) - 1  # all but the prediction column
    reference_rows = len(rows)
    assert f"credit-risk: {features} features, {reference_rows} rows" in checked.stdout

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with (tmp_path / "sidecar.log").open("wb") as log:
        sidecar = subprocess.Popen(
            _local_command("sidecar", mounts, port),
            cwd=REPO_ROOT,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for(f"{url}/readyz", process=sidecar)
        listed = {m["model"]: m for m in httpx.get(f"{url}/v1/models").json()["models"]}
        reference = listed["credit-risk"]["reference"]
        assert reference["rows"] == reference_rows and reference["features"] == features
        assert reference["has_prediction"]
        _run_model_server_and_traffic(url, tmp_path, environment)
        after = {m["model"]: m for m in httpx.get(f"{url}/v1/models").json()["models"]}
    finally:
        stop(sidecar)
    # Traffic reached credit-risk, and nothing replaced the reference loaded at start.
    assert after["credit-risk"]["records_total"] > 0
    assert after["credit-risk"]["reference"] == reference
    assert "demo-credit" in after  # the demo model runs as before


def _run_model_server_and_traffic(
    sidecar_url: str, tmp_path: Path, environment: dict[str, str]
) -> None:
    """The `model-server` and `model-traffic` services' commands against `sidecar_url`."""
    server_port = free_port()
    server_url = f"http://127.0.0.1:{server_port}"
    command = _command(_service("model-server"))
    command[command.index("--host") + 1] = "127.0.0.1"
    command[command.index("--port") + 1] = str(server_port)
    server_env = {**environment, **_service("model-server")["environment"]}
    server_env.update(DRIFT_SIDECAR_URL=sidecar_url, DRIFT_FLUSH_INTERVAL_SECONDS="0.2")
    with (tmp_path / "server.log").open("wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", *command],
            cwd=REPO_ROOT,
            env=server_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for(f"{server_url}/healthz", process=server)
        traffic = _command(_service("model-traffic"))
        traffic[traffic.index("--sidecar") + 1] = sidecar_url
        traffic[traffic.index("--model-server") + 1] = server_url
        ran = subprocess.run(
            [sys.executable, *traffic[1:], "--duration-seconds", "2"],
            cwd=REPO_ROOT,
            env=environment,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert ran.returncode == 0, ran.stderr
        assert "loaded the reference for 'credit-risk' at start" in ran.stdout
        assert "uploaded" not in ran.stdout
        # A model the sidecar has no reference for: refused by name, before any traffic.
        refused = subprocess.run(
            [sys.executable, *traffic[1:], "--model", "no-such-model", "--duration-seconds", "1"],
            cwd=REPO_ROOT,
            env=environment,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert refused.returncode != 0
        assert "no reference for 'no-such-model'" in refused.stderr

        def delivered() -> bool:
            logged = httpx.get(f"{server_url}/drift-logger").json()
            models = httpx.get(f"{sidecar_url}/v1/models").json()["models"]
            (counted,) = [m["records_total"] for m in models if m["model"] == "credit-risk"]
            return bool(logged["queued"] == 0 and logged["sent"] == counted > 0)

        wait_until(delivered, "the model server's records did not all reach the sidecar")
    finally:
        stop(server)
