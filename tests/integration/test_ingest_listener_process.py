"""`python -m exporter serve` with `ingest_listen`: two real sockets, one process.

The sidecar's main listener is on 0.0.0.0 and its ingest listener on 127.0.0.1, as in a pod.
Writes work on the ingest port; on the main port they are refused with 403 and change nothing;
reads answer on both. The ingest listener refuses non-loopback clients: a connection to this
machine's non-loopback address at the ingest port is refused by the kernel (nothing listens
there, while the main port answers at the same address), and a local client whose source
address is the non-loopback one, connecting over 127.0.0.1, is refused by the app.
"""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import NamedTuple

import httpx
import pytest

from drift_exporter_client import DriftLogger
from tests.integration.payloads import seeded_records
from tests.support import ROOT, free_port, start_sidecar, stop, wait_for, wait_until

WARNING = "writes are open to every client that can reach"
TOKEN = "listener-process-t0ken-0123456789"


class Sidecar(NamedTuple):
    main_port: int
    ingest_port: int
    log: Path
    process: subprocess.Popen[bytes]


def non_loopback_address() -> str | None:
    """An IPv4 address of this machine other than loopback, that a socket can bind to."""
    candidates: list[str] = []
    if shutil.which("hostname"):
        output = subprocess.run(["hostname", "-I"], capture_output=True, text=True, check=False)
        candidates += output.stdout.split()
    with suppress(OSError):
        candidates += [info[4][0] for info in socket.getaddrinfo(socket.gethostname(), None)]
    for address in candidates:
        if ":" in address or address.startswith("127."):
            continue
        with socket.socket() as probe:
            try:
                probe.bind((address, 0))
            except OSError:
                continue
        return str(address)
    return None


@contextmanager
def run(tmp_path: Path, config: str, host: str = "0.0.0.0") -> Iterator[Sidecar]:
    """A sidecar on `host`:<free port> with `config`, whose `{ingest}` is a second free port."""
    main_port, ingest_port = free_port(), free_port()
    while ingest_port == main_port:
        ingest_port = free_port()
    path = tmp_path / "config.yml"
    path.write_text(config.format(ingest=ingest_port))
    log = tmp_path / "sidecar.log"
    process = start_sidecar(path, main_port, log, host=host)
    try:
        yield Sidecar(main_port, ingest_port, log, process)
    finally:
        stop(process)


@pytest.fixture
def sidecar(tmp_path: Path) -> Iterator[Sidecar]:
    with run(tmp_path, 'ingest_listen: "127.0.0.1:{ingest}"\n') as running:
        wait_for(f"http://127.0.0.1:{running.main_port}/readyz", process=running.process)
        yield running


def records_of(base: str) -> int:
    models = httpx.get(f"{base}/v1/models", timeout=30).json()["models"]
    return sum(int(model["records_total"]) for model in models)


def test_writes_go_to_the_ingest_port_and_are_refused_on_the_main_port(
    sidecar: Sidecar,
) -> None:
    main = f"http://127.0.0.1:{sidecar.main_port}"
    ingest = f"http://127.0.0.1:{sidecar.ingest_port}"
    reference = {"records": seeded_records(1, 500)}
    batch = {"records": seeded_records(2, 100)}
    assert (
        httpx.put(f"{ingest}/v1/models/credit/reference", json=reference, timeout=30).status_code
        == 201
    )
    assert (
        httpx.post(f"{ingest}/v1/models/credit/predictions", json=batch, timeout=30).status_code
        == 202
    )
    assert records_of(main) == 100

    for method, path in (
        ("POST", "/v1/models/credit/predictions"),
        ("PUT", "/v1/models/credit/reference"),
        ("DELETE", "/v1/models/credit"),
    ):
        refused = httpx.request(method, main + path, json=batch, timeout=30)
        assert refused.status_code == 403, (method, path)
        assert refused.json()["location"] == "listener"
        assert f"ingest listener 127.0.0.1:{sidecar.ingest_port}" in refused.json()["detail"]
    assert records_of(main) == 100  # nothing the refused writes sent was stored or deleted
    assert records_of(ingest) == 100
    assert httpx.get(f"{main}/v1/models/credit/reference", timeout=30).json()["rows"] == 500

    for base in (main, ingest):
        for path in ("/healthz", "/readyz", "/v1/models", "/v1/models/credit/reference", "/docs"):
            assert httpx.get(base + path, timeout=30).status_code == 200, (base, path)
        metrics = httpx.get(f"{base}/metrics", timeout=30).text
        assert 'drift_requests_rejected_total{reason="wrong_listener"} 3.0' in metrics
        assert 'drift_records_total{model="credit"} 100.0' in metrics
    assert WARNING not in sidecar.log.read_text()


def test_the_client_library_writes_through_the_ingest_listener(sidecar: Sidecar) -> None:
    ingest = f"http://127.0.0.1:{sidecar.ingest_port}"
    main = f"http://127.0.0.1:{sidecar.main_port}"
    reference = {"records": seeded_records(1, 500)}
    assert httpx.put(f"{ingest}/v1/models/credit/reference", json=reference).status_code == 201
    records = seeded_records(3, 40)
    with DriftLogger(ingest, "credit", batch_size=10) as drift:
        for record in records:
            drift.log(record["features"], record["prediction"])
    assert drift.stats().sent == 40
    with DriftLogger(main, "credit", batch_size=10) as misdirected:
        for record in records:
            misdirected.log(record["features"], record["prediction"])
    assert misdirected.stats().rejected == 40  # a 4xx: dropped, never retried
    assert records_of(main) == 40


def test_the_ingest_listener_refuses_non_loopback_clients(sidecar: Sidecar) -> None:
    address = non_loopback_address()
    if address is None:
        pytest.skip("this machine has no non-loopback IPv4 address to connect from")
    # The main listener (0.0.0.0) answers at that address; the ingest port there is closed.
    assert httpx.get(f"http://{address}:{sidecar.main_port}/healthz", timeout=30).status_code == 200
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://{address}:{sidecar.ingest_port}/healthz", timeout=30)
    with socket.socket() as raw:
        assert raw.connect_ex((address, sidecar.ingest_port)) != 0
    # A client on this machine with that source address reaches 127.0.0.1, and is refused.
    transport = httpx.HTTPTransport(local_address=address)
    with httpx.Client(transport=transport, timeout=30) as client:
        refused = client.put(
            f"http://127.0.0.1:{sidecar.ingest_port}/v1/models/credit/reference",
            json={"records": seeded_records(1, 100)},
        )
        assert refused.status_code == 403
        assert f"this one came from {address}" in refused.json()["detail"]
        assert client.get(f"http://127.0.0.1:{sidecar.ingest_port}/v1/models").json() == {
            "models": []
        }


def test_a_non_loopback_ingest_listener_without_a_token_warns_once_at_start(
    tmp_path: Path,
) -> None:
    with run(tmp_path, 'ingest_listen: "0.0.0.0:{ingest}"\n') as running:
        wait_for(f"http://127.0.0.1:{running.main_port}/readyz", process=running.process)
        log = wait_until(
            lambda: running.log.read_text() if WARNING in running.log.read_text() else "",
            lambda: f"no start-up warning in:\n{running.log.read_text()}",
        )
        assert log.count(WARNING) == 1
        line = next(line for line in log.splitlines() if WARNING in line)
        assert line.startswith("WARNING ")
        assert f"0.0.0.0:{running.ingest_port}" in line
        assert "ingest_listen: 127.0.0.1:9809" in line and "auth.token" in line


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl not installed")
def test_tls_and_auth_work_on_both_listeners(tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True,
        capture_output=True,
    )  # fmt: skip
    config = (
        'ingest_listen: "127.0.0.1:{ingest}"\n'
        f"tls:\n  cert_file: {cert}\n  key_file: {key}\n"
        f"auth:\n  token: {TOKEN}\n  protect_metrics: true\n"
    )
    good = {"authorization": f"Bearer {TOKEN}"}
    verify = ssl.create_default_context(cafile=str(cert))
    with run(tmp_path, config, host="127.0.0.1") as running:
        main = f"https://127.0.0.1:{running.main_port}"
        ingest = f"https://127.0.0.1:{running.ingest_port}"

        def answers() -> bool:
            assert running.process.poll() is None, "the sidecar exited"
            try:
                return httpx.get(f"{main}/readyz", verify=verify, timeout=5).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(answers, "the TLS sidecar never became ready", timeout=120)
        with httpx.Client(verify=verify, timeout=30) as client:
            url = "/v1/models/credit/reference"
            body = {"records": seeded_records(1, 100)}
            assert client.put(ingest + url, json=body).status_code == 401
            assert client.put(main + url, json=body, headers=good).status_code == 403
            assert client.put(ingest + url, json=body, headers=good).status_code == 201
            for base in (main, ingest):
                assert client.get(f"{base}/metrics").status_code == 401
                assert client.get(f"{base}/metrics", headers=good).status_code == 200
                with pytest.raises(httpx.HTTPError):  # TLS only, on both
                    httpx.get(base.replace("https", "http") + "/healthz", timeout=5)
        assert WARNING not in running.log.read_text()
    assert TOKEN not in (tmp_path / "sidecar.log").read_text()


def test_the_demo_sends_its_traffic_to_the_ingest_listener(tmp_path: Path) -> None:
    main_port, ingest_port = free_port(), free_port()
    config = tmp_path / "config.yml"
    config.write_text(f'ingest_listen: "127.0.0.1:{ingest_port}"\n')
    log = tmp_path / "demo.log"
    command = [sys.executable, "-m", "exporter", "demo", "--config", str(config)]
    command += ["--host", "127.0.0.1", "--port", str(main_port), "--duration-seconds", "600"]
    with log.open("wb") as handle:
        process = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT, cwd=ROOT)
    main = f"http://127.0.0.1:{main_port}"
    try:
        wait_for(f"{main}/healthz", process=process)
        sent = 'drift_records_total{model="demo-credit"} '

        def demo_records() -> float:
            metrics = httpx.get(f"{main}/metrics", timeout=30).text
            rows = [row for row in metrics.splitlines() if row.startswith(sent)]
            return float(rows[0].split()[-1]) if rows else 0.0

        wait_until(demo_records, lambda: f"no demo traffic arrived:\n{log.read_text()}")
        metrics = httpx.get(f"{main}/metrics", timeout=30).text
        assert 'drift_requests_rejected_total{reason="wrong_listener"} 0.0' in metrics
    finally:
        stop(process)
    assert WARNING not in log.read_text()
