"""exporter.logs: the JSON and text formatters, and configure_logging's routing of uvicorn."""

from __future__ import annotations

import io
import json
import logging
import math
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from exporter.logs import (
    UVICORN_LOGGERS,
    JsonFormatter,
    TextFormatter,
    configure_logging,
    fields,
    rfc3339,
)

CREATED = 1_800_000_000.123  # 2027-01-15T08:00:00.123Z


def record(
    msg: str = "reference uploaded",
    *args: Any,
    level: int = logging.INFO,
    extra: dict[str, Any] | None = None,
    exc_info: Any = None,
) -> logging.LogRecord:
    logger = logging.getLogger("exporter.test")
    made = logger.makeRecord(logger.name, level, __file__, 1, msg, args, exc_info, extra=extra)
    made.created = CREATED
    return made


def test_rfc3339_is_utc_with_milliseconds_and_a_z() -> None:
    assert rfc3339(CREATED) == "2027-01-15T08:00:00.123Z"
    assert rfc3339(0.0) == "1970-01-01T00:00:00.000Z"


def test_the_json_formatter_writes_one_object_with_ts_level_logger_msg_and_the_extra_fields() -> (
    None
):
    line = JsonFormatter().format(
        record(
            "reference for %s uploaded",
            "credit",
            extra={
                "event": "reference_uploaded",
                "model": "credit",
                "features": 3,
                "replaced": False,
            },
        )
    )
    assert "\n" not in line
    assert json.loads(line) == {
        "ts": "2027-01-15T08:00:00.123Z",
        "level": "info",
        "logger": "exporter.test",
        "msg": "reference for credit uploaded",
        "event": "reference_uploaded",
        "model": "credit",
        "features": 3,
        "replaced": False,
    }
    # The order a reader scans: when, how bad, who, what, then the fields.
    assert list(json.loads(line))[:4] == ["ts", "level", "logger", "msg"]


def test_the_json_formatter_keeps_odd_values_one_line_and_valid_json() -> None:
    extra = {
        "location": 'records[0].features.a "b"\nc',
        "ratio": math.nan,
        "path": Path("/tmp/x"),
        "level": "a field, not the level",
    }
    line = JsonFormatter().format(record(level=logging.WARNING, extra=extra))
    assert "\n" not in line
    document = json.loads(line)
    assert document["location"] == 'records[0].features.a "b"\nc'
    assert document["ratio"] is None  # NaN is not JSON
    assert document["path"] == "/tmp/x"
    assert document["level"] == "warning"
    assert document["extra_level"] == "a field, not the level"


def test_the_json_formatter_puts_a_traceback_in_exc_on_the_same_line() -> None:
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        line = JsonFormatter().format(record("it failed", exc_info=sys.exc_info()))
    assert "\n" not in line
    document = json.loads(line)
    assert document["msg"] == "it failed"
    assert document["exc"].startswith("Traceback")
    assert "RuntimeError: boom" in document["exc"]


def test_uvicorns_coloured_copy_of_the_message_is_not_a_field() -> None:
    made = record("Uvicorn running", extra={"color_message": "\x1b[1mUvicorn running\x1b[0m"})
    assert fields(made) == {}
    assert "color_message" not in json.loads(JsonFormatter().format(made))


def test_the_text_formatter_appends_fields_as_key_value_quoting_what_needs_it() -> None:
    line = TextFormatter().format(
        record(
            extra={
                "model": "credit",
                "features": 3,
                "prediction_column": None,
                "location": 'line 2, column "age"',
            }
        )
    )
    assert line == (
        "INFO exporter.test: reference uploaded model=credit features=3 prediction_column=null"
        ' location="line 2, column \\"age\\""'
    )


def test_the_text_formatter_keeps_a_field_with_a_newline_on_one_line() -> None:
    line = TextFormatter().format(record(extra={"reason": "it died\nhard"}))
    assert line == 'INFO exporter.test: reference uploaded reason="it died\\nhard"'


@pytest.fixture
def restored_logging() -> Iterator[None]:
    """configure_logging changes the root logger and uvicorn's: put them back afterwards."""
    root = logging.getLogger()
    saved = [(root, list(root.handlers), root.level, root.propagate)]
    for name in UVICORN_LOGGERS:
        logger = logging.getLogger(name)
        saved.append((logger, list(logger.handlers), logger.level, logger.propagate))
    yield
    for logger, handlers, level, propagate in saved:
        for handler in list(logger.handlers):
            logger.removeHandler(handler)
        for handler in handlers:
            logger.addHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate


@pytest.mark.usefixtures("restored_logging")
def test_configure_logging_json_sends_the_apps_and_uvicorns_lines_through_one_formatter() -> None:
    # uvicorn's own dictConfig (what it installs when not given log_config=None) is undone.
    logging.getLogger("uvicorn.error").addHandler(logging.StreamHandler(io.StringIO()))
    logging.getLogger("uvicorn.access").propagate = False
    stream = io.StringIO()
    configure_logging("info", "json", stream)
    logging.getLogger("exporter.api.models").info(
        "reference uploaded", extra={"event": "reference_uploaded", "model": "credit"}
    )
    logging.getLogger("uvicorn.error").info("Started server process [%d]", 42)
    logging.getLogger("uvicorn.access").info('127.0.0.1 - "GET /metrics HTTP/1.1" 200')
    logging.getLogger("exporter.api.models").debug("below the level")
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [(line["logger"], line["msg"]) for line in lines] == [
        ("exporter.api.models", "reference uploaded"),
        ("uvicorn.error", "Started server process [42]"),
        ("uvicorn.access", '127.0.0.1 - "GET /metrics HTTP/1.1" 200'),
    ]
    assert lines[0]["event"] == "reference_uploaded"
    assert all(line["level"] == "info" for line in lines)


@pytest.mark.usefixtures("restored_logging")
def test_configure_logging_text_is_the_plain_format_and_replaces_earlier_handlers() -> None:
    first, second = io.StringIO(), io.StringIO()
    configure_logging("warning", "json", first)
    configure_logging("warning", "text", second)
    logging.getLogger("exporter.evaluation.worker").warning(
        "restarting the evaluation worker", extra={"reason": "it hung"}
    )
    logging.getLogger("exporter.evaluation.worker").info("below the level")
    assert first.getvalue() == ""
    assert second.getvalue() == (
        'WARNING exporter.evaluation.worker: restarting the evaluation worker reason="it hung"\n'
    )
