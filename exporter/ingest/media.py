"""The media types a body may be sent as, and the one a Content-Type header names."""

from __future__ import annotations

from collections.abc import Sequence

from exporter.errors import UnsupportedMediaType

JSON = "application/json"
NDJSON = "application/x-ndjson"
CSV = "text/csv"
#: A profile file (exporter.window.profile_file), on PUT /v1/models/{model}/reference.
OCTET_STREAM = "application/octet-stream"
_MEDIA_ALIASES = {
    "application/json": JSON,
    "text/json": JSON,
    "application/x-ndjson": NDJSON,
    "application/ndjson": NDJSON,
    "application/jsonlines": NDJSON,
    "application/jsonl": NDJSON,
    "text/csv": CSV,
    "application/csv": CSV,
    "application/octet-stream": OCTET_STREAM,
}


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
