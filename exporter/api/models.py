"""Models and their reference profiles: list, upload, read, delete."""

from __future__ import annotations

import logging
import time
from contextlib import suppress
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from exporter.api.deps import BoardDep, ModelName, SettingsDep, StoreDep, read_body
from exporter.api.events import log_reference_uploaded
from exporter.api.schemas import ERROR_RESPONSES, ReferenceRequest, json_body
from exporter.errors import InvalidInput
from exporter.ingest.media import CSV, JSON, OCTET_STREAM, media_type
from exporter.memory import release_freed_memory
from exporter.prometheus.board import ReportBoard
from exporter.settings import Settings
from exporter.window.profile import ReferenceProfile
from exporter.window.profile_file import ProfileFileError
from exporter.window.reference_data import ProfiledReference, file_reference, profile_data
from exporter.window.store import WindowStore

router = APIRouter(prefix="/v1/models", tags=["models"])

log = logging.getLogger(__name__)


def _with_profile_file(extra: dict[str, Any]) -> dict[str, Any]:
    """The reference body's OpenAPI, plus the profile file form."""
    extra["requestBody"]["content"][OCTET_STREAM] = {
        "schema": {
            "type": "string",
            "format": "binary",
            "description": "A profile file written by `drift-exporter profile build`.",
        }
    }
    return extra


@router.get("")
async def list_models(store: StoreDep, board: BoardDep) -> dict[str, Any]:
    """Every model with its record counts, reference status and last evaluation."""
    models = []
    for model, window in store.windows():
        profile = window.profile
        report = board.get(model)
        models.append(
            {
                "model": model,
                "records_total": window.counters.records,
                "window_records": window.records,
                "reference": {
                    "rows": profile.rows,
                    "features": len(profile.features),
                    "has_prediction": profile.prediction is not None,
                    "created_at": profile.created_at,
                },
                "last_evaluation": None
                if report is None
                else {
                    "status": report.status,
                    "evaluated_at": report.evaluated_at,
                    "features_drifted": report.features_drifted,
                },
            }
        )
    return {"models": models}


@router.put(
    "/{model}/reference",
    status_code=201,
    openapi_extra=_with_profile_file(json_body(ReferenceRequest, csv=True)),
    responses={200: {"description": "An existing reference was replaced."}, **ERROR_RESPONSES},
)
async def put_reference(
    model: ModelName,
    request: Request,
    response: Response,
    store: StoreDep,
    board: BoardDep,
    settings: SettingsDep,
    prediction_column: Annotated[
        str | None,
        Query(
            description="The prediction's CSV column, or the feature of JSON records that is "
            "the prediction; default: the config's prediction_column (CSV), the records' "
            "`prediction` (JSON). 422 when there is no such column."
        ),
    ] = None,
    label_column: Annotated[
        str | None, Query(description="The label's CSV column; default: the config's.")
    ] = None,
) -> dict[str, Any]:
    """Upload the training data (JSON records or CSV), or a profile file built by
    `drift-exporter profile build` (`application/octet-stream`); replaces the profile
    atomically and restarts the window.

    The body is the profile summary plus `prediction_drift` (whether the reference has a
    prediction to compare), `prediction_column` (where it came from) and `warnings`.
    `?prediction_column=` names the prediction's column (CSV) or feature (JSON records); 422
    when there is no such column."""
    store.check_room(model)  # before the body is read: a full store refuses at once
    media = media_type(request.headers.get("content-type"), (JSON, CSV, OCTET_STREAM))
    body = await read_body(request, settings.limits.max_body_bytes)
    if media == OCTET_STREAM:
        upload = await run_in_threadpool(_profile_file, model, body, settings)
    else:
        upload = await run_in_threadpool(
            profile_data, model, body, media, settings, prediction_column, label_column
        )
    del body
    # The parse of a large upload leaves tens of MiB of freed heap behind: give it back.
    await run_in_threadpool(release_freed_memory)
    created = await _replace_reference(
        request, store, board, upload.profile, media, settings, prediction_column
    )
    response.status_code = 201 if created else 200
    if upload.warnings:
        log.warning(
            "model %s: %s",
            model,
            upload.warnings[0],
            extra={"model": model, "columns": list(upload.columns)},
        )
    return {
        **upload.profile.summary(),
        "prediction_drift": upload.profile.prediction is not None,
        "prediction_column": upload.prediction_column,
        "warnings": upload.warnings,
    }


async def _replace_reference(
    request: Request,
    store: WindowStore,
    board: ReportBoard,
    profile: ReferenceProfile,
    media: str,
    settings: Settings,
    prediction_column: str | None,
) -> bool:
    """Install the profile (restarting the window), log it, drop the model's last report and
    snapshot it; True when the model is new."""
    model = profile.model
    created = store.set_reference(profile)
    log_reference_uploaded(
        profile,
        replaced=not created,
        media=media,
        settings=settings,
        prediction_column=prediction_column,
    )
    board.discard(model)
    state = request.app.state.state_directory
    if state is not None:  # a reference is never lost: snapshot it before answering
        await run_in_threadpool(state.save, store, model, time.time())
    return created


def _profile_file(model: str, body: bytes, settings: Settings) -> ProfiledReference:
    """A profile file's bytes as the model's reference; 422 naming what is wrong with it."""
    try:
        return file_reference(model, body, settings, "body")
    except ProfileFileError as error:
        raise InvalidInput(error.problem, "body") from None


@router.get("/{model}/reference", responses=ERROR_RESPONSES)
async def get_reference(model: ModelName, store: StoreDep) -> dict[str, Any]:
    """The profile: features, types, bin edges, categories, rows."""
    return store.get(model).profile.summary()


@router.delete("/{model}", status_code=204, responses=ERROR_RESPONSES)
async def delete_model(
    model: ModelName, store: StoreDep, board: BoardDep, request: Request
) -> Response:
    """Forget a model: its reference, window, counters and series."""
    store.delete(model)
    with suppress(KeyError):  # never evaluated: no histogram child to remove
        request.app.state.evaluation_duration.remove(model)
    board.discard(model)  # re-renders without its report and duration series
    if request.app.state.state_directory is not None:
        request.app.state.state_directory.remove(model)
    return Response(status_code=204)
