"""LabelJoinBuffer: bounds by count and age, overwrite and join-once semantics, counts per call."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pytest

from exporter.truth.join import LabelJoinBuffer

if TYPE_CHECKING:
    from conftest import FakeClock  # the fake_clock fixture's type; not imported at run time

HOUR = 3600.0


def _ids(start: int, stop: int) -> list[str | None]:
    return [f"id-{i}" for i in range(start, stop)]


# Bound by count


def test_a_full_buffer_evicts_the_oldest_entries_first_and_counts_them(
    fake_clock: FakeClock,
) -> None:
    buffer = LabelJoinBuffer(max_entries=3, max_age_seconds=HOUR)
    assert buffer.remember(_ids(0, 3), [0, 1, 2], fake_clock()) == 0
    assert buffer.remember(_ids(3, 5), [3, 4], fake_clock()) == 2
    assert len(buffer) == 3
    result = buffer.join(["id-0", "id-1", "id-2", "id-3", "id-4"], fake_clock())
    assert result.positions == [2, 3, 4]  # id-0 and id-1 were the oldest
    assert result.predictions == [2, 3, 4]
    assert result.unmatched == 2


def test_a_stream_of_a_million_ids_never_holds_more_than_max_entries(
    fake_clock: FakeClock,
) -> None:
    buffer = LabelJoinBuffer(max_entries=10_000, max_age_seconds=HOUR)
    largest = evicted = 0
    for start in range(0, 1_000_000, 5_000):
        evicted += buffer.remember(_ids(start, start + 5_000), [0] * 5_000, fake_clock())
        largest = max(largest, len(buffer))
        fake_clock.advance(1.0)
    assert largest == len(buffer) == 10_000
    assert evicted == 1_000_000 - 10_000  # every id remembered is held or counted


# Bound by age


def test_expire_drops_only_entries_older_than_max_age(fake_clock: FakeClock) -> None:
    buffer = LabelJoinBuffer(max_entries=100, max_age_seconds=HOUR)
    buffer.remember(_ids(0, 3), [0, 0, 0], fake_clock())
    fake_clock.advance(0.5 * HOUR)
    buffer.remember(_ids(3, 5), [1, 1], fake_clock())
    fake_clock.advance(0.5 * HOUR)
    assert buffer.expire(fake_clock()) == 0  # the first batch is exactly max_age old: kept
    fake_clock.advance(1.0)
    expired = buffer.expire(fake_clock())
    assert expired == 3
    assert len(buffer) == 2
    fake_clock.advance(0.5 * HOUR)
    assert buffer.expire(fake_clock()) == 2
    expired += 2
    assert (len(buffer), expired) == (0, 5)


def test_a_label_that_arrives_after_max_age_does_not_join(fake_clock: FakeClock) -> None:
    buffer = LabelJoinBuffer(max_entries=100, max_age_seconds=HOUR)
    buffer.remember(["late", "early"], ["yes", "no"], fake_clock())
    fake_clock.advance(0.25 * HOUR)
    early = buffer.join(["early"], fake_clock())
    assert early.predictions == ["no"]
    fake_clock.advance(HOUR)
    result = buffer.join(["late"], fake_clock())
    assert (result.positions, result.unmatched) == ([], 1)
    calls = (early, result)
    assert (
        sum(r.expired for r in calls),
        sum(len(r.positions) for r in calls),
        sum(r.unmatched for r in calls),
    ) == (1, 1, 1)


def test_a_clock_step_back_does_not_break_age_order(fake_clock: FakeClock) -> None:
    buffer = LabelJoinBuffer(max_entries=100, max_age_seconds=HOUR)
    buffer.remember(["a"], [1], fake_clock())
    fake_clock.advance(-60.0)  # NTP steps the wall clock back a minute
    buffer.remember(["b"], [2], fake_clock())  # stamped as "a", not earlier
    fake_clock.advance(HOUR + 61.0)
    assert buffer.expire(fake_clock()) == 2


# Overwrite and join-once semantics


def test_a_repeated_id_overwrites_and_becomes_the_newest(fake_clock: FakeClock) -> None:
    buffer = LabelJoinBuffer(max_entries=2, max_age_seconds=HOUR)
    buffer.remember(["a", "b"], ["old", "b"], fake_clock())
    fake_clock.advance(10.0)
    assert buffer.remember(["a"], ["new"], fake_clock()) == 0  # no growth
    assert len(buffer) == 2
    assert buffer.remember(["c"], ["c"], fake_clock()) == 1  # evicts "b", not "a"
    result = buffer.join(["a", "b", "c"], fake_clock())
    assert result.positions == [0, 2]
    assert result.predictions == ["new", "c"]


def test_overwriting_restarts_the_age_of_an_entry(fake_clock: FakeClock) -> None:
    buffer = LabelJoinBuffer(max_entries=10, max_age_seconds=HOUR)
    buffer.remember(["a", "b"], [1, 2], fake_clock())
    fake_clock.advance(0.75 * HOUR)
    buffer.remember(["a"], [3], fake_clock())
    fake_clock.advance(0.5 * HOUR)
    assert buffer.expire(fake_clock()) == 1  # only "b"
    assert buffer.join(["a"], fake_clock()).predictions == [3]


def test_a_label_joins_once(fake_clock: FakeClock) -> None:
    buffer = LabelJoinBuffer(max_entries=10, max_age_seconds=HOUR)
    buffer.remember(["a", "b"], [1, 0], fake_clock())
    first = buffer.join(["a", "a"], fake_clock())  # a duplicate within the batch
    second = buffer.join(["a", "b"], fake_clock())  # and a repeat in a later batch
    assert (first.positions, first.unmatched) == ([0], 1)
    assert (second.positions, second.predictions) == ([1], [0])
    assert second.unmatched == 1
    matched = len(first.positions) + len(second.positions)
    assert (matched, first.unmatched + second.unmatched, len(buffer)) == (2, 2, 0)


def test_unknown_labels_are_counted_as_unmatched(fake_clock: FakeClock) -> None:
    buffer = LabelJoinBuffer(max_entries=10, max_age_seconds=HOUR)
    buffer.remember(["a"], [1], fake_clock())
    result = buffer.join(["x", "a", "y", "z"], fake_clock())
    assert (result.positions, result.unmatched) == ([1], 3)


def test_predictions_without_an_id_are_not_remembered(fake_clock: FakeClock) -> None:
    buffer = LabelJoinBuffer(max_entries=10, max_age_seconds=HOUR)
    buffer.remember([None, "a", None], [1, 2, 3], fake_clock())
    assert len(buffer) == 1
    result = buffer.join(["a"], fake_clock())
    assert result.predictions == [2]


def test_matched_positions_index_the_label_batch(fake_clock: FakeClock) -> None:
    rng = np.random.default_rng(81)
    buffer = LabelJoinBuffer(max_entries=1_000, max_age_seconds=HOUR)
    ids = [f"r{i}" for i in range(1_000)]
    predictions = rng.integers(0, 2, size=1_000).tolist()
    buffer.remember(ids, predictions, fake_clock())
    label_ids = [ids[i] if i % 3 else f"unknown{i}" for i in rng.permutation(1_000)]
    result = buffer.join(label_ids, fake_clock())
    for position, prediction in zip(result.positions, result.predictions, strict=True):
        assert predictions[int(label_ids[position][1:])] == prediction
    assert result.unmatched == sum(1 for i in label_ids if i.startswith("unknown"))
    assert len(result.positions) + result.unmatched == 1_000


# Input checks


def test_remember_rejects_misaligned_inputs_and_remembers_nothing(fake_clock: FakeClock) -> None:
    buffer = LabelJoinBuffer(max_entries=10, max_age_seconds=HOUR)
    with pytest.raises(ValueError, match="ids and predictions must have the same length"):
        buffer.remember(["a", "b"], [1], fake_clock())
    assert len(buffer) == 0


@pytest.mark.parametrize(
    ("max_entries", "max_age_seconds", "message"),
    [
        (0, HOUR, "max_entries must be >= 1"),
        (10, 0.0, "max_age_seconds must be positive"),
        (10, math.inf, "max_age_seconds must be positive and finite"),
        (10, math.nan, "max_age_seconds must be positive"),
    ],
)
def test_the_buffer_rejects_bounds_that_bound_nothing(
    max_entries: int, max_age_seconds: float, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        LabelJoinBuffer(max_entries, max_age_seconds)
