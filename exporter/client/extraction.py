"""Re-exports `drift_exporter_client.extraction` for code written against
`exporter.client.extraction`."""

from drift_exporter_client.extraction import (
    ExtractionCounts,
    ExtractionStats,
    FeaturesFrom,
    PredictionsFrom,
    PredictionSink,
    default_features_from,
    default_predictions_from,
    log_exchange,
)

__all__ = [
    "ExtractionCounts",
    "ExtractionStats",
    "FeaturesFrom",
    "PredictionSink",
    "PredictionsFrom",
    "default_features_from",
    "default_predictions_from",
    "log_exchange",
]
