"""Foreign inference payloads -> our records: MLflow, Open Inference Protocol, KServe CloudEvents.

Each converter is a pure function of parsed JSON (the CloudEvents joiner adds a bounded buffer)
that returns `Record`s, `{"features": {...}, "prediction": ..., "id": ...}`, or raises
`exporter.errors.InvalidInput` naming where the payload breaks its format.
"""

from exporter.ingest.formats._common import Record
from exporter.ingest.formats.mlflow import records_from_mlflow
from exporter.ingest.formats.oip import records_from_oip

__all__ = ["Record", "records_from_mlflow", "records_from_oip"]
