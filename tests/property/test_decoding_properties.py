"""The parsers never fail in an unplanned way: any body is a batch or a located 4xx.

`decode_predictions` and `decode_reference` (JSON, NDJSON, CSV) and the foreign-format
converters (MLflow, Open Inference Protocol, KServe CloudEvents) are fed arbitrary bytes,
arbitrary JSON documents, and documents close to the expected shape (the interesting ones:
right keys, wrong values). Each call must either return a well-formed result or raise
`DomainError` with a 4xx status, a location and one of the fixed rejection reasons; any other
exception would reach the client as a 500.
"""

from __future__ import annotations

import math
from typing import Any, get_args

import orjson
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from exporter.api.errors import status_for
from exporter.errors import DomainError, RejectReason
from exporter.ingest.formats import records_from_mlflow, records_from_oip
from exporter.ingest.formats.cloudevents import parse_event, request_features, response_predictions
from exporter.ingest.formats.oip import DATATYPES
from exporter.ingest.media import CSV, JSON, NDJSON
from exporter.ingest.records import PredictionBatch, decode_predictions
from exporter.ingest.reference import ReferenceTable, decode_reference

# --------------------------------------------------------------------------- strategies

#: Every scalar orjson can write (its integers are 64-bit) and a few that matter here.
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=24),
    st.sampled_from(
        ["", "2026-11-23T10:00:00+00:00", "2026-11-23T10:00:00", "1960-01-01T00:00:00Z", "02139"]
    ),
)
KEYS = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["id", "timestamp", "features", "prediction", "label", "records"]),
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(KEYS, children, max_size=5),
    max_leaves=30,
)


@st.composite
def records(draw: st.DrawFn, keys: tuple[str, ...]) -> Any:
    """A record-like value: usually an object with some of the expected keys, sometimes junk."""
    if draw(st.integers(min_value=0, max_value=9)) == 0:
        return draw(JSON_VALUES)
    record: dict[str, Any] = {}
    for key in draw(st.lists(st.sampled_from(keys), unique=True, max_size=len(keys))):
        if key == "features":
            record[key] = draw(
                st.dictionaries(st.text(max_size=10), JSON_VALUES, max_size=6) | JSON_VALUES
            )
        elif key == "timestamp":
            record[key] = draw(st.floats(min_value=-1e12, max_value=1e12) | SCALARS)
        else:
            record[key] = draw(JSON_VALUES)
    if draw(st.booleans()) and "features" not in record:
        record["features"] = {"x": draw(SCALARS)}
    return record


PREDICTION_RECORD_KEYS = ("id", "timestamp", "features", "prediction", "label", "junk")
REFERENCE_RECORD_KEYS = ("features", "prediction", "label", "id", "junk")


def documents(keys: tuple[str, ...]) -> st.SearchStrategy[Any]:
    """`{"records": [...]}` with record-like items, an extra key now and then, or any JSON."""
    body = st.fixed_dictionaries(
        {"records": st.lists(records(keys), max_size=6)},
        optional={"extra": JSON_VALUES},
    )
    return st.one_of(body, body, body, JSON_VALUES)


def ndjson(keys: tuple[str, ...]) -> st.SearchStrategy[bytes]:
    line = st.one_of(
        records(keys).map(orjson.dumps),
        st.sampled_from([b"", b"  ", b"\r", b"{", b"null", b"[]", b'{"features": {}}\r']),
        st.binary(max_size=12),
    )
    return st.lists(line, max_size=8).map(b"\n".join)


#: CSV cells drawn from characters that matter to a CSV parser, numbers and codes.
CSV_CELL = st.one_of(
    st.text(alphabet=st.sampled_from(list('ab,"\r\n \t;0x\x00\u00e9\ufeff')), max_size=6),
    st.sampled_from(["", "1", "-2.5", "1e308", "-1e308", "02139", "nan", "inf", "true", "x"]),
    st.floats(allow_nan=False).map(repr),
)
CSV_TEXT = st.lists(
    st.lists(CSV_CELL, min_size=0, max_size=5).map(",".join), min_size=0, max_size=6
).map(lambda rows: "\n".join(rows))
MAX_RECORDS = st.integers(min_value=1, max_value=8)
REASONS = set(get_args(RejectReason))


def assert_located_client_error(error: DomainError) -> None:
    assert 400 <= status_for(error) < 500, error
    assert isinstance(error.location, str) and error.location, error
    assert error.reason in REASONS, error
    assert error.detail and error.location in error.message


# --------------------------------------------------------------------------- predictions


def check_predictions(body: bytes, media: str, max_records: int) -> PredictionBatch | None:
    try:
        batch = decode_predictions(body, media, max_records)
    except DomainError as error:
        assert_located_client_error(error)
        if status_for(error) == 413:
            assert error.reason == "too_large"
        return None
    n = len(batch)
    assert n <= max_records
    assert len(batch.predictions) == len(batch.ids) == len(batch.timestamps) == n
    assert all(type(values) is dict for values in batch.features)
    assert all(value is None or type(value) is str for value in batch.ids)
    assert all(
        stamp is None or (type(stamp) is float and math.isfinite(stamp))
        for stamp in batch.timestamps
    )
    return batch


@settings(max_examples=400)
@given(st.binary(max_size=200), st.sampled_from([JSON, NDJSON]), MAX_RECORDS)
@example(b"[" * 5_000, JSON, 5)
@example(b'{"records": [{"features": {}, "id": 123456789012345678901234567890}]}', JSON, 5)
@example(b'\xff{"records": []}', JSON, 5)
@example(b'{"features": {"a": 1}}\n\xff\n', NDJSON, 5)
def test_decode_predictions_of_any_bytes_is_a_batch_or_a_located_4xx(
    body: bytes, media: str, max_records: int
) -> None:
    check_predictions(body, media, max_records)


@settings(max_examples=250)
@given(documents(PREDICTION_RECORD_KEYS), MAX_RECORDS)
@example({"records": [{"features": {}, "timestamp": -1}]}, 5)
@example({"records": [{"features": {}, "timestamp": "2026-11-23T10:00:00"}]}, 5)
@example({"records": [{"features": {}, "id": 1.5}]}, 5)
@example({"records": [{"features": {}, "id": True}]}, 5)
@example({"records": [{"features": {"a": 1}}] * 9}, 8)
def test_decode_predictions_of_any_json_is_a_batch_or_a_located_4xx(
    document: Any, max_records: int
) -> None:
    check_predictions(orjson.dumps(document), JSON, max_records)


@settings(max_examples=200)
@given(ndjson(PREDICTION_RECORD_KEYS), MAX_RECORDS)
def test_decode_predictions_of_any_ndjson_is_a_batch_or_a_located_4xx(
    body: bytes, max_records: int
) -> None:
    check_predictions(body, NDJSON, max_records)


VALID_RECORDS = st.lists(
    st.fixed_dictionaries(
        {"features": st.dictionaries(st.text(min_size=1, max_size=8), SCALARS, max_size=4)},
        optional={
            "id": st.text(max_size=8) | st.none(),
            "timestamp": st.floats(min_value=0, max_value=4e9) | st.none(),
            "prediction": SCALARS,
        },
    ),
    max_size=10,
)


@settings(max_examples=200)
@given(VALID_RECORDS)
def test_well_formed_records_decode_to_themselves_in_json_and_ndjson(
    listed: list[dict[str, Any]],
) -> None:
    from_json = decode_predictions(orjson.dumps({"records": listed}), JSON, 100)
    from_ndjson = decode_predictions(b"\n".join(map(orjson.dumps, listed)), NDJSON, 100)
    for batch in (from_json, from_ndjson):
        assert batch.features == [record["features"] for record in listed]
        assert batch.predictions == [record.get("prediction") for record in listed]
        assert batch.ids == [record.get("id") for record in listed]
        assert batch.timestamps == [record.get("timestamp") for record in listed]


# --------------------------------------------------------------------------- references


def check_reference(body: bytes, media: str, max_records: int) -> ReferenceTable | None:
    try:
        table = decode_reference(
            body,
            media,
            max_records,
            prediction_column="prediction",
            label_column="label",
            declared={"x": "numeric", "c": "categorical"},
        )
    except DomainError as error:
        assert_located_client_error(error)
        return None
    assert 0 <= table.rows <= max_records
    assert all(len(column) == table.rows for column in table.columns.values())
    for extra in (table.predictions, table.labels):
        assert extra is None or len(extra) == table.rows
    return table


@settings(max_examples=300)
@given(st.binary(max_size=200), st.sampled_from([JSON, CSV]), MAX_RECORDS)
@example(b"\xef\xbb\xbfa,b\n1,2\n", CSV, 5)
@example(b'a,b\n"1,2\n', CSV, 5)
@example(b"a,a\n1,2\n", CSV, 5)
@example(b"a,\x00\n1,2\n", CSV, 5)
@example(b"a," + b"x" * 200_000 + b"\n", CSV, 5)
def test_decode_reference_of_any_bytes_is_a_table_or_a_located_4xx(
    body: bytes, media: str, max_records: int
) -> None:
    check_reference(body, media, max_records)


@settings(max_examples=200)
@given(documents(REFERENCE_RECORD_KEYS), MAX_RECORDS)
def test_decode_reference_of_any_json_is_a_table_or_a_located_4xx(
    document: Any, max_records: int
) -> None:
    check_reference(orjson.dumps(document), JSON, max_records)


@settings(max_examples=400)
@given(CSV_TEXT, MAX_RECORDS)
@example("x,c,prediction\n1,a,0.5\n02139,b,\n", 5)
@example('x\n"unterminated\n', 5)
def test_decode_reference_of_any_csv_is_a_table_or_a_located_4xx(
    text: str, max_records: int
) -> None:
    check_reference(text.encode("utf-8"), CSV, max_records)


# --------------------------------------------------------------------------- foreign formats

NAMES = st.none() | st.lists(st.sampled_from(["a", "b", "c", "d"]), max_size=4, unique=True).map(
    tuple
)
OUTPUT_NAME = st.none() | st.sampled_from(["a", "out", "predict", "probabilities"])
OUTPUT_INDEX = st.none() | st.integers(min_value=-3, max_value=3)


@st.composite
def oip_tensors(draw: st.DrawFn) -> Any:
    """Tensor-like objects: a valid shape for the data about half the time."""
    shape = draw(st.lists(st.integers(min_value=0, max_value=3), min_size=0, max_size=3))
    count = math.prod(shape) if shape else 0
    datatype = draw(st.sampled_from(sorted(DATATYPES)) | st.text(max_size=5))
    element = {
        "BOOL": st.booleans(),
        "BYTES": st.text(max_size=4),
        "FP16": st.floats(allow_nan=False, allow_infinity=False),
        "FP32": st.floats(allow_nan=False, allow_infinity=False),
        "FP64": st.floats(allow_nan=False, allow_infinity=False),
    }.get(datatype, st.integers(min_value=-(2**63), max_value=2**64 - 1))
    if draw(st.booleans()):
        data: Any = draw(st.lists(element, min_size=count, max_size=count))
        if len(shape) == 2 and shape[1] and draw(st.booleans()):
            data = [data[i : i + shape[1]] for i in range(0, len(data), shape[1])]
    else:
        data = draw(st.lists(element | JSON_VALUES, max_size=6))
    tensor: dict[str, Any] = {
        "name": draw(st.sampled_from(["a", "b", "out"]) | SCALARS),
        "shape": shape if draw(st.integers(0, 9)) else draw(JSON_VALUES),
        "datatype": datatype,
        "data": data,
    }
    for field in draw(st.lists(st.sampled_from(list(tensor)), max_size=1)):
        del tensor[field]
    return tensor


OIP_REQUEST = st.one_of(
    st.fixed_dictionaries(
        {"inputs": st.lists(oip_tensors(), max_size=3)},
        optional={"id": SCALARS, "parameters": JSON_VALUES},
    ),
    JSON_VALUES,
)
OIP_RESPONSE = st.one_of(
    st.fixed_dictionaries(
        {"outputs": st.lists(oip_tensors(), max_size=3)},
        optional={"id": SCALARS, "model_name": SCALARS},
    ),
    JSON_VALUES,
)
ROWS = st.lists(
    st.one_of(
        st.dictionaries(st.sampled_from(["a", "b", "c"]), SCALARS, max_size=3),
        st.lists(SCALARS, max_size=4),
        SCALARS,
    ),
    max_size=4,
)
MLFLOW_REQUEST = st.one_of(
    st.fixed_dictionaries({"dataframe_records": ROWS | JSON_VALUES}),
    st.fixed_dictionaries({"instances": ROWS | JSON_VALUES}),
    st.fixed_dictionaries(
        {"inputs": ROWS | st.dictionaries(st.sampled_from(["a", "b"]), ROWS, max_size=2)}
    ),
    st.fixed_dictionaries(
        {
            "dataframe_split": st.fixed_dictionaries(
                {"data": st.lists(st.lists(SCALARS, max_size=3), max_size=4) | JSON_VALUES},
                optional={
                    "columns": st.lists(st.sampled_from(["a", "b", "c"]) | SCALARS, max_size=3),
                    "index": st.lists(SCALARS, max_size=4),
                    "junk": SCALARS,
                },
            )
        }
    ),
    JSON_VALUES,
)
MLFLOW_RESPONSE = st.one_of(
    st.fixed_dictionaries(
        {
            "predictions": st.lists(
                SCALARS
                | st.lists(SCALARS, max_size=3)
                | st.dictionaries(st.sampled_from(["out", "predict"]), SCALARS | ROWS),
                max_size=4,
            )
            | st.dictionaries(st.sampled_from(["out", "b"]), ROWS, max_size=2)
        }
    ),
    JSON_VALUES,
)


def check_records(convert: Any, *args: Any, **kwargs: Any) -> None:
    try:
        converted = convert(*args, **kwargs)
    except DomainError as error:
        assert_located_client_error(error)
        return
    for record in converted:
        assert type(record["features"]) is dict
        assert record["id"] is None or type(record["id"]) is str


@settings(max_examples=200)
@given(OIP_REQUEST, OIP_RESPONSE, NAMES, OUTPUT_NAME, OUTPUT_INDEX)
def test_open_inference_protocol_exchange_is_records_or_a_located_4xx(
    request: Any, response: Any, names: Any, output_name: Any, output_index: Any
) -> None:
    check_records(
        records_from_oip,
        request,
        response,
        feature_names=names,
        output_name=output_name,
        output_index=output_index,
    )


@settings(max_examples=250)
@given(MLFLOW_REQUEST, MLFLOW_RESPONSE, NAMES, OUTPUT_NAME, OUTPUT_INDEX)
def test_mlflow_exchange_is_records_or_a_located_4xx(
    request: Any, response: Any, names: Any, output_name: Any, output_index: Any
) -> None:
    check_records(
        records_from_mlflow,
        request,
        response,
        feature_names=names,
        output_name=output_name,
        output_index=output_index,
    )


CE_ATTRIBUTES = st.sampled_from(
    [
        *("id", "type", "source", "specversion", "time", "datacontenttype"),
        *("inferenceservicename", "component", "subject", "dataschema"),
    ]
)
CE_VALUES = st.one_of(
    st.text(alphabet=st.characters(max_codepoint=255, exclude_categories=["Cc"]), max_size=24),
    st.sampled_from(
        [
            *("1.0", "0.3", "org.kubeflow.serving.inference.request", "x.inference.response"),
            *("2026-11-23T10:00:00Z", "yesterday", "credit", "credit/../x", "application/json"),
            "",
        ]
    ),
)


@settings(max_examples=250)
@given(
    st.dictionaries(CE_ATTRIBUTES, CE_VALUES, max_size=8),
    st.sampled_from(["binary", "structured"]),
    JSON_VALUES,
    st.none() | st.binary(max_size=40),
)
def test_cloudevent_is_an_inference_event_or_a_located_4xx(
    attributes: dict[str, str], mode: str, payload: Any, raw: bytes | None
) -> None:
    if mode == "binary":
        headers = {f"ce-{name}": value for name, value in attributes.items()}
        headers["content-type"] = "application/json"
        body = orjson.dumps(payload) if raw is None else raw
    else:
        headers = {"content-type": "application/cloudevents+json"}
        body = orjson.dumps({**attributes, "data": payload}) if raw is None else raw
    try:
        event = parse_event(headers, body)
    except DomainError as error:
        assert_located_client_error(error)
        return
    assert event.kind in ("request", "response")
    for convert in (
        lambda: request_features(event.data, None),
        lambda: response_predictions(event.data, None, None),
    ):
        try:
            convert()
        except DomainError as error:
            assert_located_client_error(error)


def test_a_located_error_names_its_location_in_the_message() -> None:
    with pytest.raises(DomainError) as caught:
        decode_predictions(b'{"records": [{"features": []}]}', JSON, 10)
    assert caught.value.location == "records[0].features"
    assert caught.value.message.startswith("records[0].features: ")
