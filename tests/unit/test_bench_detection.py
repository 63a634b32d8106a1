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
    assert len(targets) == 5 and set(targets) <= {"PASS", "FAIL", "NOT MEASURED"}


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
