"""Process-wide logging: plain text, or one JSON object per line for a log pipeline (Loki, ELK).

The CLI calls `configure_logging` once at start; `create_app` never touches logging, so a test
can build apps without changing anything global. Structured fields go in `extra=`
(`log.info("reference uploaded", extra={"event": "reference_uploaded", "model": model})`): the
JSON formatter writes each as its own key, the text formatter appends them as `key=value`.
uvicorn's loggers are routed to the same handler, so its lines share the format.
"""

from __future__ import annotations

import logging
import re
import sys
from datetime import datetime, timezone
from typing import Any, Literal, TextIO

import orjson

LogFormat = Literal["text", "json"]

#: uvicorn's loggers; they propagate to the root handler instead of keeping their own.
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")

TEXT_FORMAT = "%(levelname)s %(name)s: %(message)s"

#: What every LogRecord carries; anything else on a record came in through `extra=`.
#: `color_message` is uvicorn's ANSI-coloured copy of the message, not a field.
_RECORD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
    "color_message",
}

#: A text value written bare; anything else (spaces, quotes, `=`, control characters) is quoted.
_BARE = re.compile(r"[A-Za-z0-9_.:/@+\-\[\]()]+")


def fields(record: logging.LogRecord) -> dict[str, Any]:
    """The structured fields passed to the logging call with `extra=`, in the order given."""
    return {key: value for key, value in vars(record).items() if key not in _RECORD_ATTRIBUTES}


def rfc3339(created: float) -> str:
    """`created` (epoch seconds) as RFC 3339 in UTC with milliseconds: 2026-05-09T07:35:25.123Z."""
    stamp = datetime.fromtimestamp(created, timezone.utc).isoformat(timespec="milliseconds")
    return stamp.replace("+00:00", "Z")


class JsonFormatter(logging.Formatter):
    """One JSON object per record: `ts`, `level`, `logger`, `msg`, then the `extra=` fields
    (a field named like one of those four is written as `extra_<name>`), then `exc` and
    `stack` when the record has them. Values JSON cannot hold are written as their `str()`;
    NaN and infinities as null."""

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            "ts": rfc3339(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in fields(record).items():
            document[f"extra_{key}" if key in document else key] = value
        if record.exc_info:
            document["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            document["exc"] = record.exc_text
        if record.stack_info:
            document["stack"] = self.formatStack(record.stack_info)
        return orjson.dumps(document, default=str, option=orjson.OPT_NON_STR_KEYS).decode()


class TextFormatter(logging.Formatter):
    """`LEVEL logger: message key=value ...`: the `extra=` fields follow the message, each value
    bare when it is a plain word or number and JSON-quoted otherwise, so one record stays one
    line whatever a field holds."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def formatMessage(self, record: logging.LogRecord) -> str:
        pairs = "".join(f" {key}={_text_value(value)}" for key, value in fields(record).items())
        return super().formatMessage(record) + pairs


def _text_value(value: Any) -> str:
    if isinstance(value, str) and _BARE.fullmatch(value):
        return value
    return orjson.dumps(value, default=str, option=orjson.OPT_NON_STR_KEYS).decode()


def formatter(log_format: LogFormat) -> logging.Formatter:
    return JsonFormatter() if log_format == "json" else TextFormatter()


def configure_logging(
    level: str, log_format: LogFormat, stream: TextIO | None = None
) -> logging.Handler:
    """Send every record at `level` and above to `stream` (stderr) in `log_format`.

    Replaces the root logger's handlers and makes uvicorn's loggers propagate to it (pass
    `log_config=None` to uvicorn so it does not install its own). Call once, at process start.
    """
    handler = logging.StreamHandler(sys.stderr if stream is None else stream)
    handler.setFormatter(formatter(log_format))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in UVICORN_LOGGERS:
        logger = logging.getLogger(name)
        for old in list(logger.handlers):
            logger.removeHandler(old)
        logger.propagate = True
    return handler
