"""MLflow scoring-server exchanges -> records, from MLflow's own published request examples.

The requests are copied literally from the `mlflow models serve` reference, the docstring of
`serve` in mlflow/mlflow `mlflow/models/cli.py` (commit 004d7de0da51), which documents the four
MLflow 2.x input formats for `/invocations`; the `inputs` column form is the one in MLflow's
"Deploy MLflow Model as a Local Inference Server" page (docs 2.x, "numpy/tensor input using TF
serving's inputs format"). Responses follow the scoring server's `predictions_to_json`
(`mlflow/pyfunc/scoring_server/__init__.py`): `{"predictions": ...}` with a DataFrame output
serialised as records.
"""

from __future__ import annotations

from typing import Any

import pytest

from exporter.api.errors import status_for
from exporter.errors import DomainError
from exporter.ingest.formats import records_from_mlflow

# mlflow/models/cli.py, `mlflow models serve` docstring: "records orientation input format for
# serializing a pandas DataFrame".
DATAFRAME_RECORDS = {"dataframe_records": [{"a": 1, "b": 2}, {"a": 3, "b": 4}, {"a": 5, "b": 6}]}
# Same docstring: "split orientation input format for serializing a pandas DataFrame".
DATAFRAME_SPLIT = {
    "dataframe_split": {"columns": ["a", "b"], "index": [0, 1, 2], "data": [[1, 2], [3, 4], [5, 6]]}
}
# Same docstring: "inputs format for List submission of array, tensor, or DataFrame data".
INPUTS_ROWS = {"inputs": [[1, 2], [3, 4], [5, 6]]}
# Same docstring: "instances format for submission of Tensor data".
INSTANCES = {
    "instances": [
        {"a": "t1", "b": [1, 2, 3]},
        {"a": "t2", "b": [4, 5, 6]},
        {"a": "t3", "b": [7, 8, 9]},
    ]
}
# MLflow docs, deploy-model-locally (2.x): "numpy/tensor input using TF serving's 'inputs' format".
INPUTS_COLUMNS = {
    "inputs": {"a": ["s1", "s2", "s3"], "b": [1, 2, 3], "c": [[1, 2, 3], [4, 5, 6], [7, 8, 9]]}
}
# MLflow's wine-quality tutorial response for one dataframe_split row (a DataFrame prediction).
DATAFRAME_PREDICTION = {"predictions": [{"0": 5.310967445373535}]}

THREE = {"predictions": [0.1, 0.2, 0.3]}


def features(records: list[Any]) -> list[dict[str, Any]]:
    return [record["features"] for record in records]


def predictions(records: list[Any]) -> list[Any]:
    return [record["prediction"] for record in records]


def error(request: Any, response: Any = THREE, **options: Any) -> DomainError:
    with pytest.raises(DomainError) as caught:
        records_from_mlflow(request, response, **options)
    assert status_for(caught.value) == 422
    return caught.value


def test_dataframe_records_name_their_own_features() -> None:
    records = records_from_mlflow(DATAFRAME_RECORDS, THREE)
    assert features(records) == [{"a": 1, "b": 2}, {"a": 3, "b": 4}, {"a": 5, "b": 6}]
    assert predictions(records) == [0.1, 0.2, 0.3]
    assert [record["id"] for record in records] == [None, None, None]


def test_dataframe_split_maps_columns_and_ignores_the_index() -> None:
    records = records_from_mlflow(DATAFRAME_SPLIT, THREE)
    assert features(records) == [{"a": 1, "b": 2}, {"a": 3, "b": 4}, {"a": 5, "b": 6}]


def test_instances_objects_keep_every_field_as_sent() -> None:
    records = records_from_mlflow(INSTANCES, THREE)
    assert features(records)[1] == {"a": "t2", "b": [4, 5, 6]}


def test_inputs_columns_become_rows() -> None:
    records = records_from_mlflow(INPUTS_COLUMNS, THREE)
    assert features(records) == [
        {"a": "s1", "b": 1, "c": [1, 2, 3]},
        {"a": "s2", "b": 2, "c": [4, 5, 6]},
        {"a": "s3", "b": 3, "c": [7, 8, 9]},
    ]


def test_tensor_rows_are_named_by_feature_names() -> None:
    records = records_from_mlflow(INPUTS_ROWS, THREE, feature_names=["x", "y"])
    assert features(records) == [{"x": 1, "y": 2}, {"x": 3, "y": 4}, {"x": 5, "y": 6}]


def test_tensor_rows_without_feature_names_are_a_422_that_says_so() -> None:
    caught = error(INPUTS_ROWS)
    assert caught.location == "request.inputs[0]"
    assert "feature_names" in caught.detail


def test_split_without_columns_uses_feature_names() -> None:
    request = {"dataframe_split": {"data": [[1, 2]]}}
    assert features(
        records_from_mlflow(request, {"predictions": [1]}, feature_names=["p", "q"])
    ) == [{"p": 1, "q": 2}]


def test_scalar_instances_need_exactly_one_feature_name() -> None:
    # MLflow's wrapped-payload table: {"instances": [1.0, 2.0, 5.0]}.
    request = {"instances": [1.0, 2.0, 5.0]}
    assert features(records_from_mlflow(request, THREE, feature_names=["x"])) == [
        {"x": 1.0},
        {"x": 2.0},
        {"x": 5.0},
    ]
    assert error(request, feature_names=["x", "y"]).location == "request.instances[0]"


def test_dataframe_prediction_takes_the_first_named_output() -> None:
    request = {"dataframe_split": {"columns": ["alcohol"], "data": [[8.8]]}}
    assert predictions(records_from_mlflow(request, DATAFRAME_PREDICTION)) == [5.310967445373535]


def test_named_outputs_pick_the_configured_output() -> None:
    response = {"predictions": [{"label": 1, "score": 0.9}, {"label": 0, "score": 0.2}]}
    request = {"dataframe_records": [{"a": 1}, {"a": 2}]}
    assert predictions(records_from_mlflow(request, response)) == [1, 0]
    assert predictions(records_from_mlflow(request, response, output_name="score")) == [0.9, 0.2]
    caught = error(request, response, output_name="proba")
    assert caught.location == "response.predictions[0]"
    assert "'label', 'score'" in caught.detail


def test_multi_output_rows_take_the_configured_index_or_the_first() -> None:
    response = {"predictions": [[0.3, 0.7], [0.9, 0.1]]}
    request = {"dataframe_records": [{"a": 1}, {"a": 2}]}
    assert predictions(records_from_mlflow(request, response)) == [0.3, 0.9]
    assert predictions(records_from_mlflow(request, response, output_index=1)) == [0.7, 0.1]
    assert error(request, response, output_index=2).location == "response.predictions[0]"


def test_dict_of_columns_prediction_is_read_column_wise() -> None:
    response = {"predictions": {"label": [1, 0], "score": [0.9, 0.2]}}
    request = {"dataframe_records": [{"a": 1}, {"a": 2}]}
    assert predictions(records_from_mlflow(request, response, output_name="score")) == [0.9, 0.2]


def test_params_and_unknown_keys_are_ignored_like_the_scoring_server() -> None:
    request = {**DATAFRAME_RECORDS, "params": {"temperature": 0.5}}
    assert len(records_from_mlflow(request, THREE)) == 3


@pytest.mark.parametrize(
    ("request_json", "location", "needle"),
    [
        ({"dataframe_records": [{"a": 1}], "instances": [{"a": 1}]}, "request", "exactly one"),
        ({"columns": ["a"], "data": [[1]]}, "request", "found none"),  # the MLflow 1.x format
        ([{"a": 1}], "request", "expected an object"),
        (
            {"dataframe_split": {"columns": ["a", "b"], "data": [[1, 2], [3]]}},
            "request.dataframe_split.data[1]",
            "1 value but columns names 2",
        ),
        (
            {"dataframe_split": {"columns": ["a"], "data": [[1]], "index": [0, 1]}},
            "request.dataframe_split.index",
            "2 labels for 1 rows",
        ),
        (
            {"dataframe_split": {"columns": [None], "data": [[1]]}},
            "request.dataframe_split.columns[0]",
            "expected a string column name",
        ),
        ({"dataframe_split": {"columns": ["a"]}}, "request.dataframe_split", "'data'"),
        (
            {"dataframe_split": {"columns": ["a"], "data": [[1]], "orient": "split"}},
            "request.dataframe_split",
            "unknown field 'orient'",
        ),
        (
            {"dataframe_records": [{"a": 1}, [2]]},
            "request.dataframe_records[1]",
            "expected an object",
        ),
        ({"inputs": {"a": [1, 2], "b": [3]}}, "request.inputs.b", "1 values but column 'a' has 2"),
        ({"inputs": {"a": 1}}, "request.inputs.a", "expected an array"),
        ({"instances": {"a": [1]}}, "request.instances", "expected an array"),
    ],
)
def test_malformed_requests_are_422_at_the_culprit(
    request_json: Any, location: str, needle: str
) -> None:
    caught = error(request_json, {"predictions": [1, 2]})
    assert caught.location == location
    assert needle in caught.detail


@pytest.mark.parametrize(
    ("response_json", "location", "needle"),
    [
        ({"prediction": [1, 2, 3]}, "response", "'predictions'"),
        ([1, 2, 3], "response", "expected an object"),
        ({"predictions": "yes"}, "response.predictions", "expected an array"),
        ({"predictions": [1, 2]}, "response.predictions", "2 predictions for 3 request rows"),
        ({"predictions": {"a": [1, 2, 3], "b": [1]}}, "response.predictions.b", "1 values"),
        ({"predictions": [[], [1], [2]]}, "response.predictions[0]", "out of range for 0"),
    ],
)
def test_malformed_responses_are_422_at_the_culprit(
    response_json: Any, location: str, needle: str
) -> None:
    caught = error(DATAFRAME_RECORDS, response_json)
    assert caught.location == location
    assert needle in caught.detail
