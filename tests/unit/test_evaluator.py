"""evaluate(): window snapshot + reference profile -> statistics, drift decisions, data quality."""

from __future__ import annotations

import json
import math
from typing import Any, Literal, get_args

import numpy as np
import pytest
from scipy import stats as scipy_stats

from exporter.evaluation.decision import decide
from exporter.evaluation.evaluator import CATEGORICAL_STATISTICS, NUMERIC_STATISTICS, evaluate
from exporter.evaluation.report import (
    ColumnReport,
    EvaluationReport,
    StatisticResult,
    failed_report,
)
from exporter.ingest.records import PredictionBatch
from exporter.settings import DriftMethod, DriftSettings, ReferenceSettings, Settings
from exporter.stats import chi2, compare_ecdfs, jensen_shannon, psi, wasserstein_normalized
from exporter.stats.calibration import pool_sparse_bins, pooled
from exporter.window.model import ModelWindow
from exporter.window.profile import (
    CategoricalProfile,
    NumericProfile,
    ReferenceProfile,
    build_profile,
)
from exporter.window.snapshot import WindowSnapshot

METHODS: tuple[DriftMethod, ...] = get_args(DriftMethod)
NOW = 1_800_000_123.0


def _draw(rng: np.random.Generator, n: int, *, x_shift: float = 0.0) -> dict[str, list[Any]]:
    """Columns x ~ N(shift, 1), y ~ Exp(2), colour (red/green/blue), flag, and a score."""
    return {
        "x": rng.normal(x_shift, 1.0, n).tolist(),
        "y": rng.exponential(2.0, n).tolist(),
        "colour": rng.choice(["red", "green", "blue"], size=n, p=[0.5, 0.3, 0.2]).tolist(),
        "flag": (rng.random(n) < 0.3).tolist(),
        "prediction": rng.random(n).tolist(),
    }


def _reference(columns: dict[str, list[Any]], model: str = "m") -> ReferenceProfile:
    features = {name: raw for name, raw in columns.items() if name != "prediction"}
    return build_profile(
        model,
        features,
        columns.get("prediction"),
        None,
        declared={},
        prediction_kind=None,
        settings=ReferenceSettings(bins=10, sample_size=5_000),
    )


def _batch(columns: dict[str, list[Any]]) -> PredictionBatch:
    names = [name for name in columns if name != "prediction"]
    n = len(columns[names[0]])
    features = [{name: columns[name][i] for name in names} for i in range(n)]
    predictions = columns.get("prediction", [None] * n)
    return PredictionBatch(features, list(predictions), [None] * n, [None] * n)


def _snapshot(profile: ReferenceProfile, *batches: PredictionBatch) -> WindowSnapshot:
    settings = Settings(window={"max_records": 100_000, "sample_size": 60_000})
    window = ModelWindow(profile, settings, lambda: NOW - 1.0)
    for batch in batches:
        window.append(batch)
    return window.snapshot()


def _report(snapshot: WindowSnapshot, min_records: int = 500, **drift: Any) -> EvaluationReport:
    return evaluate(snapshot, DriftSettings(**drift), min_records, NOW)


def _feature(report: EvaluationReport, name: str) -> Any:
    return next(column for column in report.features if column.name == name)


def _json_roundtrip(report: EvaluationReport) -> dict[str, Any]:
    document = report.to_dict()
    text = json.dumps(document, allow_nan=False)
    loaded: dict[str, Any] = json.loads(text)
    return loaded


@pytest.fixture(scope="module")
def same_distribution() -> WindowSnapshot:
    rng = np.random.default_rng(20261123)
    profile = _reference(_draw(rng, 5_000))
    return _snapshot(profile, _batch(_draw(rng, 2_000)))


@pytest.fixture(scope="module")
def shifted_x() -> WindowSnapshot:
    rng = np.random.default_rng(42)
    profile = _reference(_draw(rng, 5_000))
    return _snapshot(profile, _batch(_draw(rng, 2_000, x_shift=1.0)))


# below min_records


def test_below_min_records_reports_insufficient_data_with_quality_but_no_statistics() -> None:
    rng = np.random.default_rng(1)
    profile = _reference(_draw(rng, 1_000))
    window = _draw(rng, 100)
    window["x"][:10] = [None] * 10
    window["colour"][:5] = ["purple"] * 5
    report = _report(_snapshot(profile, _batch(window)), min_records=500)
    assert report.status == "insufficient_data"
    assert report.window_records == 100
    assert report.min_records == 500
    assert report.evaluated_at == NOW
    assert report.features_evaluated == 0
    assert report.features_drifted == 0
    assert report.drifted_ratio is None
    assert report.prediction is not None
    for column in (*report.features, report.prediction):
        assert column.statistics == ()
        assert column.drifted is None
        assert column.quality is not None
    assert _feature(report, "x").quality.missing_ratio == 0.1
    assert _feature(report, "x").valid_records == 90
    assert _feature(report, "colour").quality.unseen_category_ratio == 0.05
    assert _json_roundtrip(report)["status"] == "insufficient_data"


def test_an_empty_window_has_no_quality_either() -> None:
    profile = _reference(_draw(np.random.default_rng(2), 100))
    report = _report(_snapshot(profile), min_records=1)
    assert report.status == "insufficient_data"
    assert report.window_records == 0
    assert all(column.quality is None and column.statistics == () for column in report.features)
    _json_roundtrip(report)


def test_exactly_min_records_is_enough() -> None:
    rng = np.random.default_rng(3)
    profile = _reference(_draw(rng, 1_000))
    report = _report(_snapshot(profile, _batch(_draw(rng, 200))), min_records=200)
    assert report.status == "ok"
    assert report.features_evaluated == 4


# no drift


@pytest.mark.parametrize("method", METHODS)
def test_same_distribution_drifts_no_feature_under_any_method(
    same_distribution: WindowSnapshot, method: DriftMethod
) -> None:
    report = _report(same_distribution, method=method)
    assert report.status == "ok"
    assert report.features_evaluated == 4
    assert report.features_drifted == 0
    assert report.drifted_ratio == 0.0
    assert [column.drifted for column in report.features] == [False] * 4
    assert report.prediction is not None
    assert report.prediction.drifted is False


def test_same_distribution_statistics_are_small(same_distribution: WindowSnapshot) -> None:
    report = _report(same_distribution)
    for column in report.features:
        assert column.statistic("psi").value < 0.1
        assert column.statistic("jensen_shannon").value < 0.1
    assert _feature(report, "x").statistic("wasserstein_normalized").value < 0.1
    assert _feature(report, "x").statistic("ks").pvalue > 0.05


def test_statistics_come_in_report_order_by_kind(same_distribution: WindowSnapshot) -> None:
    report = _report(same_distribution)
    names = {column.name: tuple(s.name for s in column.statistics) for column in report.features}
    assert names == {
        "x": NUMERIC_STATISTICS,
        "y": NUMERIC_STATISTICS,
        "colour": CATEGORICAL_STATISTICS,
        "flag": CATEGORICAL_STATISTICS,
    }
    assert {column.kind for column in report.features} == {"numeric", "categorical", "boolean"}


# a shifted numeric feature


def test_mean_shift_of_one_sd_gives_large_psi_tiny_ks_pvalue_and_unit_wasserstein(
    shifted_x: WindowSnapshot,
) -> None:
    x = _feature(_report(shifted_x), "x")
    assert x.statistic("psi").value > 0.25
    assert x.statistic("ks").pvalue < 1e-6
    # A shift by one reference sd moves all the mass one sd: W1 / sd = 1.
    assert x.statistic("wasserstein_normalized").value == pytest.approx(1.0, abs=0.1)


@pytest.mark.parametrize("method", METHODS)
def test_mean_shift_of_one_sd_drifts_only_that_feature_under_every_method(
    shifted_x: WindowSnapshot, method: DriftMethod
) -> None:
    report = _report(shifted_x, method=method)
    assert {column.name: column.drifted for column in report.features} == {
        "x": True,
        "y": False,
        "colour": False,
        "flag": False,
    }
    assert report.features_drifted == 1
    assert report.drifted_ratio == 0.25


def test_report_statistics_equal_the_stats_functions_on_the_same_counts_and_samples(
    shifted_x: WindowSnapshot,
) -> None:
    drift = DriftSettings()
    report = evaluate(shifted_x, drift, 500, NOW)
    profile = shifted_x.profile
    for column, window in zip(profile.columns, shifted_x.columns, strict=True):
        reported = (
            report.prediction if column.name == "prediction" else _feature(report, column.name)
        )
        assert reported.valid_records == window.valid
        # Sparse bins pooled first: neighbours for numeric bins, into the overflow for categories.
        if isinstance(column, CategoricalProfile):
            groups = pool_sparse_bins(column.counts, window.valid, overflow_index=column.overflow)
        else:
            groups = pool_sparse_bins(column.counts, window.valid, ordered=True)
        reference, current = pooled(column.counts, groups), pooled(window.counts, groups)
        assert reported.statistic("psi").value == psi(reference, current, pseudo_count=0.5)
        assert reported.statistic("jensen_shannon").value == jensen_shannon(
            reference, current, pseudo_count=0.5
        )
        if isinstance(column, NumericProfile):
            assert window.sample is not None
            ecdf = compare_ecdfs(column.sample_sorted, window.sample)
            ks = reported.statistic("ks")
            assert (ks.value, ks.pvalue) == (ecdf.ks_statistic, ecdf.ks_pvalue)
            assert reported.statistic("wasserstein_normalized").value == pytest.approx(
                wasserstein_normalized(column.sample_sorted, window.sample, column.std),
                rel=1e-12,
            )
            # And against scipy (same asymptotic method): the statistic rtol 1e-9; the p-value
            # rtol 1e-9 where p >= 0.01, and in the tail as stated by _ks_asymptotic_pvalue.
            expected = scipy_stats.ks_2samp(column.sample_sorted, window.sample, method="asymp")
            assert ks.value == pytest.approx(expected.statistic, rel=1e-9)
            if expected.pvalue >= 0.01:
                assert ks.pvalue == pytest.approx(expected.pvalue, rel=1e-9)
            elif expected.pvalue >= 1e-8:
                assert ks.pvalue == pytest.approx(expected.pvalue, rel=0.05)
            else:
                assert ks.pvalue < 1e-7
        else:
            assert isinstance(column, CategoricalProfile)
            test = chi2(reference, current)
            result = reported.statistic("chi2")
            assert (result.value, result.pvalue) == (test.statistic, test.pvalue)


def test_window_sample_is_the_whole_window_when_it_fits(shifted_x: WindowSnapshot) -> None:
    # The fixtures size the reservoirs so the ECDF statistics see every window value.
    x = shifted_x.columns[0]
    assert x.sample is not None
    assert len(x.sample) == x.valid == 2_000


# a categorical feature with a new category


def _colour_snapshot() -> WindowSnapshot:
    reference = {"colour": ["red"] * 2_500 + ["green"] * 1_500 + ["blue"] * 1_000}
    window = {"colour": ["red"] * 400 + ["green"] * 240 + ["blue"] * 160 + ["purple"] * 200}
    return _snapshot(_reference(reference), _batch(window))


def test_new_category_gives_exact_unseen_ratio_large_psi_and_tiny_chi2_pvalue() -> None:
    report = _report(_colour_snapshot())
    colour = _feature(report, "colour")
    assert colour.quality.unseen_category_ratio == 0.2
    assert colour.quality.missing_ratio == 0.0
    assert colour.quality.out_of_range_ratio is None
    # Closed form: the unseen colour has no reference mass, so the smallest colour (blue) is
    # pooled with it: counts (2500, 1500, 1000) vs (400, 240, 360), half a count added to
    # each bin (Jeffreys): sum (c - r) ln(c / r). rel 1e-12.
    r = (np.array([2_500, 1_500, 1_000]) + 0.5) / 5_001.5
    c = (np.array([400, 240, 360]) + 0.5) / 1_001.5
    expected_psi = float(((c - r) * np.log(c / r)).sum())
    assert colour.statistic("psi").value == pytest.approx(expected_psi, rel=1e-12)
    assert colour.statistic("psi").value > 5 * colour.statistic("psi").critical
    assert colour.statistic("chi2").pvalue < 1e-20
    assert colour.drifted is True


def test_categorical_columns_are_judged_by_jensen_shannon_under_wasserstein() -> None:
    report = _report(_colour_snapshot(), method="wasserstein_normalized")
    colour = _feature(report, "colour")
    assert colour.statistic("wasserstein_normalized") is None
    js = colour.statistic("jensen_shannon")
    assert colour.drifted is (js.value >= js.threshold)
    assert colour.drifted is True


# multiple-testing correction


# chi2 p-values of [5000, 5000] against [500 + d, 500 - d] for d = 43, 38, 34, 7:
# about 0.0095, 0.0219, 0.0403 and 0.66 (scipy.stats.chi2_contingency, correction=False).
_SHIFTS = {"f1": 43, "f2": 38, "f3": 34, "f4": 7}


def _pvalue_report(snapshot: WindowSnapshot, **drift: Any) -> EvaluationReport:
    """The `pvalue` method at alpha 0.05 with a negligible PSI floor: the correction alone
    decides (materiality has tests of its own)."""
    return _report(snapshot, method="pvalue", alpha=0.05, psi_threshold=1e-9, **drift)


def _near_alpha_snapshot() -> WindowSnapshot:
    reference = {name: ["a"] * 5_000 + ["b"] * 5_000 for name in _SHIFTS}
    reference["prediction"] = ["a"] * 5_000 + ["b"] * 5_000
    window = {name: ["a"] * (500 + d) + ["b"] * (500 - d) for name, d in _SHIFTS.items()}
    window["prediction"] = ["a"] * 543 + ["b"] * 457
    return _snapshot(_reference(reference), _batch(window))


def _raw_pvalues() -> dict[str, float]:
    return {
        name: float(
            scipy_stats.chi2_contingency(
                [[5_000, 5_000], [500 + d, 500 - d]], correction=False
            ).pvalue
        )
        for name, d in _SHIFTS.items()
    }


def test_near_alpha_case_has_the_intended_raw_pvalues() -> None:
    raw = _raw_pvalues()
    report = _pvalue_report(_near_alpha_snapshot(), correction="none")
    for name, expected in raw.items():
        assert _feature(report, name).statistic("chi2").pvalue == pytest.approx(expected, rel=1e-9)
    assert raw["f1"] < raw["f2"] < raw["f3"] < 0.05 < raw["f4"]


def test_no_correction_keeps_pvalues_and_drifts_every_feature_below_alpha() -> None:
    report = _pvalue_report(_near_alpha_snapshot(), correction="none")
    for column in report.features:
        test = column.statistic("chi2")
        assert test.adjusted_pvalue == test.pvalue
    assert [column.drifted for column in report.features] == [True, True, True, False]
    assert report.features_drifted == 3


def test_bonferroni_multiplies_by_the_feature_count_and_drifts_fewer() -> None:
    raw = _raw_pvalues()
    report = _pvalue_report(_near_alpha_snapshot(), correction="bonferroni")
    for name, p in raw.items():
        # Bonferroni: min(m p, 1) with m = 4 features; the prediction is not in the family.
        expected = min(4 * p, 1.0)
        assert _feature(report, name).statistic("chi2").adjusted_pvalue == pytest.approx(
            expected, rel=1e-9
        )
    assert [column.drifted for column in report.features] == [True, False, False, False]
    assert report.features_drifted == 1


def test_benjamini_hochberg_adjusts_by_rank_and_drifts_between_none_and_bonferroni() -> None:
    raw = _raw_pvalues()
    report = _pvalue_report(_near_alpha_snapshot(), correction="benjamini_hochberg")
    # BH closed form: sorted p_(i), adjusted = min over j >= i of min(m p_(j) / j, 1).
    ordered = sorted(raw, key=raw.__getitem__)
    m = len(ordered)
    running = 1.0
    expected: dict[str, float] = {}
    for rank in range(m, 0, -1):
        name = ordered[rank - 1]
        running = min(running, m * raw[name] / rank)
        expected[name] = running
    for name in raw:
        adjusted = _feature(report, name).statistic("chi2").adjusted_pvalue
        assert adjusted == pytest.approx(expected[name], rel=1e-9)
    # f3's 4 p / 3 = 0.0537 > alpha, f2's 2 p = 0.0438 < alpha.
    assert [column.drifted for column in report.features] == [True, True, False, False]
    assert report.features_drifted == 2


def test_the_prediction_is_a_family_of_its_own() -> None:
    report = _pvalue_report(_near_alpha_snapshot(), correction="bonferroni")
    assert report.prediction is not None
    test = report.prediction.statistic("chi2")
    assert test.adjusted_pvalue == test.pvalue  # m = 1
    assert report.prediction.drifted is True
    assert report.features_evaluated == 4  # the prediction is not counted as a feature


def test_raw_pvalue_is_reported_unadjusted_beside_the_adjusted_one() -> None:
    report = _pvalue_report(_near_alpha_snapshot(), correction="bonferroni")
    f2 = _feature(report, "f2").statistic("chi2")
    assert f2.pvalue < 0.05 < f2.adjusted_pvalue
    assert f2.drifted is False
    assert f2.threshold == 0.05


# a constant reference feature


def _constant_snapshot(window_value: float) -> WindowSnapshot:
    rng = np.random.default_rng(5)
    reference = {"x": [3.0] * 1_000, "y": rng.normal(size=1_000).tolist()}
    window = {"x": [window_value] * 600, "y": rng.normal(size=600).tolist()}
    return _snapshot(_reference(reference), _batch(window))


@pytest.mark.parametrize("method", METHODS)
def test_constant_feature_unchanged_is_not_drifted(method: DriftMethod) -> None:
    report = _report(_constant_snapshot(3.0), method=method)
    x = _feature(report, "x")
    # Half a count in the empty bin of each side: a trace, far under the floor.
    assert 0.0 <= x.statistic("psi").value < 0.05 * x.statistic("psi").floor
    assert 0.0 <= x.statistic("jensen_shannon").value < 0.2 * x.statistic("jensen_shannon").floor
    assert x.statistic("ks").value == 0.0
    assert x.statistic("ks").pvalue == 1.0
    assert x.statistic("wasserstein_normalized").value == 0.0
    assert x.drifted is False
    assert x.quality.out_of_range_ratio == 0.0
    _json_roundtrip(report)


@pytest.mark.parametrize("method", METHODS)
def test_constant_feature_that_moves_is_drifted_with_raw_wasserstein(method: DriftMethod) -> None:
    report = _report(_constant_snapshot(4.0), method=method)
    x = _feature(report, "x")
    # Reference sd is 0, so the distance is reported in the feature's units: |4 - 3| = 1.
    assert x.statistic("wasserstein_normalized").value == 1.0
    assert x.statistic("ks").value == 1.0
    assert x.quality.out_of_range_ratio == 1.0
    assert x.drifted is True
    _json_roundtrip(report)


# an all-missing window column


def test_all_missing_window_column_gets_no_statistics_and_missing_ratio_one() -> None:
    rng = np.random.default_rng(6)
    profile = _reference(_draw(rng, 2_000))
    window = _draw(rng, 600)
    window["x"] = [None] * 600
    report = _report(_snapshot(profile, _batch(window)))
    x = _feature(report, "x")
    assert x.statistics == ()
    assert x.drifted is None
    assert x.valid_records == 0
    assert x.quality.missing_ratio == 1.0
    assert x.quality.type_mismatch_ratio == 0.0
    assert report.features_evaluated == 3
    assert all(column.statistics for column in report.features if column.name != "x")
    document = _json_roundtrip(report)
    assert document["features"][0]["statistics"] == {}
    assert document["features"][0]["drifted"] is None


def test_a_reference_column_with_no_values_gets_no_statistics() -> None:
    rng = np.random.default_rng(8)
    profile = build_profile(
        "m",
        {"x": [None] * 1_000, "y": rng.normal(size=1_000).tolist()},
        None,
        None,
        declared={"x": "numeric"},
        prediction_kind=None,
        settings=ReferenceSettings(),
    )
    window = {"x": rng.normal(size=600).tolist(), "y": rng.normal(size=600).tolist()}
    report = _report(_snapshot(profile, _batch(window)))
    x = _feature(report, "x")
    assert x.statistics == ()
    assert x.drifted is None
    assert x.valid_records == 600
    assert x.quality.out_of_range_ratio == 0.0  # no reference range to be outside of
    assert report.features_evaluated == 1
    _json_roundtrip(report)


def test_absent_and_mistyped_values_count_into_the_ratios() -> None:
    rng = np.random.default_rng(7)
    profile = _reference(_draw(rng, 2_000))
    window = _draw(rng, 1_000)
    window["x"][:100] = ["high"] * 100
    window["x"][100:150] = [math.nan] * 50
    batch = _batch(window)
    for record in batch.features[150:400]:
        del record["x"]
    report = _report(_snapshot(profile, batch))
    quality = _feature(report, "x").quality
    assert quality.type_mismatch_ratio == 0.1
    assert quality.missing_ratio == 0.3  # 250 absent + 50 NaN
    assert quality.unseen_category_ratio is None
    assert _feature(report, "x").valid_records == 600


# edge cases and serialisation


def test_an_undefined_ks_pvalue_does_not_make_the_evaluation_raise() -> None:
    # One value in each sample: the asymptotic KS p-value is nan (as in scipy). The docstring
    # of adjust_pvalues says untested features must be left out of the correction.
    profile = _reference({"x": [1.0]})
    snapshot = _snapshot(profile, _batch({"x": [2.0]}))
    report = evaluate(snapshot, DriftSettings(method="pvalue", min_valid_records=1), 1, NOW)
    assert report.status == "ok"
    x = _feature(report, "x")
    assert x.statistic("ks").value == 1.0
    # Under the p-value method an undefined p-value decides nothing.
    assert x.drifted is None
    assert report.features_evaluated == 0
    document = _json_roundtrip(report)
    assert document["features"][0]["statistics"]["ks"]["pvalue"] is None


@pytest.mark.parametrize("method", METHODS)
def test_to_dict_is_strict_json(shifted_x: WindowSnapshot, method: DriftMethod) -> None:
    report = _report(shifted_x, method=method)
    document = _json_roundtrip(report)
    assert document["model"] == "m"
    assert document["status"] == "ok"
    assert document["drift"]["method"] == method
    assert document["drift"]["features_evaluated"] == 4
    assert document["drift"]["drifted_ratio"] == 0.25
    x = document["features"][0]
    assert x["name"] == "x"
    assert set(x["statistics"]) == set(NUMERIC_STATISTICS)
    assert x["statistics"]["ks"]["pvalue"] == x["statistics"]["ks"]["adjusted_pvalue"] or (
        x["statistics"]["ks"]["adjusted_pvalue"] >= x["statistics"]["ks"]["pvalue"]
    )
    assert document["prediction"]["name"] == "prediction"


def test_failed_report_keeps_the_last_success_and_has_no_statistics(
    shifted_x: WindowSnapshot,
) -> None:
    previous = _report(shifted_x)
    failed = failed_report(previous, "m", NOW + 15.0, "boom", 500, DriftSettings())
    assert failed.status == "error"
    assert failed.error == "boom"
    assert failed.evaluated_at == NOW + 15.0
    assert failed.last_success_at == NOW
    assert failed.features == ()
    assert failed.prediction is None
    assert failed.drifted_ratio is None
    assert _json_roundtrip(failed)["error"] == "boom"


def test_failed_report_without_a_previous_success_has_no_last_success() -> None:
    failed = failed_report(None, "m", NOW, "boom", 500, DriftSettings())
    assert failed.last_success_at is None
    assert failed.window_records == 0


# two p-value statistics in one column: each gets its own adjusted value


def _tested_column(name: str, kind: str, tests: dict[str, float]) -> ColumnReport:
    statistics = [StatisticResult("psi", 0.01, 0.005, True, floor=0.005)]
    statistics += [StatisticResult(s, 1.0, 0.05, p < 0.05, p, p) for s, p in tests.items()]
    return ColumnReport(name, kind, 1_000, tuple(statistics), None, None)


_TWO_TESTS = {
    "a": ("numeric", {"ks": 0.004, "cramer_von_mises": 0.03}),
    "b": ("categorical", {"chi2": 0.012}),
    "c": ("numeric", {"ks": 0.2, "cramer_von_mises": 0.011}),
}


@pytest.mark.parametrize("correction", ["none", "bonferroni", "benjamini_hochberg"])
def test_each_pvalue_statistic_of_a_column_gets_its_own_adjusted_value(
    correction: Literal["none", "bonferroni", "benjamini_hochberg"],
) -> None:
    columns = [_tested_column(name, kind, tests) for name, (kind, tests) in _TWO_TESTS.items()]
    keys = [(name, s) for name, (_, tests) in _TWO_TESTS.items() for s in tests]
    raw = np.array([_TWO_TESTS[name][1][s] for name, s in keys])
    # The family is all five p-values. References: the closed forms, and for BH
    # scipy.stats.false_discovery_control(p, method="bh"); rtol=1e-12.
    if correction == "none":
        expected = raw
    elif correction == "bonferroni":
        expected = np.minimum(raw * len(raw), 1.0)
    else:
        expected = scipy_stats.false_discovery_control(raw, method="bh")
    decided = {
        column.name: column
        for column in decide(
            columns, DriftSettings(method="pvalue", alpha=0.05, correction=correction)
        )
    }
    for (name, statistic), value in zip(keys, expected, strict=True):
        result = decided[name].statistic(statistic)
        assert result is not None
        assert result.name == statistic
        assert result.pvalue == _TWO_TESTS[name][1][statistic]
        np.testing.assert_allclose(result.adjusted_pvalue, value, rtol=1e-12)
        assert result.drifted is bool(value < 0.05)
    for column in decided.values():
        assert [s.name for s in column.statistics] == ["psi", *_TWO_TESTS[column.name][1]]
        assert column.statistic("psi") == StatisticResult("psi", 0.01, 0.005, True, floor=0.005)
    # The deciding test (ks, chi2) decides, on its own adjusted value.
    assert decided["a"].drifted is decided["a"].statistic("ks").drifted
    assert decided["c"].drifted is False
