"""Drift state changes from one evaluation of a model to the next, and their log lines.

`drift_changes` is pure: two reports in, the changes out. A feature or the prediction has a
state only when its evaluation decided one (`drifted` True or False; None below `min_records`
or when no statistic could decide). The model is drifted when at least one of its features is
(`drift_features_drifted > 0`), decided when the report is `ok` and judged some feature. A
state with no decided state before it (the model's first evaluation, or one after an
evaluation that decided nothing: too few records, a failure) is a change only when drifted, so
a first evaluation reports only what drifted.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from exporter.evaluation.report import EvaluationReport

log = logging.getLogger(__name__)

Scope = Literal["model", "feature", "prediction"]


@dataclass(frozen=True)
class DriftChange:
    """One state change: `column` is the feature or prediction column, None for the model."""

    model: str
    scope: Scope
    column: str | None
    drifted: bool
    was_drifted: bool | None  # None: nothing was decided before


def drift_changes(
    previous: EvaluationReport | None, current: EvaluationReport
) -> list[DriftChange]:
    """What changed state between `previous` (None before the first) and `current`: the
    model first, then its features in report order, then the prediction."""
    before = {} if previous is None else _states(previous)
    changes = []
    for (scope, column), drifted in _states(current).items():
        was = before.get((scope, column))
        if drifted if was is None else drifted != was:
            changes.append(DriftChange(current.model, scope, column, drifted, was))
    return changes


def _states(report: EvaluationReport) -> dict[tuple[Scope, str | None], bool]:
    states: dict[tuple[Scope, str | None], bool] = {}
    if report.status == "ok" and report.features_evaluated > 0:
        states["model", None] = report.features_drifted > 0
    for column in report.features:
        if column.drifted is not None:
            states["feature", column.name] = column.drifted
    prediction = report.prediction
    if prediction is not None and prediction.drifted is not None:
        states["prediction", prediction.name] = prediction.drifted
    return states


def log_drift_changes(
    previous: Mapping[str, EvaluationReport], current: Mapping[str, EvaluationReport]
) -> None:
    """One `drift_changed` line per change, for every model whose report in `current` is not
    the one in `previous` (a report published again unchanged logs nothing)."""
    for model, report in current.items():
        before = previous.get(model)
        if report is before:
            continue
        for change in drift_changes(before, report):
            log.info(
                "drift started" if change.drifted else "drift ended",
                extra={
                    "event": "drift_changed",
                    "model": change.model,
                    "scope": change.scope,
                    "column": change.column,
                    "drifted": change.drifted,
                    "was_drifted": change.was_drifted,
                },
            )
