"""Pydantic models of the request and response bodies, for the OpenAPI document.

Ingest does not validate through these (validating 1,000 records one model at a time costs more
than everything else on the path); `ingest/records.py` and `ingest/reference.py` check the same
shapes batch-wise. They document the contract and let schema-driven clients and fuzzers know it.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

Scalar = float | int | str | bool | None


class PredictionRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str | int | None = Field(None, description="Joins later ground truth to this record.")
    timestamp: float | str | None = Field(
        None, description="Event time: epoch seconds or RFC 3339 with an offset."
    )
    features: dict[str, Any] = Field(description="Feature name -> value as served.")
    prediction: Any = Field(None, description="The model's output: a score or a class.")
    label: Scalar = Field(
        None, description="Ground truth, when known at logging time (joined at once)."
    )
    latency_seconds: float | None = Field(
        None, ge=0, description="The model server's latency for this prediction, seconds."
    )


class PredictionsRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    records: list[PredictionRecord]


class ReferenceRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")

    features: dict[str, Any]
    prediction: Any = None
    label: Any = None


class ReferenceRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    records: list[ReferenceRecord]


class LabelRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str | int = Field(description="The `id` of the prediction record this label belongs to.")
    label: str | int | float | bool = Field(description="The true class or target value.")


class LabelsRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    labels: list[LabelRecord]


class Accepted(BaseModel):
    accepted: int = Field(description="Records counted into the window.")


class LabelsAccepted(BaseModel):
    accepted: int = Field(description="Labels received.")
    matched: int = Field(description="Labels joined to a waiting prediction.")
    unmatched: int = Field(
        description="Labels with no waiting prediction: unknown or expired id, or already labelled."
    )


class ErrorBody(BaseModel):
    detail: str = Field(description="What is wrong, prefixed by where.")
    location: str | None = Field(
        None, description="Where: records[3].features, line 17, header.content-type, ..."
    )


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": description}
    for status, description in (
        (400, "The body is not valid JSON, NDJSON or CSV."),
        (404, "Unknown model."),
        (409, "A configured limit was reached."),
        (413, "The body or the batch is over the configured limit."),
        (415, "Unsupported Content-Type."),
        (422, "The body has the wrong shape, or a name is unsafe."),
    )
}


def json_body(model: type[BaseModel], *, csv: bool = False, ndjson: bool = False) -> dict[str, Any]:
    """`openapi_extra` documenting a body that the handler reads and checks itself."""
    schema = model.model_json_schema()
    content: dict[str, Any] = {"application/json": {"schema": _inlined(schema)}}
    if ndjson:
        name = next(iter(schema["$defs"]))
        content["application/x-ndjson"] = {
            "schema": {"type": "string", "description": f"One {name} JSON object per line."}
        }
    if csv:
        content["text/csv"] = {
            "schema": {"type": "string", "description": "A header row, then one row per record."}
        }
    return {"requestBody": {"required": True, "content": content}}


def _inlined(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` with every `#/$defs/...` reference replaced by its definition.

    A request body's own `$defs` are not resolvable inside an OpenAPI document (ReDoc stops
    with "Invalid reference token: $defs"); these bodies' models nest without cycles.
    """
    definitions = schema.get("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            reference = node.get("$ref")
            if isinstance(reference, str) and reference.startswith("#/$defs/"):
                return resolve(definitions[reference.removeprefix("#/$defs/")])
            return {key: resolve(value) for key, value in node.items() if key != "$defs"}
        if isinstance(node, list):
            return [resolve(item) for item in node]
        return node

    resolved: dict[str, Any] = resolve(schema)
    return resolved
