"""Large bodies parsed piece by piece: the same records and the same errors as one parse."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from exporter.api.errors import status_for
from exporter.errors import DomainError
from exporter.ingest import reader as reader_module
from exporter.ingest.media import JSON, NDJSON
from exporter.ingest.reader import PIECE_BYTES, WHOLE_PARSE_BYTES, RecordReader
from exporter.ingest.records import decode_labels, decode_predictions
from exporter.ingest.reference import decode_reference
from exporter.ingest.values import ABSENT

#: Records of ~700 bytes each: 1,000 of them make a body several pieces long.
RECORDS = 1_000


def _record(i: int) -> dict[str, Any]:
    features: dict[str, Any] = {f"f{k:02d}": i * 0.37 + k for k in range(40)}
    features["city"] = ["Lyon", "Nantes", "Ghent \u00e9"][i % 3]
    features["flag"] = i % 2 == 0
    features["gap"] = None
    return {
        "id": f"r{i}",
        "timestamp": 1_700_000_000 + i,
        "features": features,
        "prediction": i % 3,
    }


def _body(records: list[Any]) -> bytes:
    return orjson.dumps({"records": records})


@pytest.fixture
def records() -> list[dict[str, Any]]:
    return [_record(i) for i in range(RECORDS)]


def _steps(reader: RecordReader) -> int:
    return sum(1 for _ in reader.steps())


def _whole(monkeypatch: pytest.MonkeyPatch, call: Any, *args: Any) -> Any:
    """What `call` gives when every body is parsed in one piece (the reference behaviour)."""
    with monkeypatch.context() as patched:
        patched.setattr(reader_module, "WHOLE_PARSE_BYTES", 1 << 40)
        try:
            return call(*args)
        except DomainError as error:
            return error


def _error(call: Any, *args: Any) -> DomainError:
    with pytest.raises(DomainError) as caught:
        call(*args)
    return caught.value


def test_a_large_json_body_is_parsed_in_several_steps_to_the_same_records(
    records: list[dict[str, Any]],
) -> None:
    body = _body(records)
    assert len(body) > WHOLE_PARSE_BYTES + 2 * PIECE_BYTES
    reader = RecordReader(body, JSON, 10_000)
    steps = _steps(reader)
    assert steps >= len(body) // PIECE_BYTES
    assert reader.records == orjson.loads(body)["records"]
    assert reader.locate(7) == "records[7]"


def test_a_body_up_to_the_whole_parse_size_is_one_step(records: list[dict[str, Any]]) -> None:
    body = _body(records[:300])
    assert PIECE_BYTES < len(body) <= WHOLE_PARSE_BYTES
    reader = RecordReader(body, JSON, 1_000)
    assert _steps(reader) == 1
    assert reader.records == records[:300]


def test_decode_predictions_in_pieces_equals_one_parse(
    records: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    body = _body(records)
    assert decode_predictions(body, JSON, 10_000) == _whole(
        monkeypatch, decode_predictions, body, JSON, 10_000
    )


def test_whitespace_between_records_changes_nothing(records: list[dict[str, Any]]) -> None:
    body = orjson.dumps({"records": records}, option=orjson.OPT_INDENT_2)
    assert RecordReader(body, JSON, 10_000).read()[0] == records


def test_a_repeated_records_key_keeps_the_last_as_one_parse_does(
    records: list[dict[str, Any]],
) -> None:
    first, last = _body(records[:500])[1:-1], _body(records[500:])[1:-1]
    body = b"{" + first + b"," + last + b"}"
    assert len(body) > WHOLE_PARSE_BYTES
    assert RecordReader(body, JSON, 10_000).read()[0] == orjson.loads(body)["records"]


def _malformed(records: list[dict[str, Any]]) -> list[tuple[str, bytes]]:
    body = _body(records)
    middle = body.index(b'"r700"')
    not_an_object = _body([*records[:900], 5, *records[901:]])
    no_features = _body([*records[:950], {"id": "x"}, *records[951:]])
    return [
        ("truncated", body[:-3]),
        ("invalid utf-8 in record 700", body[:middle] + b'"\xff\xfe"' + body[middle + 6 :]),
        ("NaN literal", body[:middle] + b"NaN" + body[middle + 6 :]),
        ("byte order mark", b"\xef\xbb\xbf" + body),
        ("unknown top-level key", body[:-1] + b',"extra":1}'),
        ("records not an array", orjson.dumps({"records": {"a": records}})),
        ("not an object", orjson.dumps(records)),
        ("record 900 not an object", not_an_object),
        ("record 950 without features", no_features),
    ]


@pytest.mark.parametrize("case", range(9))
def test_a_malformed_large_body_fails_exactly_as_one_parse_does(
    case: int, records: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    name, body = _malformed(records)[case]
    assert len(body) > WHOLE_PARSE_BYTES, name
    error = _error(decode_predictions, body, JSON, 10_000)
    expected = _whole(monkeypatch, decode_predictions, body, JSON, 10_000)
    assert isinstance(expected, DomainError), name
    assert (status_for(error), error.location, error.detail) == (
        status_for(expected),
        expected.location,
        expected.detail,
    ), name


def test_too_many_records_in_a_large_body_is_413_before_any_piece_is_parsed(
    records: list[dict[str, Any]],
) -> None:
    reader = RecordReader(_body(records), JSON, 999)
    with pytest.raises(DomainError) as caught:
        next(iter(reader.steps()))
    assert (status_for(caught.value), caught.value.location) == (413, "records")
    assert reader.records == []


def test_a_large_ndjson_body_is_parsed_in_steps_naming_physical_lines(
    records: list[dict[str, Any]],
) -> None:
    body = b"\n\n".join(orjson.dumps(record) for record in records)
    reader = RecordReader(body, NDJSON, 10_000)
    assert _steps(reader) >= len(body) // PIECE_BYTES - 1
    assert reader.records == records
    assert reader.locate(1) == "line 3"


def test_a_bad_line_late_in_a_large_ndjson_body_is_400_naming_it(
    records: list[dict[str, Any]],
) -> None:
    lines = [orjson.dumps(record) for record in records]
    lines[987] = b'{"features": '
    error = _error(decode_predictions, b"\n".join(lines), NDJSON, 10_000)
    assert (status_for(error), error.location) == (400, "line 988")


def test_large_label_bodies_are_read_in_pieces_too() -> None:
    labels = [{"id": f"prediction-{i:08d}-{'x' * 40}", "label": i % 2} for i in range(8_000)]
    body = orjson.dumps({"labels": labels})
    assert len(body) > WHOLE_PARSE_BYTES
    reader = RecordReader(body, JSON, 10_000, key="labels")
    assert _steps(reader) >= 1
    batch = decode_labels(body, JSON, 10_000)
    assert batch.ids == [label["id"] for label in labels]
    assert batch.labels == [label["label"] for label in labels]


def _reference(body: bytes) -> Any:
    return decode_reference(
        body, JSON, 100_000, prediction_column="prediction", label_column="label", declared={}
    )


def test_a_large_reference_is_read_piece_by_piece_into_the_same_table(
    records: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = [
        {"features": record["features"], "prediction": record["prediction"]} for record in records
    ]
    # A feature that first appears late, and a label on one row only.
    rows[850]["features"]["late"] = "x"
    rows[990]["label"] = 1
    body = _body(rows)
    assert len(body) > WHOLE_PARSE_BYTES + PIECE_BYTES
    table = _reference(body)
    expected = _whole(monkeypatch, _reference, body)
    assert table == expected
    assert list(table.columns)[-1] == "late"
    assert table.columns["late"][849:852] == [ABSENT, "x", ABSENT]
    assert table.labels is not None and table.labels[990] == 1 and table.labels[0] is None
    assert table.rows == RECORDS


def test_a_bad_reference_row_late_in_a_large_body_is_named_by_its_index(
    records: list[dict[str, Any]],
) -> None:
    rows = [{"features": record["features"]} for record in records]
    rows[977] = {"features": {"x": 1}, "id": "no ids in a reference"}
    error = _error(_reference, _body(rows))
    assert (status_for(error), error.location) == (422, "records[977]")
