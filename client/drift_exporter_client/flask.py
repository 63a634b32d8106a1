"""`log_predictions`: the Flask counterpart of DriftMiddleware, as a view decorator.

    @app.post("/predict")
    @log_predictions(logger)
    def predict(): ...

Flask is imported when a decorated view runs, so importing this module does not need it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from drift_exporter_client.extraction import (
    ExtractionStats,
    FeaturesFrom,
    PredictionsFrom,
    PredictionSink,
    default_features_from,
    default_predictions_from,
    log_exchange,
)

View = TypeVar("View", bound=Callable[..., Any])


def log_predictions(
    logger: PredictionSink,
    features_from: FeaturesFrom = default_features_from,
    predictions_from: PredictionsFrom = default_predictions_from,
    *,
    id_header: str | None = None,
    stats: ExtractionStats | None = None,
) -> Callable[[View], View]:
    """Log each 2xx JSON exchange of the decorated view; the response is returned unchanged.

    Extraction errors are counted in `stats` and swallowed, as in DriftMiddleware.
    """
    counts = ExtractionStats() if stats is None else stats

    def decorate(view: View) -> View:
        @functools.wraps(view)
        def logged(*args: Any, **kwargs: Any) -> Any:
            from flask import make_response, request

            response = make_response(view(*args, **kwargs))
            where = f"{request.method} {request.path}"
            try:
                if (
                    response.is_streamed
                    or not response.is_json
                    or not 200 <= response.status_code < 300
                ):
                    counts.skipped()
                    return response
                request_json = request.get_json(silent=True)
                response_json = response.get_json(silent=True)
                request_id = None if id_header is None else request.headers.get(id_header)
            except Exception:
                counts.error(where)
                return response
            log_exchange(
                logger,
                request_json,
                response_json,
                features_from,
                predictions_from,
                counts,
                where,
                request_id,
            )
            return response

        return logged  # type: ignore[return-value]

    return decorate
