"""Client side: send served traffic from a model server to the drift-exporter sidecar.

Imports only httpx and the standard library (Flask lazily, in `exporter.client.flask`), so model
servers need none of the sidecar's dependencies.
"""

from exporter.client.extraction import ExtractionStats
from exporter.client.logger import AsyncDriftLogger, DriftLogger, LoggerStats
from exporter.client.middleware import DriftMiddleware

__all__ = ["AsyncDriftLogger", "DriftLogger", "DriftMiddleware", "ExtractionStats", "LoggerStats"]
