"""Re-exports `drift_exporter_client.logger` for code written against `exporter.client.logger`."""

from drift_exporter_client.aio import AsyncDriftLogger
from drift_exporter_client.logger import DriftLogger, LoggerStats

__all__ = ["AsyncDriftLogger", "DriftLogger", "LoggerStats"]
