"""CBPE: the calibration map against sklearn, the estimators against closed forms, and the
estimates against realised metrics on synthetic data where the true labels are known."""

from __future__ import annotations

import functools
import itertools
import math
from typing import NamedTuple

import numpy as np
import pytest
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import roc_auc_score

from exporter.stats.estimation import (
    Calibration,
    calibrate,
    estimated_accuracy,
    estimated_roc_auc,
    fit_calibration,
)

# The synthetic model: true P(y = 1 | x) = sigmoid(W x); the model reports sigmoid(2 W x), an
# overconfident score with the right ranking. Only x moves between reference and windows
# (covariate shift), so P(y | score) is the same everywhere: the CBPE assumption holds.
W = 1.5
REFERENCE_ROWS = 20_000
WINDOW_ROWS = 2_000
WINDOWS_PER_SHIFT = 50
SHIFTS = (0.0, 0.5, 1.0, 1.5)  # mean of x in the window, in reference standard deviations


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def _draw(rng: np.random.Generator, n: int, shift: float) -> tuple[np.ndarray, np.ndarray]:
    """Scores and true 0/1 labels of n records with x ~ N(shift, 1)."""
    x = rng.normal(shift, 1.0, size=n)
    labels = (rng.random(n) < _sigmoid(W * x)).astype(float)
    return _sigmoid(2.0 * W * x), labels


def _realised_accuracy(scores: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean((scores >= 0.5) == (labels == 1.0)))


class _Tracking(NamedTuple):
    accuracy_errors: np.ndarray  # estimated - realised, one per window
    auc_errors: np.ndarray
    naive_accuracy_errors: np.ndarray  # the raw score taken as the probability


@functools.cache  # shared by the tracking tests; pure function of the seeds
def _track(shift: float) -> _Tracking:
    calibration = fit_calibration(*_draw(np.random.default_rng(2024), REFERENCE_ROWS, 0.0))
    rng = np.random.default_rng([2025, int(shift * 10)])
    accuracy, auc, naive = [], [], []
    for _ in range(WINDOWS_PER_SHIFT):
        scores, labels = _draw(rng, WINDOW_ROWS, shift)
        realised = _realised_accuracy(scores, labels)
        accuracy.append(estimated_accuracy(calibration, scores) - realised)
        auc.append(estimated_roc_auc(calibration, scores) - roc_auc_score(labels, scores))
        naive.append(float(np.mean(np.where(scores >= 0.5, scores, 1.0 - scores))) - realised)
    return _Tracking(np.array(accuracy), np.array(auc), np.array(naive))


# fit_calibration and calibrate


def test_calibration_equals_sklearn_isotonic_regression_with_clipped_ends() -> None:
    rng = np.random.default_rng(61)
    scores, labels = _draw(rng, 5_000, 0.0)
    scores = np.round(scores, 3)  # ties: several records per distinct score
    calibration = fit_calibration(scores, labels)
    grid = np.concatenate(([-1.0, 0.0], rng.random(2_000), np.unique(scores), [1.0, 2.0]))
    reference = IsotonicRegression(out_of_bounds="clip").fit(scores, labels)
    # sklearn.isotonic.IsotonicRegression(out_of_bounds="clip").predict, atol=1e-12
    np.testing.assert_allclose(calibrate(calibration, grid), reference.predict(grid), atol=1e-12)


def test_calibration_keeps_only_the_knots_where_the_map_bends() -> None:
    calibration = fit_calibration(*_draw(np.random.default_rng(62), REFERENCE_ROWS, 0.0))
    assert np.all(np.diff(calibration.thresholds) > 0.0)
    assert np.all(np.diff(calibration.values) >= 0.0)
    assert calibration.values[0] >= 0.0 and calibration.values[-1] <= 1.0
    # 20,000 reference rows; measured 96 knots (seed 62), 132 (seed 2024)
    assert calibration.thresholds.size < 500


def test_calibration_of_a_single_distinct_score_is_the_positive_rate() -> None:
    calibration = fit_calibration([0.7, 0.7, 0.7, 0.7], [1, 0, 1, 1])
    np.testing.assert_array_equal(calibrate(calibration, [0.0, 0.7, 1.0]), [0.75, 0.75, 0.75])


@pytest.mark.parametrize(
    ("scores", "labels", "message"),
    [
        ([], [], "non-empty"),
        ([0.1, 0.2], [0], "same length, got 2 and 1"),
        ([0.1, 0.2], [0, 2], r"reference_labels_binary\[1\] is 2.0"),
        ([0.1, math.nan], [0, 1], r"reference_scores\[1\] is nan"),
    ],
)
def test_fit_calibration_rejects_invalid_input(
    scores: list[float], labels: list[int], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        fit_calibration(scores, labels)


# estimated_accuracy and estimated_roc_auc: closed forms


def test_estimated_accuracy_is_the_mean_probability_of_being_right() -> None:
    calibration = Calibration(np.array([0.0, 1.0]), np.array([0.0, 1.0]))  # the identity map
    scores = np.array([0.9, 0.6, 0.5, 0.2, 0.1])
    # closed form: predictions 1, 1, 1, 0, 0 are right with probability .9, .6, .5, .8, .9
    assert estimated_accuracy(calibration, scores) == pytest.approx(3.7 / 5.0, rel=1e-12)
    # threshold 0.7: predictions 1, 0, 0, 0, 0 are right with .9, .4, .5, .8, .9
    assert estimated_accuracy(calibration, scores, threshold=0.7) == pytest.approx(
        3.5 / 5.0, rel=1e-12
    )


def test_estimates_equal_the_realised_metrics_when_calibrated_labels_are_certain() -> None:
    # A separable reference calibrates to p in {0, 1}: the expected metrics are those of the
    # labels y = p, realised exactly.
    calibration = fit_calibration([0.1, 0.2, 0.3, 0.6, 0.7, 0.8], [0, 0, 0, 1, 1, 1])
    scores = np.array([0.05, 0.15, 0.25, 0.65, 0.75, 0.9, 0.2, 0.7])
    labels = calibrate(calibration, scores)
    assert set(labels.tolist()) == {0.0, 1.0}
    assert estimated_accuracy(calibration, scores) == _realised_accuracy(scores, labels)
    assert estimated_roc_auc(calibration, scores) == roc_auc_score(labels, scores)  # both 1.0


def _brute_force_expected_auc(scores: np.ndarray, p: np.ndarray) -> float:
    """The documented formula, term by term over ordered pairs of distinct records."""
    numerator = denominator = 0.0
    for i, j in itertools.permutations(range(scores.size), 2):
        weight = p[i] * (1.0 - p[j])
        step = 1.0 if scores[i] > scores[j] else 0.5 if scores[i] == scores[j] else 0.0
        numerator += weight * step
        denominator += weight
    return numerator / denominator


def test_estimated_roc_auc_matches_the_pairwise_formula_with_tied_scores() -> None:
    rng = np.random.default_rng(63)
    calibration = fit_calibration(*_draw(rng, 2_000, 0.0))
    scores = np.round(rng.random(60), 1)  # 11 distinct values: many ties
    p = calibrate(calibration, scores)
    # O(n^2) evaluation of the docstring formula, rtol=1e-12
    expected = _brute_force_expected_auc(scores, p)
    assert estimated_roc_auc(calibration, scores) == pytest.approx(expected, rel=1e-12)


def test_estimated_roc_auc_is_nannymls_trapezoid_minus_the_self_pairs() -> None:
    # The area under the expected ROC curve (NannyML's CBPE) is a weighted AUC: each record
    # counted as a positive with weight p and a negative with weight 1 - p
    # (sklearn.metrics.roc_auc_score with sample_weight). It includes each record paired with
    # itself, a tie worth p (1 - p) / 2; removing those gives this estimator exactly.
    rng = np.random.default_rng(64)
    calibration = fit_calibration(*_draw(rng, 5_000, 0.0))
    scores, _ = _draw(rng, 500, 0.5)
    p = calibrate(calibration, scores)
    q = 1.0 - p
    trapezoid = roc_auc_score(
        np.r_[np.ones(500), np.zeros(500)], np.r_[scores, scores], sample_weight=np.r_[p, q]
    )
    all_pairs = p.sum() * q.sum()
    self_pairs = float(np.dot(p, q))
    expected = (trapezoid * all_pairs - 0.5 * self_pairs) / (all_pairs - self_pairs)
    # identity above, rtol=1e-12; and the self-pairs move the value by O(1/n)
    assert estimated_roc_auc(calibration, scores) == pytest.approx(expected, rel=1e-12)
    assert abs(estimated_roc_auc(calibration, scores) - trapezoid) < 1e-3


def test_estimated_roc_auc_is_nan_without_an_expected_positive_negative_pair() -> None:
    calibration = Calibration(np.array([0.0, 1.0]), np.array([0.0, 1.0]))
    assert math.isnan(estimated_roc_auc(calibration, [0.4]))  # one record
    assert math.isnan(estimated_roc_auc(calibration, [1.0, 1.0, 1.0]))  # certainly positive


@pytest.mark.parametrize("estimator", [estimated_accuracy, estimated_roc_auc])
def test_estimators_reject_an_empty_window(estimator: object) -> None:
    calibration = Calibration(np.array([0.0, 1.0]), np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="scores must be non-empty"):
        estimator(calibration, [])  # type: ignore[operator]


# Validation: estimates track realised metrics under covariate shift.
# Measured with this setup (reference seed 2024; 50 windows of 2,000 per shift, window seeds
# [2025, 10 * shift]), |estimated - realised|, mean / max over the 50 windows:
#   shift   accuracy          (oracle)          ROC AUC           (oracle)
#   0.0     0.0110 / 0.0308   0.0086 / 0.0243   0.0107 / 0.0246   0.0079 / 0.0198
#   0.5     0.0092 / 0.0293   0.0080 / 0.0240   0.0101 / 0.0296   0.0069 / 0.0218
#   1.0     0.0076 / 0.0196   0.0070 / 0.0187   0.0098 / 0.0270   0.0074 / 0.0176
#   1.5     0.0062 / 0.0237   0.0055 / 0.0185   0.0123 / 0.0346   0.0082 / 0.0259
# "oracle" is the same estimator given the true P(y | x): its error is the labels' own noise
# (a window of 2,000 realises variance sum p (1 - p) / n^2, sd about 0.009), a floor no
# estimator beats. The rest is the calibration's sampling error on 20,000 reference rows:
# mean signed accuracy error +0.008 / +0.006 / +0.005 / +0.004 here; over 100 reference
# seeds its 99th percentile is 0.003 to 0.010 (growing with the shift, as the windows move
# into the reference's sparse upper tail). The bounds below leave that margin.


@pytest.mark.parametrize("shift", SHIFTS)
def test_estimated_accuracy_tracks_realised_accuracy_under_covariate_shift(shift: float) -> None:
    errors = _track(shift).accuracy_errors
    assert np.abs(errors).mean() <= 0.015
    assert np.abs(errors).max() <= 0.04
    assert abs(errors.mean()) <= 0.012


@pytest.mark.parametrize("shift", SHIFTS)
def test_estimated_roc_auc_tracks_realised_roc_auc_under_covariate_shift(shift: float) -> None:
    errors = _track(shift).auc_errors
    assert np.abs(errors).mean() <= 0.02
    assert np.abs(errors).max() <= 0.05


def test_calibration_removes_the_bias_of_an_overconfident_score() -> None:
    # Read as probabilities, sigmoid(2 W x) overstates the chance of being right by 0.074 to
    # 0.104 (measured, shift 1.5 to 0); calibrated, the bias is at most 0.008.
    for shift in SHIFTS:
        tracking = _track(shift)
        assert tracking.naive_accuracy_errors.mean() >= 0.06
        assert abs(tracking.accuracy_errors.mean()) <= 0.012


def test_estimated_accuracy_does_not_see_concept_drift() -> None:
    # The known limitation: flip the labels of 30 % of a window (P(y | x) changes, x does
    # not). The realised accuracy falls by 0.3 (2 acc - 1), about 0.14; the estimate reads
    # only scores, so it does not move at all.
    calibration = fit_calibration(*_draw(np.random.default_rng(2024), REFERENCE_ROWS, 0.0))
    rng = np.random.default_rng(65)
    scores, labels = _draw(rng, WINDOW_ROWS, 0.0)
    flipped = labels.copy()
    drifted = rng.random(WINDOW_ROWS) < 0.3
    flipped[drifted] = 1.0 - flipped[drifted]
    estimate = estimated_accuracy(calibration, scores)
    before = _realised_accuracy(scores, labels)
    after = _realised_accuracy(scores, flipped)
    assert abs(estimate - before) <= 0.03  # tracks while the concept holds: measured 0.004
    assert before - after >= 0.1  # measured 0.142 (0.7425 -> 0.601)
    assert estimate - after >= 0.1  # the estimate misses the drop: measured 0.146
