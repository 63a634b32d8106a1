"""The model server's prediction latency: a histogram with fixed bounds.

Constant memory: `len(LATENCY_BUCKETS_SECONDS) + 1` integers and one float per model.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

#: Upper bounds of the prediction-latency histogram (prometheus_client's defaults), seconds.
LATENCY_BUCKETS_SECONDS = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.075,
    0.1,
    0.25,
    0.5,
    0.75,
    1.0,
    2.5,
    5.0,
    7.5,
    10.0,
)
_LATENCY_BOUNDS = np.array(LATENCY_BUCKETS_SECONDS)


class LatencyHistogram:
    """Cumulative-ready bucket counts of the model server's latency, fixed bounds.

    `counts[i]` counts observations `<= LATENCY_BUCKETS_SECONDS[i]` and above the bound before
    it; the last slot those above every bound (Prometheus's `+Inf` bucket minus the rest).
    """

    __slots__ = ("counts", "sum")

    def __init__(self) -> None:
        self.counts = np.zeros(len(LATENCY_BUCKETS_SECONDS) + 1, dtype=np.int64)
        self.sum = 0.0

    @property
    def count(self) -> int:
        return int(self.counts.sum())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LatencyHistogram):
            return NotImplemented
        return self.sum == other.sum and bool(np.array_equal(self.counts, other.counts))

    __hash__ = None  # type: ignore[assignment]

    def observe(self, values: Sequence[float | None]) -> None:
        """Count the non-None values (checked finite and >= 0 by decoding)."""
        observed = np.array([v for v in values if v is not None], dtype=np.float64)
        if not observed.size:
            return
        slots = np.searchsorted(_LATENCY_BOUNDS, observed, side="left")
        self.counts += np.bincount(slots, minlength=self.counts.size)
        self.sum += float(observed.sum())
