"""Drift scores of the detection benchmark's monitors, and detection at a matched false-alarm rate.

Each monitor's default decision flags a feature when its per-feature score reaches 1:

* drift-exporter (`exporter_score`): the deciding statistic over its threshold,
  S / max(floor, critical); drifted when S >= threshold, so when the score is >= 1. Under
  `method: pvalue` the decision is "adjusted p < alpha and PSI >= floor", and the score is the
  smaller of log(p_adj) / log(alpha) and PSI / floor.
* Evidently (`evidently_score`): a distance test (Wasserstein, Jensen-Shannon, PSI, ...) flags
  at distance >= threshold, the score is distance / threshold; a p-value test (KS,
  chi-squared, Z, ...) flags at p <= or < threshold, the score is log(p) / log(threshold).
* NannyML (`nannyml_score`): a chunk alerts when its value is above the upper threshold or
  below the lower one (mean -+ 3 sd of the reference chunks' values; the lower one clipped to
  0, where it cannot alert); the score is max(value / upper, lower / value).

A window's family-wise score is the largest of its features' scores (features not judged
left out; 0 when none is judged), so the window alarms at the defaults when it is >= 1. The
bench checks on every window that the scores reproduce the monitor's own flags
(`check_scores`); a tie exactly at the threshold, where strict and non-strict rules differ,
would show there.

Re-thresholding (the ROC view): every monitor is cut at the empirical quantile of its own
family-wise scores on W no-drift windows: alarm when the score is above the (k + 1)-th largest
of them, k = floor(rate * W), so at most k of the W no-drift windows alarm. The true
false-alarm rate of that cut is itself random: the share of the no-drift distribution above
the (k + 1)-th largest of W draws is Beta(k + 1, W - k) (order statistics of uniforms), whose
95 % interval `cut_rate_interval` gives. Detection at the cut (the moved feature's own score
above it, as at the defaults the moved feature's own flag) is a binomial share of the drifted
windows: `wilson` gives its 95 % interval and `difference_interval` Newcombe's interval of a
difference of two such shares (method 10 of Newcombe 1998, from the two Wilson intervals),
which stays inside [-1, 1] at 0 % and 100 %, where the Wald interval collapses.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

Z95 = 1.959963984540054  # scipy.stats.norm.ppf(0.975)
#: Evidently's tests whose score is a p-value (evidently/legacy/calculations/stattests).
EVIDENTLY_PVALUE_TESTS = frozenset(
    {"ks", "chisquare", "z", "fisher_exact", "g_test", "t_test", "mannw", "es", "anderson"}
)
#: A p-value of 0 is scored as this one, so that the score stays finite (JSON has no inf).
SMALLEST_PVALUE = 1e-300


def exporter_score(value: float, threshold: float) -> float:
    """drift-exporter's effect-method score S / max(floor, critical); NaN when S is undefined."""
    if not math.isfinite(value):
        return math.nan
    if threshold <= 0:
        return math.inf if value >= threshold else 0.0
    return value / threshold


def exporter_pvalue_score(adjusted: float, alpha: float, psi: float | None, floor: float) -> float:
    """`method: pvalue`: min(log(p_adj) / log(alpha), PSI / floor); drifted when both >= 1."""
    if not math.isfinite(adjusted):
        return math.nan
    test = math.log(max(adjusted, SMALLEST_PVALUE)) / math.log(alpha)
    if psi is None or floor <= 0:
        return test
    return min(test, psi / floor if math.isfinite(psi) else 0.0)


def evidently_score(test: str, score: float, threshold: float) -> float:
    """Evidently's per-column score over its threshold, >= 1 where its test flags drift."""
    if test in EVIDENTLY_PVALUE_TESTS:
        return math.log(max(score, SMALLEST_PVALUE)) / math.log(threshold)
    return score / threshold


def nannyml_score(value: float, lower: float | None, upper: float | None) -> float:
    """max(value / upper, lower / value): above 1 exactly where NannyML's `alert` is True
    (value > upper or value < lower; thresholds of None never alert)."""
    if not math.isfinite(value):
        return math.nan
    scores = [0.0]
    if upper is not None and math.isfinite(upper):
        scores.append(value / upper if upper > 0 else (math.inf if value > upper else 0.0))
    if lower is not None and math.isfinite(lower) and lower > 0:
        scores.append(lower / value if value > 0 else math.inf)
    return max(scores)


def family_score(scores: np.ndarray) -> float:
    """A window's score: the largest judged feature's, 0 when no feature was judged."""
    finite = scores[~np.isnan(scores)]
    return float(finite.max()) if finite.size else 0.0


def check_scores(
    monitor: str, where: str, flags: np.ndarray, scores: np.ndarray, strict: bool = False
) -> None:
    """Raise when a feature's score disagrees with the monitor's own flag (score >= 1, or > 1
    when `strict`): the re-thresholded view must contain the default decision."""
    with np.errstate(invalid="ignore"):
        reached = scores > 1.0 if strict else scores >= 1.0
    wrong = np.flatnonzero(reached != flags)
    if wrong.size:
        i = int(wrong[0])
        raise AssertionError(
            f"{monitor}, {where}: feature {i} flagged {bool(flags[i])} but its score is "
            f"{scores[i]!r} ({wrong.size} features disagree)"
        )


def matched_cut(null_scores: Sequence[float], rate: float) -> tuple[float, int]:
    """(cut, k): alarm when a score is > cut, where cut is the (k + 1)-th largest no-drift
    score and k = floor(rate * W): at most k of the W no-drift windows alarm."""
    ordered = np.sort(np.asarray(null_scores, dtype=np.float64))[::-1]
    if ordered.size == 0:
        raise ValueError("matched_cut: no no-drift scores to take a quantile of")
    k = min(math.floor(rate * ordered.size + 1e-9), ordered.size - 1)
    return float(ordered[k]), k


def cut_rate_interval(k: int, windows: int) -> tuple[float, float]:
    """95 % interval of the true false-alarm rate of the cut at the (k + 1)-th largest of
    `windows` no-drift scores: Beta(k + 1, windows - k)."""
    from scipy.stats import beta

    a, b = k + 1, windows - k
    return float(beta.ppf(0.025, a, b)), float(beta.ppf(0.975, a, b))


def detected_above(moved_scores: Sequence[Sequence[float]], cut: float) -> float:
    """Mean over windows of the share of moved features whose score is above `cut`."""
    shares = [np.mean(np.asarray(row) > cut) for row in moved_scores if len(row)]
    return float(np.mean(shares)) if shares else math.nan


def wilson(p: float, n: int) -> tuple[float, float]:
    """Wilson's 95 % score interval of a binomial share p of n trials."""
    if n <= 0:
        return 0.0, 1.0
    z2 = Z95 * Z95
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = Z95 * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def difference_interval(p1: float, n1: int, p2: float, n2: int) -> tuple[float, float]:
    """Newcombe's 95 % interval of p1 - p2 from the two Wilson intervals (his method 10)."""
    l1, u1 = wilson(p1, n1)
    l2, u2 = wilson(p2, n2)
    d = p1 - p2
    return d - math.hypot(p1 - l1, u2 - p2), d + math.hypot(u1 - p1, p2 - l2)


def matched_cells(
    by_n: dict[str, dict[str, Any]], rate: float
) -> dict[str, dict[str, dict[str, Any]]]:
    """For one monitor's cells {n: {scenario: cell}}: the cut at `rate` from the no-drift cell's
    scores and each drift scenario's detection above it, with its Wilson interval."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for n, cells in by_n.items():
        null = cells.get("none")
        if not null or not null.get("scores"):
            continue
        cut, k = matched_cut(null["scores"], rate)
        windows = len(null["scores"])
        alarms = int(np.sum(np.asarray(null["scores"]) > cut))
        low, high = cut_rate_interval(k, windows)
        row: dict[str, dict[str, Any]] = {
            "none": {
                "cut": cut,
                "windows": windows,
                "alarm": alarms / windows,
                "true_rate_95": [low, high],
            }
        }
        for scenario, cell in cells.items():
            if scenario == "none" or "moved_scores" not in cell:
                continue
            detected = detected_above(cell["moved_scores"], cut)
            row[scenario] = {
                "detected": detected,
                "windows": cell["windows"],
                "detected_95": list(wilson(detected, cell["windows"])),
            }
        out[n] = row
    return out
