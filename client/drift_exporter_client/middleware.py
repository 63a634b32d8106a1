"""DriftMiddleware: log a prediction endpoint's traffic from the outside, handler unchanged.

A pure ASGI middleware (Starlette, FastAPI, or any ASGI app; no Starlette import). For the
watched paths it copies the request body as the app reads it and the response body as it is
sent, passing every message on unchanged and first; once the response is complete it parses both
as JSON and logs one record per row. Other paths are passed straight through, unbuffered.

It never breaks or slows the response: the client has the last body chunk before any
extraction starts, extraction errors are counted (`ExtractionStats`) and swallowed, and bodies
over `max_body_bytes` are not buffered at all (counted as skipped).

    app.add_middleware(DriftMiddleware, logger=logger, paths=["/predict"])
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

from drift_exporter_client.extraction import (
    ExtractionStats,
    FeaturesFrom,
    PredictionsFrom,
    PredictionSink,
    default_features_from,
    default_predictions_from,
    log_exchange,
)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class _Exchange:
    """The buffered bodies of one watched request/response, up to a size limit."""

    __slots__ = (
        "complete",
        "json_response",
        "limit",
        "overflow",
        "request",
        "response",
        "size",
        "status",
    )

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.request: list[bytes] = []
        self.response: list[bytes] = []
        self.size = 0
        self.status = 0
        self.json_response = False
        self.overflow = False
        self.complete = False

    def add(self, parts: list[bytes], chunk: bytes) -> None:
        """Keep a copy of `chunk`, or stop buffering for good once both bodies pass the limit."""
        if self.overflow or not chunk:
            return
        self.size += len(chunk)
        if self.size > self.limit:
            self.overflow = True
            self.request.clear()
            self.response.clear()
            return
        parts.append(chunk)


class DriftMiddleware:
    """Logs the JSON exchanges of the watched `paths` into a DriftLogger.

    `features_from(request_json) -> list[dict]` and `predictions_from(response_json) -> list`
    extract one entry per row (defaults: `{"features": {...}}` or `{"instances": [...]}`, and
    `{"prediction": ...}` or `{"predictions": [...]}`). `id_header` (e.g. `x-request-id`)
    names a request header whose value becomes the record id, so labels can be joined later.
    Only 2xx JSON responses are logged.
    """

    def __init__(
        self,
        app: ASGIApp,
        logger: PredictionSink,
        *,
        paths: Iterable[str] = ("/predict",),
        methods: Iterable[str] = ("POST",),
        features_from: FeaturesFrom = default_features_from,
        predictions_from: PredictionsFrom = default_predictions_from,
        id_header: str | None = None,
        max_body_bytes: int = 1_048_576,
        stats: ExtractionStats | None = None,
    ) -> None:
        self.app = app
        self.logger = logger
        self.paths = frozenset(paths)
        self.methods = frozenset(method.upper() for method in methods)
        self.features_from = features_from
        self.predictions_from = predictions_from
        self.id_header = None if id_header is None else id_header.lower().encode("latin-1")
        self.max_body_bytes = max_body_bytes
        self.stats = ExtractionStats() if stats is None else stats

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope.get("path") not in self.paths
            or scope.get("method") not in self.methods
        ):
            await self.app(scope, receive, send)
            return
        exchange = _Exchange(self.max_body_bytes)

        async def receive_copy() -> Message:
            message = await receive()
            if message.get("type") == "http.request":
                exchange.add(exchange.request, message.get("body", b""))
            return message

        async def send_copy(message: Message) -> None:
            await send(message)
            kind = message.get("type")
            if kind == "http.response.start":
                exchange.status = message.get("status", 0)
                exchange.json_response = _is_json(message.get("headers", ()))
            elif kind == "http.response.body":
                exchange.add(exchange.response, message.get("body", b""))
                if not message.get("more_body", False):
                    exchange.complete = True

        await self.app(scope, receive_copy, send_copy)
        try:
            self._log(scope, exchange)
        except Exception:  # pragma: no cover - _log guards its own steps; this is the backstop
            self.stats.error(f"{scope.get('method')} {scope.get('path')}")

    def _log(self, scope: Scope, exchange: _Exchange) -> None:
        if not exchange.complete:  # the app failed or the client went away: nothing served
            return
        if exchange.overflow or not exchange.json_response or not 200 <= exchange.status < 300:
            self.stats.skipped()
            return
        where = f"{scope.get('method')} {scope.get('path')}"
        try:
            request_json = json.loads(b"".join(exchange.request))
            response_json = json.loads(b"".join(exchange.response))
        except ValueError:
            self.stats.error(where)
            return
        log_exchange(
            self.logger,
            request_json,
            response_json,
            self.features_from,
            self.predictions_from,
            self.stats,
            where,
            self._request_id(scope),
        )

    def _request_id(self, scope: Scope) -> str | None:
        if self.id_header is None:
            return None
        for name, value in scope.get("headers", ()):
            if name.lower() == self.id_header:
                return bytes(value).decode("latin-1")
        return None


def _is_json(headers: Iterable[tuple[bytes, bytes]]) -> bool:
    for name, value in headers:
        if name.lower() == b"content-type":
            essence = value.split(b";", 1)[0].strip().lower()
            return essence == b"application/json" or essence.endswith(b"+json")
    return False
