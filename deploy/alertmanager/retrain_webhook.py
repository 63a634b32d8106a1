#!/usr/bin/env python3
"""Example retraining-pipeline consumer of Alertmanager webhook notifications.

Alertmanager's ``retrain-webhook`` receiver (alertmanager.yml) POSTs drift alerts
here as webhook payloads, version "4". This server checks the payload's shape,
logs one line per alert and writes the payload to a directory, one JSON file per
notification, where a retraining pipeline (or a person) can pick it up. It uses
the standard library only, so the compose file runs it on a bare
``python:3.11-slim``.

Endpoints:
    POST /alerts   an Alertmanager webhook payload (application/json)
    GET  /healthz  liveness

Usage::

    python retrain_webhook.py --host 0.0.0.0 --port 8080 --out-dir /data/alerts

Replies: 200 with ``{"stored": "<file name>", "alerts": <n>}``; 400 names the
first field that is wrong (``alerts[1].labels.alertname: missing``); 404, 411,
413 and 415 for a wrong path, no length, a body over ``MAX_BODY_BYTES`` or a
body that is not JSON. A rejected request writes nothing.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import signal
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from typing import Any

ALERTS_PATH = "/alerts"
HEALTH_PATH = "/healthz"
# Alertmanager sends every alert of a group in one payload (max_alerts: 0); a
# model with a few hundred drifted features stays well under this.
MAX_BODY_BYTES = 1 << 20
STATUSES = ("firing", "resolved")

log = logging.getLogger("retrain_webhook")


class PayloadError(ValueError):
    """The body is JSON but not an Alertmanager version 4 webhook payload."""


def _require(obj: Mapping[str, Any], key: str, kind: type, where: str) -> Any:
    if key not in obj:
        raise PayloadError(f"{where}{key}: missing")
    value = obj[key]
    # bool is an int subclass: a `true` truncatedAlerts is still wrong.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise PayloadError(f"{where}{key}: expected {kind.__name__}, got {type(value).__name__}")
    return value


def _require_str_map(obj: Mapping[str, Any], key: str, where: str) -> dict[str, str]:
    value: dict[str, Any] = _require(obj, key, dict, where)
    for name, item in value.items():
        if not isinstance(item, str):
            raise PayloadError(f"{where}{key}.{name}: expected str, got {type(item).__name__}")
    return value


def _require_status(obj: Mapping[str, Any], where: str) -> str:
    status: str = _require(obj, "status", str, where)
    if status not in STATUSES:
        raise PayloadError(f"{where}status: expected one of {', '.join(STATUSES)}, got {status!r}")
    return status


def validate_payload(payload: Any) -> dict[str, Any]:
    """Check the shape of an Alertmanager webhook payload, version "4".

    Returns the payload unchanged; raises PayloadError naming the first wrong
    field. Fields Alertmanager may add in later versions are ignored.
    """
    if not isinstance(payload, dict):
        raise PayloadError(f"body: expected a JSON object, got {type(payload).__name__}")
    version = _require(payload, "version", str, "")
    if version != "4":
        raise PayloadError(f'version: expected "4", got {version!r}')
    _require_status(payload, "")
    for key in ("receiver", "groupKey", "externalURL"):
        _require(payload, key, str, "")
    truncated = _require(payload, "truncatedAlerts", int, "")
    if truncated < 0:
        raise PayloadError(f"truncatedAlerts: expected >= 0, got {truncated}")
    for key in ("groupLabels", "commonLabels", "commonAnnotations"):
        _require_str_map(payload, key, "")
    alerts: list[Any] = _require(payload, "alerts", list, "")
    if not alerts:
        raise PayloadError("alerts: expected at least one alert")
    for i, alert in enumerate(alerts):
        where = f"alerts[{i}]."
        if not isinstance(alert, dict):
            raise PayloadError(f"alerts[{i}]: expected object, got {type(alert).__name__}")
        _require_status(alert, where)
        labels = _require_str_map(alert, "labels", where)
        if "alertname" not in labels:
            raise PayloadError(f"{where}labels.alertname: missing")
        _require_str_map(alert, "annotations", where)
        for key in ("startsAt", "endsAt", "generatorURL", "fingerprint"):
            _require(alert, key, str, where)
    return payload


def alert_log_line(alert: Mapping[str, Any]) -> str:
    """One log line for one alert: name, model, feature, status (and severity)."""
    labels: Mapping[str, str] = alert["labels"]
    fields = {
        "alertname": labels.get("alertname", "-"),
        "model": labels.get("model", "-"),
        "feature": labels.get("feature", "-"),
        "status": alert["status"],
        "severity": labels.get("severity", "-"),
    }
    return "alert " + " ".join(f"{key}={value}" for key, value in fields.items())


def payload_file_name(payload: Mapping[str, Any], received_at: float) -> str:
    """A sortable, unique name: UTC receive time plus a digest of the payload."""
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(received_at))
    millis = int(received_at * 1000) % 1000
    body = json.dumps(payload, sort_keys=True).encode()
    digest = hashlib.sha256(body).hexdigest()[:12]
    return f"{stamp}{millis:03d}Z-{payload['status']}-{digest}.json"


def store_payload(payload: Mapping[str, Any], out_dir: Path, received_at: float) -> Path:
    """Write the payload atomically (temp file + rename): readers never see half a file."""
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / payload_file_name(payload, received_at)
    fd, tmp = tempfile.mkstemp(dir=out_dir, prefix=".incoming-", suffix=".json")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(payload, handle, indent=2, sort_keys=True)
            handle.write("\n")
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


class WebhookServer(ThreadingHTTPServer):
    """HTTP server that remembers where payloads go."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], out_dir: Path) -> None:
        self.out_dir = out_dir
        super().__init__(address, WebhookHandler)


class WebhookHandler(BaseHTTPRequestHandler):
    server: WebhookServer
    server_version = "retrain-webhook/1"

    def do_GET(self) -> None:
        if self.path == HEALTH_PATH:
            self._reply(HTTPStatus.OK, {"status": "ok"})
        else:
            self._reply(HTTPStatus.NOT_FOUND, {"error": f"no such path: {self.path}"})

    def do_POST(self) -> None:
        if self.path != ALERTS_PATH:
            self._reply(HTTPStatus.NOT_FOUND, {"error": f"POST webhook payloads to {ALERTS_PATH}"})
            return
        media_type = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if media_type != "application/json":
            self._reply(
                HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
                {"error": f"expected application/json, got {media_type or 'nothing'}"},
            )
            return
        length_header = self.headers.get("Content-Length")
        if length_header is None or not length_header.isdigit():
            self._reply(HTTPStatus.LENGTH_REQUIRED, {"error": "Content-Length required"})
            return
        length = int(length_header)
        if length > MAX_BODY_BYTES:
            self._reply(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                {"error": f"body of {length} bytes exceeds {MAX_BODY_BYTES}"},
            )
            return
        raw = self.rfile.read(length)
        try:
            payload = validate_payload(json.loads(raw))
        except json.JSONDecodeError as exc:
            self._reply(
                HTTPStatus.BAD_REQUEST,
                {"error": f"body: invalid JSON at line {exc.lineno}, column {exc.colno}"},
            )
            return
        except PayloadError as exc:
            log.warning("rejected payload: %s", exc)
            self._reply(HTTPStatus.BAD_REQUEST, {"error": str(exc)})
            return
        alerts: Sequence[Mapping[str, Any]] = payload["alerts"]
        for alert in alerts:
            log.info("%s", alert_log_line(alert))
        stored = store_payload(payload, self.server.out_dir, time.time())
        log.info("stored %s (%d alerts, group %s)", stored.name, len(alerts), payload["groupKey"])
        self._reply(HTTPStatus.OK, {"stored": stored.name, "alerts": len(alerts)})

    def _reply(self, status: HTTPStatus, body: Mapping[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        # Access log at debug: the alert lines above are the useful output.
        log.debug("%s %s", self.address_string(), format % args)


def make_server(host: str, port: int, out_dir: Path) -> WebhookServer:
    """Bind (port 0 picks a free port: see server.server_address) without serving yet."""
    return WebhookServer((host, port), out_dir)


def _stop(signum: int, frame: FrameType | None) -> None:
    # As PID 1 in a container, SIGTERM is ignored unless handled.
    raise SystemExit(0)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default: %(default)s)"
    )
    parser.add_argument("--port", type=int, default=8080, help="port (default: %(default)s)")
    parser.add_argument(
        "--out-dir",
        type=Path,
        default=Path(os.environ.get("RETRAIN_WEBHOOK_OUT_DIR", "alerts")),
        help="directory for received payloads (default: $RETRAIN_WEBHOOK_OUT_DIR or ./alerts)",
    )
    parser.add_argument("--log-level", default="INFO", help="logging level (default: %(default)s)")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        stream=sys.stdout,
    )
    signal.signal(signal.SIGTERM, _stop)
    server = make_server(args.host, args.port, args.out_dir)
    host, port = server.server_address[:2]
    log.info("listening on http://%s:%s%s, writing to %s", host, port, ALERTS_PATH, args.out_dir)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
