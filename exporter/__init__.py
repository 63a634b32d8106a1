"""drift-exporter: a Prometheus sidecar that watches ML models for drift."""

__version__ = "0.1.0"
