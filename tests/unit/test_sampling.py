"""The window's raw-value sample: uniform over the window, as large as min(valid values,
window.sample_size), and within its memory budget at every step (exporter.window.sampling)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from scipy import stats

from exporter.ingest.records import PredictionBatch
from exporter.settings import ReferenceSettings, Settings
from exporter.window.model import COUNT_RECORDS, ModelWindow
from exporter.window.profile import ReferenceProfile, build_profile
from exporter.window.sampling import Reservoir, SampleBudget, merged_sample

PROFILE: ReferenceProfile = build_profile(
    "m",
    {"x": np.random.default_rng(0).uniform(-1.0, 1e6, 1_000).tolist()},
    None,
    None,
    declared={},
    prediction_kind=None,
    settings=ReferenceSettings(bins=10),
)


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def _window(clock: Clock, seed: int, **window: Any) -> ModelWindow:
    settings = Settings(window=window, reference={"seed": seed})
    return ModelWindow(PROFILE, settings, clock)


def _batch(values: np.ndarray[Any, Any]) -> PredictionBatch:
    n = len(values)
    return PredictionBatch([{"x": float(v)} for v in values], [None] * n, [None] * n, [None] * n)


def _kept(window: ModelWindow) -> tuple[int, int]:
    """Values kept and floats allocated by the column's reservoirs over all slices."""
    parts = [part.samples[0] for part in window.slices]
    kept = sum(part.filled for part in parts if part is not None)
    allocated = sum(len(part.values) for part in parts if part is not None)
    return kept, allocated


def _run(scenario: str, seed: int, *, check_bound: bool = False) -> tuple[Any, Any]:
    """Feed arrivals 0, 1, 2, ... (the value is the arrival's position) into a window of
    sample_size 150 and 5 slices; returns (merged sample, positions still in the window).

    concentrated: 1,500 values in 30 batches at one instant (one 60 s slice of a new window).
    spread: 2,400 values in batches of 20 every 4 s for 480 s: the window (200 s over 5 slices)
    is full of evenly spread slices and the older ones have expired.
    count: 2,000 values in batches of 50 into a count-bound window of 1,000 records.
    """
    clock = Clock()
    budget = SampleBudget(150, 5)
    if scenario == "count":
        window = _window(clock, seed, max_records=1_000, slices=5, sample_size=150)
        batches, size, step = 40, 50, 0.0
    else:
        window = _window(
            clock, seed, max_records=None, duration_seconds=200.0, slices=5, sample_size=150
        )
        batches, size, step = (30, 50, 0.0) if scenario == "concentrated" else (120, 20, 4.0)
    for k in range(batches):
        window.append(_batch(np.arange(k * size, (k + 1) * size, dtype=float)))
        clock.now += step
        if check_bound:
            kept, allocated = _kept(window)
            assert kept <= budget.limit, (k, kept)
            assert allocated <= budget.limit, (k, allocated)
    snapshot = window.snapshot()
    if check_bound:
        kept, allocated = _kept(window)  # after the snapshot's expiry too
        assert kept <= budget.limit and allocated <= budget.limit
    total = batches * size
    present = np.arange(total - snapshot.records, total)
    return snapshot.columns[0].sample, present


@pytest.mark.parametrize("scenario", ["concentrated", "spread", "count"])
def test_every_value_in_the_window_is_in_the_sample_equally_often(scenario: str) -> None:
    # Over 200 seeded windows, each position's inclusion count is Binomial(200, p) with p the
    # same for all (a sample of fixed size is hypergeometric per run, whose variance is at most
    # the binomial's). Pearson's statistic over the positions against chi-squared(k - 1): a
    # non-uniform sampler (a slice over-represented 2 to 1) gives p-values below 1e-30 here.
    runs = 200
    counts: np.ndarray[Any, Any] | None = None
    for seed in range(runs):
        sample, present = _run(scenario, seed)
        if counts is None:
            counts = np.zeros(len(present))
            first = present[0]
        assert len(present) == len(counts)
        assert np.isin(sample, present).all()
        assert len(np.unique(sample)) == len(sample)
        counts += np.bincount((sample - first).astype(int), minlength=len(counts))
    assert counts is not None
    p = counts.sum() / (runs * len(counts))
    expected = runs * p
    statistic = float(((counts - expected) ** 2 / (expected * (1 - p))).sum())
    pvalue = stats.chi2.sf(statistic, len(counts) - 1)
    assert pvalue > 1e-3, (statistic, len(counts))


@pytest.mark.parametrize("scenario", ["concentrated", "spread", "count"])
def test_the_sample_holds_sample_size_values_of_a_larger_window(scenario: str) -> None:
    # Each window holds 800 or more values, so the sample holds 150 of them. After an expiry
    # (spread, count) the slices left hold (S - 1) / S of target = ceil(150 * 5 / 4) = 188,
    # that is 150, when traffic was spread evenly over them.
    sizes = [len(_run(scenario, seed, check_bound=True)[0]) for seed in range(30)]
    assert sizes == [150] * 30


def test_the_sample_is_every_value_of_a_window_smaller_than_sample_size() -> None:
    clock = Clock()
    window = _window(clock, 0, max_records=None, duration_seconds=60.0, slices=6, sample_size=500)
    for k in range(12):
        window.append(_batch(np.arange(k * 40, (k + 1) * 40, dtype=float)))
        clock.now += 5.0
    sample = window.snapshot().columns[0].sample
    assert sample is not None
    np.testing.assert_array_equal(np.sort(sample), np.arange(480.0))


def test_a_concentrated_window_is_sampled_up_to_sample_size_not_one_slice_share() -> None:
    # The case: 10,000 records in one slice of a 12-slice window with sample_size 5,000:
    # a reservoir of ceil(5,000 / 12) = 417 values per slice gave 417 of them.
    clock = Clock()
    window = _window(clock, 3, max_records=None, duration_seconds=3_600.0, slices=12)
    values = np.random.default_rng(3).normal(size=10_000)
    for start in range(0, 10_000, 1_000):
        window.append(_batch(values[start : start + 1_000]))
    sample = window.snapshot().columns[0].sample
    assert sample is not None and len(sample) == 5_000
    assert np.isin(sample, values).all()
    assert _kept(window)[0] <= SampleBudget(5_000, 12).limit


def test_the_budget_holds_while_a_chunk_is_counted_and_after_each() -> None:
    # At most limit values after each chunk; at most one chunk more while it is being counted.
    budget = SampleBudget(100, 4)
    rng = np.random.default_rng(9)
    ring: list[Reservoir | None] = []
    for chunk in range(400):
        if chunk % 25 == 0:
            if len(ring) == 4:
                ring.pop(0)
            ring.append(budget.opened(ring, rng))
        current = ring[-1]
        assert current is not None
        if not current.add(rng.normal(size=COUNT_RECORDS), rng):
            assert sum(r.filled for r in ring if r is not None) <= budget.limit + COUNT_RECORDS
            budget.rebalance(ring, rng)
        assert sum(r.filled for r in ring if r is not None) <= budget.limit
        assert sum(len(r.values) for r in ring if r is not None) <= budget.limit


def test_thinning_keeps_each_value_with_the_ratio_of_the_rates() -> None:
    # Reservoir at rate 1 holding 0..9,999, thinned to 0.3 then 0.1: each value is in with
    # probability 0.1; the count is rounded at random each time, so it is 1,000 within 1, and
    # the positions kept are uniform (Kolmogorov-Smirnov against the uniform distribution).
    rng = np.random.default_rng(11)
    reservoir = Reservoir(1.0, 10_000, 0.0)
    assert reservoir.add(np.arange(10_000.0), rng)
    reservoir.thin(0.3, rng)
    reservoir.thin(0.1, rng)
    assert reservoir.rate == 0.1
    assert abs(reservoir.filled - 1_000) <= 1
    assert stats.kstest(reservoir.sample() / 10_000, "uniform").pvalue > 1e-3


def test_the_merged_sample_is_the_same_for_the_same_state() -> None:
    rng = np.random.default_rng(12)
    budget = SampleBudget(50, 3)
    ring: list[Reservoir | None] = [budget.opened([], rng)]
    first = ring[0]
    assert first is not None
    if not first.add(rng.normal(size=200), rng):
        budget.rebalance(ring, rng)
    ring.append(budget.opened(ring, rng))
    second = ring[1]
    assert second is not None and second.add(rng.normal(size=5), rng)
    one = merged_sample(ring, 50, (0, 0))
    assert len(one) == 50
    np.testing.assert_array_equal(merged_sample(ring, 50, (0, 0)), one)
    assert not np.array_equal(merged_sample(ring, 50, (1, 0)), one)


def test_a_state_restored_under_a_smaller_sample_size_is_thinned_to_its_budget() -> None:
    clock = Clock()
    window = _window(clock, 0, max_records=None, duration_seconds=60.0, slices=6, sample_size=600)
    window.append(_batch(np.arange(2_000.0)))
    assert _kept(window)[0] > 100
    smaller = Settings(window={"duration_seconds": 60.0, "slices": 6, "sample_size": 100})
    restored = ModelWindow.from_state(window.export_state(), smaller, clock)
    assert _kept(restored)[0] <= SampleBudget(100, 6).limit
    sample = restored.snapshot().columns[0].sample
    assert sample is not None and len(sample) == 100
    reservoir = restored.slices[0].samples[0]
    assert reservoir is not None  # thinned to target / seen = ceil(100 * 6 / 5) / 2,000
    assert math.isclose(reservoir.rate, 120 / 2_000)
