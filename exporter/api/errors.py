"""The one table from domain errors to HTTP statuses, and the handlers that use it."""

from __future__ import annotations

from fastapi import Request, Response
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from exporter.api.events import log_rejection, validation_location
from exporter.errors import (
    DomainError,
    InputTooLarge,
    InvalidInput,
    LimitReached,
    MalformedInput,
    UnknownModel,
    UnsupportedMediaType,
)

#: Most specific class first; a subclass takes its parent's status unless listed.
STATUS: dict[type[DomainError], int] = {
    MalformedInput: 400,
    UnknownModel: 404,
    LimitReached: 409,
    InputTooLarge: 413,
    UnsupportedMediaType: 415,
    InvalidInput: 422,
}


def status_for(error: DomainError) -> int:
    """The HTTP status for `error`: the first class in its MRO that the table names."""
    for cls in type(error).__mro__:
        status = STATUS.get(cls)
        if status is not None:
            return status
    return 400


async def domain_error(request: Request, error: Exception) -> Response:
    """`{"detail", "location"}` with the mapped status; counts the rejection by its reason."""
    assert isinstance(error, DomainError)
    request.app.state.rejections.increment(error.reason)
    log_rejection(request.scope, error.reason, status_for(error), error.location)
    return JSONResponse(
        {"detail": error.message, "location": error.location}, status_code=status_for(error)
    )


async def validation_error(request: Request, error: Exception) -> Response:
    """FastAPI's own 422 for a query or path parameter, counted as malformed."""
    assert isinstance(error, RequestValidationError)
    request.app.state.rejections.increment("malformed")
    log_rejection(request.scope, "malformed", 422, validation_location(error.errors()))
    return await request_validation_exception_handler(request, error)
