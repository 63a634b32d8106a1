"""Classification and regression metrics against sklearn.metrics and closed forms."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
from sklearn import metrics

from exporter.stats.performance import (
    ClassificationMetrics,
    classification_metrics,
    per_record_error,
    regression_metrics,
)

RTOL = 1e-12  # agreement required with sklearn.metrics: same closed forms, other rounding order


def _binary_data(seed: int, n: int = 2_000) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels y ~ Bernoulli(sigmoid(2x)), score sigmoid(2x + noise), prediction score >= 0.5."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-2.0 * x))).astype(int)
    score = 1.0 / (1.0 + np.exp(-(2.0 * x + rng.normal(0.0, 0.5, size=n))))
    return y, (score >= 0.5).astype(int), score


def _multiclass_data(
    seed: int, n: int = 3_000, k: int = 4
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels from a softmax over k noisy logits; prediction argmax; returns probabilities."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(n, k)) * 1.5
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    y = np.array([rng.choice(k, p=row) for row in proba])
    noisy = logits + rng.normal(0.0, 1.0, size=(n, k))
    reported = np.exp(noisy) / np.exp(noisy).sum(axis=1, keepdims=True)
    return y, reported.argmax(axis=1), reported


def _assert_binary_matches_sklearn(
    result: ClassificationMetrics, y: np.ndarray, pred: np.ndarray, pos_label: object
) -> None:
    # sklearn.metrics.*_score(pos_label=..., zero_division=0), rtol=1e-12
    assert result.accuracy == pytest.approx(metrics.accuracy_score(y, pred), rel=RTOL)
    expected_p = metrics.precision_score(y, pred, pos_label=pos_label, zero_division=0)
    expected_r = metrics.recall_score(y, pred, pos_label=pos_label, zero_division=0)
    expected_f1 = metrics.f1_score(y, pred, pos_label=pos_label, zero_division=0)
    assert result.precision == pytest.approx(expected_p, rel=RTOL)
    assert result.recall == pytest.approx(expected_r, rel=RTOL)
    assert result.f1 == pytest.approx(expected_f1, rel=RTOL)
    assert result.labels == y.shape[0]


# classification_metrics: two classes


def test_binary_metrics_match_sklearn_on_synthetic_data() -> None:
    y, pred, score = _binary_data(seed=41)
    result = classification_metrics(y, pred, scores=score, probabilities=score)
    _assert_binary_matches_sklearn(result, y, pred, pos_label=1)
    # sklearn.metrics.roc_auc_score / log_loss, rtol=1e-12
    assert result.roc_auc == pytest.approx(metrics.roc_auc_score(y, score), rel=RTOL)
    assert result.log_loss == pytest.approx(metrics.log_loss(y, score), rel=RTOL)


def test_binary_default_positive_is_the_larger_string_label() -> None:
    y01, pred01, score = _binary_data(seed=42)
    names = np.array(["no", "yes"])
    y, pred = names[y01], names[pred01]
    result = classification_metrics(y, pred, scores=score, probabilities=score)
    _assert_binary_matches_sklearn(result, y, pred, pos_label="yes")
    # roc_auc_score / log_loss order string labels alphabetically: the score is P("yes").
    assert result.roc_auc == pytest.approx(metrics.roc_auc_score(y, score), rel=RTOL)
    assert result.log_loss == pytest.approx(metrics.log_loss(y, score), rel=RTOL)


def test_binary_metrics_use_the_given_positive_class() -> None:
    y01, pred01, score = _binary_data(seed=43)
    names = np.array(["no", "yes"])
    y, pred = names[y01], names[pred01]
    score_no = 1.0 - score
    result = classification_metrics(y, pred, scores=score_no, probabilities=score_no, positive="no")
    _assert_binary_matches_sklearn(result, y, pred, pos_label="no")
    # roc_auc_score of the indicator y == "no" against P("no"); log_loss with columns (no, yes)
    expected_auc = metrics.roc_auc_score(y == "no", score_no)
    expected_loss = metrics.log_loss(y, np.column_stack((score_no, score)))
    assert result.roc_auc == pytest.approx(expected_auc, rel=RTOL)
    assert result.log_loss == pytest.approx(expected_loss, rel=RTOL)


def test_binary_two_column_inputs_follow_the_column_order_of_classes() -> None:
    y01, pred01, score = _binary_data(seed=44)
    names = np.array(["no", "yes"])
    y, pred = names[y01], names[pred01]
    columns = np.column_stack((score, 1.0 - score))  # column 0 is "yes", column 1 is "no"
    result = classification_metrics(
        y, pred, scores=columns, probabilities=columns, classes=["yes", "no"]
    )
    # sklearn orders columns alphabetically, so it gets them swapped back; rtol=1e-12
    assert result.roc_auc == pytest.approx(metrics.roc_auc_score(y, score), rel=RTOL)
    assert result.log_loss == pytest.approx(metrics.log_loss(y, columns[:, ::-1]), rel=RTOL)
    _assert_binary_matches_sklearn(result, y, pred, pos_label="yes")


def test_roc_auc_matches_sklearn_when_scores_are_heavily_tied() -> None:
    y, pred, score = _binary_data(seed=45)
    tied = np.round(score, 1)  # 11 distinct values over 2,000 records
    result = classification_metrics(y, pred, scores=tied)
    # sklearn.metrics.roc_auc_score (trapezoid over distinct thresholds), rtol=1e-12
    assert result.roc_auc == pytest.approx(metrics.roc_auc_score(y, tied), rel=RTOL)


def test_roc_auc_is_one_half_when_every_score_is_equal() -> None:
    result = classification_metrics([0, 1, 1, 0, 1], [0, 1, 0, 0, 1], scores=[0.3] * 5)
    assert result.roc_auc == 0.5  # every positive-negative pair tied: U = n+ n- / 2


def test_log_loss_clips_a_zero_probability_for_the_true_class_like_sklearn() -> None:
    y = np.array([1, 0, 1, 0])
    proba = np.array([0.0, 0.0, 1.0, 1.0])  # two certain mistakes, two certain hits
    result = classification_metrics(y, (proba >= 0.5).astype(int), probabilities=proba)
    # sklearn.metrics.log_loss clips to [eps, 1 - eps]: loss = -(2 ln eps + 2 ln(1 - eps)) / 4
    eps = np.finfo(np.float64).eps
    closed_form = -(2.0 * math.log(eps) + 2.0 * math.log1p(-eps)) / 4.0
    assert result.log_loss == pytest.approx(closed_form, rel=RTOL)
    assert result.log_loss == pytest.approx(metrics.log_loss(y, proba), rel=RTOL)


# classification_metrics: more than two classes


def test_multiclass_macro_metrics_match_sklearn_with_four_classes() -> None:
    y, pred, proba = _multiclass_data(seed=46)
    result = classification_metrics(y, pred, scores=proba, probabilities=proba)
    # sklearn.metrics.*_score(average="macro", zero_division=0), rtol=1e-12
    assert result.accuracy == pytest.approx(metrics.accuracy_score(y, pred), rel=RTOL)
    assert result.precision == pytest.approx(
        metrics.precision_score(y, pred, average="macro", zero_division=0), rel=RTOL
    )
    assert result.recall == pytest.approx(
        metrics.recall_score(y, pred, average="macro", zero_division=0), rel=RTOL
    )
    assert result.f1 == pytest.approx(
        metrics.f1_score(y, pred, average="macro", zero_division=0), rel=RTOL
    )
    # roc_auc_score(multi_class="ovr", average="macro") and log_loss, rtol=1e-12
    expected_auc = metrics.roc_auc_score(y, proba, multi_class="ovr", average="macro")
    assert result.roc_auc == pytest.approx(expected_auc, rel=RTOL)
    assert result.log_loss == pytest.approx(metrics.log_loss(y, proba), rel=RTOL)


def test_multiclass_string_labels_use_the_column_order_of_classes() -> None:
    y_codes, pred_codes, proba = _multiclass_data(seed=47)
    names = np.array(["dog", "cat", "owl", "ant"])  # column j of proba is names[j]
    y, pred = names[y_codes], names[pred_codes]
    result = classification_metrics(
        y, pred, scores=proba, probabilities=proba, classes=names.tolist()
    )
    order = np.argsort(names)  # sklearn's alphabetical column order
    expected_auc = metrics.roc_auc_score(y, proba[:, order], multi_class="ovr")
    # rtol=1e-12 against sklearn on the reordered columns
    assert result.roc_auc == pytest.approx(expected_auc, rel=RTOL)
    assert result.log_loss == pytest.approx(metrics.log_loss(y, proba[:, order]), rel=RTOL)
    assert result.f1 == pytest.approx(
        metrics.f1_score(y, pred, average="macro", zero_division=0), rel=RTOL
    )


def test_multiclass_macro_average_leaves_out_a_class_absent_from_the_window() -> None:
    y, pred, _ = _multiclass_data(seed=48)
    keep = (y != 3) & (pred != 3)
    result = classification_metrics(y[keep], pred[keep], classes=[0, 1, 2, 3])
    # sklearn's default labels are those in y_true or y_pred: class 3 is not averaged in
    expected = metrics.precision_score(y[keep], pred[keep], average="macro", zero_division=0)
    assert result.precision == pytest.approx(expected, rel=RTOL)


def test_multiclass_precision_counts_a_never_predicted_class_as_zero() -> None:
    # Class 2 occurs but is never predicted: its precision is 0 / 0 -> 0 (zero_division=0).
    y = np.array([0, 1, 2, 2, 1, 0])
    pred = np.array([0, 1, 1, 0, 1, 0])
    result = classification_metrics(y, pred)
    # precisions (2/3, 2/3, 0), recalls (1, 1, 0): closed form and sklearn
    assert result.precision == pytest.approx(4.0 / 9.0, rel=RTOL)
    assert result.recall == pytest.approx(2.0 / 3.0, rel=RTOL)
    assert result.precision == pytest.approx(
        metrics.precision_score(y, pred, average="macro", zero_division=0), rel=RTOL
    )


# classification_metrics: edge cases


def test_one_class_window_has_no_roc_auc_and_zero_precision_for_an_absent_positive() -> None:
    y = np.zeros(50, dtype=int)
    pred = np.zeros(50, dtype=int)
    score = np.linspace(0.0, 0.4, 50)
    result = classification_metrics(y, pred, scores=score, probabilities=score, classes=[0, 1])
    assert result.roc_auc is None  # no positive-negative pair to rank
    assert result.accuracy == 1.0
    # precision_score(pos_label=1, zero_division=0) with no predicted and no actual positive
    assert (result.precision, result.recall, result.f1) == (0.0, 0.0, 0.0)
    _assert_binary_matches_sklearn(result, y, pred, pos_label=1)
    # log_loss(labels=[0, 1]), rtol=1e-12
    expected_loss = metrics.log_loss(y, score, labels=[0, 1])
    assert result.log_loss == pytest.approx(expected_loss, rel=RTOL)


def test_positive_alone_makes_a_one_class_window_binary() -> None:
    result = classification_metrics([0, 0, 0], [0, 0, 1], positive=1)
    # FP = 1, TP = 0: precision 0 / 1, recall 0 / 0 -> 0, F1 0 / 1
    assert result.accuracy == pytest.approx(2.0 / 3.0, rel=RTOL)
    assert (result.precision, result.recall, result.f1) == (0.0, 0.0, 0.0)


def test_roc_auc_is_none_when_y_true_holds_one_class_but_y_pred_two() -> None:
    result = classification_metrics([1, 1, 1], [1, 0, 1], scores=[0.9, 0.2, 0.7])
    assert result.roc_auc is None


def test_all_correct_predictions_score_one() -> None:
    y, _, _ = _binary_data(seed=49, n=200)
    result = classification_metrics(y, y, scores=y.astype(float))
    assert (result.accuracy, result.precision, result.recall, result.f1) == (1.0, 1.0, 1.0, 1.0)
    assert result.roc_auc == 1.0


def test_all_wrong_predictions_score_zero() -> None:
    y, _, _ = _binary_data(seed=50, n=200)
    result = classification_metrics(y, 1 - y, scores=(1 - y).astype(float))
    assert (result.accuracy, result.precision, result.recall, result.f1) == (0.0, 0.0, 0.0, 0.0)
    assert result.roc_auc == 0.0


def test_one_record_gives_exact_metrics() -> None:
    result = classification_metrics(["yes"], ["yes"], probabilities=[0.8], classes=["no", "yes"])
    assert (result.accuracy, result.precision, result.recall, result.f1) == (1.0, 1.0, 1.0, 1.0)
    assert result.log_loss == pytest.approx(-math.log(0.8), rel=RTOL)  # closed form
    assert result.labels == 1


def test_one_observed_label_without_classes_is_taken_as_the_positive_class() -> None:
    result = classification_metrics(["no", "no"], ["no", "no"])
    assert (result.precision, result.recall) == (1.0, 1.0)  # documented guess; pass classes


@pytest.mark.parametrize(
    ("y_true", "y_pred", "kwargs", "message"),
    [
        ([], [], {}, "non-empty"),
        ([0, 1], [0], {}, "same length, got 2 and 1"),
        ([0, 1], ["a", "b"], {}, "both be numeric or both be strings"),
        ([0, 2], [0, 1], {"classes": [0, 1]}, "label 2 is not among classes"),
        ([0, 1, 2], [0, 1, 2], {"positive": 1}, "positive applies to two classes"),
        ([0, 1], [0, 1], {"probabilities": [0.5, 1.5]}, r"in \[0, 1\]"),
        ([0, 1], [0, 1], {"scores": [0.5, 0.1, 0.2]}, r"shape \(2,\)"),
        ([0, 1, 2], [0, 1, 2], {"scores": [0.1, 0.2, 0.3]}, r"shape \(3, 3\)"),
        ([0.0, math.nan], [0.0, 1.0], {}, r"y_true\[1\] is nan"),
        ([0, 1], [0, 1], {"classes": [0, 1, 1]}, "must not repeat"),
    ],
)
def test_classification_metrics_rejects_invalid_input(
    y_true: list[object], y_pred: list[object], kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        classification_metrics(y_true, y_pred, **kwargs)  # type: ignore[arg-type]


def test_the_module_does_not_import_scikit_learn() -> None:
    code = "import sys, exporter.stats.performance; print('sklearn' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# regression_metrics


def test_regression_metrics_match_sklearn_on_targets_without_zeros() -> None:
    rng = np.random.default_rng(51)
    y = rng.lognormal(3.0, 0.5, size=5_000)
    pred = y * rng.normal(1.0, 0.1, size=5_000) + rng.normal(0.0, 2.0, size=5_000)
    result = regression_metrics(y, pred)
    # sklearn.metrics.mean_absolute_error / mean_squared_error / root_mean_squared_error /
    # mean_absolute_percentage_error, rtol=1e-12
    assert result.mae == pytest.approx(metrics.mean_absolute_error(y, pred), rel=RTOL)
    assert result.mse == pytest.approx(metrics.mean_squared_error(y, pred), rel=RTOL)
    assert result.rmse == pytest.approx(metrics.root_mean_squared_error(y, pred), rel=RTOL)
    assert result.mape == pytest.approx(metrics.mean_absolute_percentage_error(y, pred), rel=RTOL)
    assert result.labels == 5_000


def test_mape_leaves_out_zero_targets_where_sklearn_divides_by_epsilon() -> None:
    y = np.array([0.0, 10.0, 0.0, 4.0, -5.0])
    pred = np.array([1.0, 12.0, -3.0, 3.0, -5.5])
    result = regression_metrics(y, pred)
    # closed form over the nonzero targets: (2/10 + 1/4 + 0.5/5) / 3
    assert result.mape == pytest.approx((0.2 + 0.25 + 0.1) / 3.0, rel=RTOL)
    assert metrics.mean_absolute_percentage_error(y, pred) > 1e15  # sklearn: 4 / eps / 5
    # zero targets still count in the other metrics: errors (1, 2, 3, 1, 0.5)
    assert result.mae == pytest.approx(7.5 / 5.0, rel=RTOL)
    assert result.mse == pytest.approx((1 + 4 + 9 + 1 + 0.25) / 5.0, rel=RTOL)


def test_mape_is_none_when_every_target_is_zero() -> None:
    result = regression_metrics([0.0, 0.0, 0.0], [0.5, -1.0, 0.0])
    assert result.mape is None
    assert result.mae == pytest.approx(0.5, rel=RTOL)


def test_regression_metrics_are_zero_for_perfect_predictions() -> None:
    result = regression_metrics([1.0, -2.0, 3.5], [1.0, -2.0, 3.5])
    assert result == (0.0, 0.0, 0.0, 0.0, 3)


def test_regression_metrics_of_one_record() -> None:
    result = regression_metrics([4.0], [1.0])
    assert result == (3.0, 9.0, 3.0, 0.75, 1)  # closed form


@pytest.mark.parametrize(
    ("y_true", "y_pred", "message"),
    [
        ([], [], "non-empty"),
        ([1.0, 2.0], [1.0], "same length, got 2 and 1"),
        ([1.0, math.inf], [1.0, 2.0], r"y_true\[1\] is inf"),
        (["a"], ["b"], "real numbers"),
    ],
)
def test_regression_metrics_rejects_invalid_input(
    y_true: list[object], y_pred: list[object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        regression_metrics(y_true, y_pred)  # type: ignore[arg-type]


# per_record_error


def test_classification_errors_are_zero_one_and_average_to_one_minus_accuracy() -> None:
    y, pred, _ = _multiclass_data(seed=52)
    errors = per_record_error(y, pred, task="classification")
    assert errors.dtype == np.float64
    assert set(np.unique(errors)) <= {0.0, 1.0}
    np.testing.assert_array_equal(errors, (y != pred).astype(float))
    # 1 - sklearn.metrics.accuracy_score, rtol=1e-12
    assert errors.mean() == pytest.approx(1.0 - metrics.accuracy_score(y, pred), rel=RTOL)


def test_regression_errors_are_absolute_and_average_to_the_mae() -> None:
    rng = np.random.default_rng(53)
    y = rng.normal(size=1_000)
    pred = y + rng.normal(0.0, 0.3, size=1_000)
    errors = per_record_error(y, pred, task="regression")
    np.testing.assert_array_equal(errors, np.abs(y - pred))
    # sklearn.metrics.mean_absolute_error, rtol=1e-12
    assert errors.mean() == pytest.approx(metrics.mean_absolute_error(y, pred), rel=RTOL)


def test_per_record_error_rejects_an_unknown_task() -> None:
    with pytest.raises(ValueError, match="task must be"):
        per_record_error([1], [1], task="ranking")  # type: ignore[arg-type]
