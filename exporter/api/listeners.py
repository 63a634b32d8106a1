"""Writes only on the ingest listener (`ingest_listen`), as pure ASGI middleware.

One app serves both listeners (exporter.cli binds both sockets to one uvicorn server), so a
request tells which one it came in on by its local address: ASGI `scope["server"]`, whose port
is the ingest port only on the ingest listener (settings refuse an `ingest_listen` on `port`).
A write (any method but GET/HEAD/OPTIONS, so routes added later are covered too) arriving
anywhere else is refused with 403 before routing, so it changes nothing; so is a write to a
loopback ingest listener from a non-loopback address (a local process that bound its source
address to the pod IP). Reads, /metrics and the probes are served on both listeners.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import orjson

from exporter.api.events import log_rejection
from exporter.errors import RejectReason
from exporter.listen import Address, is_loopback

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: The methods that change nothing; every other one is a write (auth uses the same set).
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LOCATION = "listener"


class IngestListener:
    """Wraps the app; `on_reject(reason)` counts refusals in drift_requests_rejected_total."""

    def __init__(
        self, app: ASGIApp, *, ingest: Address, on_reject: Callable[[RejectReason], None]
    ) -> None:
        self._app = app
        self._ingest = ingest
        self._loopback_only = is_loopback(ingest.host)
        self._on_reject = on_reject

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] not in READ_METHODS:
            refusal = self._refusal(scope.get("server"), scope.get("client"))
            if refusal is not None:
                await self._refuse(scope, send, refusal)
                return
        await self._app(scope, receive, send)

    def _refusal(self, server: Any, client: Any) -> str | None:
        """Why a write with these local and peer addresses is refused, or None to serve it."""
        if not server or server[1] != self._ingest.port:
            here = "this listener" if not server else f"this listener ({_address(server)})"
            return (
                f"writes are served on the ingest listener {self._ingest} (ingest_listen); "
                f"{here} serves reads, /metrics and probes only"
            )
        if self._loopback_only and not (client and is_loopback(str(client[0]))):
            peer = "an unknown address" if not client else str(client[0])
            return (
                f"the ingest listener {self._ingest} takes writes from loopback clients only; "
                f"this one came from {peer}"
            )
        return None

    async def _refuse(self, scope: Scope, send: Send, detail: str) -> None:
        self._on_reject("wrong_listener")
        log_rejection(scope, "wrong_listener", 403, LOCATION)
        body = orjson.dumps({"detail": f"{LOCATION}: {detail}", "location": LOCATION})
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 403, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def _address(server: Any) -> str:
    host, port = str(server[0]), int(server[1])
    return str(Address(host, port))
