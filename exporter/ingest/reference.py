"""Reference (training) data -> a ReferenceTable, column by column, from JSON records or CSV.

Like prediction bodies, the whole reference is checked before anything is kept: errors name
the record, the CSV line or the query parameter. CSV cells are typed here (numbers, codes,
empty cells); JSON values keep the type they were sent with.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from exporter.errors import InvalidInput, MalformedInput
from exporter.ingest.media import CSV
from exporter.ingest.reader import RecordReader, check_count, shifted
from exporter.ingest.records import check_records
from exporter.ingest.values import ABSENT
from exporter.settings import FeatureKind

if TYPE_CHECKING:
    from _csv import Reader as CsvReader

REFERENCE_KEYS = frozenset({"features", "prediction", "label"})

#: A leading zero before another digit: how codes (zip, account), not numbers, are spelled.
_CODE_LIKE = re.compile(r"\s*[+-]?0\d")


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
    return _records_table(body, media, max_records, prediction_column, max_features)


def _records_table(
    body: bytes, media: str, max_records: int, prediction_column: str, max_features: int | None
) -> ReferenceTable:
    """A JSON or NDJSON records body as a ReferenceTable, read column by column."""
    # Column by column, a piece of records at a time: the parsed records (a dict per row, the
    # bulk of a parse) never all exist at once, only the columns' values do.
    reader = RecordReader(body, media, max_records)
    named = None if prediction_column == "prediction" else prediction_column
    columns = _RecordColumns()
    for first, piece in reader.pieces():
        features, keys = check_records(piece, REFERENCE_KEYS, shifted(reader.locate, first))
        names = columns.names_with(features)
        _check_feature_count(len(names) - (named in names), max_features, "records")
        columns.extend(piece, features, keys, names)
    return columns.table(prediction_column, named)


@dataclass
class _RecordColumns:
    """The JSON reference records read so far, by column: `rows` records' features, predictions
    and labels, and whether any record carried a prediction or a label at all."""

    features: dict[str, list[Any]] = field(default_factory=dict)
    predictions: list[Any] = field(default_factory=list)
    labels: list[Any] = field(default_factory=list)
    has_prediction: bool = False
    has_label: bool = False
    rows: int = 0

    def names_with(self, rows: list[dict[str, Any]]) -> dict[str, None]:
        """The feature names so far and those `rows` add, in order of first appearance."""
        names = dict.fromkeys(self.features)
        for row in rows:
            names.update(dict.fromkeys(row))
        return names

    def extend(
        self,
        piece: list[Any],
        features: list[dict[str, Any]],
        keys: set[str],
        names: dict[str, None],
    ) -> None:
        """Append a checked piece of records (`features` are theirs, `names` from names_with)."""
        for name in names:
            if name not in self.features:  # first seen in this piece: absent from the rows before
                self.features[name] = [ABSENT] * self.rows
        for name, values in self.features.items():
            values.extend([row.get(name, ABSENT) for row in features])
        self.predictions.extend([record.get("prediction") for record in piece])
        self.labels.extend([record.get("label") for record in piece])
        self.has_prediction = self.has_prediction or "prediction" in keys
        self.has_label = self.has_label or "label" in keys
        self.rows += len(piece)

    def table(self, prediction_column: str, named: str | None) -> ReferenceTable:
        """The records read as a ReferenceTable; `named` is prediction_column unless that is
        "prediction"."""
        if prediction_column in self.features and (named is not None or not self.has_prediction):
            return self._feature_as_prediction(prediction_column, named)
        return ReferenceTable(
            columns=self.features,
            predictions=self.predictions if self.has_prediction else None,
            labels=self.labels if self.has_label else None,
            rows=self.rows,
            prediction_column="prediction" if self.has_prediction else None,
        )

    def _feature_as_prediction(self, prediction_column: str, named: str | None) -> ReferenceTable:
        """The table with the feature `prediction_column` as its predictions."""
        if self.has_prediction:
            raise InvalidInput(
                f"prediction_column names the feature {named!r}, but the records also carry "
                "'prediction': leave out one of them",
                "query.prediction_column",
            )
        feature = self.features.pop(prediction_column)
        predictions = [None if value is ABSENT else value for value in feature]
        return ReferenceTable(
            self.features,
            predictions,
            self.labels if self.has_label else None,
            self.rows,
            prediction_column=prediction_column,
        )


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
    """A CSV table with a header row as a ReferenceTable, its cells typed per column."""
    reader = csv.reader(io.StringIO(_csv_text(body), newline=""), strict=True)
    header = _csv_header(reader, prediction_column, label_column, max_features)
    cells, rows = _csv_cells(reader, len(header), max_records)
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


def _csv_text(body: bytes) -> str:
    """The body as text: UTF-8, with or without a byte order mark."""
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise MalformedInput(
            f"CSV is not UTF-8: {error.reason} at byte {error.start}", "body"
        ) from None


def _csv_header(
    reader: CsvReader,
    prediction_column: str,
    label_column: str,
    max_features: int | None,
) -> list[str]:
    """The column names of line 1, stripped: none empty, none twice, at most `max_features`
    features besides the prediction and label columns."""
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
    return header


def _csv_cells(reader: CsvReader, width: int, max_records: int) -> tuple[list[list[str]], int]:
    """The cells after the header, column by column, and how many rows they came from; blank
    lines are skipped, a row of another width is a 422 naming its line."""
    cells: list[list[str]] = [[] for _ in range(width)]
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
                check_count(rows, max_records)
            for column, cell in zip(cells, row, strict=True):
                column.append(cell)
    except csv.Error as error:
        raise MalformedInput(f"invalid CSV: {error}", f"line {reader.line_num}") from None
    return cells, rows


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
