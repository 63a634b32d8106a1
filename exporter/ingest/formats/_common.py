"""Shared pieces of the foreign-payload converters: records, rows, outputs and error locations.

Every converter is a pure function from parsed JSON to a list of `Record`s. It checks the shape
of the whole payload before returning, and names the first problem it finds with a location
such as `request.dataframe_split.data[3]`, so a rejected request changes nothing. Values inside
well-shaped rows are not judged here: a string where the reference has numbers is data quality,
counted by the store, exactly as for our own JSON.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NoReturn, TypedDict

from exporter.errors import InvalidInput
from exporter.ingest.kinds import json_kind as kind


class _RecordFields(TypedDict):
    features: dict[str, Any]
    prediction: Any
    id: str | None


class Record(_RecordFields, total=False):
    """One served prediction in our own terms; `timestamp` (epoch seconds) only when known."""

    timestamp: float | None


def fail(detail: str, location: str) -> NoReturn:
    """A 422 at `location`: the payload is JSON, but not the shape the format defines."""
    raise InvalidInput(detail, location)


def expect_object(value: Any, location: str) -> dict[str, Any]:
    if type(value) is not dict:
        fail(f"expected an object, got {kind(value)}", location)
    return value


def expect_array(value: Any, location: str) -> list[Any]:
    if type(value) is not list:
        fail(f"expected an array, got {kind(value)}", location)
    return value


def rows_to_features(
    rows: list[Any],
    feature_names: Sequence[str] | None,
    location: str,
    named_by: str = "feature_names",
) -> list[dict[str, Any]]:
    """Row-oriented input as feature dicts.

    A row is an object (it names its own features), an array (its values are named, in order,
    by `feature_names`) or a single value (named by a one-element `feature_names`).
    """
    features: list[dict[str, Any]] = []
    for i, row in enumerate(rows):
        if type(row) is dict:
            features.append(row)
            continue
        if feature_names is None:
            fail(
                f"row is {kind(row)} without column names; pass feature_names "
                "(?feature_names=a,b,c) to name its values in order",
                f"{location}[{i}]",
            )
        values = row if type(row) is list else [row]
        if len(values) != len(feature_names):
            fail(
                f"row has {len(values)} value{'s' * (len(values) != 1)} but {named_by} "
                f"names {len(feature_names)}",
                f"{location}[{i}]",
            )
        features.append(dict(zip(feature_names, values, strict=True)))
    return features


def columns_to_features(columns: dict[str, Any], location: str) -> list[dict[str, Any]]:
    """Column-oriented input (`{"a": [1, 2], "b": [3, 4]}`) as one feature dict per row."""
    length: int | None = None
    first = ""
    for name, values in columns.items():
        column = expect_array(values, f"{location}.{name}")
        if length is None:
            length, first = len(column), name
        elif len(column) != length:
            fail(
                f"column has {len(column)} values but column {first!r} has {length}",
                f"{location}.{name}",
            )
    if length is None:
        fail("expected at least one column", location)
    names = list(columns)
    return [{name: columns[name][i] for name in names} for i in range(length)]


def select_output(
    value: Any, output_name: str | None, output_index: int | None, location: str
) -> Any:
    """The one prediction to monitor out of a row's outputs.

    A scalar is the prediction; an array (multi-output) gives element `output_index` (the first
    when not configured); an object (named outputs) gives `output_name` (the first when not
    configured), and element `output_index` of it if that output is itself an array.
    """
    if type(value) is list:
        index = 0 if output_index is None else output_index
        if not -len(value) <= index < len(value):
            fail(
                f"output_index {index} is out of range for {len(value)} outputs",
                location,
            )
        return value[index]
    if type(value) is dict:
        if output_name is None:
            if not value:
                fail("expected at least one named output", location)
            output_name = next(iter(value))
        if output_name not in value:
            fail(
                f"no output named {output_name!r}; outputs: {', '.join(map(repr, value))}",
                location,
            )
        chosen = value[output_name]
        # A named output that is itself multi-output (class probabilities): index into it.
        if type(chosen) is list:
            return select_output(chosen, None, output_index, location)
        return chosen
    return value


def row_ids(base: str | None, rows: int) -> list[str | None]:
    """Per-record ids from a request id: the id itself for one row, `<id>-<row>` for a batch."""
    if base is None:
        return [None] * rows
    if rows == 1:
        return [base]
    return [f"{base}-{i}" for i in range(rows)]


def pair(
    features: list[dict[str, Any]],
    predictions: list[Any],
    ids: list[str | None],
    location: str,
    timestamp: float | None = None,
) -> list[Record]:
    """Request rows and response predictions as records, after checking they match one-to-one."""
    if len(predictions) != len(features):
        fail(
            f"{len(predictions)} prediction{'s' * (len(predictions) != 1)} for "
            f"{len(features)} request row{'s' * (len(features) != 1)}",
            location,
        )
    records: list[Record] = []
    for values, prediction, record_id in zip(features, predictions, ids, strict=True):
        record: Record = {"features": values, "prediction": prediction, "id": record_id}
        if timestamp is not None:
            record["timestamp"] = timestamp
        records.append(record)
    return records


def optional_id(value: Any, location: str) -> str | None:
    """A request/response `id`: absent, a string, or an integer (kept as its decimal string)."""
    if value is None or type(value) is str:
        return value
    if type(value) is int:
        return str(value)
    fail(f"expected a string, got {kind(value)}", location)
