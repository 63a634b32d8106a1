"""bench/bench_detection.py's harness, drift-exporter only, in a few seconds.

The harness is run as the benchmark runs it (quick mode, the settings object's defaults), on
few windows: the result has the documented structure, a 2 sd mean shift is caught and the
no-drift windows are mostly left alone. The windows are seeded, so the outcome is fixed for a
given code; the bounds are loose so that a change of the defaults does not break them: a flag
whose family-wise false-alarm rate is 10 % flags more than half of 8 no-drift windows with
probability 4e-4, and a 2 sd shift at n = 600 (z ~ 2 * sqrt(600) ~ 49) escapes no sane rule.
"""

from __future__ import annotations

import numpy as np
import pytest

from bench import bench_detection
from bench.detection_data import population, scenario_kind, window_rows
from bench.detection_report import beyond_noise, summarise
from bench.detection_scores import (
    check_scores,
    cut_rate_interval,
    difference_interval,
    evidently_score,
    exporter_pvalue_score,
    exporter_score,
    matched_cut,
    nannyml_score,
    wilson,
)
from exporter.evaluation.decision import decide, effect_result
from exporter.evaluation.report import ColumnReport, StatisticResult
from exporter.settings import DriftSettings

WINDOWS = 8


@pytest.fixture(scope="module")
def document() -> dict:
    args = bench_detection.parse_arguments(
        [
            "--quick",
            "--monitors",
            "drift-exporter",
            "--sizes",
            "600",
            "--scenarios",
            "none,mean 2 sd",
            "--null-windows",
            str(WINDOWS),
            "--windows",
            str(WINDOWS),
            "--reference-rows",
            "2000",
            "--references",
            "1",
        ]
    )
    return bench_detection.run(args)


def test_the_result_has_one_cell_per_dataset_monitor_size_and_scenario(document: dict) -> None:
    cells = document["results"]["synthetic"]["drift-exporter"]["600"]
    assert set(cells) == {"none", "mean 2 sd"}
    assert cells["none"]["windows"] == cells["mean 2 sd"]["windows"] == WINDOWS
    assert len(cells["none"]["per_feature"]) == 20
    assert {"detected", "innocent"} <= set(cells["mean 2 sd"])
    assert document["settings"]["drift"]["method"]  # the settings object's drift section
    targets = [v["status"] for v in document["verdicts"]]
    assert len(targets) == 6 and set(targets) <= {"PASS", "FAIL", "NOT MEASURED"}
    assert document["verdicts"][-1]["status"] == "NOT MEASURED"  # no peer to match against


def test_every_window_keeps_its_family_score_and_the_matched_cut_is_a_no_drift_quantile(
    document: dict,
) -> None:
    cells = document["results"]["synthetic"]["drift-exporter"]["600"]
    null, shifted = cells["none"], cells["mean 2 sd"]
    assert len(null["scores"]) == len(shifted["moved_scores"]) == WINDOWS
    # the bench checked each feature's score against its flag; the family score agrees too
    assert np.mean(np.asarray(null["scores"]) >= 1.0) == pytest.approx(null["alarm"])
    matched = document["matched"]["synthetic"]["drift-exporter"]["600"]
    assert matched["none"]["cut"] == max(null["scores"])  # 1 % of 8 windows: none may alarm
    assert matched["none"]["alarm"] == 0.0
    assert matched["mean 2 sd"]["detected"] >= 0.9


def test_a_two_sd_shift_is_caught_and_no_drift_windows_mostly_are_not(document: dict) -> None:
    cells = document["results"]["synthetic"]["drift-exporter"]["600"]
    assert cells["none"]["judged"] == WINDOWS  # n = 600 is above the default min_records (500)
    assert cells["mean 2 sd"]["detected"] >= 0.9
    assert cells["none"]["alarm"] <= 0.5


def test_windows_are_reproducible_and_the_shift_moves_one_feature_by_its_size() -> None:
    pop = population("synthetic")
    first, moved = window_rows(pop, 7, 5_000, "mean 0.5 sd", 3)
    again, _ = window_rows(pop, 7, 5_000, "mean 0.5 sd", 3)
    base, _ = window_rows(pop, 7, 5_000, "none", 3)
    assert all(np.array_equal(first[k], again[k]) for k in first)
    (index,) = moved
    name = pop.names[index]
    shift = (first[name].mean() - base[name].mean()) / pop.sd[name]
    assert abs(shift - 0.5) < 0.1  # 5,000 draws: the means' difference has sd ~0.02 sd


def test_a_mass_move_takes_its_share_from_the_top_category() -> None:
    pop = population("synthetic")
    columns, moved = window_rows(pop, 11, 50_000, "mass 20 %", 0)
    feature = pop.features[next(iter(moved))]
    top = feature.categories[int(np.argmax(feature.params))]
    share = float(np.mean(columns[feature.name] == top))
    assert share == pytest.approx(max(feature.params) - 0.20, abs=0.01)


def test_scenario_names_are_parsed_or_refused_with_the_name() -> None:
    assert scenario_kind("mass 5 %") == ("mass", 0.05)
    assert scenario_kind("mean 0.2 sd") == ("mean", 0.2)
    with pytest.raises(ValueError, match="mean sideways"):
        scenario_kind("mean sideways")


def test_summary_counts_innocent_flags_apart_from_the_moved_feature() -> None:
    flags = np.array([[True, False, False], [True, True, False], [False, False, False]])
    cell = summarise(flags, [[0], [0], [0]], np.ones(3, dtype=bool))
    assert cell["detected"] == pytest.approx(2 / 3)
    assert cell["innocent"] == pytest.approx(1 / 3)
    assert cell["alarm"] == pytest.approx(2 / 3)


def test_rates_differ_only_beyond_two_standard_errors() -> None:
    assert not beyond_noise(0.02, 100, 0.0, 100)  # 2 of 100 vs 0 of 100: noise
    assert beyond_noise(0.30, 400, 0.05, 400)


def test_exporter_score_reaches_one_exactly_where_the_effect_rule_flags() -> None:
    drift = DriftSettings()
    rng = np.random.default_rng(3)
    for name in ("psi", "jensen_shannon", "wasserstein_normalized"):
        for critical in (None, 0.0, 0.001, 0.02, 0.3, float("nan")):
            result = effect_result(name, 0.0, critical, drift)
            values = [0.0, result.threshold, np.nextafter(result.threshold, 0.0)]
            values += (result.threshold * rng.uniform(0.5, 1.5, 50)).tolist()
            for value in values:
                decided = effect_result(name, value, critical, drift)
                score = exporter_score(value, decided.threshold)
                assert (score >= 1.0) == decided.drifted, (name, critical, value)


def test_exporter_pvalue_score_reaches_one_exactly_where_the_pvalue_rule_flags() -> None:
    drift = DriftSettings(method="pvalue")
    rng = np.random.default_rng(5)
    pvalues = [0.0, 1e-320, 1e-12, 0.001, 0.004, 0.01, 0.02, 0.3, 1.0]
    pvalues += rng.uniform(0, 0.05, 40).tolist()
    columns = [
        ColumnReport(
            f"f{i}",
            "numeric",
            500,
            (
                StatisticResult("ks", 0.1, drift.alpha, False, pvalue=p),
                effect_result("psi", psi, None, drift),
            ),
            None,
            None,
        )
        for i, p in enumerate(pvalues)
        for psi in (0.0, drift.psi_threshold / 2, drift.psi_threshold, 0.2)
    ]
    for column in decide(columns, drift):
        ks, psi = column.statistic("ks"), column.statistic("psi")
        assert ks is not None and psi is not None and ks.adjusted_pvalue is not None
        score = exporter_pvalue_score(ks.adjusted_pvalue, drift.alpha, psi.value, psi.floor or 0)
        assert (score >= 1.0) == column.drifted, (ks.adjusted_pvalue, psi.value)


def test_evidently_score_reaches_one_exactly_where_its_default_test_flags() -> None:
    pd = pytest.importorskip("pandas")
    pytest.importorskip("evidently")
    from evidently.legacy.calculations.stattests.registry import get_stattest
    from evidently.legacy.core import ColumnType

    rng = np.random.default_rng(11)
    seen = set()
    for rows in (500, 5_000):  # <= 1,000 reference rows: KS and chi-squared; else distances
        reference = {
            ColumnType.Numerical: pd.Series(rng.normal(0, 1, rows)),
            ColumnType.Categorical: pd.Series(rng.choice(list("abcdef"), rows)),
        }
        for kind, ref in reference.items():
            for shift in (0.0, 0.05, 0.1, 0.2, 0.5):
                if kind == ColumnType.Numerical:
                    cur = pd.Series(rng.normal(shift, 1, 400))
                else:
                    p = (1 + np.array([shift, -shift, 0, 0, 0, 0])) / 6
                    cur = pd.Series(rng.choice(list("abcdef"), 400, p=p))
                test = get_stattest(ref, cur, kind, None)
                for threshold in (0.01, 0.05, 0.1, 0.2):
                    result = test(ref, cur, kind, threshold)
                    score = evidently_score(test.name, result.drift_score, threshold)
                    assert (score >= 1.0) == result.drifted, (test.name, shift, threshold)
                seen.add(test.name)
    assert seen == {"ks", "chisquare", "wasserstein", "jensenshannon"}


def nannyml_alert(value: float, lower: float | None, upper: float | None) -> bool:
    """NannyML 0.13's rule: Method.alert (nannyml/drift/univariate/methods.py), with the
    lower threshold clipped to the method's limit 0 by calculate_threshold_values."""
    return (lower is not None and value < lower) or (upper is not None and value > upper)


def test_nannyml_score_is_above_one_exactly_where_nannyml_alerts() -> None:
    rng = np.random.default_rng(13)
    for lower, upper in ((0.0, 0.05), (0.01, 0.02), (None, 0.1), (0.03, None), (None, None)):
        values = [0.0, 0.01, 0.02, 0.03, 0.05, 0.1, *rng.uniform(0, 0.15, 40)]
        for value in values:
            score = nannyml_score(value, lower, upper)
            assert (score > 1.0) == nannyml_alert(value, lower, upper), (value, lower, upper)


def test_a_score_that_disagrees_with_its_flag_is_refused_with_the_window() -> None:
    check_scores("m", "w 1", np.array([True, False]), np.array([1.0, 0.99]))
    with pytest.raises(AssertionError, match="m, w 1: feature 1 flagged False"):
        check_scores("m", "w 1", np.array([True, False]), np.array([1.0, 1.0]))
    with pytest.raises(AssertionError, match="feature 0 flagged True"):
        check_scores("m", "w 1", np.array([True]), np.array([1.0]), strict=True)


def test_the_matched_cut_lets_at_most_rate_times_w_no_drift_windows_alarm() -> None:
    scores = np.arange(1.0, 201.0)
    cut, k = matched_cut(scores, 0.01)
    assert (cut, k) == (198.0, 2) and np.sum(scores > cut) == 2
    assert np.sum(np.ones(200) > matched_cut(np.ones(200), 0.01)[0]) == 0  # ties: none alarm
    assert matched_cut([0.3, 0.1], 0.0) == (0.3, 0)
    with pytest.raises(ValueError, match="no no-drift scores"):
        matched_cut([], 0.01)


def test_the_cut_rate_interval_covers_the_true_false_alarm_rate_95_percent_of_the_time() -> None:
    # Monte Carlo: no-drift scores uniform on (0, 1), so a cut c has true rate 1 - c.
    rng = np.random.default_rng(17)
    windows, rate, repeats = 200, 0.01, 4_000
    low, high = cut_rate_interval(int(rate * windows), windows)
    true = np.array([1.0 - matched_cut(rng.random(windows), rate)[0] for _ in range(repeats)])
    covered = np.mean((true >= low) & (true <= high))
    assert covered == pytest.approx(0.95, abs=0.012)  # 3.5 binomial sd of 4,000 draws


def test_wilson_and_newcombe_intervals_match_the_published_examples() -> None:
    # Newcombe (1998), Stat Med 17:857, Table I (Wilson score interval), 4 decimals.
    for successes, trials, expected in (
        (81, 263, (0.2553, 0.3662)),
        (15, 148, (0.0624, 0.1605)),
        (0, 20, (0.0, 0.1611)),
        (29, 29, (0.8830, 1.0)),
    ):
        assert wilson(successes / trials, trials) == pytest.approx(expected, abs=5e-5)
    # Newcombe (1998), Stat Med 17:873, Table II example (a), method 10: 56/70 - 48/80.
    assert difference_interval(56 / 70, 70, 48 / 80, 80) == pytest.approx(
        (0.0524, 0.3339), abs=5e-5
    )
