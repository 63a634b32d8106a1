"""/metrics as the contract: a seeded scenario against a golden file, and promtool's verdict.

The golden comparison is structural (tests/exposition_compare.py): names, HELP, TYPE and label
sets exactly, values to a relative tolerance, since BLAS kernels differ in the last digit across
CPUs. Regenerate the golden file with
``UPDATE_GOLDEN=1 python -m pytest -p no:cacheprovider tests/integration/test_exposition.py``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.exposition_compare import assert_expositions_match
from tests.integration.payloads import labelled_records, seeded_records

GOLDEN = Path(__file__).parent / "golden" / "metrics_seeded.txt"


def seeded_exposition(client: TestClient) -> str:
    """Two models: one drifted and judged, one below min_records (drift gauges absent).

    Credit's reference and traffic carry labels (a scored binary classifier): its records
    carry ids and latencies, a third of them their label inline, a third get it later by id.
    """
    client.put("/v1/models/credit/reference", json={"records": labelled_records(1, 2_000)})
    client.put("/v1/models/churn/reference", json={"records": seeded_records(2, 1_000)})
    credit = labelled_records(3, 600, shift=1.0)
    later = []
    for i, record in enumerate(credit):
        record["id"] = f"c{i}"
        record["latency_seconds"] = round(0.001 * (i % 200), 3)
        if i % 3:
            label = record.pop("label")
            if i % 3 == 1:
                later.append({"id": record["id"], "label": label})
    client.post("/v1/models/credit/predictions", json={"records": credit})
    client.post("/v1/models/credit/labels", json={"labels": [*later, {"id": "gone", "label": 0}]})
    client.post("/v1/models/churn/predictions", json={"records": seeded_records(4, 40)})
    client.post(
        "/v1/models/credit/predictions",
        json={"records": [{"features": {"x": None, "colour": "teal"}}]},
    )
    client.app.state.scheduler.run_once()
    text = client.get("/metrics").text
    # _created samples carry the wall-clock time the histogram child was made: not reproducible.
    return "".join(line + "\n" for line in text.splitlines() if "_created" not in line)


def test_metrics_match_the_golden_file(client: TestClient) -> None:
    text = seeded_exposition(client)
    if os.environ.get("UPDATE_GOLDEN") == "1":
        GOLDEN.write_text(text)
    assert_expositions_match(text, GOLDEN.read_text())


def test_metrics_content_type_is_text_format_0_0_4(client: TestClient) -> None:
    response = client.get("/metrics")
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"


@pytest.mark.skipif(
    shutil.which("promtool") is None, reason="promtool not installed (apt-get install prometheus)"
)
def test_promtool_accepts_the_metrics(client: TestClient, tmp_path: Path) -> None:
    text = seeded_exposition(client)
    result = subprocess.run(
        ["promtool", "check", "metrics"], input=text.encode(), capture_output=True, timeout=30
    )
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()
    assert result.stdout.decode() + result.stderr.decode() == ""  # no lint warnings either


def test_gzip_scrapes_inflate_to_the_same_exposition(client: TestClient) -> None:
    import gzip

    plain_text = seeded_exposition(client)
    with client.stream("GET", "/metrics", headers={"accept-encoding": "gzip"}) as compressed:
        assert compressed.headers["content-encoding"] == "gzip"
        assert compressed.headers["vary"] == "Accept-Encoding"
        raw = b"".join(compressed.iter_raw())
    # One gzip member: the stdlib checks its CRC and length while inflating it.
    assert _without_created(gzip.decompress(raw).decode()) == plain_text
    identity = client.get("/metrics", headers={"accept-encoding": "identity"})
    assert "content-encoding" not in identity.headers
    assert _without_created(identity.text) == plain_text


def _without_created(text: str) -> str:
    return "".join(line + "\n" for line in text.splitlines() if "_created" not in line)


@pytest.mark.parametrize(
    ("accept_encoding", "gzipped"),
    [
        ("gzip", True),
        ("GZIP", True),
        ("gzip;q=0", False),
        ("gzip;q=0.0", False),
        ("*;q=0.5", True),
        ("identity, gzip;q=0", False),
        ("br, gzip;q=0.5", True),
        ("", False),
    ],
)
def test_metrics_are_gzipped_only_when_gzip_is_acceptable(
    client: TestClient, accept_encoding: str, gzipped: bool
) -> None:
    import gzip

    plain_text = _without_created(
        client.get("/metrics", headers={"accept-encoding": "identity"}).text
    )
    with client.stream("GET", "/metrics", headers={"accept-encoding": accept_encoding}) as response:
        raw = b"".join(response.iter_raw())
        assert response.headers["vary"] == "Accept-Encoding"
        assert ("content-encoding" in response.headers) is gzipped
    body = gzip.decompress(raw) if gzipped else raw
    assert _without_created(body.decode()) == plain_text
