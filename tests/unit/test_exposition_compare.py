"""The structural /metrics comparison catches every contract change and tolerates last digits."""

from __future__ import annotations

import pytest

from tests.exposition_compare import assert_expositions_match, exposition_differences

BASE = """\
# HELP drift_records_total Prediction records accepted.
# TYPE drift_records_total counter
drift_records_total{model="credit"} 601.0
# HELP drift_feature_psi Population stability index, computed each evaluation interval.
# TYPE drift_feature_psi gauge
drift_feature_psi{feature="age",model="credit"} 0.12345678901234566
drift_feature_psi{feature="income",model="credit"} NaN
# HELP drift_last_record_timestamp_seconds Newest record timestamp, as unix time.
# TYPE drift_last_record_timestamp_seconds gauge
"""


def test_an_exposition_matches_itself() -> None:
    assert exposition_differences(BASE, BASE) == []


def test_a_last_digit_difference_and_number_spelling_are_accepted() -> None:
    # The last of 17 significant digits, as two BLAS kernels give it; and 601 printed two ways.
    other = BASE.replace("0.12345678901234566", "0.12345678901234572").replace("601.0", "6.01e2")
    assert other != BASE
    assert_expositions_match(other, BASE)


def test_families_may_come_in_any_order() -> None:
    head, gauge = BASE.split("# HELP drift_feature_psi")
    assert exposition_differences("# HELP drift_feature_psi" + gauge + head, BASE) == []


def test_a_value_change_beyond_the_tolerance_is_caught() -> None:
    other = BASE.replace("0.12345678901234566", "0.1234568")
    assert exposition_differences(other, BASE) == [
        'sample drift_feature_psi{feature="age",model="credit"}: '
        "value 0.1234568, expected 0.12345678901234566"
    ]


def test_nan_matches_only_nan() -> None:
    other = BASE.replace("} NaN", "} 0.0")
    assert exposition_differences(other, BASE) == [
        'sample drift_feature_psi{feature="income",model="credit"}: value 0.0, expected nan'
    ]


def test_a_renamed_metric_is_caught() -> None:
    other = BASE.replace("drift_feature_psi", "drift_feature_psi_score")
    assert exposition_differences(other, BASE) == [
        "family drift_feature_psi is missing",
        "family drift_feature_psi_score is unexpected",
    ]


def test_a_changed_label_value_is_caught() -> None:
    other = BASE.replace('feature="age"', 'feature="Age"')
    assert exposition_differences(other, BASE) == [
        'sample drift_feature_psi{feature="age",model="credit"} is missing',
        'sample drift_feature_psi{feature="Age",model="credit"} is unexpected',
    ]


def test_an_added_label_is_caught() -> None:
    other = BASE.replace('{model="credit"} 601.0', '{model="credit",status="ok"} 601.0')
    assert exposition_differences(other, BASE) == [
        'sample drift_records_total{model="credit"} is missing',
        'sample drift_records_total{model="credit",status="ok"} is unexpected',
    ]


def test_a_changed_help_is_caught() -> None:
    other = BASE.replace("Prediction records accepted.", "Records accepted.")
    assert exposition_differences(other, BASE) == [
        "family drift_records: HELP 'Records accepted.', expected 'Prediction records accepted.'"
    ]


def test_a_changed_type_is_caught() -> None:
    other = BASE.replace("# TYPE drift_feature_psi gauge", "# TYPE drift_feature_psi untyped")
    assert exposition_differences(other, BASE) == [
        "family drift_feature_psi: TYPE unknown, expected gauge"
    ]


def test_a_missing_sample_and_an_empty_family_that_gains_one_are_caught() -> None:
    other = BASE.replace('drift_feature_psi{feature="income",model="credit"} NaN\n', "")
    other += 'drift_last_record_timestamp_seconds{model="credit"} 1.8e9\n'
    assert exposition_differences(other, BASE) == [
        'sample drift_feature_psi{feature="income",model="credit"} is missing',
        'sample drift_last_record_timestamp_seconds{model="credit"} is unexpected',
    ]


def test_a_duplicated_sample_is_caught() -> None:
    other = BASE.replace("601.0\n", '601.0\ndrift_records_total{model="credit"} 601.0\n')
    assert exposition_differences(other, BASE) == [
        'actual: sample drift_records_total{model="credit"} appears twice'
    ]


def test_the_assertion_lists_every_difference() -> None:
    other = BASE.replace("601.0", "600.0").replace("Prediction records", "Records")
    with pytest.raises(AssertionError, match=r"(?s)HELP 'Records accepted.'.*value 600\.0"):
        assert_expositions_match(other, BASE)
