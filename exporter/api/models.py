"""Models and their reference profiles: list, upload, read, delete."""

from __future__ import annotations

import time
from contextlib import suppress
from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from exporter.api.deps import BoardDep, ModelName, SettingsDep, StoreDep, read_body
from exporter.api.schemas import ERROR_RESPONSES, ReferenceRequest, json_body
from exporter.errors import InvalidInput, LimitReached
from exporter.ingest.decoding import CSV, JSON, decode_reference, media_type
from exporter.ingest.names import check_feature_name
from exporter.memory import release_freed_memory
from exporter.settings import Settings
from exporter.window.profile import ProfileError, ReferenceProfile, build_profile

router = APIRouter(prefix="/v1/models", tags=["models"])


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
    openapi_extra=json_body(ReferenceRequest, csv=True),
    responses={200: {"description": "An existing reference was replaced."}, **ERROR_RESPONSES},
)
async def put_reference(
    model: ModelName,
    request: Request,
    response: Response,
    store: StoreDep,
    board: BoardDep,
    settings: SettingsDep,
    prediction_column: str | None = None,
    label_column: str | None = None,
) -> dict[str, Any]:
    """Upload the training data; replaces the profile atomically and restarts the window."""
    cap = settings.limits.max_models
    if model not in store and len(store) >= cap:
        raise LimitReached(f"limits.max_models ({cap}) reached; delete a model first", "path.model")
    media = media_type(request.headers.get("content-type"), (JSON, CSV))
    body = await read_body(request, settings.limits.max_body_bytes)
    profile = await run_in_threadpool(
        _profile, model, body, media, settings, prediction_column, label_column
    )
    del body
    # The parse of a large upload leaves tens of MiB of freed heap behind: give it back.
    await run_in_threadpool(release_freed_memory)
    created = store.set_reference(profile)
    board.discard(model)
    state = request.app.state.state_directory
    if state is not None:  # a reference is never lost: snapshot it before answering
        await run_in_threadpool(state.save, store, model, time.time())
    response.status_code = 201 if created else 200
    return profile.summary()


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


def _profile(
    model: str,
    body: bytes,
    media: str,
    settings: Settings,
    prediction_column: str | None,
    label_column: str | None,
) -> ReferenceProfile:
    declared = settings.model_for(model)
    table = decode_reference(
        body,
        media,
        settings.limits.max_records_per_request,
        prediction_column=prediction_column
        or declared.prediction_column
        or settings.prediction_column,
        label_column=label_column or declared.label_column or settings.label_column,
        declared=declared.features,
        max_features=settings.limits.max_features_per_model,
    )
    if table.rows == 0:
        raise InvalidInput("the reference has no records", "records")
    if not table.columns:
        raise InvalidInput("the reference has no features", "records")
    cap = settings.limits.max_features_per_model
    if len(table.columns) > cap:
        raise InvalidInput(
            f"{len(table.columns)} features exceed limits.max_features_per_model ({cap})",
            "records",
            reason="limit",
        )
    where = "line 1" if media == CSV else "records[].features"
    for name in table.columns:
        check_feature_name(name, where)
    try:
        return build_profile(
            model,
            table.columns,
            table.predictions,
            table.labels,
            declared=declared.features,
            prediction_kind=declared.prediction_type,
            settings=settings.reference,
            model_settings=declared,
        )
    except ProfileError as error:
        raise InvalidInput(str(error), "records") from None
