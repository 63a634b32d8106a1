"""Client side: send served traffic from a model server to the drift-exporter sidecar.

Imports only httpx and the standard library (Flask lazily, in `drift_exporter_client.flask`), so
model servers need none of the sidecar's dependencies. Installed alone as the
`drift-exporter-client` distribution; the sidecar's `exporter.client` re-exports it.
"""

from drift_exporter_client._version import __version__
from drift_exporter_client.aio import AsyncDriftLogger
from drift_exporter_client.extraction import ExtractionStats
from drift_exporter_client.logger import DriftLogger, LoggerStats
from drift_exporter_client.middleware import DriftMiddleware

__all__ = [
    "AsyncDriftLogger",
    "DriftLogger",
    "DriftMiddleware",
    "ExtractionStats",
    "LoggerStats",
    "__version__",
]
