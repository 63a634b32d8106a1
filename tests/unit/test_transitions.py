"""Drift state changes between evaluations (pure), and the drift_changed lines the board logs."""

from __future__ import annotations

import logging

import pytest

from exporter.evaluation.report import ColumnReport, EvaluationReport, failed_report
from exporter.evaluation.transitions import DriftChange, drift_changes, log_drift_changes
from exporter.prometheus.board import ReportBoard
from exporter.settings import DriftSettings

NOW = 1_800_000_000.0


def column(name: str, drifted: bool | None) -> ColumnReport:
    return ColumnReport(name, "numeric", 1_000, (), drifted, None)


def report(
    features: dict[str, bool | None],
    prediction: bool | None = None,
    *,
    model: str = "credit",
    status: str = "ok",
) -> EvaluationReport:
    """A report whose features (and prediction, unless None) carry these drifted flags."""
    decided = [flag for flag in features.values() if flag is not None]
    return EvaluationReport(
        model=model,
        status=status,  # type: ignore[arg-type]
        evaluated_at=NOW,
        window_records=1_000,
        min_records=500,
        reference_rows=5_000,
        features=tuple(column(name, flag) for name, flag in features.items()),
        prediction=None if prediction is None else column("prediction", prediction),
        features_evaluated=len(decided),
        features_drifted=sum(decided),
        method="pvalue",
        correction="benjamini_hochberg",
        alpha=0.05,
    )


def change(
    scope: str, column: str | None, drifted: bool, was: bool | None, model: str = "credit"
) -> DriftChange:
    return DriftChange(model, scope, column, drifted, was)  # type: ignore[arg-type]


def test_a_first_evaluation_reports_only_what_drifted() -> None:
    first = report({"age": True, "income": False}, prediction=False)
    assert drift_changes(None, first) == [
        change("model", None, True, None),
        change("feature", "age", True, None),
    ]


def test_a_first_evaluation_with_nothing_drifted_reports_nothing() -> None:
    assert drift_changes(None, report({"age": False}, prediction=False)) == []


def test_features_that_flip_either_way_are_reported_and_steady_ones_are_not() -> None:
    before = report({"age": True, "income": False, "zip": True})
    after = report({"age": False, "income": True, "zip": True})
    # The model stays drifted (zip, then income and zip): no model change.
    assert drift_changes(before, after) == [
        change("feature", "age", False, True),
        change("feature", "income", True, False),
    ]


def test_the_model_ends_drift_when_its_last_drifted_feature_does() -> None:
    before = report({"age": True, "income": False})
    after = report({"age": False, "income": False})
    assert drift_changes(before, after) == [
        change("model", None, False, True),
        change("feature", "age", False, True),
    ]


def test_the_prediction_column_changes_on_its_own() -> None:
    before = report({"age": False}, prediction=False)
    after = report({"age": False}, prediction=True)
    # Prediction drift alone does not make the model drifted (features_drifted stays 0).
    assert drift_changes(before, after) == [change("prediction", "prediction", True, False)]


def test_an_undecided_evaluation_changes_nothing_and_the_next_compares_like_a_first() -> None:
    drifted = report({"age": True, "income": False})
    too_few = report({"age": None, "income": None}, status="insufficient_data")
    assert drift_changes(drifted, too_few) == []
    recovered = report({"age": True, "income": False})
    assert drift_changes(too_few, recovered) == [
        change("model", None, True, None),
        change("feature", "age", True, None),
    ]
    assert drift_changes(too_few, report({"age": False, "income": False})) == []


def test_a_failed_evaluation_changes_nothing() -> None:
    drifted = report({"age": True})
    failed = failed_report(drifted, "credit", NOW, "WorkerError('hung')", 500, DriftSettings())
    assert drift_changes(drifted, failed) == []


@pytest.fixture
def drift_lines(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """caplog, capturing the transitions module's INFO lines."""
    caplog.set_level(logging.INFO, logger="exporter.evaluation.transitions")
    return caplog


def fields(records: list[logging.LogRecord]) -> list[tuple[object, ...]]:
    keys = ("model", "scope", "column", "drifted", "was_drifted")
    return [
        (record.getMessage(), *(getattr(record, key) for key in keys))
        for record in records
        if getattr(record, "event", None) == "drift_changed"
    ]


def test_log_drift_changes_writes_one_line_per_change_with_its_fields(
    drift_lines: pytest.LogCaptureFixture,
) -> None:
    before = {"credit": report({"age": True, "income": False})}
    after = {"credit": report({"age": False, "income": True})}
    log_drift_changes(before, after)
    assert fields(drift_lines.records) == [
        ("drift ended", "credit", "feature", "age", False, True),
        ("drift started", "credit", "feature", "income", True, False),
    ]
    assert all(record.levelname == "INFO" for record in drift_lines.records)


def test_a_report_published_again_unchanged_logs_nothing(
    drift_lines: pytest.LogCaptureFixture,
) -> None:
    same = report({"age": True})
    log_drift_changes({"credit": same}, {"credit": same})
    assert fields(drift_lines.records) == []


def test_the_report_board_logs_changes_on_publish_per_model(
    drift_lines: pytest.LogCaptureFixture,
) -> None:
    board = ReportBoard()
    board.publish([report({"age": True}), report({"x": False}, model="churn")])
    board.publish([report({"age": False})])  # churn is not re-published: nothing for it
    assert fields(drift_lines.records) == [
        ("drift started", "credit", "model", None, True, None),
        ("drift started", "credit", "feature", "age", True, None),
        ("drift ended", "credit", "model", None, False, True),
        ("drift ended", "credit", "feature", "age", False, True),
    ]
    board.discard("credit")  # a new reference: its next evaluation is a first one
    board.publish([report({"age": True})])
    assert fields(drift_lines.records)[-1] == (
        "drift started",
        "credit",
        "feature",
        "age",
        True,
        None,
    )
