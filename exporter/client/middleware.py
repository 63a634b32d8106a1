"""Re-exports `drift_exporter_client.middleware` for code written against
`exporter.client.middleware`."""

from drift_exporter_client.middleware import DriftMiddleware

__all__ = ["DriftMiddleware"]
