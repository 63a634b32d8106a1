"""Open Inference Protocol exchanges -> records, from the protocol's published examples.

Sources, copied literally (only JSON syntax slips fixed, as noted):

* SPEC: the "Inference Request Examples" of the Open Inference Protocol REST spec,
  kserve/open-inference-protocol `specification/protocol/inference_rest.md` (commit
  011728e1fe18). Its request is itself inconsistent (input1 declares shape [3] but holds one
  element), which makes it a malformed case; its response lacks a comma after `"id" : "42"`.
* KSERVE_IRIS: KServe's "Deploy Scikit-learn models with InferenceService" (Open Inference
  Protocol), kserve/website `docs/modelserving/v1beta1/sklearn/v2/README.md` (commit
  03c546c623e6): `iris-input-v2.json` and the expected output.
* MLSERVER_TABLE / MLSERVER_PANDAS: MLServer's "Content Types (and Codecs)",
  SeldonIO/MLServer `docs/user-guide/content-type.md` (commit 093890495720); trailing commas
  dropped. Its Pandas example declares shape [3] for four elements: another malformed case.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from exporter.api.errors import status_for
from exporter.errors import DomainError
from exporter.ingest.formats import records_from_oip

SPEC_REQUEST = {
    "id": "42",
    "inputs": [
        {"name": "input0", "shape": [2, 2], "datatype": "UINT32", "data": [1, 2, 3, 4]},
        {"name": "input1", "shape": [3], "datatype": "BOOL", "data": [True]},
    ],
    "outputs": [{"name": "output0"}],
}
SPEC_RESPONSE = {
    "id": "42",
    "outputs": [
        {
            "name": "output0",
            "shape": [3, 2],
            "datatype": "FP32",
            "data": [1.0, 1.1, 2.0, 2.1, 3.0, 3.1],
        }
    ],
}
KSERVE_IRIS_REQUEST = {
    "inputs": [
        {
            "name": "input-0",
            "shape": [2, 4],
            "datatype": "FP32",
            "data": [[6.8, 2.8, 4.8, 1.4], [6.0, 3.4, 4.5, 1.6]],
        }
    ]
}
KSERVE_IRIS_RESPONSE = {
    "id": "823248cc-d770-4a51-9606-16803395569c",
    "model_name": "sklearn-v2-iris",
    "model_version": "v1.0.0",
    "outputs": [
        {"data": [1, 1], "datatype": "INT64", "name": "predict", "parameters": None, "shape": [2]}
    ],
}
IRIS = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
MLSERVER_TABLE_REQUEST = {
    "parameters": {"content_type": "pd"},
    "inputs": [
        {
            "name": "First Name",
            "datatype": "BYTES",
            "parameters": {"content_type": "str"},
            "shape": [2],
            "data": ["Joanne", "Michael"],
        },
        {"name": "Age", "datatype": "INT32", "shape": [2], "data": [34, 22]},
    ],
}
MLSERVER_PANDAS_REQUEST = {
    "parameters": {"content_type": "pd"},
    "inputs": [
        {"name": "A", "data": ["a1", "a2", "a3", "a4"], "datatype": "BYTES", "shape": [3]},
        {"name": "B", "data": ["b1", "b2", "b3", "b4"], "datatype": "BYTES", "shape": [3]},
        {"name": "C", "data": ["c1", "c2", "c3", "c4"], "datatype": "BYTES", "shape": [3]},
    ],
}
# A response for the two-row MLServer table, written for this test in the protocol's shape.
TWO_SCORES = {
    "model_name": "people",
    "id": "req-9",
    "outputs": [{"name": "score", "shape": [2, 1], "datatype": "FP64", "data": [0.25, 0.75]}],
}


def error(request: Any, response: Any, **options: Any) -> DomainError:
    with pytest.raises(DomainError) as caught:
        records_from_oip(request, response, **options)
    assert status_for(caught.value) == 422
    return caught.value


def test_kserve_iris_example_maps_the_2d_tensor_columns_by_feature_names() -> None:
    records = records_from_oip(KSERVE_IRIS_REQUEST, KSERVE_IRIS_RESPONSE, feature_names=IRIS)
    assert [record["features"] for record in records] == [
        dict(zip(IRIS, [6.8, 2.8, 4.8, 1.4], strict=True)),
        dict(zip(IRIS, [6.0, 3.4, 4.5, 1.6], strict=True)),
    ]
    assert [record["prediction"] for record in records] == [1, 1]
    # The request has no id, so the server's id names the rows.
    assert [record["id"] for record in records] == [
        "823248cc-d770-4a51-9606-16803395569c-0",
        "823248cc-d770-4a51-9606-16803395569c-1",
    ]


def test_kserve_iris_example_without_feature_names_says_what_to_pass() -> None:
    caught = error(KSERVE_IRIS_REQUEST, KSERVE_IRIS_RESPONSE)
    assert caught.location == "request.inputs[0].shape"
    assert "feature_names" in caught.detail and "4 column names" in caught.detail


def test_mlserver_table_is_one_tensor_per_feature() -> None:
    records = records_from_oip(MLSERVER_TABLE_REQUEST, TWO_SCORES)
    assert [record["features"] for record in records] == [
        {"First Name": "Joanne", "Age": 34},
        {"First Name": "Michael", "Age": 22},
    ]
    assert [record["prediction"] for record in records] == [0.25, 0.75]
    assert [record["id"] for record in records] == ["req-9-0", "req-9-1"]


def test_n_by_1_tensors_are_features_too() -> None:
    request = copy.deepcopy(MLSERVER_TABLE_REQUEST)
    for item in request["inputs"]:
        item["shape"] = [2, 1]
    assert records_from_oip(request, TWO_SCORES)[1]["features"] == {
        "First Name": "Michael",
        "Age": 22,
    }


def test_one_row_request_keeps_its_id() -> None:
    request = {
        "id": "abc",
        "inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [0.5]}],
    }
    response = {"outputs": [{"name": "y", "shape": [1], "datatype": "FP32", "data": [0.1]}]}
    assert records_from_oip(request, response) == [
        {"features": {"x": 0.5}, "prediction": 0.1, "id": "abc"}
    ]


def test_spec_response_columns_are_picked_by_output_index() -> None:
    request = {
        "id": "42",
        "inputs": [{"name": "input0", "shape": [3], "datatype": "UINT32", "data": [1, 2, 3]}],
    }
    assert [r["prediction"] for r in records_from_oip(request, SPEC_RESPONSE)] == [1.0, 2.0, 3.0]
    assert [r["prediction"] for r in records_from_oip(request, SPEC_RESPONSE, output_index=1)] == [
        1.1,
        2.1,
        3.1,
    ]
    assert error(request, SPEC_RESPONSE, output_index=2).location == "response.outputs[0].shape"


def test_output_name_selects_among_several_outputs() -> None:
    request = MLSERVER_TABLE_REQUEST
    response = {
        "outputs": [
            {"name": "label", "shape": [2], "datatype": "BYTES", "data": ["no", "yes"]},
            {"name": "score", "shape": [2], "datatype": "FP32", "data": [0.2, 0.9]},
        ]
    }
    assert [r["prediction"] for r in records_from_oip(request, response)] == ["no", "yes"]
    picked = records_from_oip(request, response, output_name="score")
    assert [r["prediction"] for r in picked] == [0.2, 0.9]
    caught = error(request, response, output_name="proba")
    assert caught.location == "response.outputs"
    assert "'label', 'score'" in caught.detail


def test_spec_request_example_is_rejected_for_its_shape_data_mismatch() -> None:
    caught = error(SPEC_REQUEST, SPEC_RESPONSE)
    assert caught.location == "request.inputs[1].data"
    assert caught.detail == "shape [3] holds 3 elements, data has 1"


def test_mlserver_pandas_example_is_rejected_for_its_shape_data_mismatch() -> None:
    caught = error(MLSERVER_PANDAS_REQUEST, TWO_SCORES)
    assert caught.location == "request.inputs[0].data"
    assert caught.detail == "shape [3] holds 3 elements, data has 4"


def tensor(**changes: Any) -> dict[str, Any]:
    return {"name": "x", "shape": [2], "datatype": "FP32", "data": [1.0, 2.0], **changes}


ONE_OUTPUT = {"outputs": [{"name": "y", "shape": [2], "datatype": "FP32", "data": [0.1, 0.2]}]}


@pytest.mark.parametrize(
    ("inputs", "location", "needle"),
    [
        ([tensor(datatype="FLOAT32")], "request.inputs[0].datatype", "unknown datatype"),
        ([tensor(data=[1.0, "2"])], "request.inputs[0].data", "element 1 (row-major) is a string"),
        ([tensor(data=[1.0, None])], "request.inputs[0].data", "FP32 needs a number"),
        ([tensor(datatype="INT8", data=[1, 300])], "request.inputs[0].data", "-128..127"),
        ([tensor(datatype="UINT8", data=[1, -1])], "request.inputs[0].data", "0..255"),
        ([tensor(datatype="INT64", data=[1, 2.5])], "request.inputs[0].data", "a number 2.5"),
        ([tensor(datatype="BOOL", data=[True, 1])], "request.inputs[0].data", "a boolean"),
        ([tensor(datatype="BYTES", data=["a", 1])], "request.inputs[0].data", "a string"),
        ([tensor(shape=[-1])], "request.inputs[0].shape[0]", "non-negative integer"),
        ([tensor(shape=[])], "request.inputs[0].shape", "at least one dimension"),
        ([tensor(shape=[2, 1, 1])], "request.inputs[0].shape", "shape [2, 1, 1]"),
        ([{"name": "x", "shape": [2], "data": [1, 2]}], "request.inputs[0]", "'datatype'"),
        ([tensor(name=3)], "request.inputs[0].name", "expected a string"),
        ([tensor(), tensor()], "request.inputs[1].name", "duplicate input name 'x'"),
        (
            [tensor(), tensor(name="z", shape=[3], data=[1, 2, 3])],
            "request.inputs[1].shape",
            "3 rows but input 'x' has 2",
        ),
        ([], "request.inputs", "at least one input"),
        ("x", "request.inputs", "expected an array"),
    ],
)
def test_malformed_inputs_are_422_at_the_culprit(inputs: Any, location: str, needle: str) -> None:
    caught = error({"inputs": inputs}, ONE_OUTPUT)
    assert caught.location == location
    assert needle in caught.detail


def test_feature_names_must_match_the_tensor_width_and_a_single_input() -> None:
    wide = {"inputs": [tensor(shape=[1, 2], data=[[1.0, 2.0]])]}
    one = {"outputs": [{"name": "y", "shape": [1], "datatype": "FP32", "data": [0.1]}]}
    caught = error(wide, one, feature_names=["a", "b", "c"])
    assert caught.location == "request.inputs[0].shape"
    assert "2 columns but feature_names names 3" in caught.detail
    caught = error(MLSERVER_TABLE_REQUEST, TWO_SCORES, feature_names=["a", "b"])
    assert caught.location == "request.inputs" and "2 inputs" in caught.detail


@pytest.mark.parametrize(
    ("response", "location", "needle"),
    [
        ({"model_name": "m"}, "response", "'outputs'"),
        ({"outputs": []}, "response.outputs", "at least one output"),
        (
            {"outputs": [{"name": "y", "shape": [3], "datatype": "FP32", "data": [1.0, 2.0, 3.0]}]},
            "response.outputs",
            "3 predictions for 2 request rows",
        ),
        (
            {"outputs": [{"name": "y", "shape": [2], "datatype": "FP32", "data": [1.0]}]},
            "response.outputs[0].data",
            "shape [2] holds 2 elements, data has 1",
        ),
        (
            {
                "outputs": [
                    {"name": "y", "shape": [2, 1, 1], "datatype": "FP32", "data": [1.0, 2.0]}
                ]
            },
            "response.outputs[0].shape",
            "one value per row",
        ),
        ({"id": 4.5, "outputs": ONE_OUTPUT["outputs"]}, "response.id", "expected a string"),
    ],
)
def test_malformed_responses_are_422_at_the_culprit(
    response: Any, location: str, needle: str
) -> None:
    caught = error({"inputs": [tensor()]}, response)
    assert caught.location == location
    assert needle in caught.detail


def test_nested_and_flat_data_give_the_same_rows() -> None:
    flat = copy.deepcopy(KSERVE_IRIS_REQUEST)
    flat["inputs"][0]["data"] = [6.8, 2.8, 4.8, 1.4, 6.0, 3.4, 4.5, 1.6]
    assert records_from_oip(flat, KSERVE_IRIS_RESPONSE, feature_names=IRIS) == records_from_oip(
        KSERVE_IRIS_REQUEST, KSERVE_IRIS_RESPONSE, feature_names=IRIS
    )
