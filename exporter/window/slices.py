"""The ring's parts: a slice of counts per column, and the reservoir of raw values it samples.

Bounds: a slice holds one int64 array of `bins` per column, five quality counters per column
and, for a numeric column, a reservoir of at most `capacity` floats (ceil(window.sample_size /
window.slices)).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from exporter.window.profile import NumericProfile, ReferenceProfile
from exporter.window.snapshot import ReservoirState, SliceState

#: The data-quality counters every slice keeps per column, in this order everywhere.
QUALITY_FIELDS = ("missing", "nan", "type_mismatch", "out_of_range", "unseen")


def quality_totals(slices: list[WindowSlice], width: int) -> dict[str, list[int]]:
    """Each data-quality count summed over the slices, per column: one reduction per field."""
    if not slices:
        return {name: [0] * width for name in QUALITY_FIELDS}
    return {
        name: np.add.reduce([getattr(part, name) for part in slices], dtype=np.int64).tolist()
        for name in QUALITY_FIELDS
    }


class Reservoir:
    """A uniform sample of at most `capacity` values from everything added (Algorithm R)."""

    __slots__ = ("capacity", "filled", "seen", "values")

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.values = np.empty(0, dtype=np.float64)
        self.filled = 0
        self.seen = 0

    def add(self, new: NDArray[np.float64], rng: np.random.Generator) -> None:
        if len(self.values) < self.capacity and self.filled + len(new) > len(self.values):
            grown = np.empty(min(self.capacity, max(64, 2 * (self.filled + len(new)))))
            grown[: self.filled] = self.values[: self.filled]
            self.values = grown
        take = min(self.capacity - self.filled, len(new))
        if take > 0:
            self.values[self.filled : self.filled + take] = new[:take]
            self.filled += take
            self.seen += take
            new = new[take:]
        if len(new):
            # Item number t (1-based) replaces a uniform slot with probability capacity/t.
            numbers = np.arange(self.seen + 1, self.seen + len(new) + 1)
            slots = rng.integers(0, numbers)
            kept = slots < self.capacity
            self.values[slots[kept]] = new[kept]
            self.seen += len(new)

    def sample(self) -> NDArray[np.float64]:
        return self.values[: self.filled]


class WindowSlice:
    """The counts of one slice of the window, column by column in profile.columns order."""

    __slots__ = (
        "counts",
        "missing",
        "nan",
        "out_of_range",
        "records",
        "samples",
        "started_at",
        "type_mismatch",
        "unseen",
    )

    def __init__(self, profile: ReferenceProfile, started_at: float, sample_capacity: int):
        columns = profile.columns
        self.started_at = started_at
        self.records = 0
        self.counts = [np.zeros(column.bins, dtype=np.int64) for column in columns]
        width = len(columns)
        self.missing = np.zeros(width, dtype=np.int64)
        self.nan = np.zeros(width, dtype=np.int64)
        self.type_mismatch = np.zeros(width, dtype=np.int64)
        self.out_of_range = np.zeros(width, dtype=np.int64)
        self.unseen = np.zeros(width, dtype=np.int64)
        self.samples = [
            Reservoir(sample_capacity) if isinstance(column, NumericProfile) else None
            for column in columns
        ]


def merged_sample(
    reservoirs: list[Reservoir | None], rng: np.random.Generator
) -> NDArray[np.float64]:
    """One uniform sample of the window from the slices' reservoirs.

    A slice that saw more values than its reservoir holds is under-represented, so every
    slice contributes in proportion to what it saw, at the lowest kept rate of any slice.
    """
    parts = [r for r in reservoirs if r is not None and r.seen]
    if not parts:
        return np.empty(0, dtype=np.float64)
    if all(r.filled == r.seen for r in parts):
        return np.concatenate([r.sample() for r in parts])
    rate = min(r.filled / r.seen for r in parts)
    chosen = []
    for r in parts:
        size = min(r.filled, round(r.seen * rate))
        chosen.append(rng.choice(r.sample(), size=size, replace=False))
    return np.concatenate(chosen)


def slice_state(part: WindowSlice) -> SliceState:
    """A copy of one slice for persistence (window.snapshot.SliceState)."""
    return SliceState(
        started_at=part.started_at,
        records=part.records,
        counts=tuple(counts.copy() for counts in part.counts),
        quality=np.stack([getattr(part, name) for name in QUALITY_FIELDS]),
        samples=tuple(
            None
            if reservoir is None
            else ReservoirState(reservoir.capacity, reservoir.seen, reservoir.sample().copy())
            for reservoir in part.samples
        ),
    )


def slice_from_state(profile: ReferenceProfile, state: SliceState) -> WindowSlice:
    """The slice a SliceState describes, for `profile`."""
    part = WindowSlice(profile, state.started_at, 1)
    part.records = state.records
    part.counts = [counts.copy() for counts in state.counts]
    for row, name in enumerate(QUALITY_FIELDS):
        setattr(part, name, state.quality[row].copy())
    part.samples = [None if sample is None else _reservoir(sample) for sample in state.samples]
    return part


def _reservoir(state: ReservoirState) -> Reservoir:
    """A reservoir holding the state's values; it grows towards `capacity` as values arrive."""
    reservoir = Reservoir(state.capacity)
    reservoir.values = state.values.copy()
    reservoir.filled = len(state.values)
    reservoir.seen = state.seen
    return reservoir
