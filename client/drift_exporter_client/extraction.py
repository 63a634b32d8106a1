"""From a prediction endpoint's request and response JSON to logged records, never raising.

Shared by `DriftMiddleware` (ASGI) and `log_predictions` (Flask). The two extraction functions
are the only model-specific part: `features_from(request_json) -> list[dict]` and
`predictions_from(response_json) -> list`, one entry per served row.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple, Protocol

log = logging.getLogger("drift_exporter_client")

FeaturesFrom = Callable[[Any], list[dict[str, Any]]]
PredictionsFrom = Callable[[Any], list[Any]]


class PredictionSink(Protocol):
    """What the middleware logs into: a DriftLogger or an AsyncDriftLogger."""

    def log(
        self,
        features: Mapping[str, Any],
        prediction: Any = None,
        *,
        id: str | None = None,
        timestamp: float | None = None,
    ) -> None: ...


def default_features_from(request_json: Any) -> list[dict[str, Any]]:
    """`{"features": {...}}` (one row) or `{"instances": [{...}, ...]}` (a batch)."""
    if isinstance(request_json, dict):
        if isinstance(request_json.get("features"), dict):
            return [request_json["features"]]
        instances = request_json.get("instances")
        if isinstance(instances, list) and all(isinstance(row, dict) for row in instances):
            return instances
    raise ValueError('expected a request {"features": {...}} or {"instances": [{...}, ...]}')


def default_predictions_from(response_json: Any) -> list[Any]:
    """`{"prediction": ...}` (one row) or `{"predictions": [...]}` (a batch)."""
    if isinstance(response_json, dict):
        if "prediction" in response_json:
            return [response_json["prediction"]]
        if isinstance(response_json.get("predictions"), list):
            return list(response_json["predictions"])
    raise ValueError('expected a response {"prediction": ...} or {"predictions": [...]}')


class ExtractionCounts(NamedTuple):
    logged: int
    errors: int
    skipped: int


class ExtractionStats:
    """Counts of exchanges: records logged, extraction errors, and exchanges skipped
    (non-2xx, not JSON, or bodies over the buffering limit). Pass one in to read it later."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._logged = 0
        self._errors = 0
        self._skipped = 0
        self._warned = False

    def counts(self) -> ExtractionCounts:
        with self._lock:
            return ExtractionCounts(self._logged, self._errors, self._skipped)

    def skipped(self) -> None:
        with self._lock:
            self._skipped += 1

    def logged(self, records: int) -> None:
        with self._lock:
            self._logged += records

    def error(self, where: str) -> None:
        """Count an extraction error; the first one is logged with its traceback."""
        with self._lock:
            self._errors += 1
            first = not self._warned
            self._warned = True
        if first:
            log.warning(
                "drift logging could not extract records from %s; the response was not "
                "affected. Later extraction errors are only counted.",
                where,
                exc_info=True,
            )


def log_exchange(
    sink: PredictionSink,
    request_json: Any,
    response_json: Any,
    features_from: FeaturesFrom,
    predictions_from: PredictionsFrom,
    stats: ExtractionStats,
    where: str,
    request_id: str | None = None,
) -> None:
    """Extract the rows of one exchange and log them; errors are counted, never raised.

    Row i of a batch gets the id `<request_id>-<i>` (the request id itself for one row).
    """
    try:
        rows = features_from(request_json)
        predictions = predictions_from(response_json)
        if len(rows) != len(predictions):
            raise ValueError(f"{len(rows)} feature rows but {len(predictions)} predictions")
        for i, (features, prediction) in enumerate(zip(rows, predictions, strict=True)):
            if request_id is None:
                record_id = None
            else:
                record_id = request_id if len(rows) == 1 else f"{request_id}-{i}"
            sink.log(features, prediction, id=record_id)
    except Exception:
        stats.error(where)
        return
    stats.logged(len(rows))
