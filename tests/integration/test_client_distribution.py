"""The client distribution installed alone (`pip install ./client` into a plain venv, which
.ci/run builds): it imports without any of the sidecar's dependencies and logs to a sidecar.

The venv's python runs isolated (`-I`: no PYTHONPATH, no current directory on sys.path), so
nothing from this checkout or the system site-packages can stand in for what the client
distribution installed. The "sidecar" is a stdlib http.server in this process.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.support import ROOT

# Set by .ci/run; the same path is the fallback for a run after .ci/run.
VENV_PYTHON = Path(
    os.environ.get("DRIFT_CLIENT_VENV_PYTHON", ROOT / ".ci-client-venv" / "bin" / "python")
)
# Framework integrations, optional extras: not imported here (they import their framework
# only when used, which test_client_logger checks in the full environment).
OPTIONAL_SUBMODULES = {"flask"}
SIDECAR_MODULES = (
    "numpy",
    "scipy",
    "fastapi",
    "uvicorn",
    "river",
    "pandas",
    "exporter",
    "prometheus_client",
)

pytestmark = pytest.mark.skipif(
    not VENV_PYTHON.is_file(),
    reason=f"no client-only venv at {VENV_PYTHON}: .ci/run builds it (python3 -m venv "
    "and pip install ./client); set DRIFT_CLIENT_VENV_PYTHON to use another one",
)

# Runs in the client-only venv; prints one JSON document for the test to check.
SCRIPT = """\
import asyncio, importlib, importlib.util, json, pkgutil, sys

import drift_exporter_client
from drift_exporter_client import DriftLogger, DriftMiddleware

url, optional, sidecar_modules = sys.argv[1], set(sys.argv[2].split(",")), sys.argv[3:]
imported = []
for module in pkgutil.iter_modules(drift_exporter_client.__path__):
    if module.name not in optional:
        importlib.import_module(f"drift_exporter_client.{module.name}")
        imported.append(module.name)


async def app(scope, receive, send):
    # A bare ASGI prediction endpoint: DriftMiddleware needs no framework.
    body = json.loads((await receive())["body"])
    answer = json.dumps({"prediction": body["features"]["age"] / 100}).encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": answer})


async def serve_one(logger):
    middleware = DriftMiddleware(app, logger=logger, paths=["/predict"], id_header="x-request-id")
    scope = {"type": "http", "method": "POST", "path": "/predict",
             "headers": [(b"x-request-id", b"req-2")]}
    request = {"type": "http.request", "body": b'{"features": {"age": 29}}', "more_body": False}

    async def receive():
        return request

    async def send(message):
        pass

    await middleware(scope, receive, send)


logger = DriftLogger(url, "credit", token="s3cret", flush_interval_seconds=0.05)
logger.log({"age": 41, "country": "DE"}, 0.82, id="req-1")
asyncio.run(serve_one(logger))
logger.log_label("req-1", 1)
flushed = logger.flush(timeout=10)
closed = logger.close(timeout=5)
print(json.dumps({
    "imported": sorted(imported),
    "loaded_sidecar_modules": [m for m in sidecar_modules if m in sys.modules],
    "installed_sidecar_modules": [m for m in sidecar_modules if importlib.util.find_spec(m)],
    "package_file": drift_exporter_client.__file__,
    "prefix": sys.prefix,
    "version": drift_exporter_client.__version__,
    "flushed": flushed,
    "closed": closed,
    "stats": logger.stats()._asdict(),
}))
"""


class Request:
    def __init__(self, path: str, headers: dict[str, str], body: Any) -> None:
        self.path = path
        self.headers = headers
        self.body = body


class Sidecar(ThreadingHTTPServer):
    """Accepts every POST with 202 and keeps it."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), SidecarHandler)  # port 0: a free one
        self.requests: list[Request] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"


class SidecarHandler(BaseHTTPRequestHandler):
    server: Sidecar

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        headers = {name.lower(): value for name, value in self.headers.items()}
        with self.server.lock:
            self.server.requests.append(Request(self.path, headers, body))
        answer = b'{"accepted": 1}'
        self.send_response(202)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: Any) -> None:  # keep the test output quiet
        pass


@pytest.fixture
def sidecar() -> Iterator[Sidecar]:
    server = Sidecar()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def run_in_client_venv(sidecar: Sidecar, cwd: Path) -> dict[str, Any]:
    result = subprocess.run(
        [
            str(VENV_PYTHON),
            "-I",
            "-c",
            SCRIPT,
            sidecar.url,
            ",".join(sorted(OPTIONAL_SUBMODULES)),
            *SIDECAR_MODULES,
        ],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def test_the_client_distribution_imports_and_logs_without_the_sidecars_dependencies(
    sidecar: Sidecar, tmp_path: Path
) -> None:
    seen = run_in_client_venv(sidecar, tmp_path)

    # Installed from the client distribution, not found in this checkout.
    assert Path(seen["package_file"]).is_relative_to(seen["prefix"])
    assert {"extraction", "logger", "middleware"} <= set(seen["imported"])
    assert seen["loaded_sidecar_modules"] == []
    assert seen["installed_sidecar_modules"] == []  # `pip install ./client` pulled none of them

    assert seen["flushed"] and seen["closed"]
    assert seen["stats"] == {
        "queued": 0,
        "sent": 3,
        "dropped_queue_full": 0,
        "dropped_after_retries": 0,
        "rejected": 0,
        "failed_requests": 0,
        "dropped_invalid": 0,
        "dropped_after_close": 0,
    }
    with sidecar.lock:
        requests = list(sidecar.requests)
    records = [
        record
        for request in requests
        if request.path == "/v1/models/credit/predictions"
        for record in request.body["records"]
    ]
    labels = [
        label
        for request in requests
        if request.path == "/v1/models/credit/labels"
        for label in request.body["labels"]
    ]
    assert [(r["id"], r["features"], r["prediction"]) for r in records] == [
        ("req-1", {"age": 41, "country": "DE"}, 0.82),
        ("req-2", {"age": 29}, pytest.approx(0.29, rel=1e-12)),
    ]
    assert labels == [{"id": "req-1", "label": 1}]
    for request in requests:
        assert request.headers["authorization"] == "Bearer s3cret"
        assert request.headers["user-agent"] == f"drift-exporter-client/{seen['version']}"
