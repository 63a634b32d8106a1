"""/docs rendered for real: `drift-exporter serve` on a free port, and Debian's headless Chromium
with every non-loopback connection cut off renders Swagger UI with each of the API's operations.

The cut: `--proxy-server` points at a closed loopback port (9, discard), so every request the
browser would send off this machine fails at once; Chromium never proxies loopback addresses
(its implicit bypass list), so the sidecar stays reachable. The first test proves the cut on a
page that loads a script from another host name mapped to this machine: it loads without the
flag and not with it, and no packet leaves this machine either way.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
from collections.abc import Iterator
from functools import partial
from html.parser import HTMLParser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import free_port, start_sidecar, stop, wait_for

CHROMIUM = shutil.which("chromium")

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (.ci/run installs it)"),
]

OFFLINE = ["--proxy-server=127.0.0.1:9"]
#: Virtual time lets the page's scripts and fetches finish before the DOM is dumped; it runs
#: faster than the wall clock when the page is idle.
VIRTUAL_TIME_MS = 15_000


def dump_dom(url: str, profile: Path, *flags: str) -> str:
    """The DOM of `url` after its scripts ran, from a fresh headless Chromium profile."""
    assert CHROMIUM is not None
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",  # root in a container: no user namespace for the sandbox
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        f"--virtual-time-budget={VIRTUAL_TIME_MS}",
        *flags,
        "--dump-dom",
        url,
    ]
    # Its own session, so a hung browser and its helper processes end together, by its pid.
    browser = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
    )
    try:
        out, err = browser.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(browser.pid, signal.SIGKILL)
        browser.communicate()
        raise
    assert browser.returncode == 0, err.decode(errors="replace")[-2_000:]
    return out.decode()


class RenderedOperations(HTMLParser):
    """What Swagger UI drew: one `opblock opblock-<method>` per operation, each with a
    `data-path` on its `opblock-summary-path`."""

    def __init__(self) -> None:
        super().__init__()
        self.operations: list[str] = []
        self.paths: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        classes = (attributes.get("class") or "").split()
        if "opblock" in classes:
            self.operations += [c.removeprefix("opblock-") for c in classes if c != "opblock"]
        if "opblock-summary-path" in classes and attributes.get("data-path"):
            self.paths.add(str(attributes["data-path"]))


@pytest.fixture
def loopback_files(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    """A static file server on a free loopback port, serving a folder the test fills."""
    root = tmp_path / "site"
    root.mkdir()

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), partial(Quiet, directory=root))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_the_offline_flags_block_every_host_but_loopback(
    loopback_files: tuple[Path, int], tmp_path: Path
) -> None:
    root, port = loopback_files
    (root / "probe.js").write_text("var probeLoaded = true;\n")
    (root / "page.html").write_text(
        "<!doctype html><html><head>"
        f'<script src="http://assets.test:{port}/probe.js"></script>'
        "</head><body><p id=result></p><script>document.getElementById('result').textContent ="
        " typeof probeLoaded === 'undefined' ? 'blocked' : 'loaded';</script></body></html>"
    )
    page = f"http://127.0.0.1:{port}/page.html"
    # `assets.test` is another host to the browser, but resolves to this machine.
    to_here = "--host-resolver-rules=MAP assets.test 127.0.0.1"
    online = dump_dom(page, tmp_path / "online", to_here)
    offline = dump_dom(page, tmp_path / "offline", to_here, *OFFLINE)
    assert '<p id="result">loaded</p>' in online
    assert '<p id="result">blocked</p>' in offline


def _openapi_and_offline_dom(tmp_path: Path, config_text: str, page: str) -> tuple[Any, str]:
    """A sidecar started with `config_text`: its OpenAPI document, and `page` as headless
    Chromium renders it with the network cut off; the sidecar is stopped after."""
    config = tmp_path / "config.yml"
    config.write_text(config_text)
    port = free_port()
    sidecar = start_sidecar(config, port, tmp_path / "sidecar.log")
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{base}/healthz", process=sidecar)
        document = httpx.get(f"{base}/openapi.json").json()
        dom = dump_dom(f"{base}{page}", tmp_path / "profile", *OFFLINE)
    finally:
        stop(sidecar)
    return document, dom


def test_docs_render_every_operation_with_the_network_cut_off(tmp_path: Path) -> None:
    config = "models:\n  credit:\n    features:\n      flag: boolean\n"
    document, dom = _openapi_and_offline_dom(tmp_path, config, "/docs")
    rendered = RenderedOperations()
    rendered.feed(dom)
    expected = sorted(method for operations in document["paths"].values() for method in operations)
    assert "/v1/models/{model}/predictions" in rendered.paths, dom[-2_000:]
    assert rendered.paths == set(document["paths"])
    assert sorted(rendered.operations) == expected


def test_redoc_renders_every_path_with_the_network_cut_off(tmp_path: Path) -> None:
    # ReDoc 2 cannot resolve a request body's own `$defs` ("Invalid reference token"): the
    # bodies' schemas are inlined (exporter/api/schemas.py), so it draws every path.
    document, dom = _openapi_and_offline_dom(tmp_path, "log_level: warning\n", "/redoc")
    assert "Invalid reference token" not in dom, dom[-2_000:]
    assert "Something went wrong" not in dom, dom[-2_000:]
    for path in document["paths"]:
        assert path in dom, (path, dom[-2_000:])
