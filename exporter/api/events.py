"""The API's log lines: one per reference upload and one per rejected request.

A rejection says why, with what status, where in the request, on which route and model; never
what the client sent. An error's `detail` can quote the offending value (`expected a number,
got 'abc'`), and a raw URL path can hold an invalid name, so neither is logged: the line carries
the fixed `reason`, the `location` (`records[3].features.age`: where, not what), the route's
template (`/v1/models/{model}/predictions`) and the model only when it is a valid name.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from starlette.routing import Match

from exporter.errors import RejectReason
from exporter.ingest.media import CSV
from exporter.ingest.names import MODEL_NAME
from exporter.settings import Settings
from exporter.window.profile import ReferenceProfile

log = logging.getLogger(__name__)


def log_reference_uploaded(
    profile: ReferenceProfile,
    *,
    replaced: bool,
    media: str,
    settings: Settings,
    prediction_column: str | None,
) -> None:
    """Log an accepted reference: its model, sizes and where its prediction came from.

    `prediction_column` is the upload's query parameter; the column read is resolved as the
    upload resolves it (query, then the model's declaration, then the global key) for CSV, and
    is the records' `prediction` field for JSON. It is null when the reference has none.
    """
    column = None
    if profile.prediction is not None:
        column = "prediction"
        if media == CSV:
            declared = settings.model_for(profile.model).prediction_column
            column = prediction_column or declared or settings.prediction_column
    log.info(
        "reference uploaded",
        extra={
            "event": "reference_uploaded",
            "model": profile.model,
            "features": len(profile.features),
            "records": profile.rows,
            "prediction_column": column,
            "replaced": replaced,
        },
    )


def log_rejection(
    scope: Mapping[str, Any], reason: RejectReason, status: int, location: str | None
) -> None:
    """Log that the request in `scope` (an ASGI scope, routed or not) was refused."""
    route, model = _route(scope)
    log.info(
        "request rejected",
        extra={
            "event": "request_rejected",
            "reason": reason,
            "status": status,
            "location": location,
            "method": scope.get("method"),
            "route": route,
            "model": model,
        },
    )


def validation_location(errors: Sequence[Mapping[str, Any]]) -> str | None:
    """FastAPI's first validation error's `loc` (`("query", "output_index")`) as
    `query.output_index`; its `input` (the value) is left out."""
    if not errors:
        return None
    return ".".join(str(part) for part in errors[0].get("loc", ()))


def _route(scope: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """The matched route's path template and the `model` path parameter if it is a valid name.

    A request refused before routing (by the auth middleware) is matched against the app's
    routes here; one that matches none has no route."""
    route = scope.get("route")
    parameters: Mapping[str, Any] = scope.get("path_params") or {}
    if route is None:
        route, parameters = _match(getattr(scope.get("app"), "routes", ()), scope)
    model = parameters.get("model")
    if not isinstance(model, str) or MODEL_NAME.fullmatch(model) is None:
        model = None
    return getattr(route, "path", None), model


def _match(routes: Iterable[Any], scope: Mapping[str, Any]) -> tuple[Any, Mapping[str, Any]]:
    """The route `scope` would be routed to (or, failing that, one with its path and another
    method), and its path parameters; (None, {}) for none."""
    partial: tuple[Any, Mapping[str, Any]] = (None, {})
    for match, route, parameters in _matches(routes, scope):
        if match is Match.FULL:
            return route, parameters
        if partial[0] is None:
            partial = (route, parameters)
    return partial


def _matches(
    routes: Iterable[Any], scope: Mapping[str, Any]
) -> Iterator[tuple[Match, Any, Mapping[str, Any]]]:
    """Every route matching `scope` at least partly, in routing order.

    FastAPI 0.16x keeps an included router as one entry (`original_router`) instead of copying
    its routes; both layouts are walked. The app includes its routers without a prefix, so the
    routes' own paths are the full templates."""
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from _matches(included.routes, scope)
            continue
        match, child = route.matches(scope)
        if match is not Match.NONE:
            yield match, route, child.get("path_params", {})
