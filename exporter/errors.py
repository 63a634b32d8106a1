"""RequestError: a client mistake, answered with a 4xx that says what is wrong and where."""

from __future__ import annotations

from typing import Literal

#: The fixed reasons behind drift_requests_rejected_total{reason}.
RejectReason = Literal[
    "malformed",
    "too_large",
    "unsupported_media_type",
    "unknown_model",
    "invalid_name",
    "limit",
    "unauthorized",
]


class RequestError(Exception):
    """Raised before any state changes; the API turns it into `{"detail", "location"}`."""

    def __init__(
        self,
        status: int,
        detail: str,
        location: str | None = None,
        reason: RejectReason = "malformed",
    ) -> None:
        super().__init__(detail if location is None else f"{location}: {detail}")
        self.status = status
        self.detail = detail
        self.location = location
        self.reason = reason

    @property
    def message(self) -> str:
        return str(self)
