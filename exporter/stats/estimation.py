"""Confidence-based performance estimation (CBPE) of a binary classifier without labels.

Labels arrive hours after predictions, or never. CBPE (as in NannyML) estimates the metrics
of a window from the model's scores alone: an isotonic map fitted on the labelled reference
turns each score into a calibrated :math:`\\hat p = P(y = 1 \\mid s)`, and each metric is
replaced by its expectation with :math:`y_i \\sim \\mathrm{Bernoulli}(\\hat p_i)`.

The estimate is right when the calibration learnt on the reference still holds, i.e. when
:math:`P(y \\mid s)` is unchanged and only the distribution of the inputs (hence of the
scores) moves: covariate shift. It cannot see concept drift, a change of
:math:`P(y \\mid x)` at fixed inputs, because nothing it reads changes; the realised metrics
of :mod:`exporter.stats.performance` and the error-stream detectors of
:mod:`exporter.truth.concept` cover that case once labels arrive.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import isotonic_regression  # type: ignore[import-untyped, unused-ignore]

from exporter.stats.validation import as_sample, check_same_length

__all__ = [
    "Calibration",
    "calibrate",
    "estimated_accuracy",
    "estimated_accuracy_stderr",
    "estimated_roc_auc",
    "fit_calibration",
]


class Calibration(NamedTuple):
    """A monotone map from score to calibrated probability, linear between knots.

    Knots are kept only where the fitted value changes (both ends of every flat run), so the
    map is typically a few hundred points however large the reference was.
    """

    thresholds: NDArray[np.float64]
    """Scores of the knots, strictly increasing."""
    values: NDArray[np.float64]
    """Calibrated P(y = 1) at each knot, non-decreasing, in [0, 1]."""


def _as_binary_labels(x: ArrayLike, name: str) -> NDArray[np.float64]:
    labels = as_sample(x, name)
    binary = (labels == 0.0) | (labels == 1.0)
    if not binary.all():
        bad = int(np.argmin(binary))
        raise ValueError(f"{name} must be 0 or 1, but {name}[{bad}] is {labels[bad]}")
    return labels


def _as_window(scores: ArrayLike) -> NDArray[np.float64]:
    window = as_sample(scores, "scores")
    if window.shape[0] == 0:
        raise ValueError("scores must be non-empty")
    return window


def fit_calibration(reference_scores: ArrayLike, reference_labels_binary: ArrayLike) -> Calibration:
    r"""Fit the isotonic regression of the 0/1 label on the score over the reference.

    .. math::

        \hat p = \operatorname*{argmin}_{p \text{ non-decreasing in } s}
            \sum_i (y_i - p(s_i))^2

    solved by the pool-adjacent-violators algorithm of
    ``scipy.optimize.isotonic_regression`` on the mean label of each distinct score, weighted
    by how often the score occurs. Between knots the map is linear and beyond the ends it is
    constant: the same function as ``sklearn.isotonic.IsotonicRegression(out_of_bounds="clip")``.
    Isotonic rather than Platt scaling because it assumes nothing about the shape of the
    miscalibration, only that a higher score never means a lower probability.

    Parameters
    ----------
    reference_scores : array_like
        The model's scores on the reference, finite, any order.
    reference_labels_binary : array_like
        The true labels of the same records as 0/1 (1 = the positive class).

    Returns
    -------
    Calibration
        ``(thresholds, values)``.

    Raises
    ------
    ValueError
        If the inputs are empty, of different lengths or not finite, or a label is not 0/1.

    Examples
    --------
    The violating pair at 0.4 and 0.6 (labels 1, 0) is pooled to 1/2:

    >>> c = fit_calibration([0.1, 0.4, 0.6, 0.9], [0, 1, 0, 1])
    >>> c.thresholds.tolist(), c.values.tolist()
    ([0.1, 0.4, 0.6, 0.9], [0.0, 0.5, 0.5, 1.0])
    """
    scores = as_sample(reference_scores, "reference_scores")
    labels = _as_binary_labels(reference_labels_binary, "reference_labels_binary")
    check_same_length(scores, labels, "reference_scores", "reference_labels_binary")
    if scores.shape[0] == 0:
        raise ValueError("reference_scores and reference_labels_binary must be non-empty")
    knots, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    mean_label = np.bincount(inverse, weights=labels) / counts
    fitted = np.asarray(
        isotonic_regression(mean_label, weights=counts.astype(np.float64)).x, dtype=np.float64
    )
    fitted = np.clip(fitted, 0.0, 1.0)
    # Inside a flat run only its two ends matter to linear interpolation.
    keep = np.ones(knots.shape[0], dtype=bool)
    keep[1:-1] = (fitted[1:-1] != fitted[:-2]) | (fitted[1:-1] != fitted[2:])
    return Calibration(knots[keep], fitted[keep])


def calibrate(calibration: Calibration, scores: ArrayLike) -> NDArray[np.float64]:
    r"""Map scores to calibrated probabilities :math:`\hat p = P(y = 1 \mid s)`.

    Linear interpolation between the knots of ``calibration``; a score outside the reference's
    range gets the value of the nearest end (``np.interp``), clipped to [0, 1].

    Parameters
    ----------
    calibration : Calibration
        From :func:`fit_calibration`.
    scores : array_like
        Scores to map, finite; may be empty.

    Returns
    -------
    ndarray of float64
        One probability per score.

    Examples
    --------
    >>> c = fit_calibration([0.1, 0.4, 0.6, 0.9], [0, 1, 0, 1])
    >>> calibrate(c, [0.0, 0.25, 0.5, 0.75, 1.0])
    array([0.  , 0.25, 0.5 , 0.75, 1.  ])
    """
    window = as_sample(scores, "scores")
    mapped = np.interp(window, calibration.thresholds, calibration.values)
    clipped: NDArray[np.float64] = np.clip(mapped, 0.0, 1.0)
    return clipped


def estimated_accuracy(
    calibration: Calibration, scores: ArrayLike, threshold: float = 0.5
) -> float:
    r"""Expected accuracy of the thresholded predictions under the calibrated probabilities.

    .. math::

        \widehat{\mathrm{acc}} = \frac1n \sum_i
            \begin{cases} \hat p_i & s_i \ge t \\ 1 - \hat p_i & s_i < t \end{cases}

    where :math:`\hat p_i` is :func:`calibrate` of score :math:`s_i` and :math:`t` the
    decision threshold: the probability that each prediction is right, averaged. Valid under
    covariate shift; blind to concept drift (see the module docstring).

    Parameters
    ----------
    calibration : Calibration
        From :func:`fit_calibration` on the reference.
    scores : array_like
        The window's scores, finite, non-empty.
    threshold : float, default 0.5
        The model predicts the positive class when ``score >= threshold``.

    Returns
    -------
    float
        Estimated accuracy in [0, 1].

    Raises
    ------
    ValueError
        If ``scores`` is empty or not finite.

    Examples
    --------
    >>> c = fit_calibration([0.1, 0.4, 0.6, 0.9], [0, 1, 0, 1])
    >>> estimated_accuracy(c, [0.1, 0.9, 0.6])  # (1 - 0) + 1 + 0.5, over 3
    0.8333333333333334
    """
    window = _as_window(scores)
    p = calibrate(calibration, window)
    return float(np.where(window >= threshold, p, 1.0 - p).mean())


def estimated_accuracy_stderr(
    calibration: Calibration, scores: ArrayLike, threshold: float = 0.5
) -> float:
    r"""Sampling standard error of the window's realised accuracy around its CBPE estimate.

    .. math::

        \mathrm{se} = \frac1n \sqrt{\sum_i c_i (1 - c_i)}

    where :math:`c_i` is the probability that prediction :math:`i` is right
    (:func:`estimated_accuracy`'s terms): given the scores, the realised accuracy is a mean of
    independent Bernoulli(:math:`c_i`) outcomes, whose standard deviation this is. A drop of
    the estimate below the reference's accuracy is beyond sampling error when it exceeds a few
    of these (combined with the reference's own error), not before.

    >>> c = fit_calibration([0.1, 0.4, 0.6, 0.9], [0, 1, 0, 1])
    >>> estimated_accuracy_stderr(c, [0.1, 0.9, 0.6])  # sqrt(0 + 0 + 0.25) / 3
    0.16666666666666666
    """
    window = _as_window(scores)
    p = calibrate(calibration, window)
    right = np.where(window >= threshold, p, 1.0 - p)
    return float(math.sqrt(float((right * (1.0 - right)).sum())) / len(window))


def estimated_roc_auc(calibration: Calibration, scores: ArrayLike) -> float:
    r"""Expected ROC AUC of the window's scores under the calibrated probabilities.

    CBPE's construction: treat :math:`\hat p_i` as :math:`P(y_i = 1)`, so at threshold
    :math:`t` the expected true and false positives are
    :math:`\sum_{s_i \ge t} \hat p_i` and :math:`\sum_{s_i \ge t} (1 - \hat p_i)`; the area
    under the resulting expected ROC curve is the expected Mann-Whitney statistic over
    ordered pairs of distinct records,

    .. math::

        \widehat{\mathrm{AUC}} =
            \frac{\sum_{i \ne j} \hat p_i (1 - \hat p_j) \, H(s_i - s_j)}
                 {\sum_{i \ne j} \hat p_i (1 - \hat p_j)},
        \qquad H(d) = [d > 0] + \tfrac12 [d = 0]

    i.e. the expected number of correctly ordered positive-negative pairs over the expected
    number of such pairs. Including :math:`i = j` would give exactly the trapezoidal area
    of the expected TPR/FPR curve (NannyML's form); those self-pairs are no pair of a real
    window, and dropping them changes the value by :math:`O(1/n)`. Ranking by the raw score
    or by :math:`\hat p` gives the same value, since :math:`\hat p` is constant wherever the
    monotone map ties scores. Computed in :math:`O(n \log n)` from one sort.

    Parameters
    ----------
    calibration : Calibration
        From :func:`fit_calibration` on the reference.
    scores : array_like
        The window's scores, finite, non-empty.

    Returns
    -------
    float
        Estimated AUC in [0, 1], or ``nan`` if the expected number of positive-negative
        pairs is 0 (one record, or every :math:`\hat p` is 0, or every one is 1).

    Raises
    ------
    ValueError
        If ``scores`` is empty or not finite.

    Examples
    --------
    Calibrated :math:`\hat p = (0.5, 0.5, 1)`: the pairs (0.9 over 0.4) and (0.9 over 0.6)
    are expected 0.5 + 0.5 correctly ordered positive-negative pairs, (0.6 over 0.4) 0.25 and
    (0.4 over 0.6) 0 of 0.25 expected; 1.25 of 1.5 in all:

    >>> c = fit_calibration([0.1, 0.4, 0.6, 0.9], [0, 1, 0, 1])
    >>> round(estimated_roc_auc(c, [0.4, 0.6, 0.9]), 6)
    0.833333
    >>> estimated_roc_auc(c, [0.95, 0.99])  # both certainly positive: no pair to rank
    nan
    """
    window = _as_window(scores)
    p = calibrate(calibration, window)
    q = 1.0 - p
    pairs = _expected_pairs(p, q)
    if pairs <= 0.0:
        return math.nan
    return min(max(_expected_ordered_pairs(window, p, q) / pairs, 0.0), 1.0)


def _expected_pairs(p: NDArray[np.float64], q: NDArray[np.float64]) -> float:
    r"""Expected positive-negative pairs of distinct records, :math:`\sum_{i \ne j} p_i q_j`."""
    return float(p.sum()) * float(q.sum()) - float(np.dot(p, q))


def _expected_ordered_pairs(
    window: NDArray[np.float64], p: NDArray[np.float64], q: NDArray[np.float64]
) -> float:
    r""":math:`\sum_{i \ne j} p_i q_j H(s_i - s_j)` from one sort of the scores ``window``.

    Within a run of tied scores every pair of distinct records counts 1/2; across runs, a
    record's :math:`p` meets the :math:`q` of every record in the runs below it.
    """
    order = np.argsort(window, kind="stable")
    sorted_scores = window[order]
    # Runs of tied scores: sums of p, q and p q per run, and q summed over earlier runs.
    starts = np.flatnonzero(np.r_[True, sorted_scores[1:] != sorted_scores[:-1]])
    p_run = np.add.reduceat(p[order], starts)
    q_run = np.add.reduceat(q[order], starts)
    pq_run = np.add.reduceat((p * q)[order], starts)
    q_below = np.cumsum(q_run) - q_run
    return float(np.dot(p_run, q_below)) + 0.5 * float((p_run * q_run - pq_run).sum())
