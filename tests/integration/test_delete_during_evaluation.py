"""A DELETE that lands while the model is being evaluated: the evaluation's report is dropped at
publication, and neither its drift series nor its evaluation-duration series come back.

The evaluator stands in for `evaluate`: it blocks on an Event until the test has deleted (and
maybe re-created) the model, so the interleaving is the same on every run.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from exporter.app import create_app
from exporter.evaluation.evaluator import EvaluationReport, evaluate
from exporter.settings import Settings
from tests.integration.payloads import seeded_records

NOW = 1_800_000_000.0
WAIT_SECONDS = 30.0


class BlockingEvaluator:
    """`evaluate`, held at its start until `release` is set; `entered` says it got there."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.block = False

    def __call__(self, *arguments: Any, **keywords: Any) -> EvaluationReport:
        if self.block:
            self.entered.set()
            assert self.release.wait(WAIT_SECONDS), "the test never released the evaluation"
        return evaluate(*arguments, **keywords)


@pytest.fixture
def served() -> Iterator[tuple[TestClient, BlockingEvaluator]]:
    evaluator = BlockingEvaluator()
    app = create_app(
        Settings(min_records=50, evaluation_worker="thread"),
        clock=lambda: NOW,
        timer=lambda: 0.0,
        run_scheduler=False,
        evaluator=evaluator,
    )
    with TestClient(app) as client:
        _create(client, "credit")
        _create(client, "fraud")
        evaluator.block = True
        yield client, evaluator


def _create(client: TestClient, model: str) -> None:
    reference = {"records": seeded_records(1, 400)}
    assert client.put(f"/v1/models/{model}/reference", json=reference).status_code == 201
    traffic = {"records": seeded_records(2, 300, shift=0.8)}
    assert client.post(f"/v1/models/{model}/predictions", json=traffic).status_code == 202


#: Families that come from a model's evaluation (its report and its duration), not live counters.
EVALUATION_FAMILIES = (
    "drift_feature_",
    "drift_features_",
    "drift_evaluation_",
    "drift_last_evaluation_",
)


def _series_of(client: TestClient, model: str) -> list[str]:
    """The model's evaluation series on /metrics."""
    text = client.get("/metrics").text
    return [
        line
        for line in text.splitlines()
        if line.startswith(EVALUATION_FAMILIES) and f'model="{model}"' in line
    ]


def _in_background(call: Callable[[], Any]) -> tuple[threading.Thread, list[Any]]:
    outcome: list[Any] = []
    thread = threading.Thread(target=lambda: outcome.append(call()))
    thread.start()
    return thread, outcome


def test_a_model_deleted_during_post_evaluate_does_not_come_back(
    served: tuple[TestClient, BlockingEvaluator],
) -> None:
    client, evaluator = served
    thread, outcome = _in_background(lambda: client.post("/v1/models/credit/evaluate"))
    assert evaluator.entered.wait(WAIT_SECONDS)
    assert client.delete("/v1/models/credit").status_code == 204
    evaluator.release.set()
    thread.join(WAIT_SECONDS)
    assert outcome and outcome[0].status_code == 200  # the caller still gets its report
    assert _series_of(client, "credit") == []
    assert client.get("/v1/models/credit/drift").status_code == 404
    assert [model["model"] for model in client.get("/v1/models").json()["models"]] == ["fraud"]


def test_a_model_deleted_during_a_cycle_does_not_come_back_and_the_others_publish(
    served: tuple[TestClient, BlockingEvaluator],
) -> None:
    client, evaluator = served
    scheduler = client.app.state.scheduler  # type: ignore[attr-defined]
    thread, _ = _in_background(scheduler.run_once)  # credit first: held in its evaluation
    assert evaluator.entered.wait(WAIT_SECONDS)
    assert client.delete("/v1/models/credit").status_code == 204
    evaluator.release.set()
    thread.join(WAIT_SECONDS)
    assert _series_of(client, "credit") == []
    fraud = _series_of(client, "fraud")
    assert any(line.startswith('drift_feature_psi{feature="x",model="fraud"}') for line in fraud)
    assert any(line.startswith("drift_evaluation_duration_seconds_count") for line in fraud)


def test_a_report_of_the_deleted_window_is_not_published_for_the_model_created_anew(
    served: tuple[TestClient, BlockingEvaluator],
) -> None:
    client, evaluator = served
    thread, _ = _in_background(lambda: client.post("/v1/models/credit/evaluate"))
    assert evaluator.entered.wait(WAIT_SECONDS)
    assert client.delete("/v1/models/credit").status_code == 204
    evaluator.block = False
    _create(client, "credit")  # same name, new reference and window
    evaluator.release.set()
    thread.join(WAIT_SECONDS)
    # The old window's report is not the new model's: it has not been evaluated yet.
    assert client.get("/v1/models/credit/drift").status_code == 404
    assert _series_of(client, "credit") == []
