"""Reference profiles: inferred kinds, quantile bins, bounded samples, top-k categories."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pytest

from exporter.ingest.values import ABSENT
from exporter.settings import FeatureKind, ReferenceSettings
from exporter.stats.binning import bin_counts
from exporter.window.profile import (
    CategoricalProfile,
    NumericProfile,
    ProfileError,
    ReferenceProfile,
    build_profile,
    infer_kind,
)


def _profile(
    columns: Mapping[str, Sequence[Any]],
    predictions: Sequence[Any] | None = None,
    labels: Sequence[Any] | None = None,
    *,
    declared: Mapping[str, FeatureKind] | None = None,
    prediction_kind: FeatureKind | None = None,
    settings: ReferenceSettings | None = None,
) -> ReferenceProfile:
    return build_profile(
        "m",
        columns,
        predictions,
        labels,
        declared=declared or {},
        prediction_kind=prediction_kind,
        settings=settings or ReferenceSettings(),
    )


def _numeric(profile: ReferenceProfile, name: str) -> NumericProfile:
    column = next(c for c in profile.columns if c.name == name)
    assert isinstance(column, NumericProfile)
    return column


def _categorical(profile: ReferenceProfile, name: str) -> CategoricalProfile:
    column = next(c for c in profile.columns if c.name == name)
    assert isinstance(column, CategoricalProfile)
    return column


# infer_kind


@pytest.mark.parametrize(
    ("raw", "kind"),
    [
        ([1, 2.5, -3], "numeric"),
        ([1, None, ABSENT, 2.0], "numeric"),
        ([math.nan, 1.0], "numeric"),
        ([True, False, None], "boolean"),
        (["true", "False", " TRUE "], "boolean"),
        (["a", "b"], "categorical"),
        (["a", 1], "categorical"),
        (["true", "maybe"], "categorical"),
        ([True, 1], "categorical"),
        ([[1], [2]], "categorical"),
        (["1", "2"], "categorical"),
    ],
)
def test_infer_kind_follows_the_types_of_the_present_values(raw: list[Any], kind: str) -> None:
    assert infer_kind(raw) == kind


@pytest.mark.parametrize("raw", [[], [None], [None, ABSENT], [ABSENT]])
def test_infer_kind_is_none_when_no_value_is_present(raw: list[Any]) -> None:
    assert infer_kind(raw) is None


# numeric profiles


def test_numeric_profile_edges_equal_numpy_quantile_edges() -> None:
    values = np.random.default_rng(11).normal(3.0, 2.0, 5_000)
    profile = _profile({"x": values.tolist()}, settings=ReferenceSettings(bins=10))
    column = _numeric(profile, "x")
    # np.quantile "linear" at j / 10, j = 1..9, deduplicated; exact (same computation).
    expected = np.unique(np.quantile(values, np.linspace(0.0, 1.0, 11)[1:-1]))
    np.testing.assert_array_equal(column.edges, expected)
    assert column.bins == 10


def test_numeric_profile_counts_are_bin_counts_of_the_valid_values() -> None:
    rng = np.random.default_rng(12)
    values = rng.exponential(1.0, 2_000)
    raw: list[Any] = [*values.tolist(), None, ABSENT, math.nan, math.inf, "7", True]
    # Declared: the stray string and boolean would otherwise make the column categorical.
    profile = _profile({"x": raw}, declared={"x": "numeric"}, settings=ReferenceSettings(bins=8))
    column = _numeric(profile, "x")
    np.testing.assert_array_equal(column.counts, bin_counts(values, column.edges))
    assert column.counts.sum() == column.valid == 2_000
    assert column.rows == len(raw)
    assert column.missing == 4  # None, ABSENT, nan, inf
    assert column.type_mismatch == 2  # "7", True


def test_numeric_profile_counts_equal_a_right_closed_histogram() -> None:
    # Independent oracle: bin i holds the values with exactly i edges strictly below them.
    values = np.random.default_rng(13).integers(0, 20, 3_000).astype(float)
    column = _numeric(_profile({"x": values.tolist()}, settings=ReferenceSettings(bins=5)), "x")
    index = (values[:, None] > column.edges[None, :]).sum(axis=1)
    np.testing.assert_array_equal(column.counts, np.bincount(index, minlength=column.bins))


def test_numeric_profile_moments_and_range_are_those_of_the_valid_values() -> None:
    values = np.random.default_rng(14).normal(-1.0, 0.5, 1_000)
    raw: list[Any] = [*values.tolist(), None, math.nan, "x"]
    column = _numeric(_profile({"x": raw}, declared={"x": "numeric"}), "x")
    assert column.minimum == values.min()
    assert column.maximum == values.max()
    assert column.mean == pytest.approx(values.mean(), rel=1e-12)
    # Population standard deviation (ddof=0), as np.std.
    assert column.std == pytest.approx(values.std(ddof=0), rel=1e-12)


def test_numeric_profile_sample_is_sorted_capped_and_drawn_from_the_values() -> None:
    values = np.random.default_rng(15).normal(size=3_000)
    settings = ReferenceSettings(sample_size=500)
    column = _numeric(_profile({"x": values.tolist()}, settings=settings), "x")
    sample = column.sample_sorted
    assert len(sample) == 500
    assert np.all(np.diff(sample) >= 0)
    assert np.isin(sample, values).all()
    assert len(np.unique(sample)) == 500  # drawn without replacement


def test_numeric_profile_sample_is_every_value_when_they_fit() -> None:
    values = np.random.default_rng(16).normal(size=300)
    column = _numeric(_profile({"x": [*values.tolist(), None]}), "x")
    np.testing.assert_array_equal(column.sample_sorted, np.sort(values))


def test_numeric_profile_sample_is_reproducible_for_a_seed() -> None:
    values = np.random.default_rng(17).normal(size=2_000).tolist()
    settings = ReferenceSettings(sample_size=100, seed=3)
    first = _numeric(_profile({"x": values}, settings=settings), "x").sample_sorted
    again = _numeric(_profile({"x": values}, settings=settings), "x").sample_sorted
    np.testing.assert_array_equal(first, again)


def test_numeric_profile_of_a_constant_feature_has_one_edge_and_zero_std() -> None:
    column = _numeric(_profile({"x": [4.0] * 100}), "x")
    np.testing.assert_array_equal(column.edges, [4.0])
    np.testing.assert_array_equal(column.counts, [100, 0])
    assert column.std == 0.0


# categorical profiles


def test_categorical_profile_keeps_the_most_frequent_categories_ties_by_name() -> None:
    raw = ["a"] * 5 + ["c"] * 3 + ["b"] * 3 + ["d"] * 1 + [None, [1]]
    column = _categorical(_profile({"c": raw}, settings=ReferenceSettings(max_categories=2)), "c")
    assert column.kind == "categorical"
    assert column.categories == ("a", "b")  # "b" and "c" tie at 3; "b" sorts first
    assert dict(column.index) == {"a": 0, "b": 1}
    np.testing.assert_array_equal(column.counts, [5, 3, 4])  # overflow: 3 "c" + 1 "d"
    assert column.overflow == 2
    assert column.bins == 3
    assert column.seen == frozenset({"a", "b", "c", "d"})
    assert column.valid == 12
    assert (column.rows, column.missing, column.type_mismatch) == (14, 1, 1)


def test_categorical_profile_orders_categories_by_frequency_then_name() -> None:
    raw = ["z"] * 2 + ["y"] * 4 + ["x"] * 2 + ["w"] * 1
    column = _categorical(_profile({"c": raw}), "c")
    assert column.categories == ("y", "x", "z", "w")
    np.testing.assert_array_equal(column.counts, [4, 2, 2, 1, 0])


def test_categorical_profile_counts_1_and_1_0_and_the_string_1_as_one_category() -> None:
    column = _categorical(_profile({"c": [1, 1.0, "1", "a"]}), "c")
    assert column.categories == ("1", "a")
    np.testing.assert_array_equal(column.counts, [3, 1, 0])


def test_boolean_profile_has_false_and_true_categories() -> None:
    raw = [True, False, True, None, "x", "TRUE", 0]
    column = _categorical(_profile({"flag": raw}, declared={"flag": "boolean"}), "flag")
    assert column.kind == "boolean"
    assert column.categories == ("false", "true")
    np.testing.assert_array_equal(column.counts, [2, 3, 0])
    assert (column.missing, column.type_mismatch) == (1, 1)


def test_boolean_profile_keeps_both_categories_even_if_one_never_occurs() -> None:
    column = _categorical(_profile({"flag": [True] * 10}), "flag")
    assert column.kind == "boolean"
    assert column.categories == ("false", "true")
    np.testing.assert_array_equal(column.counts, [0, 10, 0])
    assert column.seen == frozenset({"true"})


def test_boolean_profile_is_inferred_from_the_words_true_and_false() -> None:
    column = _categorical(_profile({"flag": ["true", "false", "False"]}), "flag")
    assert column.kind == "boolean"
    np.testing.assert_array_equal(column.counts, [2, 1, 0])


# declarations, missing columns, predictions, labels


def test_all_missing_undeclared_column_is_a_profile_error_naming_it() -> None:
    with pytest.raises(ProfileError, match="'empty'"):
        _profile({"x": [1.0, 2.0], "empty": [None, ABSENT]})


def test_all_missing_declared_numeric_column_profiles_as_empty() -> None:
    column = _numeric(_profile({"x": [None, None]}, declared={"x": "numeric"}), "x")
    assert column.edges.size == 0
    np.testing.assert_array_equal(column.counts, [0])
    assert column.valid == 0
    assert column.missing == 2
    assert math.isnan(column.mean)


def test_declared_kind_overrides_inference() -> None:
    profile = _profile(
        {"code": [1, 2, 2, 3], "score": ["1.5", 2.0]},
        declared={"code": "categorical", "score": "numeric"},
    )
    code = _categorical(profile, "code")
    assert code.categories == ("2", "1", "3")
    score = _numeric(profile, "score")
    assert score.valid == 1
    assert score.type_mismatch == 1


def test_features_keep_the_column_order_of_the_reference() -> None:
    profile = _profile({"b": [1.0], "a": ["x"], "c": [True]})
    assert profile.feature_names == ("b", "a", "c")
    assert [c.kind for c in profile.features] == ["numeric", "categorical", "boolean"]


def test_prediction_column_is_profiled_after_the_features() -> None:
    predictions = np.random.default_rng(18).random(200).tolist()
    profile = _profile({"x": [1.0] * 200}, predictions)
    assert profile.prediction is not None
    assert profile.prediction.name == "prediction"
    assert profile.prediction.kind == "numeric"
    assert profile.columns == (*profile.features, profile.prediction)
    assert profile.rows == 200
    assert _numeric(profile, "prediction").valid == 200


def test_prediction_kind_overrides_inference_for_the_prediction() -> None:
    profile = _profile({"x": [1.0, 2.0, 3.0]}, [0, 1, 1], prediction_kind="categorical")
    prediction = profile.prediction
    assert isinstance(prediction, CategoricalProfile)
    assert prediction.categories == ("1", "0")


def test_all_missing_predictions_give_no_prediction_profile() -> None:
    profile = _profile({"x": [1.0, 2.0]}, [None, None])
    assert profile.prediction is None
    assert profile.columns == profile.features


def test_label_count_excludes_missing_labels() -> None:
    profile = _profile({"x": [1.0, 2.0, 3.0, 4.0]}, None, [1, None, 0, ABSENT])
    assert profile.labels == 2
    assert _profile({"x": [1.0]}).labels == 0


def test_rows_come_from_the_longest_column_without_predictions() -> None:
    assert _profile({"x": [1.0, 2.0, 3.0], "c": ["a", "b", "c"]}).rows == 3


# summary


def test_summary_is_json_serialisable_without_nan() -> None:
    rng = np.random.default_rng(19)
    profile = _profile(
        {
            "x": rng.normal(size=100).tolist(),
            "c": rng.choice(["a", "b"], 100).tolist(),
            "flag": (rng.random(100) < 0.5).tolist(),
            "empty": [None] * 100,
        },
        rng.random(100).tolist(),
        declared={"empty": "numeric"},
    )
    summary = profile.summary()
    text = json.dumps(summary, allow_nan=False)
    assert json.loads(text) == summary
    features = {f["name"]: f for f in summary["features"]}
    assert features["empty"]["min"] is None
    assert features["empty"]["std"] is None
    assert sum(features["x"]["bin_counts"]) == 100
    assert len(features["x"]["bin_edges"]) == 9
    assert features["c"]["other_count"] == 0
    assert sum(features["c"]["category_counts"]) == 100
    assert features["flag"]["categories"] == ["false", "true"]
    assert summary["prediction"]["type"] == "numeric"
    assert summary["rows"] == 100
