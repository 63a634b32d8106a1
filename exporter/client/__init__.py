"""The client library, kept importable here for code written against `exporter.client`.

It lives in the `drift_exporter_client` package (client/ in this repository), which installs alone
as the `drift-exporter-client` distribution with only httpx; the sidecar's distribution includes
it too, so this module only re-exports it.
"""

from drift_exporter_client import (
    AsyncDriftLogger,
    DriftLogger,
    DriftMiddleware,
    ExtractionStats,
    LoggerStats,
)

__all__ = ["AsyncDriftLogger", "DriftLogger", "DriftMiddleware", "ExtractionStats", "LoggerStats"]
