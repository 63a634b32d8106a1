"""The ring's parts: a slice of counts per column, and the reservoir of raw values it samples.

Bounds: a slice holds one int64 array of `bins` per column, five quality counters per column
and, for a numeric column, a reservoir of raw values; the reservoirs of a column share one
budget over the slices (exporter.window.sampling: at most window.sample_size + 2 *
ceil(window.sample_size / window.slices) floats).
"""

from __future__ import annotations

import numpy as np

from exporter.window.profile import NumericProfile, ReferenceProfile
from exporter.window.sampling import Reservoir, SampleBudget
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

    def __init__(
        self, profile: ReferenceProfile, started_at: float, samples: list[Reservoir | None]
    ) -> None:
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
        self.samples = samples


def opened_slice(
    profile: ReferenceProfile,
    started_at: float,
    budget: SampleBudget,
    slices: list[WindowSlice],
    rng: np.random.Generator,
) -> WindowSlice:
    """A new slice after `slices`: each numeric column's reservoir opened within its budget."""
    samples = [
        budget.opened([part.samples[i] for part in slices], rng)
        if isinstance(column, NumericProfile)
        else None
        for i, column in enumerate(profile.columns)
    ]
    return WindowSlice(profile, started_at, samples)


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
            else ReservoirState(reservoir.seen, reservoir.rate, reservoir.sample().copy())
            for reservoir in part.samples
        ),
    )


def slice_from_state(profile: ReferenceProfile, state: SliceState) -> WindowSlice:
    """The slice a SliceState describes, for `profile`."""
    part = WindowSlice(profile, state.started_at, [])
    part.records = state.records
    part.counts = [counts.copy() for counts in state.counts]
    for row, name in enumerate(QUALITY_FIELDS):
        setattr(part, name, state.quality[row].copy())
    part.samples = [None if sample is None else _reservoir(sample) for sample in state.samples]
    return part


def _reservoir(state: ReservoirState) -> Reservoir:
    """A reservoir holding the state's values (its room is set by SampleBudget.resume)."""
    reservoir = Reservoir(state.rate, len(state.values), 0.0)
    reservoir.values = state.values.copy()
    reservoir.filled = len(state.values)
    reservoir.seen = state.seen
    return reservoir
