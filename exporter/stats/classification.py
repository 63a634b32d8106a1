"""Realised classification performance on label-joined pairs: accuracy to log loss.

Each metric is a short closed form over the confusion counts or the score ranks, computed with
numpy and scipy alone (see :mod:`exporter.stats.performance` for why not scikit-learn); the
numbers equal the ``sklearn.metrics`` functions named in :func:`classification_metrics`.
Labels are categories: strings or numbers compared for equality, never averaged. Inputs are
validated here and invalid input raises ``ValueError`` naming the argument.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats  # type: ignore[import-untyped, unused-ignore]

__all__ = ["ClassificationMetrics", "classification_metrics", "label_pairs"]

# sklearn.metrics.log_loss clips probabilities to [eps, 1 - eps] with eps the float64 epsilon.
_EPS = float(np.finfo(np.float64).eps)
_NUMERIC_KINDS = frozenset("biuf")
_STRING_KINDS = frozenset("US")


class ClassificationMetrics(NamedTuple):
    """Realised classification performance over one window of label-joined pairs."""

    accuracy: float
    """Fraction of pairs with ``y_pred == y_true``, in [0, 1]."""
    precision: float
    """Positive-class precision (two classes) or macro-averaged precision, in [0, 1]."""
    recall: float
    """Positive-class recall (two classes) or macro-averaged recall, in [0, 1]."""
    f1: float
    """Positive-class F1 (two classes) or the mean of the per-class F1 scores, in [0, 1]."""
    roc_auc: float | None
    """Area under the ROC curve; ``None`` without scores or with one class in ``y_true``."""
    log_loss: float | None
    """Mean negative log-likelihood in nats; ``None`` without probabilities."""
    labels: int
    """How many (prediction, label) pairs the metrics cover."""


def _as_labels(x: ArrayLike, name: str) -> NDArray[np.generic]:
    """Return ``x`` as a 1-D array of numeric or string labels, or raise ``ValueError``.

    Object arrays (a pandas column of strings) are accepted when every element is a ``str``
    and converted to a fixed-width string array; float labels must be finite.
    """
    raw = np.asarray(x)
    if raw.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {raw.shape}")
    if raw.dtype.kind == "O":
        for position, value in enumerate(raw):
            if not isinstance(value, str):
                raise ValueError(
                    f"{name} must hold labels of one kind (numbers or strings), "
                    f"but {name}[{position}] is {value!r}"
                )
        return raw.astype(str)
    if raw.dtype.kind in _STRING_KINDS:
        return raw
    if raw.dtype.kind not in _NUMERIC_KINDS:
        raise ValueError(f"{name} must be numeric or string labels, got dtype {raw.dtype}")
    if raw.dtype.kind == "f":
        finite = np.isfinite(raw)
        if not finite.all():
            bad = int(np.argmin(finite))
            raise ValueError(f"{name} must be finite, but {name}[{bad}] is {raw[bad]}")
    return raw


def label_pairs(
    y_true: ArrayLike, y_pred: ArrayLike
) -> tuple[NDArray[np.generic], NDArray[np.generic]]:
    """Validate two label arrays of one kind and the same non-zero length."""
    true = _as_labels(y_true, "y_true")
    pred = _as_labels(y_pred, "y_pred")
    if (true.dtype.kind in _STRING_KINDS) != (pred.dtype.kind in _STRING_KINDS):
        raise ValueError(
            f"y_true and y_pred must both be numeric or both be strings, "
            f"got dtypes {true.dtype} and {pred.dtype}"
        )
    if true.shape[0] != pred.shape[0]:
        raise ValueError(
            f"y_true and y_pred must have the same length, got {true.shape[0]} and {pred.shape[0]}"
        )
    if true.shape[0] == 0:
        raise ValueError("y_true and y_pred must be non-empty")
    return true, pred


def _same_kind(labels: NDArray[np.generic], like: NDArray[np.generic], name: str) -> None:
    if (labels.dtype.kind in _STRING_KINDS) != (like.dtype.kind in _STRING_KINDS):
        raise ValueError(
            f"{name} must be the same kind of label as y_true (numbers or strings), "
            f"got dtype {labels.dtype}"
        )


def _probability_array(x: ArrayLike, name: str, n: int) -> NDArray[np.float64]:
    """Validate ``n`` probabilities (1-D) or ``n`` rows of them (2-D), each in [0, 1]."""
    raw = np.asarray(x)
    if raw.dtype.kind not in _NUMERIC_KINDS:
        raise ValueError(f"{name} must be real numbers, got dtype {raw.dtype}")
    if raw.ndim not in (1, 2) or raw.shape[0] != n:
        raise ValueError(f"{name} must have shape ({n},) or ({n}, k), got {raw.shape}")
    arr = raw.astype(np.float64, copy=False)
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} must be finite")
    return arr


def _binary_rates(tp: float, predicted: float, actual: float) -> tuple[float, float, float]:
    """Precision, recall, F1 of one class with scikit-learn's ``zero_division=0``.

    F1 is ``2 tp / (2 tp + fp + fn) = 2 tp / (predicted + actual)``, as scikit-learn >= 1.3
    computes it, so it is 0 rather than undefined when precision is.
    """
    precision = tp / predicted if predicted > 0 else 0.0
    recall = tp / actual if actual > 0 else 0.0
    f1 = 2.0 * tp / (predicted + actual) if predicted + actual > 0 else 0.0
    return precision, recall, f1


def _rank_auc(is_positive: NDArray[np.bool_], scores: NDArray[np.float64]) -> float | None:
    """ROC AUC from the Mann-Whitney U statistic of the positives' score ranks."""
    n_positive = int(is_positive.sum())
    n_negative = int(is_positive.shape[0]) - n_positive
    if n_positive == 0 or n_negative == 0:
        return None
    ranks = stats.rankdata(scores)  # average ranks: a tie counts 1/2, as in roc_auc_score
    rank_sum = float(ranks[is_positive].sum())
    return (rank_sum - n_positive * (n_positive + 1) / 2.0) / (n_positive * n_negative)


class _Classes(NamedTuple):
    """How the labels of one call are read: class set, column order, positive class."""

    universe: NDArray[np.generic]
    """Every label observed or declared, sorted; label codes index it."""
    column_codes: NDArray[np.intp]
    """Code of the class of each column of 2-D scores / probabilities."""
    binary: bool
    positive_code: int
    """Code of the positive class; -1 for multiclass."""


def _resolve_classes(
    true: NDArray[np.generic],
    pred: NDArray[np.generic],
    classes: ArrayLike | None,
    positive: str | float | None,
) -> _Classes:
    observed = np.unique(np.concatenate((true, pred)))
    column_order: NDArray[np.generic]
    if classes is not None:
        column_order = _as_labels(classes, "classes")
        _same_kind(column_order, true, "classes")
        if np.unique(column_order).shape[0] != column_order.shape[0]:
            raise ValueError("classes must not repeat a label")
        unknown = observed[~np.isin(observed, column_order)]
        if unknown.shape[0] > 0:
            raise ValueError(f"label {unknown.tolist()[0]!r} is not among classes")
        label_set = np.unique(column_order)
    else:
        label_set = observed
    if positive is not None:
        given = _as_labels([positive], "positive")
        _same_kind(given, true, "positive")
        if classes is not None and not np.isin(given, label_set).all():
            raise ValueError(f"positive {positive!r} is not among classes")
        label_set = np.union1d(label_set, given)
    binary = label_set.shape[0] <= 2
    if positive is not None and not binary:
        raise ValueError(
            f"positive applies to two classes, but there are {label_set.shape[0]}: "
            "multiclass metrics are macro averages"
        )
    if classes is None:
        column_order = label_set if binary else observed
    universe = np.union1d(observed, label_set)
    # The positive class: the given one, else the larger label (label_set is sorted).
    positive_label = label_set[-1] if positive is None else _as_labels([positive], "positive")[0]
    positive_code = int(np.searchsorted(universe, positive_label)) if binary else -1
    column_codes = np.searchsorted(universe, column_order)
    return _Classes(universe, column_codes, binary, positive_code)


class _Confusion(NamedTuple):
    """The confusion matrix's diagonal and margins, per label code, as floats."""

    hits: NDArray[np.float64]
    """True positives of each class: pairs with that class as both label and prediction."""
    predicted: NDArray[np.float64]
    """Pairs predicted as each class (TP + FP)."""
    actual: NDArray[np.float64]
    """Pairs labelled as each class (TP + FN)."""


def _confusion(
    true_codes: NDArray[np.intp], pred_codes: NDArray[np.intp], resolved: _Classes
) -> _Confusion:
    """Confusion counts of coded pairs: one bincount gives the whole matrix."""
    k = resolved.universe.shape[0]
    confusion = np.bincount(true_codes * k + pred_codes, minlength=k * k).reshape(k, k)
    return _Confusion(
        np.diag(confusion).astype(np.float64),
        confusion.sum(axis=0).astype(np.float64),
        confusion.sum(axis=1).astype(np.float64),
    )


def _accuracy(counts: _Confusion) -> float:
    """Fraction of pairs on the diagonal (``sklearn.metrics.accuracy_score``)."""
    return float(counts.hits.sum()) / int(counts.actual.sum())


def _precision_recall_f1(counts: _Confusion, resolved: _Classes) -> tuple[float, float, float]:
    """The positive class's rates (two classes) or their macro means over present classes."""
    if resolved.binary:
        code = resolved.positive_code
        return _binary_rates(
            float(counts.hits[code]), float(counts.predicted[code]), float(counts.actual[code])
        )
    present = (counts.predicted + counts.actual) > 0
    tp, pp, ap = counts.hits[present], counts.predicted[present], counts.actual[present]
    precision = float(np.divide(tp, pp, out=np.zeros_like(tp), where=pp > 0).mean())
    recall = float(np.divide(tp, ap, out=np.zeros_like(tp), where=ap > 0).mean())
    f1 = float((2.0 * tp / (pp + ap)).mean())
    return precision, recall, f1


def _roc_auc(scores: ArrayLike, true_codes: NDArray[np.intp], resolved: _Classes) -> float | None:
    n, k = true_codes.shape[0], resolved.column_codes.shape[0]
    score_array = _probability_array(scores, "scores", n)
    if resolved.binary and score_array.ndim == 1:
        return _rank_auc(true_codes == resolved.positive_code, score_array)
    if score_array.ndim != 2 or score_array.shape[1] != k:
        raise ValueError(
            f"scores must have shape ({n}, {k}), one column per class in the order of "
            f"classes, got {score_array.shape}"
        )
    if resolved.binary:
        column = int(np.flatnonzero(resolved.column_codes == resolved.positive_code)[0])
        return _rank_auc(true_codes == resolved.positive_code, score_array[:, column])
    aucs = [
        _rank_auc(true_codes == code, score_array[:, j])
        for j, code in enumerate(resolved.column_codes)
    ]
    defined = [auc for auc in aucs if auc is not None]
    return math.fsum(defined) / len(defined) if defined else None


def _log_loss(probabilities: ArrayLike, true_codes: NDArray[np.intp], resolved: _Classes) -> float:
    n, k = true_codes.shape[0], resolved.column_codes.shape[0]
    proba = _probability_array(probabilities, "probabilities", n)
    if ((proba < 0.0) | (proba > 1.0)).any():
        raise ValueError("probabilities must be in [0, 1]")
    if resolved.binary and proba.ndim == 1:
        p_true = np.where(true_codes == resolved.positive_code, proba, 1.0 - proba)
    else:
        if proba.ndim != 2 or proba.shape[1] != k:
            raise ValueError(
                f"probabilities must have shape ({n}, {k}), one column per class in the "
                f"order of classes, got {proba.shape}"
            )
        column_of_code = np.full(resolved.universe.shape[0], -1, dtype=np.intp)
        column_of_code[resolved.column_codes] = np.arange(k)
        p_true = proba[np.arange(n), column_of_code[true_codes]]
    return float(-np.log(np.clip(p_true, _EPS, 1.0 - _EPS)).mean())


def classification_metrics(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    *,
    scores: ArrayLike | None = None,
    probabilities: ArrayLike | None = None,
    classes: ArrayLike | None = None,
    positive: str | float | None = None,
) -> ClassificationMetrics:
    r"""Accuracy, precision, recall, F1, ROC AUC and log loss of one window of labelled pairs.

    With :math:`\mathrm{TP}_c, \mathrm{FP}_c, \mathrm{FN}_c` the confusion counts of class
    :math:`c`:

    .. math::

        P_c = \frac{\mathrm{TP}_c}{\mathrm{TP}_c + \mathrm{FP}_c}, \quad
        R_c = \frac{\mathrm{TP}_c}{\mathrm{TP}_c + \mathrm{FN}_c}, \quad
        F1_c = \frac{2 \mathrm{TP}_c}{2 \mathrm{TP}_c + \mathrm{FP}_c + \mathrm{FN}_c}

    with 0 wherever a denominator is 0 (scikit-learn's ``zero_division=0``).

    **Two classes**: precision, recall and F1 are those of the ``positive`` class. By default
    it is the larger of the two labels when sorted: 1 for {0, 1}, ``"yes"`` for
    {``"no"``, ``"yes"``}, matching ``pos_label=1`` for 0/1 labels. **More than two**: the
    unweighted means over the classes present in ``y_true`` or ``y_pred`` (``average="macro"``
    over scikit-learn's default labels; a class absent from the window is left out rather
    than counted as 0). Two-class versus multiclass is decided by ``classes`` if given, else
    by the labels observed plus ``positive``. A window can hold a single class, so pass
    ``classes`` (the model's full class list) or ``positive`` whenever they are known: with one
    observed label and neither, that label is taken as the positive class.

    **ROC AUC** from ``scores``, by the Mann-Whitney identity

    .. math::

        \mathrm{AUC} = \frac{R_+ - n_+ (n_+ + 1) / 2}{n_+ \, n_-}

    where :math:`R_+` is the sum of the positives' ranks among all scores (ties get average
    ranks, so a tied positive-negative pair counts 1/2, as in ``roc_auc_score``). Two
    classes: ``scores`` is 1-D, the positive class's score, or ``(n, 2)`` in column order
    ``classes``. Multiclass: ``(n, k)`` in column order ``classes`` (default: the sorted
    observed labels), and the result is the one-vs-rest macro average over the classes that
    occur in ``y_true`` (``roc_auc_score(..., multi_class="ovr", average="macro")``). ``None``
    when no class has both positives and negatives in ``y_true``.

    **Log loss** from ``probabilities``, clipped to :math:`[\epsilon, 1 - \epsilon]` with
    :math:`\epsilon` the float64 machine epsilon, as ``sklearn.metrics.log_loss``:

    .. math::

        L = -\frac1n \sum_i \ln \operatorname{clip}(p_{i, y_i})

    Two classes: 1-D :math:`P(\text{positive})` or ``(n, 2)``; multiclass ``(n, k)``, columns
    in the order of ``classes``. Rows are not renormalised.

    Parameters
    ----------
    y_true, y_pred : array_like
        True and predicted class labels, 1-D, same length, both numbers or both strings.
    scores : array_like, optional
        Ranking scores for ROC AUC; see above. Need not be probabilities.
    probabilities : array_like, optional
        Predicted probabilities in [0, 1] for log loss; see above.
    classes : array_like, optional
        The model's classes, in the column order of 2-D ``scores`` and ``probabilities``.
        Every observed label must be among them.
    positive : str or number, optional
        The positive class for two-class metrics.

    Returns
    -------
    ClassificationMetrics
        ``(accuracy, precision, recall, f1, roc_auc, log_loss, labels)``.

    Raises
    ------
    ValueError
        If the inputs are empty, of different lengths or kinds, a label is not in
        ``classes``, ``positive`` is given for more than two classes, or ``scores`` or
        ``probabilities`` have the wrong shape or values.

    Examples
    --------
    TP = 2, FP = 1, FN = 1 for the positive class 1:

    >>> m = classification_metrics([1, 1, 0, 1, 0], [1, 0, 0, 1, 1],
    ...                            scores=[0.9, 0.4, 0.2, 0.8, 0.6])
    >>> m.accuracy, round(m.precision, 6), round(m.recall, 6), round(m.f1, 6)
    (0.6, 0.666667, 0.666667, 0.666667)
    >>> round(m.roc_auc, 6)  # 5 of the 6 positive-negative pairs are ordered correctly
    0.833333
    >>> classification_metrics(["no", "no"], ["no", "yes"], classes=["no", "yes"]).precision
    0.0
    """
    true, pred = label_pairs(y_true, y_pred)
    resolved = _resolve_classes(true, pred, classes, positive)
    # Codes index the sorted universe of labels.
    true_codes = np.searchsorted(resolved.universe, true)
    counts = _confusion(true_codes, np.searchsorted(resolved.universe, pred), resolved)
    precision, recall, f1 = _precision_recall_f1(counts, resolved)
    roc_auc = None if scores is None else _roc_auc(scores, true_codes, resolved)
    log_loss = None if probabilities is None else _log_loss(probabilities, true_codes, resolved)
    return ClassificationMetrics(
        _accuracy(counts), precision, recall, f1, roc_auc, log_loss, true.shape[0]
    )
