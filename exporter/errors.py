"""Domain errors: what went wrong and where, in the domain's words.

Every layer below `api/` raises these; none of them knows HTTP. `exporter.api.errors` maps each
class to a status in one table and renders `{"detail", "location"}`. Each error is raised before
any state changes, so a rejected request leaves the store as it was.
"""

from __future__ import annotations

from typing import ClassVar, Literal

#: The fixed reasons behind drift_requests_rejected_total{reason}.
RejectReason = Literal[
    "malformed",
    "too_large",
    "unsupported_media_type",
    "unknown_model",
    "invalid_name",
    "limit",
    "unauthorized",
    "wrong_listener",
]

#: Every reason, in the order the counter exports them.
REJECT_REASONS: tuple[RejectReason, ...] = (
    "malformed",
    "too_large",
    "unsupported_media_type",
    "unknown_model",
    "invalid_name",
    "limit",
    "unauthorized",
    "wrong_listener",
)


class DomainError(Exception):
    """A request the domain refuses; `location` says where (`records[3].features.age`)."""

    reason: ClassVar[RejectReason] = "malformed"

    def __init__(
        self, detail: str, location: str | None = None, reason: RejectReason | None = None
    ) -> None:
        super().__init__(detail if location is None else f"{location}: {detail}")
        self.detail = detail
        self.location = location
        if reason is not None:
            self.reason = reason  # type: ignore[misc]

    @property
    def message(self) -> str:
        return str(self)


class MalformedInput(DomainError):
    """The body cannot be read at all: invalid JSON or CSV syntax, a bad header value."""


class InvalidInput(DomainError):
    """The body reads, but breaks the contract: a wrong type, a missing or unknown field."""


class InvalidName(InvalidInput):
    """A model or feature name outside the allowed characters or length."""

    reason = "invalid_name"


class InputTooLarge(DomainError):
    """The body, or a count inside it, passes a configured limit."""

    reason = "too_large"


class UnsupportedMediaType(DomainError):
    """A Content-Type the route does not read."""

    reason = "unsupported_media_type"


class UnknownModel(DomainError):
    """A model with no reference uploaded."""

    reason = "unknown_model"


class LimitReached(DomainError):
    """A configured cap on what the store holds (`limits.max_models`) is reached."""

    reason = "limit"
