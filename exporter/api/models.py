"""Models and their reference profiles: list, upload, read, delete."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from exporter.api.deps import BoardDep, ModelName, SettingsDep, StoreDep, read_body
from exporter.api.events import log_reference_uploaded
from exporter.api.schemas import ERROR_RESPONSES, ReferenceRequest, json_body
from exporter.errors import InvalidInput
from exporter.ingest.media import CSV, JSON, media_type
from exporter.ingest.names import check_feature_name
from exporter.ingest.reference import ReferenceTable, decode_reference
from exporter.memory import release_freed_memory
from exporter.prometheus.board import ReportBoard
from exporter.settings import ModelSettings, Settings
from exporter.window.profile import ProfileError, ReferenceProfile, build_profile
from exporter.window.store import WindowStore

router = APIRouter(prefix="/v1/models", tags=["models"])

log = logging.getLogger(__name__)

#: Words that, as a part of a column name (`y_pred`, `churn_score`, `predicted_proba`), suggest
#: the column is the model's output.
PREDICTION_WORDS = frozenset(
    {
        "score",
        "scores",
        "pred",
        "preds",
        "predicted",
        "prediction",
        "predictions",
        "ypred",
        "yhat",
        "output",
        "outputs",
        "prob",
        "probs",
        "proba",
        "probability",
        "probabilities",
        "label",
        "labels",
    }
)
#: Column names quoted in a warning or an error before the rest are only counted.
_NAMES_SHOWN = 20


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
    """Upload the training data; replaces the profile atomically and restarts the window.

    The body is the profile summary plus `prediction_drift` (whether the reference has a
    prediction to compare), `prediction_column` (where it came from) and `warnings`.
    `?prediction_column=` names the prediction's column (CSV) or feature (JSON records); 422
    when there is no such column."""
    store.check_room(model)  # before the body is read: a full store refuses at once
    media = media_type(request.headers.get("content-type"), (JSON, CSV))
    body = await read_body(request, settings.limits.max_body_bytes)
    upload = await run_in_threadpool(
        _profile, model, body, media, settings, prediction_column, label_column
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


@dataclass(frozen=True)
class _Upload:
    """A profiled reference and what the upload found out about its prediction."""

    profile: ReferenceProfile
    columns: tuple[str, ...]
    prediction_column: str | None
    warnings: list[str]


def _profile(
    model: str,
    body: bytes,
    media: str,
    settings: Settings,
    prediction_column: str | None,
    label_column: str | None,
) -> _Upload:
    """The body decoded, checked and profiled, with the warnings about its prediction."""
    declared = settings.model_for(model)
    expected, labels = _column_names(media, settings, declared, prediction_column, label_column)
    table = decode_reference(
        body,
        media,
        settings.limits.max_records_per_request,
        prediction_column=expected,
        label_column=labels,
        declared=declared.features,
        max_features=settings.limits.max_features_per_model,
    )
    _check_table(table, media, prediction_column, settings.limits.max_features_per_model)
    try:
        profile = build_profile(
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
    warnings = _prediction_warnings(table, profile, media, expected)
    return _Upload(profile, tuple(_available(table)), table.prediction_column, warnings)


def _column_names(
    media: str,
    settings: Settings,
    declared: ModelSettings,
    prediction_column: str | None,
    label_column: str | None,
) -> tuple[str, str]:
    """(prediction column, label column) to read: the query's, else the model's, else the
    config's; for JSON records the prediction is their `prediction` unless the query names a
    feature. 422 when the query names the label column as the prediction."""
    labels = label_column or declared.label_column or settings.label_column
    if media == CSV:  # the config's prediction_column names a CSV column
        expected = prediction_column or declared.prediction_column or settings.prediction_column
    else:  # JSON records carry theirs under `prediction`, or the query names a feature
        expected = prediction_column or "prediction"
    if prediction_column and prediction_column == labels:
        raise InvalidInput(
            f"{prediction_column!r} is the label column (label_column); the prediction must "
            "be another column",
            "query.prediction_column",
        )
    return expected, labels


def _check_table(
    table: ReferenceTable, media: str, prediction_column: str | None, cap: int
) -> None:
    """422 unless the table has the queried prediction column, rows, and 1..`cap` features
    with valid names."""
    if prediction_column and table.prediction_column != prediction_column:
        raise InvalidInput(
            f"no column {prediction_column!r} in the reference; its columns are "
            f"{_quoted(_available(table))}",
            "query.prediction_column",
        )
    if table.rows == 0:
        raise InvalidInput("the reference has no records", "records")
    if not table.columns:
        raise InvalidInput("the reference has no features", "records")
    if len(table.columns) > cap:
        raise InvalidInput(
            f"{len(table.columns)} features exceed limits.max_features_per_model ({cap})",
            "records",
            reason="limit",
        )
    where = "line 1" if media == CSV else "records[].features"
    for name in table.columns:
        check_feature_name(name, where)


def _prediction_warnings(
    table: ReferenceTable, profile: ReferenceProfile, media: str, expected: str
) -> list[str]:
    """Why prediction drift is off, if it is: no prediction column, or one all missing."""
    warnings = []
    if table.prediction_column is None:
        warnings.append(_no_prediction_warning(media, expected, list(table.columns)))
    elif profile.prediction is None:
        warnings.append(
            f"every value of the prediction column {table.prediction_column!r} is missing, "
            "so prediction drift is off."
        )
    return warnings


def prediction_candidates(names: Sequence[str]) -> list[str]:
    """The names with a word that suggests a model output (PREDICTION_WORDS), in order."""
    return [
        name
        for name in names
        if not PREDICTION_WORDS.isdisjoint(re.split(r"[^a-z0-9]+", name.lower()))
    ]


def _no_prediction_warning(media: str, expected: str, columns: list[str]) -> str:
    if media == CSV:
        missing = f"no column {expected!r} in the reference, so prediction drift is off."
    else:
        missing = "the records carry no 'prediction', so prediction drift is off."
    candidates = prediction_candidates(columns)
    hint = (
        f" Columns that look like a prediction: {_quoted(candidates)}; if one of them is the "
        "model's output, upload again with ?prediction_column=<name>."
        if candidates
        else " If a column is the model's output, upload again with ?prediction_column=<name>."
    )
    return f"{missing}{hint} Columns: {_quoted(columns)}."


def _available(table: ReferenceTable) -> list[str]:
    """The columns a prediction_column could name: the features, and the prediction's own."""
    names = list(table.columns)
    if table.prediction_column is not None:
        names.append(table.prediction_column)
    return names


def _quoted(names: Sequence[str]) -> str:
    shown = ", ".join(repr(name) for name in names[:_NAMES_SHOWN])
    more = len(names) - _NAMES_SHOWN
    return f"{shown} and {more} more" if more > 0 else shown or "none"
