"""MLflow scoring server (`mlflow models serve`, `/invocations`) requests and responses -> records.

The request is one of the four MLflow 2.x input formats, exactly one key per request (an
optional `params` object and other keys are ignored, as the scoring server ignores them):

* `dataframe_split`: `{"columns": [...], "data": [[...], ...], "index": [...]}` (pandas "split");
  without `columns`, the rows are named by `feature_names`;
* `dataframe_records`: `[{"a": 1, "b": 2}, ...]` (pandas "records");
* `instances`: TF-serving rows, objects (named) or arrays / single values (named by
  `feature_names`);
* `inputs`: TF-serving columns `{"a": [...], "b": [...]}`, or rows as for `instances`.

The response is `{"predictions": ...}`: an array with one entry per row (a scalar, an array of
outputs, or an object of named outputs, which is how a DataFrame prediction is serialised), or an
object of equal-length columns (a dict-of-arrays prediction).

Our envelope is `{"request": <the MLflow request>, "response": <the MLflow response>}`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from exporter.ingest.formats._common import (
    Record,
    columns_to_features,
    expect_array,
    expect_object,
    fail,
    pair,
    row_ids,
    rows_to_features,
    select_output,
)
from exporter.ingest.kinds import json_kind as kind

FORMAT_KEYS = ("dataframe_split", "dataframe_records", "instances", "inputs")


def records_from_mlflow(
    request: Any,
    response: Any,
    *,
    feature_names: Sequence[str] | None = None,
    output_name: str | None = None,
    output_index: int | None = None,
) -> list[Record]:
    """The records one MLflow `/invocations` exchange served.

    `feature_names` names the values of rows that carry no column names (`inputs` /
    `instances` arrays, `dataframe_split` without `columns`); `output_name` / `output_index`
    pick the monitored prediction out of named or multi-output predictions (default: the first).
    """
    features = request_features(request, feature_names, "request")
    predictions = response_predictions(response, output_name, output_index, "response")
    return pair(features, predictions, row_ids(None, len(features)), "response.predictions")


def request_features(
    request: Any, feature_names: Sequence[str] | None, location: str
) -> list[dict[str, Any]]:
    """The feature dicts of an MLflow scoring request, one per row."""
    document = expect_object(request, location)
    present = [key for key in FORMAT_KEYS if key in document]
    if len(present) != 1:
        found = ", ".join(map(repr, present)) if present else "none"
        fail(
            f"expected exactly one of {', '.join(FORMAT_KEYS)} (the MLflow 2.x input formats); "
            f"found {found}",
            location,
        )
    key = present[0]
    where = f"{location}.{key}"
    value = document[key]
    if key == "dataframe_split":
        return _split(value, feature_names, where)
    if key == "dataframe_records":
        rows = expect_array(value, where)
        for i, row in enumerate(rows):
            expect_object(row, f"{where}[{i}]")
        return rows_to_features(rows, None, where)
    if type(value) is dict and key == "inputs":
        return columns_to_features(value, where)
    if type(value) is not list:
        expected = "an array of rows or an object of columns" if key == "inputs" else "an array"
        fail(f"expected {expected}, got {kind(value)}", where)
    return rows_to_features(value, feature_names, where)


def response_predictions(
    response: Any, output_name: str | None, output_index: int | None, location: str
) -> list[Any]:
    """One monitored prediction per row from an MLflow `{"predictions": ...}` response."""
    document = expect_object(response, location)
    if "predictions" not in document:
        fail("missing required field 'predictions'", location)
    where = f"{location}.predictions"
    predictions = document["predictions"]
    if type(predictions) is dict:
        # A dict-of-arrays prediction: one equal-length column per named output.
        rows = columns_to_features(predictions, where)
        return [
            select_output(row, output_name, output_index, f"{where}[{i}]")
            for i, row in enumerate(rows)
        ]
    rows = expect_array(predictions, where)
    return [
        select_output(value, output_name, output_index, f"{where}[{i}]")
        for i, value in enumerate(rows)
    ]


def _split(value: Any, feature_names: Sequence[str] | None, location: str) -> list[dict[str, Any]]:
    split = expect_object(value, location)
    unknown = split.keys() - {"columns", "data", "index"}
    if unknown:
        fail(
            f"unknown field {sorted(unknown)[0]!r}; pandas 'split' has columns, data, index",
            location,
        )
    if "data" not in split:
        fail("missing required field 'data'", location)
    rows = expect_array(split["data"], f"{location}.data")
    if "index" in split:
        index = expect_array(split["index"], f"{location}.index")
        if len(index) != len(rows):
            fail(f"index has {len(index)} labels for {len(rows)} rows", f"{location}.index")
    if "columns" not in split:
        return rows_to_features(rows, feature_names, f"{location}.data")
    columns = expect_array(split["columns"], f"{location}.columns")
    names: list[str] = []
    for i, column in enumerate(columns):
        if type(column) is str:
            names.append(column)
        elif type(column) is int:
            names.append(str(column))
        else:
            fail(f"expected a string column name, got {kind(column)}", f"{location}.columns[{i}]")
    for i, row in enumerate(rows):
        expect_array(row, f"{location}.data[{i}]")
    return rows_to_features(rows, names, f"{location}.data", named_by="columns")
