"""DriftMiddleware on a FastAPI app: logs watched exchanges, never changes or breaks a response."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, StreamingResponse
from fastapi.testclient import TestClient

from drift_exporter_client import DriftLogger, DriftMiddleware, ExtractionStats


class Sink:
    """Stands in for a DriftLogger: keeps what would have been logged."""

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


def model_app() -> FastAPI:
    app = FastAPI()

    @app.post("/predict")
    async def predict(request: Request) -> Any:
        body = await request.json()
        if "features" in body:
            return {"prediction": body["features"]["x"] * 2}
        if "instances" in body:
            return {"predictions": [row["x"] * 2 for row in body["instances"]]}
        return JSONResponse({"detail": "bad request"}, status_code=400)

    @app.post("/stream")
    async def stream() -> StreamingResponse:
        async def parts() -> AsyncIterator[bytes]:
            yield b'{"predictions": ['
            yield b"1, 2"
            yield b"]}"

        return StreamingResponse(parts(), media_type="application/json")

    @app.post("/text")
    async def text() -> PlainTextResponse:
        return PlainTextResponse("4")

    @app.post("/other")
    async def other() -> dict[str, int]:
        return {"prediction": 1}

    return app


def client_for(sink: Any, **options: Any) -> tuple[TestClient, ExtractionStats]:
    app = model_app()
    stats = ExtractionStats()
    options.setdefault("paths", ["/predict", "/stream", "/text"])
    app.add_middleware(DriftMiddleware, logger=sink, stats=stats, **options)
    return TestClient(app), stats


def test_a_single_prediction_is_logged_and_the_response_is_unchanged() -> None:
    sink = Sink()
    client, stats = client_for(sink)
    plain = TestClient(model_app()).post("/predict", json={"features": {"x": 3, "y": "a"}})
    response = client.post("/predict", json={"features": {"x": 3, "y": "a"}})
    assert (response.status_code, response.content) == (plain.status_code, plain.content)
    assert response.headers["content-length"] == plain.headers["content-length"]
    assert sink.logged == [({"x": 3, "y": "a"}, 6, None)]
    assert stats.counts() == (1, 0, 0)


def test_a_batch_logs_one_record_per_row() -> None:
    sink = Sink()
    client, _ = client_for(sink)
    client.post("/predict", json={"instances": [{"x": 1}, {"x": 2}]})
    assert sink.logged == [({"x": 1}, 2, None), ({"x": 2}, 4, None)]


def test_a_streamed_json_response_is_logged_once_complete() -> None:
    sink = Sink()
    client, _ = client_for(sink)
    response = client.post("/stream", json={"instances": [{"x": 1}, {"x": 2}]})
    assert response.json() == {"predictions": [1, 2]}
    assert [prediction for _, prediction, _ in sink.logged] == [1, 2]


def test_unwatched_paths_pass_straight_through() -> None:
    sink = Sink()
    client, stats = client_for(sink)
    assert client.post("/other", json={"features": {"x": 1}}).json() == {"prediction": 1}
    assert sink.logged == [] and stats.counts() == (0, 0, 0)


def test_errors_and_non_json_responses_are_skipped() -> None:
    sink = Sink()
    client, stats = client_for(sink)
    assert client.post("/predict", json={"other": 1}).status_code == 400
    assert client.post("/text", json={"features": {"x": 1}}).text == "4"
    assert sink.logged == [] and stats.counts() == (0, 0, 2)


def test_extraction_errors_are_counted_and_swallowed(caplog: pytest.LogCaptureFixture) -> None:
    def broken(request_json: Any) -> list[dict[str, Any]]:
        raise KeyError("features")

    sink = Sink()
    client, stats = client_for(sink, features_from=broken)
    for _ in range(2):
        response = client.post("/predict", json={"features": {"x": 1}})
        assert response.json() == {"prediction": 2}
    assert sink.logged == []
    assert stats.counts() == (0, 2, 0)
    assert len([r for r in caplog.records if "could not extract" in r.getMessage()]) == 1


def test_rows_and_predictions_must_pair_up() -> None:
    sink = Sink()
    client, stats = client_for(sink, predictions_from=lambda body: [1, 2, 3])
    client.post("/predict", json={"features": {"x": 1}})
    assert sink.logged == [] and stats.counts().errors == 1


def test_a_sink_that_raises_does_not_break_the_response() -> None:
    class Broken(Sink):
        def log(self, *args: Any, **kwargs: Any) -> None:
            raise RuntimeError("boom")

    client, stats = client_for(Broken())
    assert client.post("/predict", json={"features": {"x": 1}}).json() == {"prediction": 2}
    assert stats.counts().errors == 1


def test_bodies_over_the_limit_are_not_buffered() -> None:
    sink = Sink()
    client, stats = client_for(sink, max_body_bytes=64)
    rows = [{"x": i, "padding": "p" * 20} for i in range(10)]
    response = client.post("/predict", json={"instances": rows})
    assert len(response.json()["predictions"]) == 10
    assert sink.logged == [] and stats.counts() == (0, 0, 1)


def test_the_request_id_header_becomes_the_record_id() -> None:
    sink = Sink()
    client, _ = client_for(sink, id_header="X-Request-Id")
    client.post("/predict", json={"features": {"x": 1}}, headers={"x-request-id": "r-1"})
    client.post(
        "/predict", json={"instances": [{"x": 1}, {"x": 2}]}, headers={"x-request-id": "r-2"}
    )
    assert [record_id for _, _, record_id in sink.logged] == ["r-1", "r-2-0", "r-2-1"]


def test_custom_extractors_read_any_payload() -> None:
    app = FastAPI()

    @app.post("/score")
    async def score(request: Request) -> dict[str, Any]:
        body = await request.json()
        return {"result": {"scores": [sum(row) for row in body["rows"]]}}

    sink = Sink()
    app.add_middleware(
        DriftMiddleware,
        logger=sink,
        paths=["/score"],
        features_from=lambda body: [
            dict(zip(("a", "b"), row, strict=True)) for row in body["rows"]
        ],
        predictions_from=lambda body: body["result"]["scores"],
    )
    TestClient(app).post("/score", json={"rows": [[1, 2], [3, 4]]})
    assert sink.logged == [({"a": 1, "b": 2}, 3, None), ({"a": 3, "b": 4}, 7, None)]


def test_with_a_real_logger_the_records_reach_the_sidecar() -> None:
    received: list[dict[str, Any]] = []

    def sidecar(request: httpx.Request) -> httpx.Response:
        received.extend(json.loads(request.content)["records"])
        return httpx.Response(202)

    logger = DriftLogger("http://sidecar", "m", transport=httpx.MockTransport(sidecar))
    client, _ = client_for(logger)
    client.post("/predict", json={"instances": [{"x": 1}, {"x": 5}]})
    assert logger.close(timeout=5)
    assert [(r["features"], r["prediction"]) for r in received] == [({"x": 1}, 2), ({"x": 5}, 10)]
