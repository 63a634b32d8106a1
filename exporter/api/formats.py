"""Served traffic in foreign formats: MLflow and Open Inference Protocol exchanges, KServe events.

Each route reads the body under `limits.max_body_bytes`, converts the whole payload (a 4xx names
the first problem and changes nothing), then appends one PredictionBatch, as `POST predictions`
does. Tensor-style inputs carry no column names; `?feature_names=a,b,c` supplies them, and
`?output=` / `?output_index=` pick the monitored prediction out of multi-output responses.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query, Request, Response

from exporter.api.deps import ModelName, SettingsDep, StoreDep, read_body
from exporter.api.schemas import ERROR_RESPONSES, Accepted
from exporter.errors import InputTooLarge, InvalidInput, MalformedInput
from exporter.ingest.formats import Record, records_from_mlflow, records_from_oip
from exporter.ingest.formats.cloudevents import CloudEventJoiner, parse_event
from exporter.ingest.media import JSON, media_type
from exporter.ingest.names import check_feature_name
from exporter.ingest.records import PredictionBatch
from exporter.settings import Settings
from exporter.window.store import WindowStore

router = APIRouter(tags=["formats"])

FeatureNamesQuery = Annotated[
    str | None,
    Query(
        description="Comma-separated names for the columns of tensor / list-of-lists inputs, "
        "in order: `?feature_names=age,income,country`."
    ),
]
OutputQuery = Annotated[
    str | None,
    Query(description="The output (named prediction) to monitor; default: the first."),
]
OutputIndexQuery = Annotated[
    str | None,
    Query(description="The column of a multi-output prediction to monitor; default: 0."),
]

_ENVELOPE_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["request", "response"],
                    "properties": {
                        "request": {"type": "object", "description": "The request, as sent."},
                        "response": {"type": "object", "description": "The response, as sent."},
                    },
                    "additionalProperties": False,
                }
            }
        },
    }
}


def _cloudevent_joiner(request: Request) -> CloudEventJoiner:
    """The app's joiner, built by the lifespan from `cloudevents.*`."""
    joiner: CloudEventJoiner = request.app.state.cloudevent_joiner
    return joiner


JoinerDep = Annotated[CloudEventJoiner, Depends(_cloudevent_joiner)]


@router.post(
    "/v1/models/{model}/predictions/mlflow",
    status_code=202,
    response_model=Accepted,
    openapi_extra=_ENVELOPE_BODY,
    responses=ERROR_RESPONSES,
)
async def post_mlflow(
    model: ModelName,
    request: Request,
    store: StoreDep,
    settings: SettingsDep,
    feature_names: FeatureNamesQuery = None,
    output: OutputQuery = None,
    output_index: OutputIndexQuery = None,
) -> Response:
    """Log an MLflow scoring-server exchange: `{"request": <MLflow request>, "response":
    <MLflow response>}` (dataframe_split, dataframe_records, instances or inputs)."""
    return await _log_exchange(
        records_from_mlflow, model, request, store, settings, feature_names, output, output_index
    )


@router.post(
    "/v1/models/{model}/predictions/oip",
    status_code=202,
    response_model=Accepted,
    openapi_extra=_ENVELOPE_BODY,
    responses=ERROR_RESPONSES,
)
async def post_oip(
    model: ModelName,
    request: Request,
    store: StoreDep,
    settings: SettingsDep,
    feature_names: FeatureNamesQuery = None,
    output: OutputQuery = None,
    output_index: OutputIndexQuery = None,
) -> Response:
    """Log an Open Inference Protocol (KServe V2, Triton, MLServer) exchange: `{"request":
    <inference request>, "response": <inference response>}`."""
    return await _log_exchange(
        records_from_oip, model, request, store, settings, feature_names, output, output_index
    )


async def _log_exchange(
    convert: Callable[..., list[Record]],
    model: str,
    request: Request,
    store: WindowStore,
    settings: Settings,
    feature_names: str | None,
    output: str | None,
    output_index: str | None,
) -> Response:
    """Read a `{"request", "response"}` envelope, convert it whole, then append it."""
    window = store.get(model)
    names, index = _feature_names(feature_names), _output_index(output_index)
    media_type(request.headers.get("content-type"), (JSON,))
    body = await read_body(request, settings.limits.max_body_bytes)
    sent, answered = _envelope(body)
    records = convert(sent, answered, feature_names=names, output_name=output, output_index=index)
    return _accepted(window.append(_batch(records, settings.limits.max_records_per_request)))


@router.post(
    "/v1/cloudevents",
    status_code=200,
    response_model=Accepted,
    responses=ERROR_RESPONSES,
)
async def post_cloudevent(
    request: Request,
    store: StoreDep,
    settings: SettingsDep,
    joiner: JoinerDep,
    feature_names: FeatureNamesQuery = None,
    output: OutputQuery = None,
    output_index: OutputIndexQuery = None,
) -> Response:
    """KServe inference-logger sink (binary or structured CloudEvents 1.0). The model is the
    event's `ce-inferenceservicename`; `{"accepted": 0}` while an event waits for its other
    half, `{"accepted": n}` once request and response are paired. Answers 200, not 202:
    KServe's logger treats any other status as a failed delivery and logs it as an error."""
    names, index = _feature_names(feature_names), _output_index(output_index)
    body = await read_body(request, settings.limits.max_body_bytes)
    event = parse_event(request.headers, body)
    window = store.get(event.service)
    paired = joiner.add(
        event,
        feature_names=names,
        output_name=output,
        output_index=index,
        max_records=settings.limits.max_records_per_request,
    )
    if paired is None:
        return _accepted(0, status=200)
    _, records = paired
    batch = _batch(records, settings.limits.max_records_per_request)
    return _accepted(window.append(batch), status=200)


def _envelope(body: bytes) -> tuple[Any, Any]:
    """`{"request": ..., "response": ...}`: the exchange as the model server saw it."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise MalformedInput(f"invalid JSON: {error}", "body") from None
    if type(document) is not dict:
        raise InvalidInput('expected an object {"request": ..., "response": ...}', "body")
    unknown = document.keys() - {"request", "response"}
    if unknown:
        raise InvalidInput(f"unknown field {sorted(unknown)[0]!r}", "body")
    for field in ("request", "response"):
        if field not in document:
            raise InvalidInput(f"missing required field {field!r}", "body")
    return document["request"], document["response"]


def _batch(records: list[Record], max_records: int) -> PredictionBatch:
    if len(records) > max_records:
        raise InputTooLarge(
            f"{len(records)} records exceed limits.max_records_per_request ({max_records}); "
            "split the batch",
            "body",
        )
    return PredictionBatch(
        features=[record["features"] for record in records],
        predictions=[record["prediction"] for record in records],
        ids=[record["id"] for record in records],
        timestamps=[record.get("timestamp") for record in records],
    )


def _feature_names(raw: str | None) -> tuple[str, ...] | None:
    if raw is None:
        return None
    names = tuple(name.strip() for name in raw.split(","))
    for name in names:
        check_feature_name(name, "query.feature_names")
    duplicated = sorted({name for name in names if names.count(name) > 1})
    if duplicated:
        raise InvalidInput(f"duplicate feature name {duplicated[0]!r}", "query.feature_names")
    return names


def _output_index(raw: str | None) -> int | None:
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        raise InvalidInput(f"expected an integer, got {raw[:32]!r}", "query.output_index") from None


def _accepted(count: int, status: int = 202) -> Response:
    return Response(b'{"accepted":%d}' % count, status_code=status, media_type="application/json")
