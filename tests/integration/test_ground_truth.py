"""Ground truth through the API: the labels route, inline labels, latency, concept drift, the
performance report, and labelled pairs that survive a restart."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from exporter.app import create_app
from exporter.settings import Settings
from tests.integration.payloads import labelled_records, seeded_records


def served(seed: int, count: int, prefix: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Prediction records with ids and latencies, and the labels that belong to them."""
    records = labelled_records(seed, count)
    labels = []
    for i, record in enumerate(records):
        record["id"] = f"{prefix}{i}"
        record["latency_seconds"] = round(0.002 * (i % 50), 6)
        labels.append({"id": record["id"], "label": record.pop("label")})
    return records, labels


def metric(client: TestClient, name: str, **labels: str) -> float | None:
    for family in text_string_to_metric_families(client.get("/metrics").text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return None


@pytest.fixture
def settings() -> Settings:
    return Settings(
        min_records=100,
        window={"max_records": 1_000, "slices": 10},
        labels={"min_labels": 50, "max_age_seconds": 3_600},
    )


@pytest.fixture
def credit(client: TestClient) -> TestClient:
    response = client.put(
        "/v1/models/credit/reference", json={"records": labelled_records(1, 2_000)}
    )
    assert response.status_code == 201
    return client


# the labels route


def test_labels_join_their_predictions_and_the_answer_counts_them(credit: TestClient) -> None:
    records, labels = served(3, 200, "r")
    assert credit.post("/v1/models/credit/predictions", json={"records": records}).json() == {
        "accepted": 200
    }
    response = credit.post(
        "/v1/models/credit/labels",
        json={"labels": [*labels[:120], {"id": "never-sent", "label": 1}, labels[0]]},
    )
    assert response.status_code == 202
    assert response.json() == {"accepted": 122, "matched": 120, "unmatched": 2}
    assert metric(credit, "drift_labels_total", model="credit") == 122
    assert metric(credit, "drift_labels_matched_total", model="credit") == 120
    assert metric(credit, "drift_labels_unmatched_total", model="credit") == 2
    assert metric(credit, "drift_label_buffer_entries", model="credit") == 80


def test_labels_can_be_sent_as_ndjson(credit: TestClient) -> None:
    records, labels = served(3, 10, "n")
    credit.post("/v1/models/credit/predictions", json={"records": records})
    body = "\n".join(f'{{"id": "{x["id"]}", "label": {x["label"]}}}' for x in labels)
    response = credit.post(
        "/v1/models/credit/labels",
        content=body,
        headers={"content-type": "application/x-ndjson"},
    )
    assert response.json() == {"accepted": 10, "matched": 10, "unmatched": 0}


@pytest.mark.parametrize(
    ("body", "status", "location"),
    [
        ({"labels": [{"id": "r0", "label": 1}, {"id": "r1"}]}, 422, "labels[1].label"),
        ({"labels": [{"id": "r0", "label": 1}, {"id": [1], "label": 0}]}, 422, "labels[1].id"),
        ({"labels": [{"id": "r0", "label": {"a": 1}}]}, 422, "labels[0].label"),
        ({"labels": [{"id": "r0", "label": 1, "score": 0.2}]}, 422, "labels[0]"),
        ({"records": []}, 422, "body"),
    ],
)
def test_a_malformed_label_batch_is_a_located_4xx_and_changes_nothing(
    credit: TestClient, body: Any, status: int, location: str
) -> None:
    records, _ = served(3, 5, "r")
    credit.post("/v1/models/credit/predictions", json={"records": records})
    response = credit.post("/v1/models/credit/labels", json=body)
    assert response.status_code == status
    assert response.json()["location"] == location
    assert response.json()["detail"].startswith(location)
    assert metric(credit, "drift_labels_total", model="credit") == 0
    # r0 still waits: the rejected batch joined nothing.
    ok = credit.post("/v1/models/credit/labels", json={"labels": [{"id": "r0", "label": 1}]})
    assert ok.json()["matched"] == 1
    assert metric(credit, "drift_requests_rejected_total", reason="malformed") == 1


def test_the_labels_route_answers_404_415_and_413_like_the_others(client: TestClient) -> None:
    unknown = client.post("/v1/models/ghost/labels", json={"labels": []})
    assert (unknown.status_code, unknown.json()["location"]) == (404, "path.model")
    client.put("/v1/models/credit/reference", json={"records": labelled_records(1, 200)})
    csv = client.post(
        "/v1/models/credit/labels", content=b"id,label\n", headers={"content-type": "text/csv"}
    )
    assert csv.status_code == 415
    app_settings: Settings = client.app.state.settings  # type: ignore[attr-defined]
    too_many = app_settings.limits.max_records_per_request + 1
    large = client.post(
        "/v1/models/credit/labels",
        json={"labels": [{"id": str(i), "label": 1} for i in range(too_many)]},
    )
    assert (large.status_code, large.json()["location"]) == (413, "labels")


def test_labels_after_max_age_do_not_join_and_their_predictions_count_as_expired(
    credit: TestClient, clock: Any
) -> None:
    records, labels = served(3, 30, "r")
    credit.post("/v1/models/credit/predictions", json={"records": records})
    clock.now += 3_601
    response = credit.post("/v1/models/credit/labels", json={"labels": labels})
    assert response.json() == {"accepted": 30, "matched": 0, "unmatched": 30}
    assert metric(credit, "drift_labels_expired_total", model="credit") == 30


# inline labels and latency


def test_inline_labels_count_as_matched_and_feed_the_performance_report(
    credit: TestClient,
) -> None:
    records = labelled_records(4, 300)
    credit.post("/v1/models/credit/predictions", json={"records": records})
    assert metric(credit, "drift_labels_matched_total", model="credit") == 300
    report = credit.post("/v1/models/credit/evaluate").json()["performance"]
    assert report["labels"] == 300
    predicted = [int(r["prediction"] >= 0.5) for r in records]
    truth = [r["label"] for r in records]
    assert report["metrics"]["accuracy"] == pytest.approx(
        np.mean(np.array(predicted) == np.array(truth)), rel=1e-12
    )
    assert metric(credit, "drift_performance_accuracy", model="credit") == pytest.approx(
        report["metrics"]["accuracy"], rel=1e-12
    )


def test_latencies_fill_the_histogram(credit: TestClient) -> None:
    records, _ = served(3, 100, "r")
    credit.post("/v1/models/credit/predictions", json={"records": records})
    assert metric(credit, "drift_prediction_latency_seconds_count", model="credit") == 100
    expected = sum(r["latency_seconds"] for r in records)
    assert metric(credit, "drift_prediction_latency_seconds_sum", model="credit") == pytest.approx(
        expected
    )
    le_10ms = sum(1 for r in records if r["latency_seconds"] <= 0.01)
    assert metric(
        credit, "drift_prediction_latency_seconds_bucket", model="credit", le="0.01"
    ) == float(le_10ms)


def test_a_bad_latency_is_a_located_422_and_the_batch_is_not_counted(credit: TestClient) -> None:
    records, _ = served(3, 3, "r")
    records[2]["latency_seconds"] = -0.5
    response = credit.post("/v1/models/credit/predictions", json={"records": records})
    assert (response.status_code, response.json()["location"]) == (
        422,
        "records[2].latency_seconds",
    )
    assert metric(credit, "drift_records_total", model="credit") == 0
    assert metric(credit, "drift_label_buffer_entries", model="credit") == 0
    assert metric(credit, "drift_prediction_latency_seconds_count", model="credit") is None


# the report


def test_the_report_carries_realised_reference_and_estimated_performance(
    credit: TestClient,
) -> None:
    records, labels = served(5, 600, "r")
    credit.post("/v1/models/credit/predictions", json={"records": records})
    credit.post("/v1/models/credit/labels", json={"labels": labels[:49]})
    thin = credit.post("/v1/models/credit/evaluate").json()["performance"]
    assert (thin["labels"], thin["min_labels"], thin["metrics"]) == (49, 50, {})
    assert metric(credit, "drift_performance_accuracy", model="credit") is None
    credit.post("/v1/models/credit/labels", json={"labels": labels[49:]})
    performance = credit.post("/v1/models/credit/evaluate").json()["performance"]
    assert credit.get("/v1/models/credit/drift").json()["performance"] == performance
    assert (performance["task"], performance["scored"], performance["labels"]) == (
        "classification",
        True,
        600,
    )
    assert set(performance["metrics"]) == {
        "accuracy",
        "precision",
        "recall",
        "f1",
        "roc_auc",
        "log_loss",
    }
    assert set(performance["reference"]) == set(performance["metrics"])
    assert performance["reference_labels"] == 2_000
    estimated = performance["estimated"]["accuracy"]
    # seeded, window of 600: measured estimated 0.6726, realised 0.6717 (|error| 0.0009)
    assert abs(estimated - performance["metrics"]["accuracy"]) < 0.05
    assert metric(credit, "drift_estimated_accuracy", model="credit") == estimated
    assert (
        metric(credit, "drift_reference_performance_accuracy", model="credit")
        == (performance["reference"]["accuracy"])
    )


def test_the_reference_summary_describes_its_performance(client: TestClient) -> None:
    summary = client.put(
        "/v1/models/credit/reference", json={"records": labelled_records(1, 500)}
    ).json()
    assert summary["performance"]["task"] == "classification"
    assert summary["performance"]["labels"] == 500
    assert summary["performance"]["calibrated"] is True
    unlabelled = client.put(
        "/v1/models/plain/reference", json={"records": seeded_records(1, 500)}
    ).json()
    assert unlabelled["performance"] is None


def test_a_csv_regression_reference_is_a_regression_baseline(client: TestClient) -> None:
    rows = ["x,prediction,label"] + [f"{i % 7},{i % 5}.5,{i % 5}" for i in range(200)]
    response = client.put(
        "/v1/models/price/reference",
        content="\n".join(rows).encode(),
        headers={"content-type": "text/csv"},
    )
    performance = response.json()["performance"]
    assert performance["task"] == "regression"
    assert performance["metrics"]["mae"] == pytest.approx(0.5)
    records = [
        {"id": f"p{i}", "features": {"x": i % 7}, "prediction": float(i % 5) + 1.0}
        for i in range(100)
    ]
    client.post("/v1/models/price/predictions", json={"records": records})
    client.post(
        "/v1/models/price/labels",
        json={"labels": [{"id": f"p{i}", "label": i % 5} for i in range(100)]},
    )
    report = client.post("/v1/models/price/evaluate").json()["performance"]
    assert report["task"] == "regression"
    assert report["metrics"]["mae"] == pytest.approx(1.0)
    assert report["metrics"]["rmse"] == pytest.approx(1.0)
    assert metric(client, "drift_reference_performance_mae", model="price") == pytest.approx(0.5)


def _worded(seed: int, count: int, prefix: str | None, label: Any = None) -> list[dict[str, Any]]:
    """seeded_records of an unscored classifier: prediction "yes" when the score is >= 0.5, and
    the label `label`, or the prediction itself when None; ids `prefix` + index if a prefix."""
    records = seeded_records(seed, count)
    for i, record in enumerate(records):
        if prefix is not None:
            record["id"] = f"{prefix}{i}"
        record["prediction"] = "yes" if record["prediction"] >= 0.5 else "no"
        record["label"] = record["prediction"] if label is None else label
    return records


def test_a_one_class_window_and_one_other_label_keep_the_references_positive_class(
    client: TestClient,
) -> None:
    # Issue 13, item 8: the positive class ("yes", the larger class key of a two-class reference)
    # is the model's. A window of "no" pairs only has no positive: precision, recall and F1 are
    # 0 (sklearn, pos_label="yes", zero_division=0), not 1.0, and one "yes" label missed keeps
    # them 0 instead of flipping them.
    reference = _worded(1, 500, None)
    assert client.put("/v1/models/words/reference", json={"records": reference}).status_code == 201
    only_no = [r for r in _worded(2, 400, "w", label="no") if r["prediction"] == "no"][:99]
    client.post("/v1/models/words/predictions", json={"records": only_no})
    first = client.post("/v1/models/words/evaluate").json()["performance"]
    assert (first["labels"], first["metrics"]) == (
        99,
        {"accuracy": 1.0, "precision": 0.0, "recall": 0.0, "f1": 0.0},
    )
    missed = {**only_no[0], "id": "missed", "label": "yes"}
    client.post("/v1/models/words/predictions", json={"records": [missed]})
    second = client.post("/v1/models/words/evaluate").json()["performance"]
    assert second["metrics"] == {"accuracy": 0.99, "precision": 0.0, "recall": 0.0, "f1": 0.0}
    assert metric(client, "drift_performance_precision", model="words") == 0.0
    assert metric(client, "drift_performance_accuracy", model="words") == 0.99


def test_with_no_positive_class_known_the_report_has_accuracy_and_no_precision(
    client: TestClient,
) -> None:
    # A reference without labels fixes no positive class: precision, recall and F1 are absent
    # (not 1.0, then 0.0 after one other label), accuracy is still reported.
    unlabelled = _worded(1, 500, None)
    for record in unlabelled:
        del record["label"]
    client.put("/v1/models/words/reference", json={"records": unlabelled})
    only_no = [r for r in _worded(2, 400, "w", label="no") if r["prediction"] == "no"][:99]
    client.post("/v1/models/words/predictions", json={"records": only_no})
    assert client.post("/v1/models/words/evaluate").json()["performance"]["metrics"] == {
        "accuracy": 1.0
    }
    missed = {**only_no[0], "id": "missed", "label": "yes"}
    client.post("/v1/models/words/predictions", json={"records": [missed]})
    report = client.post("/v1/models/words/evaluate").json()["performance"]
    assert report["metrics"] == {"accuracy": 0.99}
    assert metric(client, "drift_performance_accuracy", model="words") == 0.99
    assert metric(client, "drift_performance_precision", model="words") is None


# concept drift through the API


class _SeededErrors:
    """Records of a scored classifier whose 0/1 error rate is 0.1, then 0.4 from `change` on:
    every label is 1, and a wrong prediction carries score 0.2, a right one 0.8."""

    def __init__(self, seed: int, change: int, total: int) -> None:
        rng = np.random.default_rng(seed)
        self.wrong = np.concatenate([rng.random(change) < 0.1, rng.random(total - change) < 0.4])

    def batch(self, start: int, stop: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        records = [
            {
                "id": f"e{i}",
                "features": {"x": 0.0, "y": 1.0, "colour": "red", "flag": False},
                "prediction": 0.2 if self.wrong[i] else 0.8,
            }
            for i in range(start, stop)
        ]
        return records, [{"id": f"e{i}", "label": 1} for i in range(start, stop)]


@pytest.fixture
def detector_client(clock: Any) -> Iterator[TestClient]:
    # Page-Hinkley's threshold raised out of reach: only ADWIN and DDM can fire, which shows the
    # detectors run with the configured parameters.
    settings = Settings(
        min_records=100,
        labels={"min_labels": 50},
        concept_drift={"ddm_warm_start": 1_000, "page_hinkley_threshold": 1e9},
    )
    app = create_app(settings, clock=clock, timer=lambda: 0.0, run_scheduler=False)
    with TestClient(app) as client:
        client.put("/v1/models/credit/reference", json={"records": labelled_records(1, 500)})
        yield client


def test_detectors_fire_after_a_change_in_the_error_stream_and_not_before(
    detector_client: TestClient, clock: Any
) -> None:
    # Seed 5, change at 3,000 of 6,000, batches of 250. Measured record by record with these
    # settings: ADWIN first fires at record 3,039, DDM at 3,164; Page-Hinkley never.
    change, total, step = 3_000, 6_000, 250
    stream = _SeededErrors(5, change, total)
    first: dict[str, int] = {}
    for start in range(0, total, step):
        records, labels = stream.batch(start, start + step)
        detector_client.post("/v1/models/credit/predictions", json={"records": records})
        detector_client.post("/v1/models/credit/labels", json={"labels": labels})
        for name in ("adwin", "page_hinkley", "ddm"):
            count = metric(
                detector_client,
                "drift_concept_drift_detections_total",
                model="credit",
                detector=name,
            )
            if count and name not in first:
                first[name] = start + step
                fired_at = metric(
                    detector_client,
                    "drift_concept_drift_last_detection_timestamp_seconds",
                    model="credit",
                    detector=name,
                )
                assert fired_at == clock.now
        clock.now += 1.0
    assert set(first) == {"adwin", "ddm"}
    for name, seen_by in first.items():
        assert change < seen_by <= change + 500, (name, seen_by)
    report = detector_client.post("/v1/models/credit/evaluate").json()["performance"]
    assert report["concept_drift"]["page_hinkley"] == {"detections": 0, "last_detection_at": None}
    assert report["concept_drift"]["adwin"]["detections"] >= 1


def test_inline_labels_feed_the_detectors_too(detector_client: TestClient) -> None:
    stream = _SeededErrors(5, 3_000, 6_000)
    for start in range(0, 6_000, 500):
        records, labels = stream.batch(start, start + 500)
        for record, label in zip(records, labels, strict=True):
            record["label"] = label["label"]
        detector_client.post("/v1/models/credit/predictions", json={"records": records})
    assert (
        metric(
            detector_client,
            "drift_concept_drift_detections_total",
            model="credit",
            detector="adwin",
        )
        or 0
    ) >= 1


# restarts


def test_labelled_pairs_and_waiting_predictions_survive_a_restart(tmp_path: Path) -> None:
    settings = Settings(
        min_records=100,
        labels={"min_labels": 50},
        state_dir=tmp_path,
        snapshot_interval_seconds=3_600,
    )
    records, labels = served(6, 300, "r")
    with TestClient(create_app(settings, run_scheduler=False)) as first:
        first.put("/v1/models/credit/reference", json={"records": labelled_records(1, 1_000)})
        first.post("/v1/models/credit/predictions", json={"records": records})
        first.post("/v1/models/credit/labels", json={"labels": labels[:200]})
        before = first.post("/v1/models/credit/evaluate").json()["performance"]
        counted = metric(first, "drift_labels_matched_total", model="credit")
        latency = metric(first, "drift_prediction_latency_seconds_count", model="credit")
    # The lifespan's end wrote the final snapshot.
    with TestClient(create_app(settings, run_scheduler=False)) as second:
        after = second.post("/v1/models/credit/evaluate").json()["performance"]
        assert after == before
        assert metric(second, "drift_labels_matched_total", model="credit") == counted == 200
        assert metric(second, "drift_prediction_latency_seconds_count", model="credit") == latency
        assert metric(second, "drift_label_buffer_entries", model="credit") == 100
        response = second.post("/v1/models/credit/labels", json={"labels": labels[200:]})
        assert response.json()["matched"] == 100


# auth and docs


def test_the_labels_route_needs_the_token_like_every_write(clock: Any) -> None:
    settings = Settings(auth={"token": "s3cret"})
    with TestClient(create_app(settings, clock=clock, run_scheduler=False)) as client:
        refused = client.post("/v1/models/credit/labels", json={"labels": []})
        assert refused.status_code == 401


def test_the_openapi_document_describes_the_labels_route(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    route = document["paths"]["/v1/models/{model}/labels"]["post"]
    assert "202" in route["responses"]
    content = route["requestBody"]["content"]
    assert {"application/json", "application/x-ndjson"} <= set(content)
    predictions = document["paths"]["/v1/models/{model}/predictions"]["post"]["requestBody"]
    schema = predictions["content"]["application/json"]["schema"]
    record = schema["properties"]["records"]["items"]  # inlined: no $defs (ReDoc)
    assert {"label", "latency_seconds"} <= set(record["properties"])
