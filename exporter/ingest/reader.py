"""JSON and NDJSON bodies -> their list of records, parsed a piece at a time.

Only the body's envelope is checked here (valid JSON, one `{key: [...]}` object, at most
`limits.max_records_per_request` items); what each record holds is checked by `records` and
`reference`. Errors name the body, the key or the NDJSON line.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import msgspec
import orjson

from exporter.errors import InputTooLarge, InvalidInput, MalformedInput
from exporter.ingest.kinds import json_kind
from exporter.ingest.media import NDJSON

Locate = Callable[[int], str]
"""Names item i of a body for an error: `records[3]`, `line 4`."""

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
        check_count(len(raws), self.max_records, key)
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


def shifted(locate: Locate, first: int) -> Locate:
    """Names item i of a piece that starts at item `first` of the body."""
    return lambda i: locate(first + i)


def check_count(count: int, max_records: int, key: str = "records") -> None:
    """A 413 when `count` items exceed `limits.max_records_per_request`."""
    if count > max_records:
        raise InputTooLarge(
            f"{count if count <= max_records + 1 else 'more'} {key} exceed "
            f"limits.max_records_per_request ({max_records}); split the batch",
            key,
        )


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
    check_count(len(listed), max_records, key)
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
            check_count(count, max_records, key)
        size += len(line)
        if size >= PIECE_BYTES:
            yield first, piece
            first, piece, size = count, [], 0
    if piece:
        yield first, piece
