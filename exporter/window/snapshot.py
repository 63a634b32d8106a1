"""Immutable copies of a window: what evaluation reads, and what persistence writes and restores."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from exporter.truth.task import TaskSpec
from exporter.window.counters import ModelCounters
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
class TruthState:
    """A model's ground truth as a snapshot holds it."""

    spec: TaskSpec | None
    truth: list[Any]
    predicted: list[Any]
    pending: list[tuple[str, Any, float]]
    """Predictions waiting for labels: (id, prediction, remembered at), oldest first."""


@dataclass(frozen=True, eq=False)
class ReservoirState:
    """One slice's sample of a numeric column: the values kept, how many it was drawn from, and
    the probability with which each of those is in it (exporter.window.sampling.Reservoir)."""

    seen: int
    rate: float
    values: NDArray[np.float64]
    """The values kept, about `rate * seen` of them."""


@dataclass(frozen=True, eq=False)
class SliceState:
    """One slice of the ring, column by column in profile.columns order."""

    started_at: float
    records: int
    counts: tuple[NDArray[np.int64], ...]
    """Bin counts, one array of `column.bins` per column."""
    quality: NDArray[np.int64]
    """Data-quality counts, one row per name in slices.QUALITY_FIELDS, one column per column."""
    samples: tuple[ReservoirState | None, ...]
    """A reservoir per numeric column, None for the others."""


@dataclass(frozen=True, eq=False)
class WindowState:
    """Everything a model's window holds that outlives a restart, copied out under its lock.

    `ModelWindow.export_state()` makes one, `WindowStore.restore(state)` builds a window from
    one; window.persistence writes and reads them and never touches a window's parts.
    """

    profile: ReferenceProfile
    counters: ModelCounters
    slices: tuple[SliceState, ...]
    records: int
    """Records in the window: the sum of the slices' records."""
    truth: TruthState | None
    """None from a snapshot that predates ground truth (format version 1)."""
