"""The API's structured log lines: one per reference upload, one per rejected request, and
never a value the client sent in a rejected one."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from exporter.api.events import validation_location
from exporter.app import create_app
from exporter.logs import JsonFormatter, TextFormatter
from exporter.settings import Settings
from tests.integration.payloads import seeded_records

TOKEN = "t0ken-never-logged"


def events(caplog: pytest.LogCaptureFixture, name: str) -> list[logging.LogRecord]:
    return [record for record in caplog.records if getattr(record, "event", None) == name]


def values(record: logging.LogRecord, *keys: str) -> tuple[Any, ...]:
    """The record's `extra=` fields named `keys`."""
    return tuple(getattr(record, key) for key in keys)


def formatted(record: logging.LogRecord) -> str:
    """The record as both formatters write it, for checks on what a log pipeline receives."""
    return JsonFormatter().format(record) + "\n" + TextFormatter().format(record)


@pytest.fixture
def caplog(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    with caplog.at_level(logging.INFO, logger="exporter"):
        yield caplog


def test_a_reference_upload_logs_model_sizes_and_prediction_column(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    body = {"records": seeded_records(1, 300)}
    assert client.put("/v1/models/credit/reference", json=body).status_code == 201
    assert client.put("/v1/models/credit/reference", json=body).status_code == 200
    first, second = events(caplog, "reference_uploaded")
    assert first.levelname == "INFO"
    assert first.getMessage() == "reference uploaded"
    assert values(first, "model", "features", "records", "prediction_column", "replaced") == (
        "credit",
        4,
        300,
        "prediction",
        False,
    )
    assert values(second, "replaced") == (True,)


def test_a_csv_reference_logs_the_prediction_column_it_read_or_null(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    csv = {"content-type": "text/csv"}
    scored = "age,score\n30,0.1\n40,0.7\n50,0.4\n"
    response = client.put(
        "/v1/models/scored/reference?prediction_column=score", content=scored, headers=csv
    )
    assert response.status_code == 201
    unscored = "age,colour\n30,red\n40,blue\n50,red\n"
    assert (
        client.put("/v1/models/plain/reference", content=unscored, headers=csv).status_code == 201
    )
    scored_line, plain_line = events(caplog, "reference_uploaded")
    fields = ("model", "features", "records", "prediction_column")
    assert values(scored_line, *fields) == ("scored", 1, 3, "score")
    assert values(plain_line, *fields) == ("plain", 2, 3, None)


def test_a_rejected_request_logs_reason_status_location_route_and_model_not_the_value(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    assert client.put("/v1/models/credit/reference", json={"records": seeded_records(1, 100)})
    offending = "not-a-time-SECRET-4711"
    record: dict[str, Any] = {**seeded_records(2, 1)[0], "timestamp": offending}
    response = client.post("/v1/models/credit/predictions", json={"records": [record]})
    assert response.status_code == 422
    assert offending in response.json()["detail"]  # the client is told; the log is not
    (line,) = events(caplog, "request_rejected")
    assert line.getMessage() == "request rejected"
    assert values(line, "reason", "status", "location", "method", "route", "model") == (
        "malformed",
        422,
        "records[0].timestamp",
        "POST",
        "/v1/models/{model}/predictions",
        "credit",
    )
    written = formatted(line)
    assert offending not in written
    assert "SECRET" not in written
    assert "expected epoch seconds" not in written  # no detail text at all


def test_an_invalid_model_name_is_logged_without_the_name(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    response = client.put("/v1/models/bad%20name!/reference", json={"records": []})
    assert response.status_code == 422
    (line,) = events(caplog, "request_rejected")
    assert values(line, "reason", "location", "route", "model") == (
        "invalid_name",
        "path.model",
        "/v1/models/{model}/reference",
        None,
    )
    assert "bad name" not in formatted(line)


def test_an_unknown_model_and_a_too_large_body_are_logged_with_their_statuses(
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = Settings(limits={"max_body_bytes": 1_024})
    with TestClient(create_app(settings, run_scheduler=False)) as client:
        assert client.get("/v1/models/ghost/drift").status_code == 404
        big = {"records": seeded_records(1, 50)}
        assert client.put("/v1/models/credit/reference", json=big).status_code == 413
    unknown, too_large = events(caplog, "request_rejected")
    fields = ("reason", "status", "location", "route", "model")
    assert values(unknown, *fields) == (
        "unknown_model",
        404,
        "path.model",
        "/v1/models/{model}/drift",
        "ghost",
    )
    assert values(too_large, *fields) == (
        "too_large",
        413,
        "body",
        "/v1/models/{model}/reference",
        "credit",
    )


def test_an_auth_refusal_is_logged_with_its_route_and_never_the_token(
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = Settings(auth={"token": TOKEN})
    with TestClient(create_app(settings, run_scheduler=False)) as client:
        url = "/v1/models/credit/reference"
        assert client.put(url, json={"records": []}).status_code == 401
        wrong = {"authorization": f"Bearer {TOKEN}-but-wrong"}
        assert client.put(url, json={"records": []}, headers=wrong).status_code == 403
        assert client.post(url, json={}, headers=wrong).status_code == 403  # PUT/GET only
        assert client.delete("/v1/nowhere", headers=wrong).status_code == 403
    missing, invalid, other_method, unrouted = events(caplog, "request_rejected")
    for line, status in ((missing, 401), (invalid, 403)):
        assert values(line, "reason", "status", "location", "method", "route", "model") == (
            "unauthorized",
            status,
            "header.authorization",
            "PUT",
            "/v1/models/{model}/reference",
            "credit",
        )
        assert TOKEN not in formatted(line)
    assert values(other_method, "route", "model") == ("/v1/models/{model}/reference", "credit")
    assert values(unrouted, "status", "route", "model") == (403, None, None)


def test_a_validation_errors_location_is_its_loc_without_its_input() -> None:
    errors = [{"loc": ("query", "limit"), "msg": "not an int", "input": "SECRET"}]
    assert validation_location(errors) == "query.limit"
    assert validation_location([]) is None


def test_an_evaluation_that_finds_drift_logs_it_once(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    assert client.put("/v1/models/credit/reference", json={"records": seeded_records(1, 2_000)})
    shifted = {"records": seeded_records(2, 500, shift=2.0)}
    assert client.post("/v1/models/credit/predictions", json=shifted).status_code == 202
    assert client.post("/v1/models/credit/evaluate").status_code == 200
    assert client.post("/v1/models/credit/evaluate").status_code == 200  # the same state again
    started = {
        values(line, "scope", "column", "drifted", "was_drifted")
        for line in events(caplog, "drift_changed")
    }
    assert ("model", None, True, None) in started
    assert ("feature", "x", True, None) in started
    assert len(events(caplog, "drift_changed")) == len(started)  # nothing twice
