"""Open Inference Protocol (KServe V2, Triton, MLServer) REST requests and responses -> records.

A request is `{"id"?, "parameters"?, "inputs": [tensor, ...], "outputs"?}`, a response
`{"model_name", "model_version"?, "id", "parameters"?, "outputs": [tensor, ...]}`, and a tensor
`{"name", "shape", "datatype", "parameters"?, "data"}` whose `data` holds the elements in
row-major order, flat or nested. Every tensor is checked: the shape is non-negative integers,
the datatype is one the protocol defines, `data` holds exactly prod(shape) elements, and each
element has the datatype's JSON type (BYTES as strings, BOOL as booleans, integers within their
width, FP16/32/64 as numbers).

Inputs map to features in one of two ways:

* one tensor per feature, each of shape `[n]` or `[n, 1]` (MLServer's `pd` content type, the
  usual layout for tabular models), the feature named by the tensor; or
* one 2-D tensor `[n, k]` whose columns are named, in order, by `feature_names` (the layout of
  the KServe sklearn/xgboost examples).

The prediction comes from the first output, or the output named `output_name`; an output of
shape `[n, k]` gives column `output_index` (default 0) of each row.

Our envelope is `{"request": <inference request>, "response": <inference response>}`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from exporter.ingest.formats._common import (
    Record,
    expect_array,
    expect_object,
    fail,
    optional_id,
    pair,
    row_ids,
)
from exporter.ingest.kinds import json_kind as kind

_INT_RANGES = {
    "UINT8": (0, 2**8 - 1),
    "UINT16": (0, 2**16 - 1),
    "UINT32": (0, 2**32 - 1),
    "UINT64": (0, 2**64 - 1),
    "INT8": (-(2**7), 2**7 - 1),
    "INT16": (-(2**15), 2**15 - 1),
    "INT32": (-(2**31), 2**31 - 1),
    "INT64": (-(2**63), 2**63 - 1),
}
_FLOATS = frozenset({"FP16", "FP32", "FP64"})
#: The tensor datatypes of the protocol's "Tensor Data Types" table.
DATATYPES = frozenset({"BOOL", "BYTES", *_INT_RANGES, *_FLOATS})


class Tensor(NamedTuple):
    """A checked tensor: its elements flat, in row-major order."""

    name: str
    shape: tuple[int, ...]
    datatype: str
    data: list[Any]

    def rows(self) -> int:
        return self.shape[0]

    def width(self) -> int:
        """Elements per row of a 1-D or 2-D tensor."""
        return 1 if len(self.shape) == 1 else self.shape[1]


def records_from_oip(
    request: Any,
    response: Any,
    *,
    feature_names: Sequence[str] | None = None,
    output_name: str | None = None,
    output_index: int | None = None,
) -> list[Record]:
    """The records one Open Inference Protocol exchange served.

    Ids come from the request `id` (or the response's, which servers fill in when the request
    has none): the id itself for a one-row request, `<id>-<row>` for each row of a batch.
    """
    features, request_id = request_features(request, feature_names, "request")
    predictions, response_id = response_predictions(response, output_name, output_index, "response")
    base = request_id if request_id is not None else response_id
    return pair(features, predictions, row_ids(base, len(features)), "response.outputs")


def request_features(
    request: Any, feature_names: Sequence[str] | None, location: str
) -> tuple[list[dict[str, Any]], str | None]:
    """The feature dicts (one per row) and the `id` of an inference request."""
    document = expect_object(request, location)
    request_id = optional_id(document.get("id"), f"{location}.id")
    if "inputs" not in document:
        fail("missing required field 'inputs'", location)
    listed = expect_array(document["inputs"], f"{location}.inputs")
    if not listed:
        fail("expected at least one input tensor", f"{location}.inputs")
    tensors = [tensor(item, f"{location}.inputs[{i}]") for i, item in enumerate(listed)]
    if feature_names is not None:
        return _named_columns(tensors, feature_names, f"{location}.inputs"), request_id
    return _tensor_per_feature(tensors, f"{location}.inputs"), request_id


def response_predictions(
    response: Any, output_name: str | None, output_index: int | None, location: str
) -> tuple[list[Any], str | None]:
    """One monitored prediction per row, and the `id`, of an inference response."""
    document = expect_object(response, location)
    response_id = optional_id(document.get("id"), f"{location}.id")
    if "outputs" not in document:
        fail("missing required field 'outputs'", location)
    listed = expect_array(document["outputs"], f"{location}.outputs")
    if not listed:
        fail("expected at least one output tensor", f"{location}.outputs")
    position = 0
    if output_name is not None:
        names = [item.get("name") if type(item) is dict else None for item in listed]
        if output_name not in names:
            shown = ", ".join(repr(name) for name in names if isinstance(name, str))
            fail(f"no output named {output_name!r}; outputs: {shown}", f"{location}.outputs")
        position = names.index(output_name)
    where = f"{location}.outputs[{position}]"
    output = tensor(listed[position], where)
    if len(output.shape) > 2:
        fail(
            f"output {output.name!r} has shape {list(output.shape)}; a prediction is one "
            "value per row: shape [n], [n, 1], or [n, k] with output_index",
            f"{where}.shape",
        )
    width = output.width()
    index = 0 if output_index is None else output_index
    if not -width <= index < width:
        fail(f"output_index {index} is out of range for {width} columns", f"{where}.shape")
    column = index % width
    return [output.data[row * width + column] for row in range(output.rows())], response_id


def tensor(value: Any, location: str) -> Tensor:
    """A tensor object, checked: shape, datatype, element count and element types."""
    item = expect_object(value, location)
    for field in ("name", "shape", "datatype", "data"):
        if field not in item:
            fail(f"missing required field {field!r}", location)
    name = item["name"]
    if type(name) is not str:
        fail(f"expected a string, got {kind(name)}", f"{location}.name")
    shape = expect_array(item["shape"], f"{location}.shape")
    for i, size in enumerate(shape):
        if type(size) is not int or size < 0:
            fail(
                f"expected a non-negative integer dimension, got {size!r}",
                f"{location}.shape[{i}]",
            )
    if not shape:
        fail("expected at least one dimension (the batch)", f"{location}.shape")
    datatype = item["datatype"]
    if datatype not in DATATYPES:
        fail(
            f"unknown datatype {datatype!r}; expected one of {', '.join(sorted(DATATYPES))}",
            f"{location}.datatype",
        )
    data = _flatten(expect_array(item["data"], f"{location}.data"))
    expected = math.prod(shape)
    if len(data) != expected:
        fail(
            f"shape {shape} holds {expected} element{'s' * (expected != 1)}, data has {len(data)}",
            f"{location}.data",
        )
    _check_elements(data, datatype, f"{location}.data")
    return Tensor(name, tuple(shape), datatype, data)


def _tensor_per_feature(tensors: list[Tensor], location: str) -> list[dict[str, Any]]:
    rows = tensors[0].rows()
    seen: set[str] = set()
    for i, item in enumerate(tensors):
        if len(item.shape) > 2 or item.width() != 1:
            fail(
                f"input {item.name!r} has shape {list(item.shape)}; without feature_names "
                "each input is one feature of shape [n] or [n, 1]. For one [n, k] tensor, "
                f"pass feature_names (?feature_names=a,b,c) with its {item.width()} column "
                "names",
                f"{location}[{i}].shape",
            )
        if item.rows() != rows:
            fail(
                f"input {item.name!r} has {item.rows()} rows but input "
                f"{tensors[0].name!r} has {rows}",
                f"{location}[{i}].shape",
            )
        if item.name in seen:
            fail(f"duplicate input name {item.name!r}", f"{location}[{i}].name")
        seen.add(item.name)
    return [{item.name: item.data[row] for item in tensors} for row in range(rows)]


def _named_columns(
    tensors: list[Tensor], feature_names: Sequence[str], location: str
) -> list[dict[str, Any]]:
    if len(tensors) != 1:
        fail(
            f"feature_names names the columns of one [n, k] input, but the request has "
            f"{len(tensors)} inputs; with one input per feature, leave feature_names out",
            location,
        )
    item = tensors[0]
    if len(item.shape) > 2:
        fail(
            f"input {item.name!r} has shape {list(item.shape)}; expected [n] or [n, k]",
            f"{location}[0].shape",
        )
    width = item.width()
    if width != len(feature_names):
        fail(
            f"input {item.name!r} has {width} column{'s' * (width != 1)} but feature_names "
            f"names {len(feature_names)}",
            f"{location}[0].shape",
        )
    data = item.data
    return [
        dict(zip(feature_names, data[row * width : (row + 1) * width], strict=True))
        for row in range(item.rows())
    ]


def _flatten(data: list[Any]) -> list[Any]:
    """Nested (row-major) tensor data as a flat list; flat data is returned as is."""
    if not any(type(element) is list for element in data):
        return data
    flat: list[Any] = []
    stack: list[Any] = [iter(data)]
    while stack:
        for element in stack[-1]:
            if type(element) is list:
                stack.append(iter(element))
                break
            flat.append(element)
        else:
            stack.pop()
    return flat


def _check_elements(data: list[Any], datatype: str, location: str) -> None:
    """422 at the first element whose JSON type does not fit `datatype`."""
    valid: Callable[[Any], bool]
    if datatype == "BYTES":
        expected, valid = "a string", _is_string
    elif datatype == "BOOL":
        expected, valid = "a boolean", _is_boolean
    elif datatype in _FLOATS:
        expected, valid = "a number", _is_number
    else:
        low, high = _INT_RANGES[datatype]
        expected = f"an integer in {low}..{high}"

        def valid(value: Any) -> bool:
            return type(value) is int and low <= value <= high

    if all(map(valid, data)):
        return
    position = next(i for i, value in enumerate(data) if not valid(value))
    value = data[position]
    shown = f" {value!r}" if type(value) in (int, float) else ""
    fail(
        f"element {position} (row-major) is {kind(value)}{shown}; {datatype} needs {expected}",
        location,
    )


def _is_string(value: Any) -> bool:
    return type(value) is str


def _is_boolean(value: Any) -> bool:
    return type(value) is bool


def _is_number(value: Any) -> bool:
    return type(value) is float or type(value) is int
