"""Parsed prediction and label records -> batches, with errors that name the record and field.

The whole batch is checked for shape before anything is stored, so a rejected request changes
nothing. Only the shape is checked here; what is wrong with individual values (missing, wrong
type, NaN) is counted later as data quality. The per-record loop is the ingest hot path: it does
type checks and key-set comparisons only, no per-record model validation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from exporter.errors import InvalidInput
from exporter.ingest.kinds import json_kind
from exporter.ingest.reader import Locate, RecordReader

PREDICTION_KEYS = frozenset(
    {"id", "timestamp", "features", "prediction", "label", "latency_seconds"}
)
LABEL_KEYS = frozenset({"id", "label"})
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


def decode_predictions(body: bytes, media: str, max_records: int) -> PredictionBatch:
    """A JSON `{"records": [...]}` or NDJSON body as a PredictionBatch.

    The whole-body public API, parsed in one go: bench and tests call it. The ingest route
    runs the same two steps, RecordReader then `predictions_from_records`, yielding between
    the reader's steps.
    """
    return predictions_from_records(*RecordReader(body, media, max_records).read())


def predictions_from_records(records: list[Any], locate: Locate) -> PredictionBatch:
    """Parsed records (from RecordReader) as a PredictionBatch, after checking their shape."""
    features, keys = check_records(records, PREDICTION_KEYS, locate)
    ids = _ids(records, locate)
    timestamps = _timestamps(records, locate)
    predictions = [record.get("prediction") for record in records]
    labels = _inline_labels(records, locate) if "label" in keys else None
    latencies = _latencies(records, locate) if "latency_seconds" in keys else None
    return PredictionBatch(features, predictions, ids, timestamps, labels, latencies)


def decode_labels(body: bytes, media: str, max_labels: int) -> LabelBatch:
    """A JSON `{"labels": [{"id": ..., "label": ...}]}` or NDJSON body as a LabelBatch.

    Every label needs an `id` (a string or an integer, read as its digits) and a `label` (a
    string, number or boolean); anything else is a 422 naming the label. Like
    `decode_predictions`, the whole-body public API that bench and tests call; the route runs
    RecordReader then `labels_from_records`.
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


def check_records(
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
