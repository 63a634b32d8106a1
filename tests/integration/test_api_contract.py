"""The HTTP contract: routes, status codes, payload shapes, and that rejections change nothing."""

from __future__ import annotations

import json
import logging

import pytest
from fastapi.testclient import TestClient

from tests.integration.payloads import seeded_records

MODEL = "credit"


def upload(client: TestClient, model: str = MODEL, count: int = 2_000, seed: int = 1) -> dict:
    response = client.put(
        f"/v1/models/{model}/reference", json={"records": seeded_records(seed, count)}
    )
    assert response.status_code in (200, 201), response.text
    return response.json()


def post(client: TestClient, records: list, model: str = MODEL):
    return client.post(f"/v1/models/{model}/predictions", json={"records": records})


def metrics_text(client: TestClient) -> str:
    return client.get("/metrics").text


def test_reference_upload_creates_the_model_and_infers_types(client: TestClient) -> None:
    summary = upload(client)
    types = {feature["name"]: feature["type"] for feature in summary["features"]}
    assert types == {"x": "numeric", "y": "numeric", "colour": "categorical", "flag": "boolean"}
    assert summary["rows"] == 2_000
    assert summary["prediction"]["type"] == "numeric"
    x = next(f for f in summary["features"] if f["name"] == "x")
    assert len(x["bin_edges"]) == 9 and sum(x["bin_counts"]) == 2_000
    # The upload's body is the profile summary plus what this upload found.
    upload_only = {"prediction_drift", "prediction_column", "warnings"}
    stored = {key: value for key, value in summary.items() if key not in upload_only}
    assert client.get(f"/v1/models/{MODEL}/reference").json() == stored


def test_second_reference_upload_replaces_with_200(client: TestClient) -> None:
    assert (
        client.put(
            f"/v1/models/{MODEL}/reference", json={"records": seeded_records(1, 500)}
        ).status_code
        == 201
    )
    response = client.put(f"/v1/models/{MODEL}/reference", json={"records": seeded_records(2, 700)})
    assert response.status_code == 200
    assert client.get(f"/v1/models/{MODEL}/reference").json()["rows"] == 700


def test_csv_reference_with_prediction_column_from_query(client: TestClient) -> None:
    body = "age,country,score\n30,DE,0.1\n41,FR,0.7\n,DE,0.4\n55,ES,0.9\n"
    response = client.put(
        f"/v1/models/{MODEL}/reference?prediction_column=score",
        content=body,
        headers={"content-type": "text/csv"},
    )
    assert response.status_code == 201, response.text
    summary = response.json()
    assert [f["name"] for f in summary["features"]] == ["age", "country"]
    assert summary["features"][0]["missing"] == 1
    assert summary["prediction"]["type"] == "numeric"


CSV_WITHOUT_PREDICTION = "age,country,score\n30,DE,0.1\n41,FR,0.7\n,DE,0.4\n55,ES,0.9\n"


def put_csv(client: TestClient, body: str, query: str = "", model: str = MODEL):
    return client.put(
        f"/v1/models/{model}/reference{query}",
        content=body,
        headers={"content-type": "text/csv"},
    )


def test_a_reference_without_a_prediction_column_says_prediction_drift_is_off(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="exporter.api.models"):
        response = put_csv(client, CSV_WITHOUT_PREDICTION)
    assert response.status_code == 201, response.text
    summary = response.json()
    assert summary["prediction"] is None
    assert (summary["prediction_drift"], summary["prediction_column"]) == (False, None)
    assert [f["name"] for f in summary["features"]] == ["age", "country", "score"]
    [warning] = summary["warnings"]
    assert "no column 'prediction'" in warning and "prediction drift is off" in warning
    assert "look like a prediction: 'score'" in warning  # the candidate, alone
    assert "?prediction_column=<name>" in warning
    assert "'age', 'country', 'score'" in warning  # every column
    [record] = [r for r in caplog.records if r.name == "exporter.api.models"]
    assert record.levelno == logging.WARNING
    assert (record.model, record.columns) == (MODEL, ["age", "country", "score"])  # type: ignore[attr-defined]


def test_json_records_without_predictions_get_the_warning_too(client: TestClient) -> None:
    records = [
        {"features": {"x": 0.5, "y_pred": 1, "colour": "red"}},
        {"features": {"x": 0.1, "y_pred": 0, "colour": "blue"}},
    ]
    response = client.put(f"/v1/models/{MODEL}/reference", json={"records": records})
    assert response.status_code == 201, response.text
    summary = response.json()
    assert (summary["prediction_drift"], summary["prediction_column"]) == (False, None)
    [warning] = summary["warnings"]
    assert "carry no 'prediction'" in warning and "'y_pred'" in warning
    assert "'x', 'y_pred', 'colour'" in warning


def test_prediction_column_from_the_query_turns_prediction_drift_on(client: TestClient) -> None:
    response = put_csv(client, CSV_WITHOUT_PREDICTION, "?prediction_column=score")
    assert response.status_code == 201, response.text
    summary = response.json()
    assert (summary["prediction_drift"], summary["prediction_column"]) == (True, "score")
    assert summary["warnings"] == []
    assert [f["name"] for f in summary["features"]] == ["age", "country"]
    assert summary["prediction"]["type"] == "numeric"


def test_prediction_column_from_the_query_picks_a_json_feature(client: TestClient) -> None:
    records = [
        {"features": {"x": float(i), "score": i / 10, "colour": "red"}, "label": i % 2}
        for i in range(10)
    ]
    response = client.put(
        f"/v1/models/{MODEL}/reference?prediction_column=score", json={"records": records}
    )
    assert response.status_code == 201, response.text
    summary = response.json()
    assert (summary["prediction_drift"], summary["prediction_column"]) == (True, "score")
    assert [f["name"] for f in summary["features"]] == ["x", "colour"]
    assert summary["prediction"]["max"] == 0.9 and summary["labels"] == 10
    assert client.get("/v1/models").json()["models"][0]["reference"]["has_prediction"] is True


def test_json_records_report_their_prediction_key(client: TestClient) -> None:
    summary = upload(client, count=200)
    assert (summary["prediction_drift"], summary["prediction_column"]) == (True, "prediction")
    assert summary["warnings"] == []


@pytest.mark.parametrize(
    ("body", "media", "query", "detail"),
    [
        (CSV_WITHOUT_PREDICTION, "text/csv", "ghost", "'age', 'country', 'score'"),
        ("age,label\n30,0\n41,1\n", "text/csv", "label", "is the label column"),
        (
            json.dumps({"records": [{"features": {"x": 1, "score": 0.3}}]}),
            "application/json",
            "ghost",
            "'x', 'score'",
        ),
        (
            json.dumps({"records": [{"features": {"x": 1, "score": 0.3}, "prediction": 1}]}),
            "application/json",
            "score",
            "also carry 'prediction'",
        ),
    ],
)
def test_an_unknown_prediction_column_is_422_and_changes_nothing(
    client: TestClient, body: str, media: str, query: str, detail: str
) -> None:
    upload(client, count=200)
    before = (
        client.get(f"/v1/models/{MODEL}/reference").json(),
        client.get("/v1/models").json(),
    )
    response = client.put(
        f"/v1/models/{MODEL}/reference?prediction_column={query}",
        content=body,
        headers={"content-type": media},
    )
    assert response.status_code == 422, response.text
    assert response.json()["location"] == "query.prediction_column"
    assert detail in response.json()["detail"]
    after = (
        client.get(f"/v1/models/{MODEL}/reference").json(),
        client.get("/v1/models").json(),
    )
    assert after == before


def test_predictions_are_accepted_and_counted(client: TestClient) -> None:
    upload(client)
    response = post(client, seeded_records(5, 250))
    assert response.status_code == 202
    assert response.json() == {"accepted": 250}
    models = client.get("/v1/models").json()["models"]
    assert models[0]["model"] == MODEL
    assert models[0]["records_total"] == 250 and models[0]["window_records"] == 250
    assert f'drift_records_total{{model="{MODEL}"}} 250.0' in metrics_text(client)


def test_ndjson_predictions_are_accepted(client: TestClient) -> None:
    upload(client)
    lines = "\n".join(json.dumps(record) for record in seeded_records(5, 30)) + "\n\n"
    response = client.post(
        f"/v1/models/{MODEL}/predictions",
        content=lines,
        headers={"content-type": "application/x-ndjson"},
    )
    assert response.status_code == 202 and response.json() == {"accepted": 30}


def test_evaluate_returns_the_report_and_drift_serves_it(client: TestClient) -> None:
    upload(client)
    post(client, seeded_records(5, 600, shift=1.5))
    report = client.post(f"/v1/models/{MODEL}/evaluate").json()
    assert report["status"] == "ok" and report["window_records"] == 600
    x = next(f for f in report["features"] if f["name"] == "x")
    assert x["drifted"] is True
    assert set(x["statistics"]) == {"psi", "ks", "jensen_shannon", "wasserstein_normalized"}
    assert x["statistics"]["ks"]["pvalue"] < 1e-6
    psi = x["statistics"]["psi"]
    # The one rule: drifted at max(floor, the critical value at this window's size).
    assert psi["floor"] == 0.005 and psi["critical"] > psi["floor"]
    assert psi["threshold"] == max(psi["floor"], psi["critical"]) < psi["value"]
    assert x["valid_records"] == 600 and x["not_judged"] is None
    colour = next(f for f in report["features"] if f["name"] == "colour")
    assert set(colour["statistics"]) == {"psi", "chi2", "jensen_shannon"}
    assert report["prediction"]["drifted"] is True
    assert client.get(f"/v1/models/{MODEL}/drift").json() == report


def test_below_min_records_drift_gauges_are_absent_not_zero(client: TestClient) -> None:
    upload(client)
    post(client, seeded_records(5, 50))
    report = client.post(f"/v1/models/{MODEL}/evaluate").json()
    assert report["status"] == "insufficient_data"
    text = metrics_text(client)
    assert f'drift_window_records{{model="{MODEL}"}} 50.0' in text
    assert "drift_feature_psi{" not in text and "drift_prediction_psi{" not in text
    assert 'drift_feature_missing_ratio{feature="x"' in text


def test_drift_before_any_evaluation_is_404_with_a_hint(client: TestClient) -> None:
    upload(client)
    response = client.get(f"/v1/models/{MODEL}/drift")
    assert response.status_code == 404
    assert "evaluate" in response.json()["detail"]


def test_health_and_readiness(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    # run_scheduler=False in these tests: the evaluator is not running, so not ready.
    assert client.get("/readyz").status_code == 503
    assert "/metrics" in client.get("/").text


def test_delete_removes_the_model_and_its_series(client: TestClient) -> None:
    upload(client)
    post(client, seeded_records(5, 200))
    client.post(f"/v1/models/{MODEL}/evaluate")
    assert client.delete(f"/v1/models/{MODEL}").status_code == 204
    assert f'model="{MODEL}"' not in metrics_text(client)
    assert client.get(f"/v1/models/{MODEL}/reference").status_code == 404


def test_data_quality_values_are_counted_not_rejected(client: TestClient) -> None:
    upload(client)
    records = [
        {
            "features": {"x": None, "y": "oops", "colour": "purple", "flag": True, "extra": 1},
            "prediction": 0.5,
        },
        {"features": {"y": 1.0, "colour": ["red"], "flag": "maybe"}, "prediction": 0.2},
        {"features": {"x": 1e9, "y": 1.0, "colour": "red", "flag": False}},
    ]
    assert post(client, records).status_code == 202
    text = metrics_text(client)

    def invalid(reason: str) -> str:
        return f'drift_invalid_values_total{{model="{MODEL}",reason="{reason}"}}'

    assert f"{invalid('missing')} 3.0" in text  # x null, x absent, prediction absent
    assert f"{invalid('type_mismatch')} 3.0" in text  # y "oops", colour list, flag "maybe"
    assert f"{invalid('unseen_category')} 1.0" in text  # purple
    assert f"{invalid('out_of_range')} 1.0" in text  # x = 1e9
    assert f"{invalid('unknown_feature')} 1.0" in text  # extra


BAD_REQUESTS = [
    # (content type, body, status, location fragment, detail fragment)
    ("application/json", b"{not json", 400, "body", "invalid JSON"),
    ("application/json", b"[]", 422, "body", "expected an object"),
    ("application/json", b'{"records": {}}', 422, "records", "expected an array"),
    ("application/json", b'{"rows": []}', 422, "body", "unknown field 'rows'"),
    (
        "application/json",
        b'{"records": [{"features": {"x": 1}}, 5]}',
        422,
        "records[1]",
        "expected an object",
    ),
    (
        "application/json",
        b'{"records": [{"features": []}]}',
        422,
        "records[0].features",
        "expected an object",
    ),
    ("application/json", b'{"records": [{"prediction": 1}]}', 422, "records[0]", "features"),
    (
        "application/json",
        b'{"records": [{"features": {}, "predicton": 1}]}',
        422,
        "records[0]",
        "predicton",
    ),
    (
        "application/json",
        b'{"records": [{"features": {}, "timestamp": "yesterday"}]}',
        422,
        "records[0].timestamp",
        "RFC 3339",
    ),
    (
        "application/json",
        b'{"records": [{"features": {}, "id": [1]}]}',
        422,
        "records[0].id",
        "string or integer",
    ),
    ("application/x-ndjson", b'{"features": {}}\n\n{oops\n', 400, "line 3", "invalid JSON"),
    ("text/plain", b"x=1", 415, "header.content-type", "unsupported Content-Type"),
]


@pytest.mark.parametrize(("media", "body", "status", "location", "detail"), BAD_REQUESTS)
def test_malformed_predictions_get_a_located_4xx_and_change_nothing(
    client: TestClient, media: str, body: bytes, status: int, location: str, detail: str
) -> None:
    upload(client)
    post(client, seeded_records(5, 10))
    before = metrics_text(client)
    response = client.post(
        f"/v1/models/{MODEL}/predictions", content=body, headers={"content-type": media}
    )
    assert response.status_code == status, response.text
    error = response.json()
    assert error["location"] == location
    assert detail in error["detail"] and error["detail"].startswith(location)
    after = metrics_text(client)
    assert _without_rejections(after) == _without_rejections(before)
    assert client.get("/v1/models").json()["models"][0]["window_records"] == 10


def _without_rejections(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if "drift_requests_rejected" not in line)


def test_rejections_are_counted_by_reason(client: TestClient) -> None:
    upload(client)
    client.post(
        f"/v1/models/{MODEL}/predictions",
        content=b"{",
        headers={"content-type": "application/json"},
    )
    client.post("/v1/models/nope/predictions", json={"records": []})
    text = metrics_text(client)
    assert 'drift_requests_rejected_total{reason="malformed"} 1.0' in text
    assert 'drift_requests_rejected_total{reason="unknown_model"} 1.0' in text


def test_unknown_model_is_404_for_reads_and_writes(client: TestClient) -> None:
    for response in (
        client.get("/v1/models/ghost/reference"),
        client.get("/v1/models/ghost/drift"),
        client.post("/v1/models/ghost/evaluate"),
        client.post("/v1/models/ghost/predictions", json={"records": []}),
    ):
        assert response.status_code == 404
        assert "ghost" in response.json()["detail"]


@pytest.mark.parametrize("name", ["..", ".hidden", "a b", "x" * 129, "semi;colon", "%2e%2e"])
def test_unsafe_model_names_are_rejected(client: TestClient, name: str) -> None:
    response = client.put(f"/v1/models/{name}/reference", json={"records": seeded_records(1, 10)})
    assert response.status_code in (404, 422)
    assert client.get("/v1/models").json() == {"models": []}


def test_unsafe_feature_names_are_rejected_and_nothing_is_created(client: TestClient) -> None:
    response = client.put(
        f"/v1/models/{MODEL}/reference", json={"records": [{"features": {"../etc": 1.0}}]}
    )
    assert response.status_code == 422
    assert "invalid feature name" in response.json()["detail"]
    assert client.get("/v1/models").json() == {"models": []}


def test_body_over_the_limit_is_413() -> None:
    from exporter.app import create_app
    from exporter.settings import Settings

    app = create_app(Settings(limits={"max_body_bytes": 2_048}), run_scheduler=False)
    with TestClient(app) as small:
        response = small.put(
            f"/v1/models/{MODEL}/reference", json={"records": seeded_records(1, 200)}
        )
        assert response.status_code == 413
        assert "max_body_bytes" in response.json()["detail"]
        assert small.get("/v1/models").json() == {"models": []}


def test_model_cap_is_409() -> None:
    from exporter.app import create_app
    from exporter.settings import Settings

    app = create_app(Settings(limits={"max_models": 1}), run_scheduler=False)
    with TestClient(app) as capped:
        upload(capped, "first", count=50)
        response = capped.put(
            "/v1/models/second/reference", json={"records": seeded_records(1, 50)}
        )
        assert response.status_code == 409
        upload(capped, "first", count=60)  # replacing an existing model is still allowed


def test_reference_of_50k_rows_and_10_features_uploads_in_one_request(client: TestClient) -> None:
    import numpy as np

    rng = np.random.default_rng(3)
    values = rng.normal(size=(50_000, 10)).round(5)
    records = [{"features": {f"f{j}": float(row[j]) for j in range(10)}} for row in values]
    response = client.put(f"/v1/models/{MODEL}/reference", json={"records": records})
    assert response.status_code == 201, response.text
    assert response.json()["rows"] == 50_000


def test_openapi_documents_every_route(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in (
        "/v1/models",
        "/v1/models/{model}/reference",
        "/v1/models/{model}/predictions",
        "/v1/models/{model}/evaluate",
        "/v1/models/{model}/drift",
        "/metrics",
        "/healthz",
        "/readyz",
    ):
        assert path in paths
