"""Re-exports `drift_exporter_client.flask` for code written against `exporter.client.flask`.

Flask is still imported only when a decorated view runs.
"""

from drift_exporter_client.flask import log_predictions

__all__ = ["log_predictions"]
