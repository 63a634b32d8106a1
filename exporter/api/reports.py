"""Drift reports: evaluate now, or read the last evaluation."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from exporter.api.deps import BoardDep, ModelName, SchedulerDep, SettingsDep, StoreDep
from exporter.api.schemas import ERROR_RESPONSES
from exporter.errors import UnknownModel

router = APIRouter(prefix="/v1/models", tags=["reports"])


@router.post("/{model}/evaluate", responses=ERROR_RESPONSES)
async def evaluate_now(model: ModelName, scheduler: SchedulerDep) -> dict[str, Any]:
    """Evaluate the model's window now (in a worker thread) and return the report."""
    report = await run_in_threadpool(scheduler.evaluate_now, model)
    return report.to_dict()


@router.get("/{model}/drift", responses=ERROR_RESPONSES)
async def last_report(
    model: ModelName, store: StoreDep, board: BoardDep, settings: SettingsDep
) -> dict[str, Any]:
    """The last evaluation: per feature every statistic, p-value, threshold and drift flag."""
    store.get(model)
    report = board.get(model)
    if report is None:
        raise UnknownModel(
            f"model {model!r} has not been evaluated since its reference was uploaded; "
            f"evaluation runs every {settings.evaluation_interval_seconds:g} s, or "
            f"POST /v1/models/{model}/evaluate",
            "path.model",
        )
    return report.to_dict()
