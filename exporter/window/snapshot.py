"""Immutable copies of a window: what evaluation reads and what persistence restores."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from exporter.truth.task import TaskSpec
from exporter.window.profile import ReferenceProfile


@dataclass(frozen=True, eq=False)
class ColumnWindow:
    """One column's merged window: bin counts, quality counts, and the raw-value sample."""

    counts: NDArray[np.int64]
    missing: int
    nan: int
    type_mismatch: int
    out_of_range: int
    unseen: int
    sample: NDArray[np.float64] | None

    @property
    def valid(self) -> int:
        return int(self.counts.sum())


@dataclass(frozen=True, eq=False)
class TruthSnapshot:
    """A copy of a model's labelled window and detector counts, safe to evaluate unlocked."""

    spec: TaskSpec | None
    truth: list[Any]
    predicted: list[Any]
    detections: dict[str, int]
    last_detection: dict[str, float | None]


@dataclass(frozen=True, eq=False)
class WindowSnapshot:
    """An immutable copy of a model's window, safe to evaluate outside the lock."""

    profile: ReferenceProfile
    records: int
    columns: tuple[ColumnWindow, ...]
    taken_at: float
    oldest_started_at: float | None
    truth: TruthSnapshot | None = None


@dataclass(frozen=True, eq=False)
class RestoredTruth:
    """A model's ground truth as a snapshot holds it."""

    spec: TaskSpec | None
    truth: list[Any]
    predicted: list[Any]
    pending: list[tuple[str, Any, float]]
    """Predictions waiting for labels: (id, prediction, remembered at), oldest first."""
