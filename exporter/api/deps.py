"""Annotated dependencies over app.state: handlers declare what they use, tests swap apps."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from exporter.errors import InputTooLarge, MalformedInput
from exporter.evaluation.scheduler import EvaluationScheduler
from exporter.ingest.names import check_model_name
from exporter.prometheus.board import ReportBoard
from exporter.settings import Settings
from exporter.window.store import WindowStore


async def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def _store(request: Request) -> WindowStore:
    store: WindowStore = request.app.state.store
    return store


async def _board(request: Request) -> ReportBoard:
    board: ReportBoard = request.app.state.board
    return board


async def _scheduler(request: Request) -> EvaluationScheduler:
    scheduler: EvaluationScheduler = request.app.state.scheduler
    return scheduler


async def _model_name(model: str) -> str:
    return check_model_name(model)


SettingsDep = Annotated[Settings, Depends(_settings)]
StoreDep = Annotated[WindowStore, Depends(_store)]
BoardDep = Annotated[ReportBoard, Depends(_board)]
SchedulerDep = Annotated[EvaluationScheduler, Depends(_scheduler)]
ModelName = Annotated[str, Depends(_model_name)]


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refused with 413 as soon as it passes `limit` bytes (never read whole first)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            length = int(declared)
        except ValueError:
            raise MalformedInput(
                f"invalid Content-Length {declared[:32]!r}", "header.content-length"
            ) from None
        if length > limit:
            raise _too_large(length, limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(size, limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(size: int, limit: int) -> InputTooLarge:
    return InputTooLarge(f"body of {size}+ bytes exceeds limits.max_body_bytes ({limit})", "body")
