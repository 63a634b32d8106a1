"""Rolling windows: exact bin and quality counts, record and age bounds, samples, the model cap."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pytest

from exporter.api.errors import status_for
from exporter.errors import DomainError
from exporter.ingest.records import PredictionBatch
from exporter.settings import ReferenceSettings, Settings
from exporter.stats.binning import bin_counts
from exporter.window.counters import INVALID_REASONS
from exporter.window.model import COUNT_RECORDS, ModelWindow
from exporter.window.profile import (
    CategoricalProfile,
    NumericProfile,
    ReferenceProfile,
    build_profile,
)
from exporter.window.store import WindowStore


def _batch(
    features: Sequence[dict[str, Any]],
    predictions: Sequence[Any] | None = None,
    timestamps: Sequence[float | None] | None = None,
) -> PredictionBatch:
    n = len(features)
    return PredictionBatch(
        features=list(features),
        predictions=list(predictions) if predictions is not None else [None] * n,
        ids=[None] * n,
        timestamps=list(timestamps) if timestamps is not None else [None] * n,
    )


def _x_batch(values: Sequence[float]) -> PredictionBatch:
    return _batch([{"x": float(v)} for v in values])


def _profile(
    model: str = "m",
    columns: Mapping[str, Sequence[Any]] | None = None,
    predictions: Sequence[Any] | None = None,
) -> ReferenceProfile:
    if columns is None:
        columns = {"x": np.random.default_rng(0).normal(size=1_000).tolist()}
    return build_profile(
        model,
        columns,
        predictions,
        None,
        declared={},
        prediction_kind=None,
        settings=ReferenceSettings(bins=10),
    )


def _mixed_profile() -> ReferenceProfile:
    """x numeric in [-1, 1]; colour red/green/blue; flag boolean; numeric prediction."""
    rng = np.random.default_rng(1)
    n = 600
    return _profile(
        columns={
            "x": rng.uniform(-1.0, 1.0, n).tolist(),
            "colour": (["red", "green", "blue"] * (n // 3)),
            "flag": (rng.random(n) < 0.5).tolist(),
        },
        predictions=rng.random(n).tolist(),
    )


def _window(profile: ReferenceProfile, clock: Any, **window: Any) -> ModelWindow:
    return ModelWindow(profile, Settings(window=window), clock)


def _quality_counts(column: Any) -> tuple[int, int, int, int, int]:
    """(missing, nan, type_mismatch, out_of_range, unseen) of a merged column."""
    return (column.missing, column.nan, column.type_mismatch, column.out_of_range, column.unseen)


def _column_index(profile: ReferenceProfile, name: str) -> int:
    return [c.name for c in profile.columns].index(name)


# exact counts


def test_appended_values_are_counted_into_the_reference_bins(fake_clock: Any) -> None:
    profile = _profile()
    window = _window(profile, fake_clock)
    values = np.random.default_rng(2).normal(0.5, 1.5, 777)
    window.append(_x_batch(values))
    column = window.snapshot().columns[0]
    x = profile.columns[0]
    assert isinstance(x, NumericProfile)
    np.testing.assert_array_equal(column.counts, bin_counts(values, x.edges))
    # Independent oracle: right-closed bins, value's bin = number of edges strictly below it.
    index = (values[:, None] > x.edges[None, :]).sum(axis=1)
    np.testing.assert_array_equal(column.counts, np.bincount(index, minlength=x.bins))
    assert column.valid == 777


def test_counts_accumulate_over_batches(fake_clock: Any) -> None:
    profile = _profile()
    window = _window(profile, fake_clock)
    rng = np.random.default_rng(3)
    batches = [rng.normal(size=size) for size in (5, 40, 1, 123)]
    for values in batches:
        window.append(_x_batch(values))
    x = profile.columns[0]
    assert isinstance(x, NumericProfile)
    expected = bin_counts(np.concatenate(batches), x.edges)
    snapshot = window.snapshot()
    np.testing.assert_array_equal(snapshot.columns[0].counts, expected)
    assert snapshot.records == window.records == 169


def test_categorical_values_are_counted_per_category_with_unseen_in_overflow(
    fake_clock: Any,
) -> None:
    profile = _mixed_profile()
    window = _window(profile, fake_clock)
    colours = ["red", "red", "blue", "purple", "green", "purple", "teal"]
    window.append(_batch([{"colour": c} for c in colours]))
    i = _column_index(profile, "colour")
    colour = profile.columns[i]
    assert isinstance(colour, CategoricalProfile)
    expected = np.zeros(colour.bins, dtype=np.int64)
    for name, count in Counter(colours).items():
        expected[colour.index.get(name, colour.overflow)] += count
    np.testing.assert_array_equal(window.snapshot().columns[i].counts, expected)
    assert window.snapshot().columns[i].unseen == 3


@pytest.mark.parametrize(
    "bounds",
    [{}, {"max_records": 12, "slices": 4, "duration_seconds": None}],
    ids=["one-slice", "split-into-slices-of-3"],
)
def test_quality_counters_are_exact_for_a_handcrafted_batch(
    fake_clock: Any, bounds: dict[str, Any]
) -> None:
    profile = _mixed_profile()
    window = _window(profile, fake_clock, **bounds)
    batch = _batch(
        [
            {"x": 0.0, "colour": "red", "flag": True},  # clean
            {"x": None, "colour": "purple", "flag": "yes"},  # missing, unseen, mismatch
            {"x": math.nan, "colour": 3, "flag": False},  # nan, unseen ("3")
            {"colour": [1], "flag": None, "extra": 1},  # x absent, mismatch, missing, 1 unknown
            {"x": "7", "colour": "red", "flag": 1, "a": 1, "b": 2},  # mismatch, 2 unknown
            {"x": 50.0, "colour": None, "flag": "TRUE"},  # out of range (above max), missing
            {"x": -50.0, "colour": "blue", "flag": 0},  # out of range (below min)
            {"x": math.inf, "colour": "green", "flag": [True]},  # nan, mismatch
        ],
        predictions=[0.5, None, 0.2, "high", 0.1, 0.9, 7.0, math.nan],
    )
    assert window.append(batch) == 8
    snapshot = window.snapshot()
    by_name = {c.name: w for c, w in zip(profile.columns, snapshot.columns, strict=True)}
    x, colour, flag, prediction = (by_name[n] for n in ("x", "colour", "flag", "prediction"))
    assert (x.missing, x.nan, x.type_mismatch, x.out_of_range, x.unseen) == (2, 2, 1, 2, 0)
    assert x.valid == 3
    assert (colour.missing, colour.type_mismatch, colour.unseen) == (1, 1, 2)
    assert colour.valid == 6
    assert (flag.missing, flag.type_mismatch, flag.unseen) == (1, 2, 0)
    assert flag.valid == 5
    # prediction: None missing; "high" mismatch; nan; 7.0 above the reference max of [0, 1).
    assert (prediction.missing, prediction.nan, prediction.type_mismatch) == (1, 1, 1)
    assert prediction.out_of_range == 1
    assert window.counters.records == 8
    assert window.counters.invalid == {
        "missing": 2 + 1 + 1 + 1,
        "nan": 2 + 1,
        "type_mismatch": 1 + 1 + 2 + 1,
        "unseen_category": 2,
        "out_of_range": 2 + 1,
        "unknown_feature": 3,
    }
    assert set(window.counters.invalid) == set(INVALID_REASONS)


def test_folded_reference_categories_land_in_overflow_but_are_not_unseen(
    fake_clock: Any,
) -> None:
    profile = build_profile(
        "m",
        {"c": ["a"] * 5 + ["b"] * 3 + ["c"] * 2 + ["d"] * 1},
        None,
        None,
        declared={},
        prediction_kind=None,
        settings=ReferenceSettings(max_categories=2),
    )
    column = profile.columns[0]
    assert isinstance(column, CategoricalProfile)
    assert column.categories == ("a", "b")
    window = _window(profile, fake_clock)
    # "c" and "d" were in the reference (folded into overflow); "e" and 5 never were.
    window.append(_batch([{"c": v} for v in ["a", "c", "d", "e", 5, "b", "c"]]))
    merged = window.snapshot().columns[0]
    np.testing.assert_array_equal(merged.counts, [1, 1, 5])
    assert merged.unseen == 2
    assert window.counters.invalid["unseen_category"] == 2


def test_numbers_in_a_categorical_column_meet_their_string_spelling(fake_clock: Any) -> None:
    profile = _profile(columns={"code": ["1", "2", "2"]})
    window = _window(profile, fake_clock)
    window.append(_batch([{"code": v} for v in [1, 1.0, "1", 2, 2.5, True, None]]))
    merged = window.snapshot().columns[0]
    column = profile.columns[0]
    assert isinstance(column, CategoricalProfile)
    assert column.categories == ("2", "1")
    np.testing.assert_array_equal(merged.counts, [1, 3, 2])  # "2.5" and "true" overflow
    assert (merged.unseen, merged.missing, merged.type_mismatch) == (2, 1, 0)


def test_booleans_and_strings_in_a_numeric_column_are_type_mismatches(fake_clock: Any) -> None:
    window = _window(_profile(), fake_clock)
    window.append(_batch([{"x": True}, {"x": False}, {"x": "1.5"}, {"x": [1.0]}, {"x": 0.5}]))
    merged = window.snapshot().columns[0]
    assert (merged.type_mismatch, merged.missing, merged.nan) == (4, 0, 0)
    assert merged.valid == 1
    assert merged.sample is not None
    assert merged.sample.tolist() == [0.5]


def test_unknown_features_are_counted_even_when_every_record_has_the_right_key_count(
    fake_clock: Any,
) -> None:
    profile = _mixed_profile()
    window = _window(profile, fake_clock)
    # Three keys per record, as many as the profile's features, but one is a typo.
    window.append(_batch([{"x": 0.1, "colour": "red", "flg": True}] * 4))
    assert window.counters.invalid["unknown_feature"] == 4


def test_extra_keys_on_otherwise_complete_records_are_unknown_features(fake_clock: Any) -> None:
    window = _window(_mixed_profile(), fake_clock)
    window.append(_batch([{"x": 0.1, "colour": "red", "flag": True, "extra": 1}] * 4))
    window.append(_batch([{"x": 0.1, "colour": "red", "flag": True}] * 4))
    assert window.counters.invalid["unknown_feature"] == 4


def test_complete_and_incomplete_batches_count_the_same_values_alike(fake_clock: Any) -> None:
    # A batch where every record has every feature can be read column-wise in one pass; one
    # record missing a key sends the batch down the per-value path. Both must agree.
    profile = _mixed_profile()
    rng = np.random.default_rng(9)
    records = [
        {
            "x": float(rng.uniform(-1.5, 1.5)),
            "colour": str(rng.choice(["red", "green", "blue", "teal"])),
            "flag": bool(rng.random() < 0.5),
        }
        for _ in range(200)
    ]
    complete = _window(profile, fake_clock)
    complete.append(_batch(records))
    incomplete = _window(profile, fake_clock)
    incomplete.append(_batch([*records, {}]))
    for left, right in zip(complete.snapshot().columns, incomplete.snapshot().columns, strict=True):
        np.testing.assert_array_equal(left.counts, right.counts)
        assert _quality_counts(left)[1:] == _quality_counts(right)[1:]
        assert right.missing == left.missing + 1
    assert complete.counters.invalid["unseen_category"] > 0
    assert complete.counters.invalid["out_of_range"] > 0


def test_last_record_timestamp_is_the_newest_timestamp_seen(fake_clock: Any) -> None:
    window = _window(_profile(), fake_clock)
    window.append(_batch([{"x": 0.0}] * 3, timestamps=[100.0, None, 300.0]))
    window.append(_batch([{"x": 0.0}] * 2, timestamps=[200.0, None]))
    assert window.counters.last_record_timestamp == 300.0


# the record bound


def test_record_bound_keeps_between_three_quarters_and_all_of_max_records(
    fake_clock: Any,
) -> None:
    window = _window(_profile(), fake_clock, max_records=100, slices=4, duration_seconds=None)
    values = np.random.default_rng(4).normal(size=1_000)
    for start in range(0, 1_000, 7):
        window.append(_x_batch(values[start : start + 7]))
        held = window.records
        assert held <= 100
        if start >= 100:
            assert 75 <= held <= 100
    snapshot = window.snapshot()
    assert 75 <= snapshot.records <= 100
    assert snapshot.columns[0].valid == snapshot.records
    assert sum(s.records for s in window.slices) == snapshot.records


def test_record_bound_drops_the_oldest_records_first(fake_clock: Any) -> None:
    window = _window(
        _profile(), fake_clock, max_records=100, slices=4, duration_seconds=None, sample_size=400
    )
    values = np.arange(1_000, dtype=float)
    for start in range(0, 1_000, 7):
        window.append(_x_batch(values[start : start + 7]))
    snapshot = window.snapshot()
    sample = np.sort(snapshot.columns[0].sample)
    # Everything fits the reservoirs, so the sample is the window: the newest records, in a run.
    np.testing.assert_array_equal(sample, values[1_000 - snapshot.records :])


def test_a_batch_larger_than_a_slice_is_split_across_slices(fake_clock: Any) -> None:
    profile = _profile()
    window = _window(profile, fake_clock, max_records=100, slices=4, duration_seconds=None)
    first = np.random.default_rng(7).normal(size=60)
    window.append(_x_batch(first))
    assert [s.records for s in window.slices] == [25, 25, 10]
    second = np.random.default_rng(8).normal(size=20)
    window.append(_x_batch(second))
    assert [s.records for s in window.slices] == [25, 25, 25, 5]
    assert window.records == 80
    # Each slice holds exactly its own run of records, and together they hold the batches.
    x = profile.columns[0]
    assert isinstance(x, NumericProfile)
    values = np.concatenate([first, second])
    bounds = np.cumsum([0, 25, 25, 25, 5])
    for part, start, stop in zip(window.slices, bounds[:-1], bounds[1:], strict=True):
        np.testing.assert_array_equal(part.counts[0], bin_counts(values[start:stop], x.edges))
    np.testing.assert_array_equal(window.snapshot().columns[0].counts, bin_counts(values, x.edges))


def test_a_batch_larger_than_the_window_keeps_its_newest_records(fake_clock: Any) -> None:
    window = _window(
        _profile(), fake_clock, max_records=100, slices=4, duration_seconds=None, sample_size=400
    )
    values = np.arange(250, dtype=float)
    window.append(_x_batch(values))
    snapshot = window.snapshot()
    assert 75 <= snapshot.records <= 100
    np.testing.assert_array_equal(
        np.sort(snapshot.columns[0].sample), values[250 - snapshot.records :]
    )


# the age bound


def test_records_older_than_duration_plus_one_slice_are_gone(fake_clock: Any) -> None:
    start = fake_clock.now
    window = _window(
        _profile(), fake_clock, max_records=None, duration_seconds=60.0, slices=6, sample_size=1_000
    )
    # One record every 5 s for 200 s; the value is its age offset from `start`.
    for second in range(0, 200, 5):
        fake_clock.now = start + second
        window.append(_x_batch([second]))
    fake_clock.now = start + 230.0
    snapshot = window.snapshot()
    kept = np.sort(snapshot.columns[0].sample)
    now = 230.0
    assert len(kept) == snapshot.records
    assert kept.min() > now - 70.0  # nothing older than duration + one slice
    younger = [s for s in range(0, 200, 5) if s >= now - 60.0]
    assert set(younger) <= set(kept.tolist())  # nothing younger than duration dropped
    assert snapshot.oldest_started_at is not None
    assert snapshot.oldest_started_at > start + now - 70.0


def test_all_records_expire_once_the_clock_passes_the_window(fake_clock: Any) -> None:
    window = _window(_profile(), fake_clock, duration_seconds=60.0, slices=6)
    window.append(_x_batch(np.zeros(50)))
    fake_clock.advance(71.0)
    snapshot = window.snapshot()
    assert snapshot.records == 0
    assert window.records == 0
    assert snapshot.columns[0].valid == 0
    assert snapshot.columns[0].sample is not None
    assert snapshot.columns[0].sample.size == 0
    assert snapshot.oldest_started_at is None


def test_records_within_the_duration_are_kept(fake_clock: Any) -> None:
    window = _window(_profile(), fake_clock, duration_seconds=60.0, slices=6)
    window.append(_x_batch(np.zeros(50)))
    fake_clock.advance(59.0)
    assert window.snapshot().records == 50


def test_a_new_slice_starts_once_the_newest_is_a_slice_old(fake_clock: Any) -> None:
    window = _window(_profile(), fake_clock, max_records=None, duration_seconds=60.0, slices=6)
    window.append(_x_batch([0.0]))
    fake_clock.advance(9.0)
    window.append(_x_batch([0.0]))
    assert len(window.slices) == 1
    fake_clock.advance(1.0)
    window.append(_x_batch([0.0]))
    assert [s.records for s in window.slices] == [2, 1]


# samples


def test_reservoirs_of_a_column_never_hold_more_than_its_budget(fake_clock: Any) -> None:
    # sample_size 40 over 4 slices: target ceil(40 * 4 / 3) = 54, limit 54 + 10 = 64 values.
    window = _window(
        _profile(), fake_clock, max_records=1_000, slices=4, duration_seconds=None, sample_size=40
    )
    values = np.random.default_rng(5).normal(size=2_000)
    for start in range(0, 2_000, 13):
        window.append(_x_batch(values[start : start + 13]))
        reservoirs = [part.samples[0] for part in window.slices]
        assert sum(len(r.sample()) for r in reservoirs if r is not None) <= 64
    merged = window.snapshot().columns[0].sample
    assert merged is not None
    assert len(merged) == 40
    assert np.isin(merged, values).all()
    assert len(np.unique(merged)) == len(merged)  # no value sampled twice


def test_merged_sample_is_a_subset_of_the_values_still_in_the_window(fake_clock: Any) -> None:
    window = _window(
        _profile(), fake_clock, max_records=200, slices=4, duration_seconds=None, sample_size=20
    )
    values = np.arange(1_000, dtype=float)
    for start in range(0, 1_000, 9):
        window.append(_x_batch(values[start : start + 9]))
    snapshot = window.snapshot()
    merged = snapshot.columns[0].sample
    assert merged is not None
    assert np.isin(merged, values[1_000 - snapshot.records :]).all()


def test_merged_sample_is_every_value_when_everything_fits(fake_clock: Any) -> None:
    # 100 records per slice and room for 100 values per slice's reservoir: everything fits.
    window = _window(
        _profile(), fake_clock, max_records=400, slices=4, duration_seconds=None, sample_size=400
    )
    values = np.random.default_rng(6).integers(0, 5, 300).astype(float)  # ties on purpose
    for start in range(0, 300, 11):
        window.append(_x_batch(values[start : start + 11]))
    assert [s.records for s in window.slices] == [100, 100, 100]
    merged = window.snapshot().columns[0].sample
    assert merged is not None
    assert Counter(merged.tolist()) == Counter(values.tolist())


def test_merged_sample_takes_from_each_slice_in_proportion_to_what_it_saw(
    fake_clock: Any,
) -> None:
    # 10 s slices, sample_size 60: the first slice sees 100 values (100..199) and keeps them at
    # rate target / 100 = 72 / 100, the second sees 20 (200..219) at that rate or above. The
    # sample is 60 of the 120, so 50 and 10 in proportion, within the rounding of each draw.
    window = _window(
        _profile(), fake_clock, max_records=None, duration_seconds=60.0, slices=6, sample_size=60
    )
    window.append(_x_batch(np.arange(100.0, 200.0)))
    fake_clock.advance(10.0)
    window.append(_x_batch(np.arange(200.0, 220.0)))
    assert [s.records for s in window.slices] == [100, 20]
    merged = window.snapshot().columns[0].sample
    assert merged is not None
    assert len(merged) == 60
    assert abs(np.count_nonzero(merged < 200.0) - 50) <= 3
    assert np.isin(merged, np.arange(100.0, 220.0)).all()


def test_sample_leaves_out_missing_and_non_numeric_values(fake_clock: Any) -> None:
    window = _window(_profile(), fake_clock)
    window.append(_batch([{"x": 1.0}, {"x": None}, {"x": "2"}, {"x": math.nan}, {}, {"x": 3}]))
    merged = window.snapshot().columns[0].sample
    assert merged is not None
    assert sorted(merged.tolist()) == [1.0, 3.0]


def test_categorical_columns_have_no_sample(fake_clock: Any) -> None:
    profile = _mixed_profile()
    window = _window(profile, fake_clock)
    window.append(_batch([{"colour": "red", "flag": True, "x": 0.0}]))
    snapshot = window.snapshot()
    assert snapshot.columns[_column_index(profile, "colour")].sample is None
    assert snapshot.columns[_column_index(profile, "flag")].sample is None


# reference replacement


def test_replace_profile_clears_the_window_but_keeps_the_counters(fake_clock: Any) -> None:
    window = _window(_profile(), fake_clock)
    window.append(_batch([{"x": 0.0}, {"x": None}, {"x": 1.0, "zzz": 1}]))
    new = _mixed_profile()
    window.replace_profile(new)
    assert window.records == 0
    snapshot = window.snapshot()
    assert snapshot.profile is new
    assert snapshot.records == 0
    assert len(snapshot.columns) == len(new.columns)
    for column, merged in zip(new.columns, snapshot.columns, strict=True):
        assert merged.counts.shape == (column.bins,)
        assert merged.valid == 0
    assert window.counters.records == 3
    assert window.counters.invalid["missing"] == 1
    assert window.counters.invalid["unknown_feature"] == 1


def test_appends_after_replace_profile_count_into_the_new_bins(fake_clock: Any) -> None:
    window = _window(_profile(), fake_clock)
    window.append(_x_batch([0.0] * 5))
    new = _mixed_profile()
    window.replace_profile(new)
    window.append(_batch([{"x": 0.2, "colour": "red", "flag": False}] * 2))
    snapshot = window.snapshot()
    assert snapshot.records == 2
    assert snapshot.columns[_column_index(new, "colour")].valid == 2
    assert window.counters.records == 7


# counting in steps (the ingest route yields between them)


def _mixed_records(count: int, seed: int) -> PredictionBatch:
    rng = np.random.default_rng(seed)
    colours = ["red", "green", "blue", "mauve", None]
    return _batch(
        [
            {"x": float(rng.uniform(-1.5, 1.5)), "colour": colours[i % 5], "flag": bool(i % 2)}
            for i in range(count)
        ],
        predictions=rng.random(count).tolist(),
    )


def _prepared(window: ModelWindow, batch: PredictionBatch) -> Any:
    prepared = window.prepare(batch)
    for _ in prepared.steps():
        pass
    return prepared


def test_a_snapshot_between_commit_steps_sees_a_whole_prefix_of_the_batch(
    fake_clock: Any,
) -> None:
    profile = _mixed_profile()
    batch = _mixed_records(3 * COUNT_RECORDS + 17, seed=4)
    window = _window(profile, fake_clock, max_records=None, duration_seconds=3600.0)
    steps = window.commit_steps(_prepared(window, batch))
    seen = []
    for _ in steps:
        snapshot = window.snapshot()
        seen.append(snapshot.records)
        # Every column has counted exactly the same records: the first `records` of the batch.
        prefix = _window(profile, fake_clock, max_records=None, duration_seconds=3600.0)
        prefix.append(
            _batch(batch.features[: snapshot.records], batch.predictions[: snapshot.records])
        )
        for ours, theirs in zip(snapshot.columns, prefix.snapshot().columns, strict=True):
            np.testing.assert_array_equal(ours.counts, theirs.counts)
            assert _quality_counts(ours) == _quality_counts(theirs)
        assert window.counters.records == 0  # the counters move in the last step
    assert seen == [COUNT_RECORDS, 2 * COUNT_RECORDS, 3 * COUNT_RECORDS]
    assert window.records == window.counters.records == len(batch)


def test_stepwise_and_one_go_commits_count_the_same(fake_clock: Any) -> None:
    profile = _mixed_profile()
    batches = [_mixed_records(size, seed) for seed, size in enumerate((1, 700, 1_300, 0, 64))]
    one_go = _window(profile, fake_clock, max_records=2_000, slices=4)
    stepwise = _window(profile, fake_clock, max_records=2_000, slices=4)
    for batch in batches:
        one_go.append(batch)
        for _ in stepwise.commit_steps(_prepared(stepwise, batch)):
            pass
    ours, theirs = one_go.snapshot(), stepwise.snapshot()
    assert ours.records == theirs.records
    for a, b in zip(ours.columns, theirs.columns, strict=True):
        np.testing.assert_array_equal(a.counts, b.counts)
    assert one_go.counters == stepwise.counters


def test_a_reference_replaced_between_commit_steps_gets_the_rest_in_its_bins(
    fake_clock: Any,
) -> None:
    window = _window(_mixed_profile(), fake_clock, max_records=None, duration_seconds=3600.0)
    batch = _mixed_records(2 * COUNT_RECORDS + 5, seed=5)
    steps = window.commit_steps(_prepared(window, batch))
    next(steps)
    new = _profile(columns={"x": np.random.default_rng(6).normal(size=500).tolist()})
    window.replace_profile(new)  # drops the first COUNT_RECORDS records with the old window
    for _ in steps:
        pass
    snapshot = window.snapshot()
    assert snapshot.profile is new
    assert snapshot.records == len(batch) - COUNT_RECORDS
    assert snapshot.columns[0].valid == len(batch) - COUNT_RECORDS
    assert window.counters.records == len(batch)


# snapshots


def test_snapshot_is_not_changed_by_later_appends(fake_clock: Any) -> None:
    window = _window(_profile(), fake_clock)
    window.append(_x_batch([0.0] * 10))
    before = window.snapshot()
    counts = before.columns[0].counts.copy()
    window.append(_x_batch([0.0] * 10))
    assert before.records == 10
    np.testing.assert_array_equal(before.columns[0].counts, counts)
    assert before.taken_at == fake_clock.now


# the store


def test_store_caps_models_at_max_models_with_409_limit(fake_clock: Any) -> None:
    store = WindowStore(Settings(limits={"max_models": 2}), fake_clock)
    assert store.set_reference(_profile("a")) is True
    assert store.set_reference(_profile("b")) is True
    with pytest.raises(DomainError) as caught:
        store.set_reference(_profile("c"))
    assert status_for(caught.value) == 409
    assert caught.value.reason == "limit"
    assert "c" not in store
    assert len(store) == 2


def test_store_replaces_an_existing_model_at_the_cap(fake_clock: Any) -> None:
    store = WindowStore(Settings(limits={"max_models": 1}), fake_clock)
    store.set_reference(_profile("a"))
    store.get("a").append(_x_batch([0.0]))
    replacement = _profile("a")
    assert store.set_reference(replacement) is False
    assert store.get("a").profile is replacement
    assert store.get("a").snapshot().records == 0
    assert store.get("a").counters.records == 1


@pytest.mark.parametrize("action", ["get", "append", "snapshot", "delete"])
def test_store_unknown_model_is_404_unknown_model(fake_clock: Any, action: str) -> None:
    store = WindowStore(Settings(), fake_clock)
    store.set_reference(_profile("known"))
    calls = {
        "get": lambda: store.get("ghost"),
        "append": lambda: store.get("ghost").append(_x_batch([0.0])),
        "snapshot": lambda: store.get("ghost").snapshot(),
        "delete": lambda: store.delete("ghost"),
    }
    with pytest.raises(DomainError) as caught:
        calls[action]()
    assert status_for(caught.value) == 404
    assert caught.value.reason == "unknown_model"
    assert "'ghost'" in caught.value.detail


def test_store_delete_removes_the_model_and_frees_its_slot(fake_clock: Any) -> None:
    store = WindowStore(Settings(limits={"max_models": 1}), fake_clock)
    store.set_reference(_profile("a"))
    store.delete("a")
    assert "a" not in store
    assert len(store) == 0
    assert store.set_reference(_profile("b")) is True


def test_store_lists_models_sorted(fake_clock: Any) -> None:
    store = WindowStore(Settings(), fake_clock)
    for name in ("zeta", "alpha", "mid"):
        store.set_reference(_profile(name))
    assert list(store) == ["alpha", "mid", "zeta"]
    assert [name for name, _ in store.windows()] == ["alpha", "mid", "zeta"]


def test_store_append_and_snapshot_use_the_injected_clock(fake_clock: Any) -> None:
    store = WindowStore(Settings(), fake_clock)
    store.set_reference(_profile("a"))
    assert store.get("a").append(_x_batch([0.0, 1.0, 2.0])) == 3
    fake_clock.advance(5.0)
    snapshot = store.get("a").snapshot()
    assert snapshot.records == 3
    assert snapshot.taken_at == fake_clock.now
    assert snapshot.oldest_started_at == fake_clock.now - 5.0
