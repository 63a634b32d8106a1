"""Request bodies -> records: media types, JSON / NDJSON / CSV, and errors that say where."""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from typing import Any

import orjson
import pytest

from exporter.api.errors import status_for
from exporter.errors import DomainError
from exporter.ingest.media import CSV, JSON, NDJSON, media_type
from exporter.ingest.records import decode_labels, decode_predictions
from exporter.ingest.reference import ReferenceTable, decode_reference
from exporter.ingest.values import ABSENT
from exporter.settings import FeatureKind

ALL = (JSON, NDJSON, CSV)
# 2026-11-23T10:00:00Z as epoch seconds, from calendar.timegm (independent of datetime parsing).
EPOCH_2026_11_23_10H = float(calendar.timegm((2026, 11, 23, 10, 0, 0)))


def _json(document: Any) -> bytes:
    return orjson.dumps(document)


def _records(*records: Any) -> bytes:
    return _json({"records": list(records)})


def _ndjson(*lines: Any) -> bytes:
    return b"\n".join(line if isinstance(line, bytes) else orjson.dumps(line) for line in lines)


def _rejected(call: Any, *args: Any, **kwargs: Any) -> DomainError:
    with pytest.raises(DomainError) as caught:
        call(*args, **kwargs)
    return caught.value


def _csv(
    text: str | bytes, declared: Mapping[str, FeatureKind] | None = None, max_records: int = 1_000
) -> ReferenceTable:
    body = text.encode("utf-8") if isinstance(text, str) else text
    return decode_reference(
        body,
        CSV,
        max_records,
        prediction_column="prediction",
        label_column="label",
        declared=declared or {},
    )


def _reference_json(body: bytes, max_records: int = 1_000) -> ReferenceTable:
    return decode_reference(
        body, JSON, max_records, prediction_column="prediction", label_column="label", declared={}
    )


# media_type


@pytest.mark.parametrize(
    ("header", "canonical"),
    [
        (None, JSON),
        ("", JSON),
        ("application/json", JSON),
        ("application/json; charset=utf-8", JSON),
        ("Application/JSON", JSON),
        ("text/json", JSON),
        ("application/x-ndjson", NDJSON),
        ("application/ndjson", NDJSON),
        ("application/jsonlines", NDJSON),
        ("application/jsonl", NDJSON),
        ("text/csv", CSV),
        ("text/csv; header=present", CSV),
        ("application/csv", CSV),
    ],
)
def test_media_type_maps_aliases_to_the_canonical_type(header: str | None, canonical: str) -> None:
    assert media_type(header, ALL) == canonical


@pytest.mark.parametrize("header", ["text/plain", "application/xml", "multipart/form-data"])
def test_media_type_unknown_is_415_listing_what_is_accepted(header: str) -> None:
    error = _rejected(media_type, header, (JSON, NDJSON))
    assert status_for(error) == 415
    assert error.reason == "unsupported_media_type"
    assert error.location == "header.content-type"
    assert "application/json" in error.detail
    assert "application/x-ndjson" in error.detail


def test_media_type_known_but_not_accepted_here_is_415() -> None:
    # CSV is a real media type, but prediction ingest accepts only JSON and NDJSON.
    error = _rejected(media_type, "text/csv", (JSON, NDJSON))
    assert status_for(error) == 415
    assert error.reason == "unsupported_media_type"


# decode_predictions: happy paths


def test_decode_predictions_reads_a_json_records_body() -> None:
    body = _records(
        {
            "id": "a",
            "timestamp": 1_700_000_000,
            "features": {"x": 1.5, "c": "red"},
            "prediction": 1,
        },
        {"features": {"x": None}},
    )
    batch = decode_predictions(body, JSON, 10)
    assert len(batch) == 2
    assert batch.features == [{"x": 1.5, "c": "red"}, {"x": None}]
    assert batch.predictions == [1, None]
    assert batch.ids == ["a", None]
    assert batch.timestamps == [1_700_000_000.0, None]


def test_decode_predictions_reads_ndjson_and_skips_blank_lines() -> None:
    body = _ndjson(
        {"features": {"x": 1}, "prediction": 0.1},
        b"",
        b"   ",
        {"features": {"x": 2}, "prediction": 0.2},
        b"",
    )
    batch = decode_predictions(body, NDJSON, 10)
    assert batch.features == [{"x": 1}, {"x": 2}]
    assert batch.predictions == [0.1, 0.2]
    assert batch.ids == [None, None]
    assert batch.timestamps == [None, None]


def test_decode_predictions_ndjson_accepts_crlf_line_endings() -> None:
    body = b'{"features": {"x": 1}}\r\n{"features": {"x": 2}}\r\n'
    assert decode_predictions(body, NDJSON, 10).features == [{"x": 1}, {"x": 2}]


def test_decode_predictions_of_an_empty_records_array_is_an_empty_batch() -> None:
    batch = decode_predictions(_records(), JSON, 10)
    assert len(batch) == 0
    assert batch.predictions == batch.ids == batch.timestamps == []


def test_decode_predictions_turns_integer_ids_into_strings() -> None:
    body = _records({"id": 7, "features": {}}, {"id": "b", "features": {}}, {"features": {}})
    assert decode_predictions(body, JSON, 10).ids == ["7", "b", None]


@pytest.mark.parametrize(
    ("stamp", "epoch"),
    [
        (1_800_000_000, 1_800_000_000.0),
        (1_800_000_000.25, 1_800_000_000.25),
        (0, 0.0),
        ("2026-11-23T10:00:00Z", EPOCH_2026_11_23_10H),
        ("2026-11-23T10:00:00+00:00", EPOCH_2026_11_23_10H),
        ("2026-11-23T12:00:00+02:00", EPOCH_2026_11_23_10H),
        ("2026-11-23T05:30:00-04:30", EPOCH_2026_11_23_10H),
        ("2026-11-23T10:00:00.5Z", EPOCH_2026_11_23_10H + 0.5),
    ],
)
def test_decode_predictions_reads_epoch_and_rfc3339_timestamps(stamp: Any, epoch: float) -> None:
    batch = decode_predictions(_records({"timestamp": stamp, "features": {}}), JSON, 10)
    assert batch.timestamps == [epoch]
    assert type(batch.timestamps[0]) is float


# decode_predictions: malformed bodies


@pytest.mark.parametrize(
    ("stamp", "fragment"),
    [
        ("2026-11-23T10:00:00", "offset"),
        ("yesterday", "RFC 3339"),
        (-1, ">= 0"),
        (True, "a number or a string"),
        ([1], "a number or a string"),
    ],
)
def test_decode_predictions_rejects_bad_timestamps_with_422_naming_the_record(
    stamp: Any, fragment: str
) -> None:
    body = _records({"features": {}}, {"timestamp": stamp, "features": {}})
    error = _rejected(decode_predictions, body, JSON, 10)
    assert status_for(error) == 422
    assert error.reason == "malformed"
    assert error.location == "records[1].timestamp"
    assert fragment in error.detail


@pytest.mark.parametrize("bad_id", [1.5, True, [1], {"a": 1}])
def test_decode_predictions_rejects_ids_that_are_not_strings_or_integers(bad_id: Any) -> None:
    body = _records({"id": "ok", "features": {}}, {"id": bad_id, "features": {}})
    error = _rejected(decode_predictions, body, JSON, 10)
    assert status_for(error) == 422
    assert error.location == "records[1].id"


def test_invalid_json_is_400_at_body() -> None:
    error = _rejected(decode_predictions, b'{"records": [', JSON, 10)
    assert status_for(error) == 400
    assert error.reason == "malformed"
    assert error.location == "body"
    assert "invalid JSON" in error.detail


def test_non_utf8_json_is_400_at_body() -> None:
    error = _rejected(decode_predictions, b'{"records": ["\xff"]}', JSON, 10)
    assert (status_for(error), error.location) == (400, "body")


@pytest.mark.parametrize(
    ("document", "kind"), [([], "an array"), ("x", "a string"), (1, "a number")]
)
def test_non_object_json_body_is_422_at_body(document: Any, kind: str) -> None:
    error = _rejected(decode_predictions, _json(document), JSON, 10)
    assert (status_for(error), error.location) == (422, "body")
    assert kind in error.detail


def test_unknown_top_level_key_is_422_naming_the_key() -> None:
    error = _rejected(decode_predictions, _json({"records": [], "extra": 1}), JSON, 10)
    assert (status_for(error), error.location) == (422, "body")
    assert "'extra'" in error.detail


@pytest.mark.parametrize(
    ("document", "kind"),
    [({"records": {}}, "an object"), ({}, "null"), ({"records": "x"}, "a string")],
)
def test_records_that_are_not_an_array_are_422_at_records(document: Any, kind: str) -> None:
    error = _rejected(decode_predictions, _json(document), JSON, 10)
    assert (status_for(error), error.location) == (422, "records")
    assert kind in error.detail


def test_a_record_that_is_not_an_object_is_422_naming_its_index() -> None:
    body = _records({"features": {}}, {"features": {}}, 5)
    error = _rejected(decode_predictions, body, JSON, 10)
    assert (status_for(error), error.location) == (422, "records[2]")
    assert "a number" in error.detail


def test_an_unknown_record_field_is_422_naming_the_record_and_the_field() -> None:
    body = _records({"features": {}}, {"features": {}, "lable": 1})
    error = _rejected(decode_predictions, body, JSON, 10)
    assert (status_for(error), error.location) == (422, "records[1]")
    assert "'lable'" in error.detail


@pytest.mark.parametrize("record", [{"prediction": 1}, {"features": None}])
def test_a_record_without_features_is_422_naming_the_record(record: dict[str, Any]) -> None:
    body = _records({"features": {}}, record)
    error = _rejected(decode_predictions, body, JSON, 10)
    assert (status_for(error), error.location) == (422, "records[1]")
    assert "features" in error.detail


@pytest.mark.parametrize(
    ("features", "kind"), [([1, 2], "an array"), ("x", "a string"), (3, "a number")]
)
def test_features_that_are_not_an_object_are_422_at_records_i_features(
    features: Any, kind: str
) -> None:
    body = _records({"features": {}}, {"features": features})
    error = _rejected(decode_predictions, body, JSON, 10)
    assert (status_for(error), error.location) == (422, "records[1].features")
    assert kind in error.detail


def test_ndjson_invalid_line_is_400_naming_the_physical_line() -> None:
    body = _ndjson({"features": {}}, b"", b'{"features": ')
    error = _rejected(decode_predictions, body, NDJSON, 10)
    assert (status_for(error), error.location) == (400, "line 3")


def test_ndjson_shape_errors_name_the_physical_line_not_the_record_index() -> None:
    body = _ndjson({"features": {}}, b"", b"", [1, 2])
    error = _rejected(decode_predictions, body, NDJSON, 10)
    assert (status_for(error), error.location) == (422, "line 4")


def test_ndjson_timestamp_error_names_the_line_and_field() -> None:
    body = _ndjson(b"", {"features": {}, "timestamp": "2026-11-23T10:00:00"})
    error = _rejected(decode_predictions, body, NDJSON, 10)
    assert (status_for(error), error.location) == (422, "line 2.timestamp")


def test_exactly_max_records_is_accepted() -> None:
    body = _records(*[{"features": {}}] * 3)
    assert len(decode_predictions(body, JSON, 3)) == 3


@pytest.mark.parametrize("media", [JSON, NDJSON])
def test_more_than_max_records_is_413_too_large(media: str) -> None:
    records = [{"features": {"x": i}} for i in range(4)]
    body = _records(*records) if media == JSON else _ndjson(*records)
    error = _rejected(decode_predictions, body, media, 3)
    assert status_for(error) == 413
    assert error.reason == "too_large"
    assert error.location == "records"
    assert "max_records_per_request (3)" in error.detail


# decode_reference: JSON


def test_reference_json_columns_are_the_union_of_feature_keys_with_absent_cells() -> None:
    body = _records(
        {"features": {"a": 1, "b": "x"}, "prediction": 0.3},
        {"features": {"a": 2, "c": None}},
        {"features": {}, "prediction": 0.9},
    )
    table = _reference_json(body)
    assert list(table.columns) == ["a", "b", "c"]
    assert table.columns["a"] == [1, 2, ABSENT]
    assert table.columns["b"] == ["x", ABSENT, ABSENT]
    assert table.columns["c"] == [ABSENT, None, ABSENT]
    assert table.columns["c"][1] is None
    assert table.predictions == [0.3, None, 0.9]
    assert table.labels is None
    assert table.rows == 3


def test_reference_json_labels_are_kept_only_when_some_record_has_one() -> None:
    body = _records({"features": {"a": 1}, "label": 1}, {"features": {"a": 2}})
    table = _reference_json(body)
    assert table.labels == [1, None]
    assert table.predictions is None


def test_reference_json_rejects_the_prediction_only_fields_id_and_timestamp() -> None:
    error = _rejected(_reference_json, _records({"features": {}, "id": "a"}))
    assert (status_for(error), error.location) == (422, "records[0]")
    assert "'id'" in error.detail


def test_reference_json_over_max_records_is_413() -> None:
    error = _rejected(_reference_json, _records(*[{"features": {}}] * 3), 2)
    assert (status_for(error), error.reason) == (413, "too_large")


def test_reference_json_names_where_its_prediction_came_from() -> None:
    assert _reference_json(_records({"features": {}, "prediction": 1})).prediction_column == (
        "prediction"
    )
    assert _reference_json(_records({"features": {"a": 1}})).prediction_column is None


def test_reference_json_takes_a_named_feature_as_the_prediction() -> None:
    body = _records(
        {"features": {"a": 1, "score": 0.2}, "label": 0},
        {"features": {"a": 2}},
        {"features": {"a": 3, "score": None}, "label": 1},
    )
    table = decode_reference(
        body, JSON, 1_000, prediction_column="score", label_column="label", declared={}
    )
    assert table.columns == {"a": [1, 2, 3]}
    assert table.predictions == [0.2, None, None]  # an absent cell is a missing prediction
    assert (table.prediction_column, table.labels) == ("score", [0, None, 1])


def test_reference_json_feature_named_prediction_is_the_prediction_when_no_record_has_one() -> None:
    table = _reference_json(_records({"features": {"a": 1, "prediction": 0.4}}))
    assert (table.columns, table.predictions) == ({"a": [1]}, [0.4])
    assert table.prediction_column == "prediction"
    # With the key present the feature stays a feature, as before.
    table = _reference_json(_records({"features": {"prediction": 0.4}, "prediction": 1}))
    assert (table.columns, table.predictions) == ({"prediction": [0.4]}, [1])


def test_reference_json_with_a_named_feature_and_prediction_keys_is_422() -> None:
    body = _records({"features": {"score": 0.2}, "prediction": 1})
    error = _rejected(
        decode_reference,
        body,
        JSON,
        1_000,
        prediction_column="score",
        label_column="label",
        declared={},
    )
    assert (status_for(error), error.location) == (422, "query.prediction_column")


def test_reference_json_named_prediction_does_not_count_toward_max_features() -> None:
    body = _records({"features": {"a": 1, "score": 0.2}})
    table = decode_reference(
        body,
        JSON,
        1_000,
        prediction_column="score",
        label_column="label",
        declared={},
        max_features=1,
    )
    assert list(table.columns) == ["a"]


# decode_reference: CSV


def test_csv_reference_types_columns_and_splits_out_prediction_and_label() -> None:
    table = _csv("age,colour,prediction,label\n31,red,0.25,1\n47.5,blue,0.75,0\n")
    assert table.rows == 2
    assert table.columns == {"age": [31.0, 47.5], "colour": ["red", "blue"]}
    assert table.predictions == [0.25, 0.75]
    assert table.labels == [1.0, 0.0]
    assert table.prediction_column == "prediction"


def test_csv_without_prediction_or_label_columns_has_none_of_either() -> None:
    table = _csv("a\n1\n")
    assert table.predictions is None
    assert table.labels is None
    assert table.prediction_column is None


def test_csv_empty_cells_are_none_in_numeric_and_string_columns() -> None:
    table = _csv("x,c\n1,a\n,\n3,b\n")
    assert table.columns["x"] == [1.0, None, 3.0]
    assert table.columns["c"] == ["a", None, "b"]


def test_csv_column_with_a_non_numeric_cell_stays_strings_keeping_leading_zeros() -> None:
    table = _csv("zip\n02139\nSW1A\n00501\n")
    assert table.columns["zip"] == ["02139", "SW1A", "00501"]


def test_csv_column_of_codes_with_leading_zeros_stays_strings() -> None:
    # "02139" is a code, not the number 2139: a leading zero is never how a number is written,
    # and turning it into 2139.0 loses its spelling and makes it numeric.
    table = _csv("zip,n\n02139,1\n10001,2\n00501,3\n")
    assert table.columns["zip"] == ["02139", "10001", "00501"]
    assert table.columns["n"] == [1.0, 2.0, 3.0]


def test_csv_numbers_below_one_are_not_mistaken_for_codes() -> None:
    table = _csv("p,q\n0.5,0\n-0.25,10\n0,0.0\n")
    assert table.columns == {"p": [0.5, -0.25, 0.0], "q": [0.0, 10.0, 0.0]}


def test_csv_codes_declared_numeric_are_converted() -> None:
    assert _csv("zip\n02139\n", declared={"zip": "numeric"}).columns["zip"] == [2139.0]


def test_csv_declared_categorical_numbers_stay_strings() -> None:
    table = _csv("code\n1\n2\n\n", declared={"code": "categorical"})
    assert table.columns["code"] == ["1", "2"]


def test_csv_declared_numeric_converts_parsable_cells_and_keeps_the_rest_as_strings() -> None:
    text = "x\n1.5\nabc\n\n-2\n"
    assert _csv(text, declared={"x": "numeric"}).columns["x"] == [1.5, "abc", -2.0]
    # Undeclared, the same column is not all numbers, so every cell stays a string.
    assert _csv(text).columns["x"] == ["1.5", "abc", "-2"]


def test_csv_empty_cell_in_a_declared_numeric_column_is_none() -> None:
    table = _csv("x,y\n1,a\n,b\n", declared={"x": "numeric"})
    assert table.columns["x"] == [1.0, None]


def test_csv_quoted_cells_may_hold_commas_and_quotes() -> None:
    table = _csv('name,n\n"Smith, J.",1\n"say ""hi""",2\n')
    assert table.columns["name"] == ["Smith, J.", 'say "hi"']


def test_csv_skips_blank_lines_and_accepts_crlf() -> None:
    table = _csv("a,b\r\n1,x\r\n\r\n2,y\r\n")
    assert table.rows == 2
    assert table.columns == {"a": [1.0, 2.0], "b": ["x", "y"]}


def test_csv_header_names_are_stripped_of_surrounding_spaces() -> None:
    assert list(_csv(" a , b \n1,2\n").columns) == ["a", "b"]


def test_csv_utf8_bom_is_not_part_of_the_first_column_name() -> None:
    table = _csv(b"\xef\xbb\xbfage,c\n1,x\n")
    assert list(table.columns) == ["age", "c"]
    assert table.columns["age"] == [1.0]


def test_csv_ragged_row_is_422_naming_the_line() -> None:
    error = _rejected(_csv, "a,b\n1,2\n\n3\n")
    assert status_for(error) == 422
    assert error.location == "line 4"
    assert "expected 2 fields, got 1" in error.detail


def test_csv_row_with_too_many_fields_is_422_naming_the_line() -> None:
    error = _rejected(_csv, "a,b\n1,2,3\n")
    assert (status_for(error), error.location) == (422, "line 2")


def test_csv_duplicate_header_is_422_naming_the_column() -> None:
    error = _rejected(_csv, "a,b,a\n1,2,3\n")
    assert (status_for(error), error.location) == (422, "line 1")
    assert "'a'" in error.detail


def test_csv_duplicate_header_after_stripping_is_422() -> None:
    error = _rejected(_csv, "a, a\n1,2\n")
    assert (status_for(error), error.location) == (422, "line 1")


def test_csv_empty_header_name_is_422() -> None:
    error = _rejected(_csv, "a,,c\n1,2,3\n")
    assert (status_for(error), error.location) == (422, "line 1")
    assert "column 2" in error.detail


@pytest.mark.parametrize("body", [b"", b"\xef\xbb\xbf"])
def test_csv_empty_body_is_422(body: bytes) -> None:
    error = _rejected(_csv, body)
    assert (status_for(error), error.location) == (422, "line 1")


def test_csv_header_only_is_an_empty_table() -> None:
    table = _csv("a,b\n")
    assert table.rows == 0
    assert table.columns == {"a": [], "b": []}


def test_csv_non_utf8_is_400_at_body() -> None:
    error = _rejected(_csv, b"a,b\n\xff,1\n")
    assert (status_for(error), error.location, error.reason) == (400, "body", "malformed")
    assert "UTF-8" in error.detail


def test_csv_unterminated_quote_is_400() -> None:
    error = _rejected(_csv, 'a,b\n"open,1\n')
    assert status_for(error) == 400


def test_csv_over_max_records_is_413() -> None:
    error = _rejected(_csv, "a\n1\n2\n3\n", max_records=2)
    assert (status_for(error), error.reason) == (413, "too_large")


def test_csv_exactly_max_records_is_accepted() -> None:
    assert _csv("a\n1\n2\n", max_records=2).rows == 2


# inline labels and latencies


def test_records_without_labels_or_latencies_carry_none_for_both() -> None:
    batch = decode_predictions(_records({"features": {"a": 1}, "id": "x"}), JSON, 10)
    assert batch.labels is None and batch.latencies is None


def test_inline_labels_are_kept_per_record_with_none_where_absent_or_null() -> None:
    body = _records(
        {"features": {}, "label": 1},
        {"features": {}},
        {"features": {}, "label": None},
        {"features": {}, "label": "yes"},
        {"features": {}, "label": False},
        {"features": {}, "label": 2.5},
    )
    batch = decode_predictions(body, JSON, 10)
    assert batch.labels == [1, None, None, "yes", False, 2.5]


@pytest.mark.parametrize(("label", "kind"), [([1], "an array"), ({"a": 1}, "an object")])
def test_an_inline_label_that_is_not_a_scalar_is_422_naming_it(label: Any, kind: str) -> None:
    body = _records({"features": {}, "label": 1}, {"features": {}, "label": label})
    error = _rejected(decode_predictions, body, JSON, 10)
    assert (status_for(error), error.location) == (422, "records[1].label")
    assert kind in error.detail


def test_latencies_are_kept_per_record_with_none_where_absent() -> None:
    body = _records(
        {"features": {}, "latency_seconds": 0.25},
        {"features": {}},
        {"features": {}, "latency_seconds": 0},
        {"features": {}, "latency_seconds": None},
    )
    assert decode_predictions(body, JSON, 10).latencies == [0.25, None, 0, None]


@pytest.mark.parametrize(
    ("latency", "shown"),
    [(-0.1, "-0.1"), ("0.2", "a string"), (True, "a boolean"), ([1], "an array")],
)
def test_a_latency_that_is_not_a_number_of_seconds_is_422_naming_it(
    latency: Any, shown: str
) -> None:
    body = _records(
        {"features": {}, "latency_seconds": 0.1}, {"features": {}, "latency_seconds": latency}
    )
    error = _rejected(decode_predictions, body, JSON, 10)
    assert (status_for(error), error.location) == (422, "records[1].latency_seconds")
    assert shown in error.detail


def test_ndjson_latency_errors_name_the_line() -> None:
    body = _ndjson({"features": {}}, {"features": {}, "latency_seconds": -1})
    error = _rejected(decode_predictions, body, NDJSON, 10)
    assert (status_for(error), error.location) == (422, "line 2.latency_seconds")


# the labels route


def test_labels_decode_to_string_ids_and_scalar_labels() -> None:
    body = _json({"labels": [{"id": "a", "label": 1}, {"id": 7, "label": "yes"}]})
    batch = decode_labels(body, JSON, 10)
    assert (batch.ids, batch.labels, len(batch)) == (["a", "7"], [1, "yes"], 2)


def test_labels_decode_from_ndjson() -> None:
    body = _ndjson({"id": "a", "label": 0.5}, b"", {"id": "b", "label": True})
    batch = decode_labels(body, NDJSON, 10)
    assert (batch.ids, batch.labels) == (["a", "b"], [0.5, True])


def test_an_empty_label_list_is_accepted() -> None:
    assert len(decode_labels(_json({"labels": []}), JSON, 10)) == 0


@pytest.mark.parametrize(
    ("document", "status", "location", "text"),
    [
        (b"{", 400, "body", "invalid JSON"),
        ([], 422, "body", "'labels' array"),
        ({"records": []}, 422, "body", "unknown field 'records'"),
        ({"labels": {}}, 422, "labels", "expected an array"),
        ({"labels": [{"id": "a", "label": 1}, 3]}, 422, "labels[1]", "expected an object"),
        ({"labels": [{"id": "a", "label": 1, "x": 2}]}, 422, "labels[0]", "unknown field 'x'"),
        ({"labels": [{"label": 1}]}, 422, "labels[0].id", "missing required field 'id'"),
        ({"labels": [{"id": None, "label": 1}]}, 422, "labels[0].id", "'id'"),
        ({"labels": [{"id": 1.5, "label": 1}]}, 422, "labels[0].id", "string or integer"),
        ({"labels": [{"id": True, "label": 1}]}, 422, "labels[0].id", "a boolean"),
        ({"labels": [{"id": "a"}]}, 422, "labels[0].label", "missing required field 'label'"),
        ({"labels": [{"id": "a", "label": None}]}, 422, "labels[0].label", "'label'"),
        ({"labels": [{"id": "a", "label": [1]}]}, 422, "labels[0].label", "an array"),
    ],
)
def test_a_malformed_label_body_names_what_and_where(
    document: Any, status: int, location: str, text: str
) -> None:
    body = document if isinstance(document, bytes) else _json(document)
    error = _rejected(decode_labels, body, JSON, 10)
    assert (status_for(error), error.location) == (status, location)
    assert text in error.detail


def test_too_many_labels_is_413() -> None:
    body = _json({"labels": [{"id": str(i), "label": 1} for i in range(11)]})
    error = _rejected(decode_labels, body, JSON, 10)
    assert (status_for(error), error.location, error.reason) == (413, "labels", "too_large")
    assert "labels exceed limits.max_records_per_request (10)" in error.detail


def test_an_rfc3339_time_before_1970_is_refused_like_negative_epoch_seconds() -> None:
    body = b'{"records": [{"features": {}, "timestamp": "1960-01-01T00:00:00+00:00"}]}'
    with pytest.raises(DomainError) as raised:
        decode_predictions(body, "application/json", 10)
    assert status_for(raised.value) == 422
    assert raised.value.location == "records[0].timestamp"
