"""The foreign-format routes: MLflow and Open Inference Protocol exchanges, KServe CloudEvents.

Each accepted payload lands in the same window as `POST predictions`; each rejected one gets a
located 4xx and changes no window and no record counter.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from cloudevents.core.bindings.http import to_binary
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from exporter.app import create_app
from exporter.settings import Settings
from tests.integration.payloads import seeded_records

MODEL = "credit"
COLUMNS = ["x", "y", "colour", "flag"]


@pytest.fixture
def client() -> Iterator[TestClient]:
    settings = Settings(min_records=10, limits={"max_records_per_request": 400})
    with TestClient(create_app(settings, run_scheduler=False)) as test_client:
        response = test_client.put(
            f"/v1/models/{MODEL}/reference", json={"records": seeded_records(1, 400)}
        )
        assert response.status_code == 201, response.text
        yield test_client


def rows(count: int, seed: int = 7) -> tuple[list[list[Any]], list[float]]:
    records = seeded_records(seed, count)
    values = [[record["features"][name] for name in COLUMNS] for record in records]
    return values, [record["prediction"] for record in records]


def window_records(client: TestClient, model: str = MODEL) -> int:
    models = {m["model"]: m for m in client.get("/v1/models").json()["models"]}
    return int(models[model]["window_records"])


def metrics(client: TestClient) -> str:
    return "\n".join(
        line
        for line in client.get("/metrics").text.splitlines()
        if "drift_requests_rejected" not in line
    )


def test_mlflow_dataframe_split_exchange_is_counted(client: TestClient) -> None:
    data, scores = rows(20)
    body = {
        "request": {"dataframe_split": {"columns": COLUMNS, "data": data}},
        "response": {"predictions": scores},
    }
    response = client.post(f"/v1/models/{MODEL}/predictions/mlflow", json=body)
    assert response.status_code == 202, response.text
    assert response.json() == {"accepted": 20}
    assert window_records(client) == 20
    assert f'drift_records_total{{model="{MODEL}"}} 20.0' in client.get("/metrics").text


def test_mlflow_tensor_rows_take_names_from_the_query(client: TestClient) -> None:
    data, scores = rows(5)
    body = {
        "request": {"inputs": data},
        "response": {"predictions": [[1 - s, s] for s in scores]},
    }
    url = f"/v1/models/{MODEL}/predictions/mlflow?feature_names=x,y,colour,flag&output_index=1"
    response = client.post(url, json=body)
    assert response.status_code == 202, response.text
    assert response.json() == {"accepted": 5}


def test_oip_exchange_with_one_tensor_per_feature_is_counted(client: TestClient) -> None:
    data, scores = rows(3)
    datatypes = {"x": "FP64", "y": "FP64", "colour": "BYTES", "flag": "BOOL"}
    request = {
        "id": "req-1",
        "inputs": [
            {"name": name, "shape": [3], "datatype": datatypes[name], "data": [r[j] for r in data]}
            for j, name in enumerate(COLUMNS)
        ],
    }
    response = {
        "model_name": MODEL,
        "id": "req-1",
        "outputs": [{"name": "score", "shape": [3, 1], "datatype": "FP64", "data": scores}],
    }
    answer = client.post(
        f"/v1/models/{MODEL}/predictions/oip", json={"request": request, "response": response}
    )
    assert answer.status_code == 202, answer.text
    assert answer.json() == {"accepted": 3}
    assert window_records(client) == 3


def test_oip_2d_tensor_needs_feature_names(client: TestClient) -> None:
    request = {
        "inputs": [{"name": "in", "shape": [2, 2], "datatype": "FP32", "data": [1, 2, 3, 4]}]
    }
    response = {"outputs": [{"name": "out", "shape": [2], "datatype": "FP32", "data": [0.1, 0.2]}]}
    body = {"request": request, "response": response}
    refused = client.post(f"/v1/models/{MODEL}/predictions/oip", json=body)
    assert refused.status_code == 422
    assert refused.json()["location"] == "request.inputs[0].shape"
    accepted = client.post(f"/v1/models/{MODEL}/predictions/oip?feature_names=x,y", json=body)
    assert accepted.json() == {"accepted": 2}


BAD = [
    ("mlflow", "", b"{", "application/json", 400, "body", "invalid JSON"),
    ("mlflow", "", b'{"request": {}}', "application/json", 422, "body", "'response'"),
    (
        "mlflow",
        "",
        b'{"request": {}, "response": {}, "x": 1}',
        "application/json",
        422,
        "body",
        "unknown field 'x'",
    ),
    ("mlflow", "", b"[]", "application/json", 422, "body", "expected an object"),
    (
        "mlflow",
        "",
        b'{"request": {}, "response": {}}',
        "text/csv",
        415,
        "header.content-type",
        "unsupported Content-Type",
    ),
    (
        "mlflow",
        "",
        b'{"request": {"inputs": [[1, 2]]}, "response": {"predictions": [1]}}',
        "application/json",
        422,
        "request.inputs[0]",
        "feature_names",
    ),
    (
        "mlflow",
        "?feature_names=x,../y",
        b"{}",
        "application/json",
        422,
        "query.feature_names",
        "invalid feature name",
    ),
    (
        "mlflow",
        "?feature_names=x,x",
        b"{}",
        "application/json",
        422,
        "query.feature_names",
        "duplicate feature name 'x'",
    ),
    (
        "mlflow",
        "?output_index=first",
        b"{}",
        "application/json",
        422,
        "query.output_index",
        "expected an integer",
    ),
    (
        "oip",
        "",
        b'{"request": {"inputs": [{"name": "x", "shape": [2], "datatype": "FP32", '
        b'"data": [1]}]}, "response": {}}',
        "application/json",
        422,
        "request.inputs[0].data",
        "shape [2] holds 2 elements, data has 1",
    ),
    (
        "oip",
        "",
        b'{"request": {"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", '
        b'"data": [1]}]}, "response": {"outputs": []}}',
        "application/json",
        422,
        "response.outputs",
        "at least one output",
    ),
]


@pytest.mark.parametrize(("route", "query", "body", "media", "status", "location", "detail"), BAD)
def test_malformed_exchanges_get_a_located_4xx_and_change_nothing(
    client: TestClient,
    route: str,
    query: str,
    body: bytes,
    media: str,
    status: int,
    location: str,
    detail: str,
) -> None:
    before = metrics(client)
    response = client.post(
        f"/v1/models/{MODEL}/predictions/{route}{query}",
        content=body,
        headers={"content-type": media},
    )
    assert response.status_code == status, response.text
    error = response.json()
    assert error["location"] == location
    assert detail in error["detail"] and error["detail"].startswith(location)
    assert metrics(client) == before
    assert window_records(client) == 0


def test_unknown_model_is_404_before_the_body_is_read(client: TestClient) -> None:
    for route in ("mlflow", "oip"):
        response = client.post(f"/v1/models/ghost/predictions/{route}", content=b"{")
        assert response.status_code == 404
        assert response.json()["location"] == "path.model"


def test_more_records_than_the_request_limit_is_413(client: TestClient) -> None:
    data, scores = rows(401)
    body = {
        "request": {"dataframe_split": {"columns": COLUMNS, "data": data}},
        "response": {"predictions": scores},
    }
    response = client.post(f"/v1/models/{MODEL}/predictions/mlflow", json=body)
    assert response.status_code == 413
    assert "max_records_per_request" in response.json()["detail"]
    assert window_records(client) == 0


REQUEST_TIME = datetime.fromisoformat("2021-04-10T00:23:26.0789529Z")


def logger_event(kind: str, data: Any, model: str = MODEL, **attributes: Any) -> Any:
    """A KServe inference-logger event, encoded by the CloudEvents SDK in binary mode."""
    event = CloudEvent(
        {
            "type": f"org.kubeflow.serving.inference.{kind}",
            "source": "http://localhost:9081/",
            "id": "0009174a-24a8-4603-b098-09c8799950e9",
            "time": REQUEST_TIME,
            "datacontenttype": "application/json",
            "inferenceservicename": model,
            "namespace": "default",
            "component": "predictor",
            "endpoint": "",
            **attributes,
        },
        data,
    )
    return to_binary(event, JSONFormat())


def post_event(client: TestClient, message: Any, query: str = "") -> Any:
    return client.post(f"/v1/cloudevents{query}", content=message.body, headers=message.headers)


def test_kserve_logger_events_are_paired_then_counted(client: TestClient) -> None:
    data, scores = rows(2)
    first = post_event(
        client, logger_event("request", {"instances": data}), "?feature_names=x,y,colour,flag"
    )
    assert first.status_code == 200, first.text  # KServe's logger counts non-200 as failures
    assert first.json() == {"accepted": 0}
    assert window_records(client) == 0
    second = post_event(client, logger_event("response", {"predictions": scores}))
    assert second.json() == {"accepted": 2}
    assert window_records(client) == 2
    text = client.get("/metrics").text
    assert f'drift_last_record_timestamp_seconds{{model="{MODEL}"}} 1.6180142060789' in text
    joiner = client.app.state.cloudevent_joiner  # type: ignore[attr-defined]
    assert (joiner.stats().pending, joiner.stats().paired) == (0, 1)


def test_object_instances_need_no_feature_names(client: TestClient) -> None:
    records = seeded_records(3, 2)
    post_event(client, logger_event("request", {"instances": [r["features"] for r in records]}))
    response = post_event(
        client, logger_event("response", {"predictions": [r["prediction"] for r in records]})
    )
    assert response.json() == {"accepted": 2}


def test_logger_events_for_an_unknown_model_are_404_and_not_held(client: TestClient) -> None:
    response = post_event(client, logger_event("request", {"instances": [{"x": 1}]}, "ghost"))
    assert response.status_code == 404
    assert response.json()["location"] == "path.model"
    assert client.app.state.cloudevent_joiner.stats().pending == 0  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("message", "status", "location"),
    [
        (
            logger_event("request", {"instances": [{"x": 1}]}, type="dev.example.other"),
            422,
            "header.ce-type",
        ),
        (logger_event("request", {"instances": [[1.0]]}), 422, "body.instances[0]"),
        (logger_event("request", {"rows": [1]}), 422, "body"),
    ],
)
def test_malformed_logger_events_are_located_4xx(
    client: TestClient, message: Any, status: int, location: str
) -> None:
    response = post_event(client, message)
    assert response.status_code == status, response.text
    assert response.json()["location"] == location
    assert window_records(client) == 0


def test_a_plain_json_post_to_the_sink_is_not_a_cloudevent(client: TestClient) -> None:
    response = client.post("/v1/cloudevents", json=[1, 2])
    assert response.status_code == 400
    assert response.json()["location"] == "body"


def test_openapi_documents_the_format_routes(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in (
        "/v1/models/{model}/predictions/mlflow",
        "/v1/models/{model}/predictions/oip",
        "/v1/cloudevents",
    ):
        assert "post" in paths[path]


def cloudevent_metrics(client: TestClient) -> dict[str, tuple[str, float]]:
    """The joiner's families on /metrics: name -> (type, value)."""
    families = text_string_to_metric_families(client.get("/metrics").text)
    # One sample each (no labels, no _created); a counter's family name drops `_total`.
    return {
        family.name: (family.type, family.samples[0].value)
        for family in families
        if family.name.startswith("drift_cloudevents_")
    }


def test_the_pairing_buffer_is_exported_and_bounded_in_bytes_from_settings() -> None:
    data, scores = rows(2)
    requests = [logger_event("request", {"instances": data}, id=f"e{i}") for i in range(3)]
    size = len(requests[0].body)
    assert {len(message.body) for message in requests} == {size}
    settings = Settings(min_records=10, cloudevents={"max_pending_bytes": 2 * size})
    with TestClient(create_app(settings, run_scheduler=False)) as client:
        client.put(f"/v1/models/{MODEL}/reference", json={"records": seeded_records(1, 400)})
        assert cloudevent_metrics(client) == {
            "drift_cloudevents_pending_events": ("gauge", 0.0),
            "drift_cloudevents_pending_bytes": ("gauge", 0.0),
            "drift_cloudevents_paired": ("counter", 0.0),
            "drift_cloudevents_expired": ("counter", 0.0),
            "drift_cloudevents_evicted": ("counter", 0.0),
            "drift_cloudevents_replaced": ("counter", 0.0),
        }
        for message in requests:
            assert post_event(client, message, "?feature_names=x,y,colour,flag").json() == {
                "accepted": 0
            }
        held = cloudevent_metrics(client)
        assert held["drift_cloudevents_pending_events"] == ("gauge", 2.0)
        assert held["drift_cloudevents_pending_bytes"] == ("gauge", 2.0 * size)
        assert held["drift_cloudevents_evicted"] == ("counter", 1.0)
        # The oldest (e0) was evicted: e2 and e1 pair, e0's response waits alone.
        for event_id, accepted in (("e2", 2), ("e1", 2), ("e0", 0)):
            response = post_event(
                client, logger_event("response", {"predictions": scores}, id=event_id)
            )
            assert response.json() == {"accepted": accepted}
        after = cloudevent_metrics(client)
        assert after["drift_cloudevents_paired"] == ("counter", 2.0)
        assert after["drift_cloudevents_pending_events"] == ("gauge", 1.0)
        assert after["drift_cloudevents_evicted"] == ("counter", 1.0)
        assert window_records(client) == 4


def test_the_pairing_buffer_count_bound_comes_from_settings() -> None:
    data, _ = rows(2)
    settings = Settings(min_records=10, cloudevents={"max_pending": 1})
    with TestClient(create_app(settings, run_scheduler=False)) as client:
        client.put(f"/v1/models/{MODEL}/reference", json={"records": seeded_records(1, 400)})
        for event_id in ("a", "b"):
            message = logger_event("request", {"instances": data}, id=event_id)
            post_event(client, message, "?feature_names=x,y,colour,flag")
        held = cloudevent_metrics(client)
        assert held["drift_cloudevents_pending_events"] == ("gauge", 1.0)
        assert held["drift_cloudevents_evicted"] == ("counter", 1.0)
