"""log_predictions on a Flask view: the same contract as DriftMiddleware."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from drift_exporter_client import ExtractionStats
from drift_exporter_client.flask import log_predictions

flask = pytest.importorskip("flask")


class Sink:
    def __init__(self) -> None:
        self.logged: list[tuple[dict[str, Any], Any, str | None]] = []

    def log(
        self,
        features: Mapping[str, Any],
        prediction: Any = None,
        *,
        id: str | None = None,
        timestamp: float | None = None,
    ) -> None:
        self.logged.append((dict(features), prediction, id))


def app_with(sink: Sink, stats: ExtractionStats, **options: Any) -> Any:
    app = flask.Flask(__name__)

    @app.post("/predict")
    @log_predictions(sink, stats=stats, **options)
    def predict() -> Any:
        body = flask.request.get_json()
        if "instances" in body:
            return {"predictions": [row["x"] * 2 for row in body["instances"]]}
        if "features" in body:
            return {"prediction": body["features"]["x"] * 2}, 201
        return {"detail": "bad request"}, 400

    @app.post("/text")
    @log_predictions(sink, stats=stats)
    def text() -> str:
        return "4"

    return app


def test_a_view_is_logged_and_its_response_unchanged() -> None:
    sink, stats = Sink(), ExtractionStats()
    client = app_with(sink, stats).test_client()
    response = client.post("/predict", json={"features": {"x": 3}})
    assert (response.status_code, response.get_json()) == (201, {"prediction": 6})
    response = client.post("/predict", json={"instances": [{"x": 1}, {"x": 2}]})
    assert response.get_json() == {"predictions": [2, 4]}
    assert sink.logged == [({"x": 3}, 6, None), ({"x": 1}, 2, None), ({"x": 2}, 4, None)]
    assert stats.counts() == (3, 0, 0)


def test_errors_and_text_responses_are_skipped() -> None:
    sink, stats = Sink(), ExtractionStats()
    client = app_with(sink, stats).test_client()
    assert client.post("/predict", json={"other": 1}).status_code == 400
    assert client.post("/text", json={"features": {"x": 1}}).get_data() == b"4"
    assert sink.logged == [] and stats.counts() == (0, 0, 2)


def test_extraction_errors_are_swallowed() -> None:
    sink, stats = Sink(), ExtractionStats()

    def broken(body: Any) -> list[Any]:
        raise ValueError("no")

    client = app_with(sink, stats, predictions_from=broken).test_client()
    assert client.post("/predict", json={"features": {"x": 1}}).get_json() == {"prediction": 2}
    assert stats.counts() == (0, 1, 0)


def test_the_request_id_header_becomes_the_record_id() -> None:
    sink, stats = Sink(), ExtractionStats()
    client = app_with(sink, stats, id_header="X-Request-Id").test_client()
    client.post("/predict", json={"features": {"x": 1}}, headers={"X-Request-Id": "abc"})
    assert sink.logged[0][2] == "abc"
