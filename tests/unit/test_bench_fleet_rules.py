"""bench/bench_fleet_rules.py's body generator (bench/fleet_bodies.py), on a literal template.

No sidecar, no Prometheus: the template below stands for a sidecar's exposition of two template
models (a classifier `clf`, a regressor `reg`), one numeric feature `x` and one categorical
feature `c` each, and their reference bins. The series counts are worked out by hand from the
formula in fleet_bodies' docstring.
"""

from __future__ import annotations

from collections import defaultdict

import pytest
from prometheus_client.parser import text_string_to_metric_families
from scipy.stats import norm

from bench import (
    bench_fleet_rules,  # noqa: F401  (puts bench/ on sys.path, as the bench does)
    fleet_bodies,
)
from bench.bench_fleet_rules import layout
from bench.fleet_prometheus import prometheus_config

TEMPLATE = """\
# HELP drift_build_info Build.
# TYPE drift_build_info gauge
drift_build_info{version="0.1.0"} 1.0
# HELP drift_requests_rejected_total Rejected.
# TYPE drift_requests_rejected_total counter
drift_requests_rejected_total{reason="malformed"} 0.0
drift_requests_rejected_total{reason="limit"} 0.0
# HELP drift_records_total Records.
# TYPE drift_records_total counter
drift_records_total{model="clf"} 2000.0
drift_records_total{model="reg"} 1000.0
# HELP drift_window_records Window.
# TYPE drift_window_records gauge
drift_window_records{model="clf"} 2000.0
drift_window_records{model="reg"} 1000.0
# HELP drift_reference_records Reference rows.
# TYPE drift_reference_records gauge
drift_reference_records{model="clf"} 10.0
drift_reference_records{model="reg"} 8.0
# HELP drift_features_evaluated Judged.
# TYPE drift_features_evaluated gauge
drift_features_evaluated{model="clf"} 2.0
drift_features_evaluated{model="reg"} 2.0
# HELP drift_feature_psi PSI.
# TYPE drift_feature_psi gauge
drift_feature_psi{feature="x",model="clf"} 0.2
drift_feature_psi{feature="c",model="clf"} 0.01
drift_feature_psi{feature="x",model="reg"} 0.05
drift_feature_psi{feature="c",model="reg"} 0.02
# HELP drift_feature_drifted Flag.
# TYPE drift_feature_drifted gauge
drift_feature_drifted{feature="x",model="clf"} 1.0
drift_feature_drifted{feature="c",model="clf"} 0.0
drift_feature_drifted{feature="x",model="reg"} 0.0
drift_feature_drifted{feature="c",model="reg"} 0.0
# HELP drift_feature_valid_records Valid.
# TYPE drift_feature_valid_records gauge
drift_feature_valid_records{feature="x",model="clf"} 1980.0
drift_feature_valid_records{feature="c",model="clf"} 2000.0
drift_feature_valid_records{feature="x",model="reg"} 990.0
drift_feature_valid_records{feature="c",model="reg"} 1000.0
# HELP drift_feature_missing_ratio Missing.
# TYPE drift_feature_missing_ratio gauge
drift_feature_missing_ratio{feature="x",model="clf"} 0.01
drift_feature_missing_ratio{feature="c",model="clf"} 0.0
drift_feature_missing_ratio{feature="x",model="reg"} 0.01
drift_feature_missing_ratio{feature="c",model="reg"} 0.0
# HELP drift_feature_unseen_category_ratio Unseen.
# TYPE drift_feature_unseen_category_ratio gauge
drift_feature_unseen_category_ratio{feature="c",model="clf"} 0.05
drift_feature_unseen_category_ratio{feature="c",model="reg"} 0.02
# HELP drift_feature_out_of_range_ratio Out of range.
# TYPE drift_feature_out_of_range_ratio gauge
drift_feature_out_of_range_ratio{feature="x",model="clf"} 0.002
drift_feature_out_of_range_ratio{feature="x",model="reg"} 0.001
# HELP drift_prediction_valid_records Valid predictions.
# TYPE drift_prediction_valid_records gauge
drift_prediction_valid_records{model="clf"} 2000.0
drift_prediction_valid_records{model="reg"} 1000.0
# HELP drift_performance_accuracy Accuracy.
# TYPE drift_performance_accuracy gauge
drift_performance_accuracy{model="clf"} 0.99
# HELP drift_evaluation_duration_seconds Duration.
# TYPE drift_evaluation_duration_seconds histogram
drift_evaluation_duration_seconds_bucket{le="0.1",model="clf"} 1.0
drift_evaluation_duration_seconds_bucket{le="+Inf",model="clf"} 1.0
drift_evaluation_duration_seconds_count{model="clf"} 1.0
drift_evaluation_duration_seconds_sum{model="clf"} 0.05
"""
BINS = {
    "clf": fleet_bodies.ColumnBins({"x": (3, 3, 4), "c": (5, 3, 2)}, (2, 2, 2, 4)),
    "reg": fleet_bodies.ColumnBins({"x": (2, 3, 3), "c": (4, 4, 0)}, (4, 4)),
}
MODELS = ("m0", "m1", "m2")  # m0, m2 copy clf; m1 copies reg
#: Worked out by hand. G: build_info 1 + rejected 2. The template's own samples: clf 1 records
#: + 1 window + 1 reference + 1 evaluated + 2 psi + 2 drifted + 2 valid + 2 missing + 1 unseen +
#: 1 out-of-range + 1 prediction valid + 1 accuracy + 4 histogram = 20; reg 15 (no accuracy,
#: no histogram).
GLOBAL_SERIES = 3
OWN_SERIES = {"clf": 20, "reg": 15}
#: Added per model: 2 x reference bins (clf 3 + 3 + 4 = 10, reg 3 + 3 + 2 = 8), one count per
#: *_ratio sample (4 each), 2 z.
BIN_SERIES = {"clf": 2 * 10, "reg": 2 * 8}
COUNT_SERIES = 4 + 2


def fleet(**overrides: object) -> fleet_bodies.FleetBodies:
    template = fleet_bodies.Template(fleet_bodies.parse_exposition(TEMPLATE), BINS)
    options = {"seed": 7, "synthetic": True, "bins": True, "alpha": 0.01, **overrides}
    return fleet_bodies.FleetBodies(template, MODELS, **options)  # type: ignore[arg-type]


def samples(body: str) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """Sample name -> sorted labels -> value, read with prometheus_client's parser."""
    out: dict[str, dict[tuple[tuple[str, str], ...], float]] = defaultdict(dict)
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            out[sample.name][tuple(sorted(sample.labels.items()))] = sample.value
    return out


def test_body_parses_as_text_format_with_the_documented_series_count() -> None:
    body = fleet().render(0)
    parsed = samples(body)
    expected = GLOBAL_SERIES + sum(
        OWN_SERIES[t] + BIN_SERIES[t] + COUNT_SERIES for t in ("clf", "reg", "clf")
    )
    assert sum(len(series) for series in parsed.values()) == expected == 3 + 46 + 37 + 46
    assert fleet_bodies.series_count(body) == expected


def test_baseline_body_lacks_only_the_bin_families() -> None:
    with_bins, baseline = samples(fleet().render(3)), samples(fleet(bins=False).render(3))
    assert set(with_bins) - set(baseline) == set(fleet_bodies.BIN_FAMILIES)
    assert sum(map(len, baseline.values())) == 132 - (20 + 16 + 20)
    for name in baseline:
        assert baseline[name] == with_bins[name], name


def test_every_fleet_model_is_a_renamed_template_model() -> None:
    parsed = samples(fleet().render(0))
    models = {dict(labels).get("model") for series in parsed.values() for labels in series}
    assert models == {None, *MODELS}
    accuracy = {dict(labels)["model"] for labels in parsed["drift_performance_accuracy"]}
    assert accuracy == {"m0", "m2"}  # the classifier's copies only


def test_replicas_differ_in_counts_and_statistics_and_share_the_reference() -> None:
    first, second = samples(fleet().render(0)), samples(fleet().render(1))
    for name in ("drift_records_total", "drift_feature_psi", "drift_feature_window_bin_records"):
        assert first[name].keys() == second[name].keys()
        assert first[name] != second[name], name
    for name in ("drift_feature_reference_bin_records", "drift_reference_records"):
        assert first[name] == second[name], name
    assert first["drift_feature_drifted"] == second["drift_feature_drifted"]


def test_rendering_is_seeded() -> None:
    assert fleet().render(2) == fleet().render(2)
    assert fleet(seed=8).render(2) != fleet().render(2)


def test_counts_stay_consistent_within_a_replica() -> None:
    """Window bins add up to the feature's valid records, unseen categories sit in the overflow
    bin, and each quality count is its ratio times the window's records."""
    parsed = samples(fleet().render(4))
    bins: dict[tuple[str, str], dict[int, float]] = defaultdict(dict)
    for labels, value in parsed["drift_feature_window_bin_records"].items():
        where = dict(labels)
        bins[(where["model"], where["feature"])][int(where["bin"])] = value
    window = {dict(k)["model"]: v for k, v in parsed["drift_window_records"].items()}
    for labels, valid in parsed["drift_feature_valid_records"].items():
        where = dict(labels)
        counts = bins[(where["model"], where["feature"])]
        assert sorted(counts) == list(range(3))
        assert sum(counts.values()) == valid
    for reason in ("missing", "unseen_category", "out_of_range"):
        for labels, ratio in parsed[f"drift_feature_{reason}_ratio"].items():
            count = parsed[f"drift_feature_{reason}_records"][labels]
            assert count == round(ratio * window[dict(labels)["model"]])
    for labels, unseen in parsed["drift_feature_unseen_category_records"].items():
        where = dict(labels)
        assert bins[(where["model"], where["feature"])][2] >= unseen > 0
    predicted: dict[str, int] = defaultdict(int)
    for labels in parsed["drift_prediction_window_bin_records"]:
        predicted[dict(labels)["model"]] += 1
    assert predicted == {"m0": 4, "m1": 2, "m2": 4}


def test_noise_z_is_the_normal_quantile_of_the_bonferroni_level() -> None:
    parsed = samples(fleet().render(0))
    for labels, z in parsed["drift_noise_quantile_z"].items():
        # k = drift_features_evaluated = 2 for every model; scipy.stats.norm.isf, rtol 1e-9
        assert z == pytest.approx(norm.isf(0.01 / 2), rel=1e-9), labels
    for z in parsed["drift_prediction_noise_quantile_z"].values():
        assert z == pytest.approx(norm.isf(0.01), rel=1e-9)


def test_a_template_without_the_contract_families_needs_synthetic() -> None:
    with pytest.raises(ValueError, match=r"drift_feature_window_bin_records.*--synthetic-bins"):
        fleet(synthetic=False)


def test_parse_exposition_names_the_bad_line() -> None:
    with pytest.raises(ValueError, match="line 2"):
        fleet_bodies.parse_exposition("drift_build_info 1.0\nnot a sample line\n")


def test_layout_is_four_fifths_numeric_and_5_to_20_categories() -> None:
    numeric, categorical = layout(50)
    assert len(numeric) == 40
    assert sorted(categorical.values())[0] == 5 and max(categorical.values()) == 20
    assert len(categorical) == 10


def test_prometheus_config_points_the_shipped_jobs_at_the_fleet(tmp_path: object) -> None:
    config = prometheus_config(["127.0.0.1:1", "127.0.0.1:2"], 9, tmp_path, 15.0)  # type: ignore[arg-type]
    jobs = {
        job["job_name"]: job["static_configs"][0]["targets"] for job in config["scrape_configs"]
    }
    assert jobs == {"prometheus": ["127.0.0.1:9"], "drift-exporter": ["127.0.0.1:1", "127.0.0.1:2"]}
    assert config["global"]["evaluation_interval"] == config["global"]["scrape_interval"] == "15s"
    assert "alerting" not in config
