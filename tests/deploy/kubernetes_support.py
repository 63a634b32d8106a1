"""Helpers for tests/deploy/test_kubernetes.py: render overlays, load the vendored CRD schemas,
and lay out a container's mounted files so the real CLI can read its arguments."""

from __future__ import annotations

import base64
import functools
import re
import shutil
import subprocess
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from deploy_support import DEPLOY, HERE, load_script

KUBERNETES_DIR = DEPLOY / "kubernetes"
OVERLAYS = sorted(path.name for path in (KUBERNETES_DIR / "overlays").iterdir() if path.is_dir())
CRDS_DIR = HERE / "crds"
OPERATOR_GROUP = "monitoring.coreos.com"
#: What a Secret's value is replaced by when a container's environment is rebuilt for the CLI.
PLACEHOLDER_SECRET = "placeholder-token-for-check-config"


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """YAML as Kubernetes reads it: a bare `=` (matchType: =) is the string "=", not YAML 1.1's
    `value` type that PyYAML has no constructor for."""


_Loader.add_constructor(
    "tag:yaml.org,2002:value", lambda loader, node: loader.construct_scalar(node)
)


def load_all(text: str) -> list[dict[str, Any]]:
    return [document for document in yaml.load_all(text, Loader=_Loader) if document]


def load(path: Path) -> Any:
    return yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)


def require_kubectl() -> str:
    path = shutil.which("kubectl")
    if path is None:
        pytest.skip("kubectl not on PATH: `kubectl kustomize` renders the overlays")
    return path


@functools.cache
def _render(overlay: str) -> str:
    result = subprocess.run(
        [require_kubectl(), "kustomize", str(KUBERNETES_DIR / "overlays" / overlay)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"kubectl kustomize overlays/{overlay}:\n{result.stderr}"
    return result.stdout


def render(overlay: str) -> list[dict[str, Any]]:
    """The objects `kubectl kustomize deploy/kubernetes/overlays/<overlay>` prints."""
    return load_all(_render(overlay))


def find(objects: list[dict[str, Any]], kind: str, name: str | None = None) -> list[dict[str, Any]]:
    return [
        obj
        for obj in objects
        if obj["kind"] == kind and (name is None or obj["metadata"]["name"] == name)
    ]


def one(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    found = find(objects, kind, name)
    assert len(found) == 1, f"{len(found)} {kind} named {name!r}, expected one"
    return found[0]


def generator() -> ModuleType:
    """deploy/kubernetes/generate.py as a module."""
    return load_script(KUBERNETES_DIR / "generate.py", "kubernetes_generate")


def exporter_containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    """The drift-exporter containers of a Deployment, init (native sidecar) ones included."""
    spec = obj["spec"]["template"]["spec"]
    return [
        container
        for container in [*spec.get("initContainers", []), *spec["containers"]]
        if container["name"] == "drift-exporter"
    ]


# ------------------------------------------------------------------ CRD schemas


@functools.cache
def crd_schemas() -> dict[tuple[str, str], dict[str, Any]]:
    """{(apiVersion, kind): openAPIV3Schema} of every vendored CRD version."""
    schemas = {}
    for path in sorted(CRDS_DIR.glob("*.yaml")):
        crd = load(path)
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            schema = strict(version["schema"]["openAPIV3Schema"])
            schemas[(f"{group}/{version['name']}", kind)] = schema
    return schemas


def strict(schema: Any) -> Any:
    """The schema with unknown fields refused, as the API server's strict field validation
    does: `additionalProperties: false` on every object that lists its properties, unless it
    keeps unknown fields (`x-kubernetes-preserve-unknown-fields`)."""
    if isinstance(schema, list):
        return [strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: strict(value) for key, value in schema.items()}
    if (
        "properties" in out
        and "additionalProperties" not in out
        and not out.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


# ------------------------------------------------------------------ a container's files


def lay_out_mounts(
    objects: list[dict[str, Any]], deployment: dict[str, Any], root: Path
) -> dict[str, str]:
    """Write the ConfigMap files the drift-exporter container mounts under `root` + mountPath;
    return {mountPath: local directory} for the paths that were laid out."""
    (container,) = exporter_containers(deployment)
    volumes = {
        volume["name"]: volume for volume in deployment["spec"]["template"]["spec"]["volumes"]
    }
    paths = {}
    for mount in container.get("volumeMounts", []):
        volume = volumes[mount["name"]]
        local = root / mount["mountPath"].lstrip("/")
        local.mkdir(parents=True, exist_ok=True)
        paths[mount["mountPath"]] = str(local)
        sources = [source["configMap"] for source in volume.get("projected", {}).get("sources", [])]
        if "configMap" in volume:
            sources.append(volume["configMap"])
        for source in sources:
            found = find(objects, "ConfigMap", source["name"])
            assert found or source.get("optional"), f"ConfigMap {source['name']} is not rendered"
            for config_map in found:
                for key, text in config_map.get("data", {}).items():
                    (local / key).write_text(text, encoding="utf-8")
                for key, data in config_map.get("binaryData", {}).items():
                    (local / key).write_bytes(base64.b64decode(data))
    return paths


def localize(text: str, paths: dict[str, str]) -> str:
    """`text` with each absolute path under a mount path moved to where it was laid out, in
    one pass (a laid-out path may itself start with a mount path such as /tmp)."""
    if not paths:
        return text
    alternatives = "|".join(map(re.escape, sorted(paths, key=len, reverse=True)))
    pattern = re.compile(rf"(?<![\w./-])({alternatives})(?=/|$|[^\w.-])")
    return pattern.sub(lambda match: paths[match.group(1)], text)


def container_environment(container: dict[str, Any], paths: dict[str, str]) -> dict[str, str]:
    """The container's DRIFT_EXPORTER_* variables; Secret values replaced by a placeholder."""
    environment = {}
    for variable in container.get("env", []):
        if "value" in variable:
            environment[variable["name"]] = localize(variable["value"], paths)
        elif "secretKeyRef" in variable.get("valueFrom", {}):
            environment[variable["name"]] = PLACEHOLDER_SECRET
        else:
            raise AssertionError(f"env {variable['name']}: no value this test can rebuild")
    return environment
