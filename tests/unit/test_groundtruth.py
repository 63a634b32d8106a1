"""Ground truth: class keys, task inference, pair encoding, metrics vs scikit-learn, latency."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from sklearn import metrics as skm

from exporter.settings import LabelSettings, ModelSettings
from exporter.truth.groundtruth import GroundTruth
from exporter.truth.latency import LATENCY_BUCKETS_SECONDS, LatencyHistogram
from exporter.truth.performance import performance_metrics, reference_performance
from exporter.truth.task import TaskSpec, class_key, encode_pairs, pair_errors, resolve_task

SCORED = TaskSpec("classification", scored=True)
UNSCORED = TaskSpec("classification")
REGRESSION = TaskSpec("regression")


def _scored_pairs(seed: int, n: int) -> tuple[list[float], list[int]]:
    """Scores in (0, 1) and 0/1 labels drawn with P(y = 1) = score."""
    rng = np.random.default_rng(seed)
    scores = np.round(rng.random(n), 4)
    labels = (rng.random(n) < scores).astype(int)
    return scores.tolist(), labels.tolist()


# class_key


@pytest.mark.parametrize(
    ("value", "key"),
    [
        (1, "1"),
        (1.0, "1"),
        ("1", "1"),
        (True, "1"),
        (False, "0"),
        (" TRUE ", "1"),
        ("false", "0"),
        (-3, "-3"),
        (2.5, "2.5"),
        ("yes", "yes"),
        (" yes", " yes"),
        (None, None),
        (math.nan, None),
        ([1], None),
        ({"a": 1}, None),
    ],
)
def test_class_key_reads_numbers_booleans_and_strings_as_one_class_each(
    value: Any, key: str | None
) -> None:
    assert class_key(value) == key


# resolve_task


def test_a_declared_regression_needs_no_data() -> None:
    assert resolve_task(ModelSettings(task="regression"), None, [], []) == REGRESSION


def test_a_categorical_or_boolean_prediction_makes_an_unscored_classifier() -> None:
    for kind in ("categorical", "boolean"):
        spec = resolve_task(ModelSettings(), kind, [], [])  # type: ignore[arg-type]
        assert spec == UNSCORED


def test_a_numeric_prediction_with_zero_one_labels_is_a_scored_binary_classifier() -> None:
    for labels in ([0, 1, 1], [False, True, True], [0.0, 1.0, 1.0], ["true", "false", "1"]):
        spec = resolve_task(ModelSettings(), "numeric", [0.2, 0.7, 0.9], labels)
        assert spec == SCORED, labels


def test_a_numeric_prediction_with_other_numeric_labels_is_a_regressor() -> None:
    spec = resolve_task(ModelSettings(), "numeric", [0.2, 3.5, 9.0], [0, 1, 2])
    assert spec == REGRESSION


def test_a_string_label_makes_a_classifier_scored_only_with_a_positive_class() -> None:
    assert resolve_task(ModelSettings(), "numeric", [0.2, 0.8], ["no", "yes"]) == UNSCORED
    spec = resolve_task(ModelSettings(positive_class="yes"), "numeric", [0.2, 0.8], ["no", "yes"])
    assert spec == TaskSpec("classification", scored=True, positive="yes")


def test_a_declared_classifier_with_class_ids_as_predictions_is_unscored() -> None:
    declared = ModelSettings(task="classification")
    assert resolve_task(declared, "numeric", [0, 2, 1], [0, 2, 2]) == UNSCORED
    assert resolve_task(declared, "numeric", [0.1, 0.8], [0, 1]) == SCORED


def test_the_task_waits_for_a_usable_pair_when_nothing_else_decides_it() -> None:
    assert resolve_task(ModelSettings(), "numeric", [], []) is None
    assert resolve_task(ModelSettings(), None, [None, None], [1, 0]) is None


def test_the_decision_threshold_comes_from_the_config() -> None:
    spec = resolve_task(ModelSettings(decision_threshold=0.3), "numeric", [0.5], [1])
    assert spec == TaskSpec("classification", scored=True, threshold=0.3)


def test_task_specs_survive_a_round_trip_through_their_dict() -> None:
    spec = TaskSpec("classification", scored=True, positive="yes", threshold=0.25)
    assert TaskSpec.from_dict(spec.to_dict()) == spec
    with pytest.raises(ValueError, match="unknown task"):
        TaskSpec.from_dict({**spec.to_dict(), "task": "ranking"})


# encode_pairs


def test_unreadable_pairs_are_counted_and_left_out() -> None:
    regression = encode_pairs(REGRESSION, [1.0, None, "2", 3, True], [1.5, 2.0, 2.0, "x", 1.0])
    assert (regression.truth, regression.predicted, regression.invalid) == ([1.5], [1.0], 4)
    scored = encode_pairs(SCORED, [0.9, 0.1, None, 0.5], [1, 2, 0, "yes"])
    assert (scored.truth, scored.predicted, scored.invalid) == ([1.0], [0.9], 3)
    unscored = encode_pairs(UNSCORED, ["a", None, 1.0], ["a", "b", True])
    assert (unscored.truth, unscored.predicted, unscored.invalid) == (["a", "1"], ["a", "1"], 1)


def test_a_configured_positive_class_reads_every_other_label_as_negative() -> None:
    spec = TaskSpec("classification", scored=True, positive="yes")
    encoded = encode_pairs(spec, [0.9, 0.2, 0.4], ["yes", "no", "maybe"])
    assert encoded.truth == [1.0, 0.0, 0.0]


def test_errors_are_zero_one_at_the_threshold_or_absolute() -> None:
    spec = TaskSpec("classification", scored=True, threshold=0.7)
    assert pair_errors(spec, [1.0, 1.0, 0.0], [0.8, 0.6, 0.7]).tolist() == [0.0, 1.0, 1.0]
    assert pair_errors(UNSCORED, ["a", "b"], ["a", "a"]).tolist() == [0.0, 1.0]
    assert pair_errors(REGRESSION, [1.0, 2.0], [1.5, 0.0]).tolist() == [0.5, 2.0]
    assert pair_errors(REGRESSION, [], []).size == 0


# performance_metrics against scikit-learn, from raw JSON values


def test_scored_binary_metrics_equal_sklearn_on_the_same_pairs() -> None:
    scores, labels = _scored_pairs(71, 3_000)
    spec = resolve_task(ModelSettings(), "numeric", scores, labels)
    assert spec == SCORED
    encoded = encode_pairs(spec, scores, labels)
    got = performance_metrics(spec, encoded.truth, encoded.predicted)
    predicted = (np.array(scores) >= 0.5).astype(int)
    # sklearn.metrics, binary, pos_label=1, rtol=1e-12
    expected = {
        "accuracy": skm.accuracy_score(labels, predicted),
        "precision": skm.precision_score(labels, predicted),
        "recall": skm.recall_score(labels, predicted),
        "f1": skm.f1_score(labels, predicted),
        "roc_auc": skm.roc_auc_score(labels, scores),
        "log_loss": skm.log_loss(labels, scores),
    }
    assert got.keys() == expected.keys()
    for name, value in expected.items():
        assert got[name] == pytest.approx(value, rel=1e-12), name


def test_a_threshold_other_than_one_half_moves_the_class_metrics_not_the_auc() -> None:
    scores, labels = _scored_pairs(72, 1_000)
    spec = TaskSpec("classification", scored=True, threshold=0.3)
    encoded = encode_pairs(spec, scores, labels)
    got = performance_metrics(spec, encoded.truth, encoded.predicted)
    predicted = (np.array(scores) >= 0.3).astype(int)
    # sklearn.metrics at the shifted threshold, rtol=1e-12
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(labels, predicted), rel=1e-12)
    assert got["recall"] == pytest.approx(skm.recall_score(labels, predicted), rel=1e-12)
    assert got["roc_auc"] == pytest.approx(skm.roc_auc_score(labels, scores), rel=1e-12)


def test_scores_outside_zero_one_get_roc_auc_but_no_log_loss() -> None:
    margins = [-2.0, -0.5, 0.7, 3.0, 1.2, -1.0]
    labels = [0, 1, 1, 1, 0, 0]
    spec = TaskSpec("classification", scored=True, threshold=0.0)
    encoded = encode_pairs(spec, margins, labels)
    got = performance_metrics(spec, encoded.truth, encoded.predicted)
    assert "log_loss" not in got
    # sklearn.metrics.roc_auc_score, rtol=1e-12
    assert got["roc_auc"] == pytest.approx(skm.roc_auc_score(labels, margins), rel=1e-12)


def test_multiclass_string_metrics_equal_sklearn_macro_averages() -> None:
    rng = np.random.default_rng(73)
    classes = np.array(["cat", "dog", "emu", "fox"])
    truth = rng.choice(classes, size=2_000)
    predicted = np.where(rng.random(2_000) < 0.7, truth, rng.choice(classes, size=2_000))
    encoded = encode_pairs(UNSCORED, predicted.tolist(), truth.tolist())
    got = performance_metrics(UNSCORED, encoded.truth, encoded.predicted)
    # sklearn.metrics, average="macro", rtol=1e-12
    assert got == pytest.approx(
        {
            "accuracy": skm.accuracy_score(truth, predicted),
            "precision": skm.precision_score(truth, predicted, average="macro"),
            "recall": skm.recall_score(truth, predicted, average="macro"),
            "f1": skm.f1_score(truth, predicted, average="macro"),
        },
        rel=1e-12,
    )


def test_unscored_binary_metrics_use_the_configured_positive_class() -> None:
    truth = ["no", "yes", "yes", "no", "yes", "no", "no"]
    predicted = ["no", "yes", "no", "yes", "yes", "no", "yes"]
    spec = TaskSpec("classification", positive="no")
    got = performance_metrics(spec, truth, predicted)
    # sklearn.metrics, pos_label="no", rtol=1e-12
    assert got["precision"] == pytest.approx(
        skm.precision_score(truth, predicted, pos_label="no"), rel=1e-12
    )
    assert got["recall"] == pytest.approx(
        skm.recall_score(truth, predicted, pos_label="no"), rel=1e-12
    )


def test_a_positive_class_among_more_than_two_classes_falls_back_to_macro_averages() -> None:
    truth, predicted = ["a", "b", "c", "a"], ["a", "c", "c", "b"]
    got = performance_metrics(TaskSpec("classification", positive="a"), truth, predicted)
    # sklearn.metrics.f1_score(average="macro"), rtol=1e-12
    assert got["f1"] == pytest.approx(skm.f1_score(truth, predicted, average="macro"), rel=1e-12)


# The one-class window (issue 13, item 8): the positive class is the model's, never the window's.


def test_a_one_class_window_then_one_other_label_keeps_the_models_positive_class() -> None:
    spec = TaskSpec("classification", positive="yes")
    one_class = performance_metrics(spec, ["no"] * 99, ["no"] * 99)
    # sklearn.metrics with pos_label="yes", labels=["no", "yes"], zero_division=0: no positive
    # was labelled or predicted, so precision, recall and F1 are 0 and stay 0.
    assert one_class == {"accuracy": 1.0, "precision": 0.0, "recall": 0.0, "f1": 0.0}
    truth, predicted = ["no"] * 99 + ["yes"], ["no"] * 100
    one_more = performance_metrics(spec, truth, predicted)
    assert one_more == pytest.approx(
        {
            "accuracy": 0.99,
            "precision": skm.precision_score(truth, predicted, pos_label="yes", zero_division=0),
            "recall": skm.recall_score(truth, predicted, pos_label="yes", zero_division=0),
            "f1": skm.f1_score(truth, predicted, pos_label="yes", zero_division=0),
        },
        rel=1e-12,
    )


def test_with_no_positive_class_known_a_binary_window_reports_accuracy_only() -> None:
    for truth, predicted in ((["no"] * 99, ["no"] * 99), (["no"] * 99 + ["yes"], ["no"] * 100)):
        assert performance_metrics(UNSCORED, truth, predicted) == {
            "accuracy": pytest.approx(float(np.mean(np.array(truth) == np.array(predicted))))
        }


def test_a_two_class_reference_fixes_the_larger_class_key_as_positive() -> None:
    performance = reference_performance(
        ModelSettings(), "categorical", ["no", "yes", "no", "no"], ["no", "yes", "yes", "no"]
    )
    assert performance is not None and performance.spec.positive == "yes"
    # sklearn.metrics.precision_score(pos_label="yes"): 1 of 1 predicted "yes" is right
    assert performance.metrics["precision"] == 1.0
    window = performance_metrics(performance.spec, ["no"] * 10, ["no"] * 10)
    assert (window["accuracy"], window["precision"], window["recall"]) == (1.0, 0.0, 0.0)
    configured = reference_performance(
        ModelSettings(positive_class="no"), "categorical", ["no", "yes"], ["no", "yes"]
    )
    assert configured is not None and configured.spec.positive == "no"


def test_a_reference_of_one_or_many_classes_fixes_no_positive_class() -> None:
    one = reference_performance(ModelSettings(), "categorical", ["no", "no"], ["no", "no"])
    many = reference_performance(ModelSettings(), "categorical", ["a", "b"], ["b", "c"])
    assert one is not None and one.spec.positive is None
    assert many is not None and many.spec.positive is None
    # three classes in the window: macro averages need no positive class
    assert set(performance_metrics(many.spec, ["a", "b", "c"], ["a", "c", "c"])) == {
        "accuracy",
        "precision",
        "recall",
        "f1",
    }


def test_boolean_predictions_meet_zero_one_and_word_labels() -> None:
    encoded = encode_pairs(UNSCORED, [True, False, True, True], [1, "false", "TRUE", 0])
    got = performance_metrics(UNSCORED, encoded.truth, encoded.predicted)
    assert got["accuracy"] == 0.75


def test_regression_metrics_equal_sklearn_and_mape_leaves_out_zero_targets() -> None:
    rng = np.random.default_rng(74)
    truth = rng.normal(10.0, 3.0, 1_000)
    truth[:5] = 0.0
    predicted = truth + rng.normal(0.0, 1.0, 1_000)
    encoded = encode_pairs(REGRESSION, predicted.tolist(), truth.tolist())
    got = performance_metrics(REGRESSION, encoded.truth, encoded.predicted)
    nonzero = truth != 0.0
    # sklearn.metrics; MAPE over the nonzero targets (sklearn divides by eps instead), rtol=1e-12
    assert got == pytest.approx(
        {
            "mae": skm.mean_absolute_error(truth, predicted),
            "mse": skm.mean_squared_error(truth, predicted),
            "rmse": skm.root_mean_squared_error(truth, predicted),
            "mape": skm.mean_absolute_percentage_error(truth[nonzero], predicted[nonzero]),
        },
        rel=1e-12,
    )


def test_no_pairs_no_metrics() -> None:
    assert performance_metrics(SCORED, [], []) == {}


# reference_performance


def test_a_labelled_scored_reference_gets_metrics_and_a_calibration() -> None:
    scores, labels = _scored_pairs(75, 2_000)
    performance = reference_performance(ModelSettings(), "numeric", scores, labels)
    assert performance is not None
    assert performance.spec == SCORED and performance.labels == 2_000
    assert performance.calibration is not None
    # sklearn.metrics.accuracy_score at threshold 0.5, exact
    predicted = (np.array(scores) >= 0.5).astype(int)
    assert performance.metrics["accuracy"] == skm.accuracy_score(labels, predicted)
    assert performance.summary()["calibrated"] is True


def test_a_reference_without_labels_or_with_one_class_gets_no_calibration() -> None:
    assert reference_performance(ModelSettings(), "numeric", [0.1, 0.2], None) is None
    one_class = reference_performance(ModelSettings(), "numeric", [0.1, 0.9], [1, 1])
    assert one_class is not None and one_class.calibration is None
    regression = reference_performance(ModelSettings(), "numeric", [1.5, 2.5], [1.0, 3.0])
    assert regression is not None and regression.calibration is None
    assert regression.metrics["mae"] == 0.5


# GroundTruth


def test_the_labelled_window_keeps_the_newest_pairs_only() -> None:
    truth = GroundTruth(LabelSettings(window_max_labels=3), None)
    for value in range(5):
        truth.add_pairs([float(value)], [float(value) + 0.5], ModelSettings(), "numeric")
    assert truth.spec == REGRESSION
    assert list(truth.truth) == [2.5, 3.5, 4.5]
    assert list(truth.predicted) == [2.0, 3.0, 4.0]
    errors = truth.take_unfed()
    assert errors is not None and errors.tolist() == [0.5] * 5
    assert truth.take_unfed() is None


def test_pairs_without_a_prediction_decide_no_task_and_count_as_invalid() -> None:
    truth = GroundTruth(LabelSettings(), None)
    assert truth.add_pairs([None, None], [1, 0], ModelSettings(), None) == 2
    assert truth.spec is None and not truth.truth


# LatencyHistogram


def test_latency_buckets_count_values_up_to_and_including_each_bound() -> None:
    histogram = LatencyHistogram()
    values = [0.0, 0.005, 0.0051, 0.1, 10.0, 10.5, None, 3]
    histogram.observe(values)
    assert histogram.count == 7
    assert histogram.sum == pytest.approx(0.0 + 0.005 + 0.0051 + 0.1 + 10.0 + 10.5 + 3)
    cumulative = histogram.counts.cumsum()
    bounds = list(LATENCY_BUCKETS_SECONDS)
    # Prometheus semantics: bucket le=b counts observations <= b.
    present = [v for v in values if v is not None]
    for i, bound in enumerate(bounds):
        assert cumulative[i] == sum(1 for v in present if v <= bound), bound
    assert cumulative[-1] == len(present)


def test_latency_histograms_compare_by_counts_and_sum() -> None:
    first, second = LatencyHistogram(), LatencyHistogram()
    first.observe([0.2])
    assert first != second
    second.observe([0.2])
    assert first == second
