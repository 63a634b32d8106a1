"""Request bodies (JSON, NDJSON, CSV) -> records, with errors that name the line, record and field.

The whole batch is checked for shape before anything is stored, so a rejected request changes
nothing. Only the shape is checked here; what is wrong with individual values (missing, wrong
type, NaN) is counted later as data quality. The per-record loop is the ingest hot path: it does
type checks and key-set comparisons only, no per-record model validation.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec
import orjson

from exporter.errors import InputTooLarge, InvalidInput, MalformedInput, UnsupportedMediaType
from exporter.ingest.values import ABSENT
from exporter.settings import FeatureKind

JSON = "application/json"
NDJSON = "application/x-ndjson"
CSV = "text/csv"
_MEDIA_ALIASES = {
    "application/json": JSON,
    "text/json": JSON,
    "application/x-ndjson": NDJSON,
    "application/ndjson": NDJSON,
    "application/jsonlines": NDJSON,
    "application/jsonl": NDJSON,
    "text/csv": CSV,
    "application/csv": CSV,
}

#: A leading zero before another digit: how codes (zip, account), not numbers, are spelled.
_CODE_LIKE = re.compile(r"\s*[+-]?0\d")

PREDICTION_KEYS = frozenset(
    {"id", "timestamp", "features", "prediction", "label", "latency_seconds"}
)
REFERENCE_KEYS = frozenset({"features", "prediction", "label"})
LABEL_KEYS = frozenset({"id", "label"})
Locate = Callable[[int], str]
"""Names item i of a body for an error: `records[3]`, `line 4`."""
_SCALARS = frozenset({str, int, float, bool})
_NUMBERS_OR_NULL = frozenset({int, float, type(None)})


@dataclass(frozen=True)
class PredictionBatch:
    """Served traffic, one entry per record in every list.

    `labels` (inline ground truth, None where a record has none) and `latencies` (the model
    server's seconds, None where absent) are None when no record of the batch carries them,
    so traffic without them pays nothing for them.
    """

    features: list[dict[str, Any]]
    predictions: list[Any]
    ids: list[str | None]
    timestamps: list[float | None]
    labels: list[Any] | None = None
    latencies: list[float | None] | None = None

    def __len__(self) -> int:
        return len(self.features)


@dataclass(frozen=True)
class LabelBatch:
    """Ground truth for earlier predictions, joined by id: one entry per label in each list."""

    ids: list[str]
    labels: list[Any]

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(frozen=True)
class ReferenceTable:
    """Training data by column; absent cells are ABSENT, nulls None.

    `prediction_column` names where `predictions` came from (the CSV column, the records'
    `prediction` key, or the feature it names); None when the reference has none."""

    columns: dict[str, list[Any]]
    predictions: list[Any] | None
    labels: list[Any] | None
    rows: int
    prediction_column: str | None = None


def media_type(content_type: str | None, accepted: Sequence[str]) -> str:
    """The canonical media type of a Content-Type header, or a 415 listing what is accepted."""
    essence = (content_type or JSON).split(";", 1)[0].strip().lower()
    canonical = _MEDIA_ALIASES.get(essence)
    if canonical is None or canonical not in accepted:
        raise UnsupportedMediaType(
            f"unsupported Content-Type {content_type!r}; send one of: {', '.join(accepted)}",
            "header.content-type",
        )
    return canonical


def decode_predictions(body: bytes, media: str, max_records: int) -> PredictionBatch:
    """A JSON `{"records": [...]}` or NDJSON body as a PredictionBatch."""
    return predictions_from_records(*RecordReader(body, media, max_records).read())


def predictions_from_records(records: list[Any], locate: Locate) -> PredictionBatch:
    """Parsed records (from RecordReader) as a PredictionBatch, after checking their shape."""
    features, keys = _check_records(records, PREDICTION_KEYS, locate)
    ids = _ids(records, locate)
    timestamps = _timestamps(records, locate)
    predictions = [record.get("prediction") for record in records]
    labels = _inline_labels(records, locate) if "label" in keys else None
    latencies = _latencies(records, locate) if "latency_seconds" in keys else None
    return PredictionBatch(features, predictions, ids, timestamps, labels, latencies)


def decode_labels(body: bytes, media: str, max_labels: int) -> LabelBatch:
    """A JSON `{"labels": [{"id": ..., "label": ...}]}` or NDJSON body as a LabelBatch.

    Every label needs an `id` (a string or an integer, read as its digits) and a `label` (a
    string, number or boolean); anything else is a 422 naming the label.
    """
    return labels_from_records(*RecordReader(body, media, max_labels, key="labels").read())


def labels_from_records(labels: list[Any], locate: Locate) -> LabelBatch:
    """Parsed labels (from RecordReader with key "labels") as a LabelBatch, once checked."""
    for i, entry in enumerate(labels):
        if type(entry) is not dict:
            raise InvalidInput(f"expected an object, got {json_kind(entry)}", locate(i))
        if not entry.keys() <= LABEL_KEYS:
            unknown = sorted(entry.keys() - LABEL_KEYS)[0]
            raise InvalidInput(f"unknown field {unknown!r}; a label may have: id, label", locate(i))
        for field in ("id", "label"):
            if entry.get(field) is None:
                raise InvalidInput(f"missing required field {field!r}", f"{locate(i)}.{field}")
        if type(entry["label"]) not in _SCALARS:
            raise InvalidInput(
                f"expected a string, number or boolean, got {json_kind(entry['label'])}",
                f"{locate(i)}.label",
            )
    ids = _ids(labels, locate)
    return LabelBatch([str(record_id) for record_id in ids], [entry["label"] for entry in labels])


def decode_reference(
    body: bytes,
    media: str,
    max_records: int,
    *,
    prediction_column: str,
    label_column: str,
    declared: Mapping[str, FeatureKind],
    max_features: int | None = None,
) -> ReferenceTable:
    """A JSON records body or a CSV table with a header row as a ReferenceTable.

    `prediction_column` is the CSV column holding the prediction. JSON records carry theirs
    under `prediction`; any other name takes the feature of that name as the prediction instead
    (422 at `query.prediction_column` when records carry a `prediction` as well), and so does
    `prediction` itself when no record has the key. A named column that is not there leaves
    the table without predictions: whether that is an error is the caller's to say.

    More than `max_features` feature names is refused before any column is built: building
    them costs names x rows, which a wide hostile body would otherwise make huge.
    """
    if media == CSV:
        return _csv_table(
            body, max_records, prediction_column, label_column, declared, max_features
        )
    # Column by column, a piece of records at a time: the parsed records (a dict per row, the
    # bulk of a parse) never all exist at once, only the columns' values do.
    reader = RecordReader(body, media, max_records)
    columns: dict[str, list[Any]] = {}
    predictions: list[Any] = []
    labels: list[Any] = []
    has_prediction = has_label = False
    named = None if prediction_column == "prediction" else prediction_column
    rows = 0
    for first, piece in reader.pieces():
        features, keys = _check_records(piece, REFERENCE_KEYS, _shifted(reader.locate, first))
        names = dict.fromkeys(columns)
        for row in features:
            names.update(dict.fromkeys(row))
        _check_feature_count(len(names) - (named in names), max_features, "records")
        for name in names:
            if name not in columns:  # first seen in this piece: absent from the rows before
                columns[name] = [ABSENT] * rows
        for name, values in columns.items():
            values.extend([row.get(name, ABSENT) for row in features])
        predictions.extend([record.get("prediction") for record in piece])
        labels.extend([record.get("label") for record in piece])
        has_prediction = has_prediction or "prediction" in keys
        has_label = has_label or "label" in keys
        rows += len(piece)
    if prediction_column in columns and (named is not None or not has_prediction):
        if has_prediction:
            raise InvalidInput(
                f"prediction_column names the feature {named!r}, but the records also carry "
                "'prediction': leave out one of them",
                "query.prediction_column",
            )
        feature = columns.pop(prediction_column)
        predictions = [None if value is ABSENT else value for value in feature]
        return ReferenceTable(
            columns,
            predictions,
            labels if has_label else None,
            rows,
            prediction_column=prediction_column,
        )
    return ReferenceTable(
        columns=columns,
        predictions=predictions if has_prediction else None,
        labels=labels if has_label else None,
        rows=rows,
        prediction_column="prediction" if has_prediction else None,
    )


#: Larger bodies are parsed in pieces of about PIECE_BYTES (~0.25 ms each): one orjson call over
#: a 690 KB body (1,000 records x 50 features) holds the event loop for ~2.7 ms. Splitting costs
#: ~0.1 ms per 100 KB, so bodies up to here (~1 ms to parse) are parsed in one call.
WHOLE_PARSE_BYTES = 256 * 1024
PIECE_BYTES = 64 * 1024


class RecordReader:
    """The records of a JSON or NDJSON body, parsed piece by piece.

    `steps()` parses about PIECE_BYTES per step, so a caller on the event loop can yield
    between steps (a body up to WHOLE_PARSE_BYTES is one step). A larger JSON body is first
    split into its records' raw text by msgspec (which validates the JSON but builds no Python
    objects), then each piece of records is parsed by orjson, exactly as a whole body would
    be. Anything unusual (invalid JSON, another shape, text orjson refuses) falls back to
    parsing the whole body at once, so every error names the same place as before.
    """

    def __init__(self, body: bytes, media: str, max_records: int, key: str = "records") -> None:
        self.body = body
        self.media = media
        self.max_records = max_records
        self.key = key
        self.records: list[Any] = []
        self.locate: Locate = lambda i: f"{key}[{i}]"

    def read(self) -> tuple[list[Any], Locate]:
        """Every step at once: the records and a function naming record i."""
        for _ in self.steps():
            pass
        return self.records, self.locate

    def steps(self) -> Iterator[None]:
        """Parse into `records`, a step per piece."""
        for _, piece in self.pieces():
            self.records.extend(piece)
            yield

    def pieces(self) -> Iterator[tuple[int, list[Any]]]:
        """(index of the first record, records) per piece, in order; `locate` names records
        by their index in the whole body. A caller that keeps columns, not records, holds one
        piece of parsed objects at a time."""
        body, key = self.body, self.key
        if self.media == NDJSON:
            lines: list[int] = []
            self.locate = lambda i: f"line {lines[i]}"
            yield from _ndjson_pieces(body, self.max_records, key, lines)
            return
        raws = _split_records(body, key) if len(body) > WHOLE_PARSE_BYTES else None
        if raws is None:
            yield 0, _json_records(body, self.max_records, key)
            return
        _check_count(len(raws), self.max_records, key)
        yield 0, []  # a step boundary: the split itself takes ~0.1 ms per 100 KB
        start = 0
        while start < len(raws):
            stop, size = start, 0
            while stop < len(raws) and size < PIECE_BYTES:
                size += len(raws[stop])
                stop += 1
            try:
                piece = orjson.loads(b"[" + b",".join(raws[start:stop]) + b"]")
            except orjson.JSONDecodeError as error:
                # Text msgspec took for JSON and orjson does not: orjson refuses the whole body
                # too, and says where.
                _json_records(body, self.max_records, key)
                raise MalformedInput(f"invalid JSON: {error}", "body") from None
            yield start, piece
            start = stop


def _shifted(locate: Locate, first: int) -> Locate:
    """Names item i of a piece that starts at item `first` of the body."""
    return lambda i: locate(first + i)


_SPLITTERS: dict[str, msgspec.json.Decoder[Any]] = {}


def _split_records(body: bytes, key: str) -> list[msgspec.Raw] | None:
    """The raw JSON text of each item of a `{key: [...]}` body, or None for any other body."""
    splitter = _SPLITTERS.get(key)
    if splitter is None:
        shape = msgspec.defstruct("Body", [(key, list[msgspec.Raw])], forbid_unknown_fields=True)
        splitter = _SPLITTERS[key] = msgspec.json.Decoder(shape)
    try:
        document = splitter.decode(body)
    except msgspec.DecodeError:
        return None
    raws: list[msgspec.Raw] = getattr(document, key)
    return raws


def _json_records(body: bytes, max_records: int, key: str) -> list[Any]:
    """The list under `key` of a JSON `{key: [...]}` body, parsed in one call."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise MalformedInput(f"invalid JSON: {error}", "body") from None
    if type(document) is not dict:
        raise InvalidInput(
            f"expected an object with a {key!r} array, got {json_kind(document)}", "body"
        )
    unknown = document.keys() - {key}
    if unknown:
        raise InvalidInput(f"unknown field {sorted(unknown)[0]!r}", "body")
    listed = document.get(key)
    if type(listed) is not list:
        raise InvalidInput(f"expected an array, got {json_kind(listed)}", key)
    _check_count(len(listed), max_records, key)
    return listed


def _ndjson_pieces(
    body: bytes, max_records: int, key: str, lines: list[int]
) -> Iterator[tuple[int, list[Any]]]:
    """Parse NDJSON a piece of about PIECE_BYTES of lines at a time, appending each record's
    line number to `lines`."""
    piece: list[Any] = []
    first = count = size = 0
    for number, line in enumerate(body.split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            piece.append(orjson.loads(line))
        except orjson.JSONDecodeError as error:
            raise MalformedInput(f"invalid JSON: {error}", f"line {number}") from None
        lines.append(number)
        count += 1
        if count > max_records:
            _check_count(count, max_records, key)
        size += len(line)
        if size >= PIECE_BYTES:
            yield first, piece
            first, piece, size = count, [], 0
    if piece:
        yield first, piece


def _check_count(count: int, max_records: int, key: str = "records") -> None:
    if count > max_records:
        raise InputTooLarge(
            f"{count if count <= max_records + 1 else 'more'} {key} exceed "
            f"limits.max_records_per_request ({max_records}); split the batch",
            key,
        )


def _check_records(
    records: list[Any], allowed: frozenset[str], locate: Locate
) -> tuple[list[dict[str, Any]], set[str]]:
    """Each record's `features` object and the keys any record has, after checking every
    record's shape.

    The common all-well-formed batch is checked with C-level passes (`map`, `set`); only a
    batch that fails one of them is walked record by record to name the first culprit. The
    union of the keys says which optional fields (label, latency) the batch carries at all.
    """
    if set(map(type, records)) <= {dict}:
        keys: set[str] = set().union(*records)
        if keys <= allowed:
            features = [record.get("features") for record in records]
            if set(map(type, features)) <= {dict}:
                return features, keys
    features = []
    append = features.append
    for i, record in enumerate(records):
        if type(record) is not dict:
            raise InvalidInput(f"expected an object, got {json_kind(record)}", locate(i))
        if not record.keys() <= allowed:
            unknown = sorted(record.keys() - allowed)[0]
            raise InvalidInput(
                f"unknown field {unknown!r}; a record may have: {', '.join(sorted(allowed))}",
                locate(i),
            )
        values = record.get("features")
        if type(values) is not dict:
            if values is None:
                raise InvalidInput("missing required object 'features'", locate(i))
            raise InvalidInput(
                f"expected an object, got {json_kind(values)}", f"{locate(i)}.features"
            )
        append(values)
    return features, set().union(*records)


def _ids(records: list[Any], locate: Locate) -> list[str | None]:
    ids = [record.get("id") for record in records]
    if set(map(type, ids)) <= {str, type(None)}:
        return ids
    checked: list[str | None] = []
    for i, value in enumerate(ids):
        if value is None or type(value) is str:
            checked.append(value)
        elif type(value) is int:
            checked.append(str(value))
        else:
            raise InvalidInput(
                f"expected a string or integer, got {json_kind(value)}", f"{locate(i)}.id"
            )
    return checked


def _inline_labels(records: list[Any], locate: Locate) -> list[Any]:
    """Each record's `label` (None when absent or null): a string, number or boolean."""
    labels = [record.get("label") for record in records]
    if set(map(type, labels)) <= _SCALARS | {type(None)}:
        return labels
    for i, value in enumerate(labels):
        if value is not None and type(value) not in _SCALARS:
            raise InvalidInput(
                f"expected a string, number or boolean, got {json_kind(value)}",
                f"{locate(i)}.label",
            )
    raise AssertionError("unreachable")  # pragma: no cover


def _latencies(records: list[Any], locate: Locate) -> list[float | None]:
    """Each record's `latency_seconds` (None when absent or null): a number >= 0."""
    raw = [record.get("latency_seconds") for record in records]
    if set(map(type, raw)) <= _NUMBERS_OR_NULL:
        present = [value for value in raw if value is not None]
        if not present or (min(present) >= 0 and all(map(math.isfinite, present))):
            return raw
    latencies: list[float | None] = []
    for i, value in enumerate(raw):
        kind = type(value)
        if value is None:
            latencies.append(None)
        elif (kind is int or kind is float) and value >= 0 and math.isfinite(value):
            latencies.append(float(value))
        else:
            shown = json_kind(value) if kind is not int and kind is not float else repr(value)
            raise InvalidInput(
                f"expected a number of seconds >= 0, got {shown}",
                f"{locate(i)}.latency_seconds",
            )
    return latencies


def _timestamps(records: list[Any], locate: Locate) -> list[float | None]:
    raw = [record.get("timestamp") for record in records]
    kinds = set(map(type, raw))
    if kinds <= {type(None)}:
        return raw
    stamps: list[float | None] = []
    for i, value in enumerate(raw):
        stamps.append(_timestamp(value, lambda i=i: f"{locate(i)}.timestamp"))
    return stamps


def _timestamp(value: Any, where: Any) -> float | None:
    """Epoch seconds from a number or an RFC 3339 string with an offset."""
    kind = type(value)
    if value is None:
        return None
    if kind is int or kind is float:
        if not math.isfinite(value) or value < 0:
            raise InvalidInput(f"expected epoch seconds >= 0, got {value!r}", where())
        return float(value)
    if kind is str:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            parsed = None
        if parsed is None or parsed.tzinfo is None:
            raise InvalidInput(
                f"expected epoch seconds or an RFC 3339 time with an offset, got {value[:64]!r}",
                where(),
            )
        stamp = parsed.timestamp()
        if stamp < 0:  # the same rule as for epoch seconds
            raise InvalidInput(f"expected a time at or after 1970, got {value[:64]!r}", where())
        return stamp
    raise InvalidInput(f"expected a number or a string, got {json_kind(value)}", where())


def _check_feature_count(count: int, max_features: int | None, location: str) -> None:
    if max_features is not None and count > max_features:
        raise InvalidInput(
            f"{count} features exceed limits.max_features_per_model ({max_features})",
            location,
            reason="limit",
        )


def _csv_table(
    body: bytes,
    max_records: int,
    prediction_column: str,
    label_column: str,
    declared: Mapping[str, FeatureKind],
    max_features: int | None = None,
) -> ReferenceTable:
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise MalformedInput(
            f"CSV is not UTF-8: {error.reason} at byte {error.start}", "body"
        ) from None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader)
    except StopIteration:
        raise InvalidInput("empty CSV: expected a header row", "line 1") from None
    except csv.Error as error:
        raise MalformedInput(f"invalid CSV: {error}", "line 1") from None
    header = [name.strip() for name in header]
    for position, name in enumerate(header, start=1):
        if not name:
            raise InvalidInput(f"column {position} has an empty name", "line 1")
    duplicated = sorted(name for name, count in Counter(header).items() if count > 1)
    features = len(header) - (prediction_column in header) - (label_column in header)
    _check_feature_count(features, max_features, "line 1")
    if duplicated:
        raise InvalidInput(f"duplicate column name {duplicated[0]!r}", "line 1")
    cells: list[list[str]] = [[] for _ in header]
    width = len(header)
    rows = 0
    try:
        for row in reader:
            if not row:
                continue
            if len(row) != width:
                raise InvalidInput(
                    f"expected {width} fields, got {len(row)}", f"line {reader.line_num}"
                )
            rows += 1
            if rows > max_records:
                _check_count(rows, max_records)
            for column, cell in zip(cells, row, strict=True):
                column.append(cell)
    except csv.Error as error:
        raise MalformedInput(f"invalid CSV: {error}", f"line {reader.line_num}") from None
    typed = {
        name: _typed_cells(column, declared.get(name))
        for name, column in zip(header, cells, strict=True)
    }
    predictions = typed.pop(prediction_column, None)
    labels = typed.pop(label_column, None)
    return ReferenceTable(
        columns=typed,
        predictions=predictions,
        labels=labels,
        rows=rows,
        prediction_column=None if predictions is None else prediction_column,
    )


def _typed_cells(cells: list[str], declared: FeatureKind | None) -> list[Any]:
    """A CSV column with empty cells as None and numbers as floats when the column is numeric.

    An undeclared column is numeric only if every non-empty cell parses as a number and none is
    spelled with a leading zero (no number is written "02139": that is a code); otherwise its
    cells stay strings, so codes keep their spelling. A column declared
    numeric converts each cell that parses and leaves the rest as strings (type mismatches).
    """
    if declared is not None and declared != "numeric":
        return [cell if cell != "" else None for cell in cells]
    numbers: list[Any] = []
    every_cell_numeric = True
    for cell in cells:
        if cell == "":
            numbers.append(None)
            continue
        try:
            if declared is None and _CODE_LIKE.match(cell):
                raise ValueError(cell)
            numbers.append(float(cell))
        except ValueError:
            every_cell_numeric = False
            numbers.append(cell)
    if every_cell_numeric or declared == "numeric":
        return numbers
    return [cell if cell != "" else None for cell in cells]


def json_kind(value: Any) -> str:
    """The JSON name of a value's type, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__
