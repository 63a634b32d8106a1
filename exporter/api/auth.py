"""Bearer-token auth as pure ASGI middleware, so every route (present and future) is covered.

Writes (any method but GET/HEAD/OPTIONS) always need the token when one is configured; reads
under /v1 and the API docs need it with `auth.protect_reads`, /metrics with
`auth.protect_metrics`; /healthz and /readyz never do, so probes keep working. A request
without a usable `Authorization: Bearer` header is 401 (with `WWW-Authenticate: Bearer`), one
with the wrong token 403. Tokens are compared in constant time and never logged.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import orjson

from exporter.api.events import log_rejection
from exporter.api.listeners import READ_METHODS
from exporter.errors import RejectReason
from exporter.settings import AuthSettings, ConfigError

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_READS = READ_METHODS
_ALWAYS_OPEN = frozenset({"/healthz", "/readyz"})
_DOCS = frozenset({"/docs", "/redoc", "/openapi.json", "/docs/oauth2-redirect", "/"})


def load_token(settings: AuthSettings) -> bytes | None:
    """The configured token: `auth.token`, else the stripped text of `auth.token_file`.

    A token file that cannot be read as UTF-8 text, or holds nothing, is a ConfigError naming
    the key and the path (the CLI prints it as one line and exits 2), never a traceback.
    """
    if settings.token is not None:
        return settings.token.get_secret_value().encode()
    path = settings.token_file
    if path is None:
        return None
    try:
        token = path.read_text(encoding="utf-8").strip()
    except OSError as error:
        raise ConfigError(
            f"auth.token_file {path}: cannot read: {error.strerror or error}"
        ) from error
    except UnicodeDecodeError as error:
        raise ConfigError(
            f"auth.token_file {path}: cannot read: not UTF-8 text (byte {error.start})"
        ) from error
    if not token:
        raise ConfigError(f"auth.token_file {path}: is empty")
    return token.encode()


class BearerAuth:
    """Wraps the app; `on_reject(reason)` counts refusals in drift_requests_rejected_total."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        token: bytes,
        protect_reads: bool,
        protect_metrics: bool,
        on_reject: Callable[[RejectReason], None],
    ) -> None:
        self._app = app
        self._token = token
        self._protect_reads = protect_reads
        self._protect_metrics = protect_metrics
        self._on_reject = on_reject

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self._needs_token(scope["method"], scope["path"]):
            await self._app(scope, receive, send)
            return
        provided = _bearer(scope)
        if provided is None:
            await self._refuse(
                scope, send, 401, "missing or malformed 'Authorization: Bearer <token>' header"
            )
            return
        if not hmac.compare_digest(provided, self._token):
            await self._refuse(scope, send, 403, "the bearer token is not valid for this sidecar")
            return
        await self._app(scope, receive, send)

    def _needs_token(self, method: str, path: str) -> bool:
        if path in _ALWAYS_OPEN:
            return False
        if method not in _READS:
            return True
        if path == "/metrics":
            return self._protect_metrics
        return self._protect_reads and (path.startswith("/v1/") or path == "/v1" or path in _DOCS)

    async def _refuse(self, scope: Scope, send: Send, status: int, detail: str) -> None:
        self._on_reject("unauthorized")
        log_rejection(scope, "unauthorized", status, "header.authorization")
        headers = [(b"content-type", b"application/json")]
        if status == 401:
            headers.append((b"www-authenticate", b'Bearer realm="drift-exporter"'))
        body = orjson.dumps(
            {"detail": f"header.authorization: {detail}", "location": "header.authorization"}
        )
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def _bearer(scope: Scope) -> bytes | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, credentials = value.partition(b" ")
            if scheme.lower() != b"bearer" or not credentials.strip():
                return None
            return bytes(credentials.strip())
    return None
