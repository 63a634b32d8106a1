"""The window's raw-value sample of a numeric column, kept within one budget across the slices.

Each slice keeps, per numeric column, a `Reservoir`: every value its slice saw is in it with
probability `rate`. Of a chunk of m values it keeps floor(rate * (seen + m) + u) -
floor(rate * seen + u), u uniform in [0, 1) drawn once per slice (systematic sampling with a
random start: rate * m in expectation, exactly, and within one of it), chosen uniformly within
the chunk. A lower rate is reached by keeping floor(filled * new / old + u') of the values,
u' uniform, chosen uniformly: each value stays with probability new / old. So the current slice
may use all the room the others leave, and when the column's values pass the budget's `limit`,
`SampleBudget.rebalance` brings every slice down to one rate r = target / (values the slices
saw). `merged_sample` thins each slice to the lowest rate of any slice (then every value of the
window is in with the same probability) and draws `sample_size` of them uniformly if there are
more.

Bound, with B = window.sample_size, S = window.slices and share = ceil(B / S): a numeric column
keeps at most `limit` = target + share values over all its slices after each counted chunk,
and at most one chunk (`COUNT_RECORDS` values) more while a chunk is counted. `target` =
ceil(B * S / (S - 1)) (B when S = 1) is what lets the window lose its oldest slice and still
hold B values when traffic is spread evenly; the other share makes rebalancing rare (once per
~share / r arrivals). At the defaults (5,000, 12 slices): target 5,455, limit 5,872.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray


class Reservoir:
    """A sample at `rate` of the values one slice saw, of at most `room` values before the
    window must rebalance (the room the other slices leave in the budget); `offset` is the
    random start of its systematic counts."""

    __slots__ = ("filled", "offset", "rate", "room", "seen", "values")

    def __init__(self, rate: float, room: int, offset: float) -> None:
        self.rate = rate
        self.room = room
        self.offset = offset
        self.values = np.empty(0, dtype=np.float64)
        self.filled = 0
        self.seen = 0

    def add(self, new: NDArray[np.float64], rng: np.random.Generator) -> bool:
        """Keep each new value with probability `rate`; False once the room is used up."""
        before, self.seen = self.seen, self.seen + len(new)
        if self.rate < 1.0:
            rate, offset = self.rate, self.offset
            wanted = math.floor(rate * self.seen + offset) - math.floor(rate * before + offset)
            new = _choose(new, wanted, rng)
        needed = self.filled + len(new)
        if needed > len(self.values):
            grown = np.empty(min(max(64, 2 * needed), max(needed, self.room)))
            grown[: self.filled] = self.values[: self.filled]
            self.values = grown
        self.values[self.filled : needed] = new
        self.filled = needed
        return needed <= self.room

    def thin(self, rate: float, rng: np.random.Generator) -> None:
        """Lower the rate to `rate` by keeping each value with probability rate / self.rate."""
        if rate < self.rate:
            kept = thinned(self.sample(), rate / self.rate, rng)
            self.values = kept if kept.base is None else kept.copy()  # a view: all were kept
            self.filled = len(self.values)
            self.rate = rate

    def close(self) -> None:
        """Give back the unused end of the buffer: a closed slice keeps what it holds."""
        if len(self.values) > self.filled:
            self.values = self.values[: self.filled].copy()
        self.room = self.filled

    def sample(self) -> NDArray[np.float64]:
        return self.values[: self.filled]


def thinned(
    values: NDArray[np.float64], ratio: float, rng: np.random.Generator
) -> NDArray[np.float64]:
    """floor(len * ratio + u) of `values` (u uniform), chosen uniformly: each is in with
    probability `ratio`."""
    return _choose(values, math.floor(len(values) * ratio + rng.random()), rng)


def _choose(
    values: NDArray[np.float64], size: int, rng: np.random.Generator
) -> NDArray[np.float64]:
    """`size` of `values` chosen uniformly (those with the smallest of uniform random keys)."""
    if size >= len(values):
        return values
    if size <= 0:
        return values[:0]
    return values[np.argpartition(rng.random(len(values)), size)[:size]]


class SampleBudget:
    """How many raw values one numeric column of a window may keep, over all its slices."""

    __slots__ = ("limit", "sample_size", "target")

    def __init__(self, sample_size: int, slices: int) -> None:
        self.sample_size = sample_size
        self.target = sample_size if slices == 1 else math.ceil(sample_size * slices / (slices - 1))
        self.limit = self.target + math.ceil(sample_size / slices)

    def opened(self, reservoirs: list[Reservoir | None], rng: np.random.Generator) -> Reservoir:
        """The reservoir of a new slice after the `reservoirs` of the others.

        Its rate is what the budget's target allows over the values the others saw (1 in a new
        window), and its room what the others leave of the limit.
        """
        seen = kept = 0
        for reservoir in reservoirs:
            if reservoir is not None:
                reservoir.close()
                seen += reservoir.seen
                kept += reservoir.filled
        rate = 1.0 if seen <= self.target else self.target / seen
        return Reservoir(rate, self.limit - kept, float(rng.random()))

    def resume(self, reservoirs: list[Reservoir | None], rng: np.random.Generator) -> None:
        """Set the rooms of restored reservoirs (the last is the current slice's); rebalance if
        they hold more than the limit (a state saved under a larger window.sample_size)."""
        parts = [reservoir for reservoir in reservoirs if reservoir is not None]
        if not parts:
            return
        for part in parts:
            part.offset = float(rng.random())
        if sum(part.filled for part in parts) > self.limit:
            self.rebalance(parts, rng)
            return
        for part in parts[:-1]:
            part.close()
        parts[-1].room = self.limit - sum(part.filled for part in parts[:-1])

    def rebalance(self, reservoirs: Sequence[Reservoir | None], rng: np.random.Generator) -> None:
        """Thin every slice to one rate, target / seen, so that at most `limit` values stay; the
        last reservoir (the current slice's) gets the room the others leave."""
        parts = [reservoir for reservoir in reservoirs if reservoir is not None]
        if not parts:
            return
        seen = sum(part.seen for part in parts)
        rate = 1.0 if seen <= self.target else self.target / seen
        while True:
            for part in parts:
                part.thin(rate, rng)
            kept = sum(part.filled for part in parts)
            if kept <= self.limit:
                break
            rate *= self.target / kept  # rounding up in every slice: thin a little more
        current = parts[-1]
        current.room = self.limit - (kept - current.filled)
        if len(current.values) > max(current.filled, current.room):
            current.values = current.values[: current.filled].copy()


def merged_sample(
    reservoirs: list[Reservoir | None], sample_size: int, entropy: tuple[int, ...]
) -> NDArray[np.float64]:
    """One uniform sample of the window from the slices' reservoirs, at most `sample_size`.

    A slice kept at a higher rate than another would be over-represented, so each is thinned to
    the lowest rate of any slice: every value the window saw is then in with the same
    probability. Of more than `sample_size` such values, `sample_size` are drawn uniformly.
    The draws are seeded by `entropy` (non-negative integers) and the values seen and kept, so
    one window state gives one sample however often it is merged, before or after a restart.
    """
    parts = [r for r in reservoirs if r is not None and r.seen]
    if not parts:
        return np.empty(0, dtype=np.float64)
    rate = min(r.rate for r in parts)
    kept = sum(r.filled for r in parts)
    if all(r.rate == rate for r in parts) and kept <= sample_size:
        return np.concatenate([r.sample() for r in parts])
    rng = np.random.default_rng([*entropy, sum(r.seen for r in parts), kept])
    merged = np.concatenate([thinned(r.sample(), rate / r.rate, rng) for r in parts])
    return _choose(merged, sample_size, rng)
