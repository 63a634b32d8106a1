"""What "drifted" means: a change that is real and material, the same for every window size.

Real: beyond the sampling noise of this window. For an effect statistic S (PSI, Jensen-Shannon,
Wasserstein / sd) that is S >= its calibrated critical value: the no-drift quantile of S at the
column's valid count, the reference's size and its bins, at level 1 - alpha / k, where k is the
number of columns judged in the family (the features of a model; the prediction alone), so
that a window with no drift flags any of its k features with probability <= alpha. Under the
`pvalue` method it is the test's corrected p-value under alpha instead.

Material: S >= the statistic's effect floor (`drift.<statistic>_threshold`), so that a huge
window does not flag a shift nobody would act on. The floors' defaults correspond to the same
shift for every statistic (docs/statistics.md).

So a column drifted when S >= max(floor, critical): the sidecar's flag, the drifted share, the
JSON report and the shipped alert rules (which read the exported critical values) all apply
this one rule. A column with fewer valid values than `min_valid_records_for` is not judged.
"""

from __future__ import annotations

import math
from dataclasses import replace

from exporter.evaluation.report import ColumnReport, StatisticResult
from exporter.settings import DriftSettings
from exporter.stats import adjust_pvalues

#: The effect statistics, which have a floor and a critical value.
EFFECT_STATISTICS = ("psi", "jensen_shannon", "wasserstein_normalized")
#: Valid values needed per reference bin before a column is judged (with the default
#: `drift.min_valid_records`), counted over at most `MIN_VALID_BINS` bins: sparse bins are
#: pooled until each expects 5 values, so a many-category feature needs no more values than a
#: numeric one to be judged honestly, only pools more of its rare categories.
MIN_VALID_PER_BIN = 5
MIN_VALID_BINS = 10


def effect_floor(statistic: str, drift: DriftSettings) -> float:
    """The floor below which a change of `statistic` is not material."""
    floors = {
        "psi": drift.psi_threshold,
        "jensen_shannon": drift.jensen_shannon_threshold,
        "wasserstein_normalized": drift.wasserstein_normalized_threshold,
    }
    return floors[statistic]


def critical_quantile(alpha: float, judged: int) -> float:
    """The no-drift quantile each of `judged` columns is held to: family-wise level `alpha`
    (Bonferroni, which holds whatever the features' dependence)."""
    return 1.0 - alpha / max(judged, 1)


def min_valid_records_for(bins: int, drift: DriftSettings) -> int:
    """Valid values a column needs to be judged: `drift.min_valid_records`, else
    `MIN_VALID_PER_BIN` per reference bin, for at most `MIN_VALID_BINS` bins (50 at most)."""
    if drift.min_valid_records is not None:
        return drift.min_valid_records
    return MIN_VALID_PER_BIN * min(bins, MIN_VALID_BINS)


def effect_result(
    name: str, value: float, critical: float | None, drift: DriftSettings
) -> StatisticResult:
    """An effect statistic with its floor, critical value and own verdict."""
    floor = effect_floor(name, drift)
    threshold = floor if critical is None or not math.isfinite(critical) else max(floor, critical)
    drifted = math.isfinite(value) and value >= threshold
    return StatisticResult(name, value, threshold, drifted, critical=critical, floor=floor)


def decide(columns: list[ColumnReport], drift: DriftSettings) -> list[ColumnReport]:
    """Correct the test p-values across `columns`, then set each judged column's decision.

    The family is every finite p-value of every column, so a column with two tests adds two;
    each test gets its own adjusted value, keyed by (column, statistic) position."""
    tests = [
        ((i, j), s)
        for i, column in enumerate(columns)
        for j, s in enumerate(column.statistics)
        if s.pvalue is not None and math.isfinite(s.pvalue)
    ]
    pvalues = [s.pvalue for _, s in tests if s.pvalue is not None]
    adjusted = adjust_pvalues(pvalues, drift.correction)
    corrected: dict[tuple[int, int], StatisticResult] = {}
    for (key, test), value in zip(tests, adjusted, strict=True):
        corrected[key] = replace(
            test, adjusted_pvalue=float(value), drifted=bool(value < drift.alpha)
        )
    decided = []
    for i, column in enumerate(columns):
        statistics = tuple(corrected.get((i, j), s) for j, s in enumerate(column.statistics))
        column = replace(column, statistics=statistics)
        decided.append(replace(column, drifted=_verdict(column, drift)))
    return decided


def _verdict(column: ColumnReport, drift: DriftSettings) -> bool | None:
    """The column's decision, or None when nothing decides it (not judged, or undefined)."""
    if not column.statistics:
        return None
    if drift.method == "pvalue":
        test = next((s for s in column.statistics if s.name in ("ks", "chi2")), None)
        effect = column.statistic("psi")
        if test is None or test.pvalue is None or not math.isfinite(test.pvalue):
            return None  # one value against one: no p-value
        if effect is None:
            return test.drifted
        floor = effect_floor("psi", drift) if effect.floor is None else effect.floor
        material = math.isfinite(effect.value) and effect.value >= floor
        return test.drifted and material
    deciding = column.statistic(deciding_statistic(column.kind, drift.method))
    if deciding is None or not math.isfinite(deciding.value):
        return None
    return deciding.drifted


def deciding_statistic(kind: str, method: str) -> str:
    """The effect statistic that decides a column of `kind` under an effect `method`:
    the method's own; wasserstein_normalized has no categorical counterpart, so categorical
    columns are judged by Jensen-Shannon under it."""
    if method == "wasserstein_normalized" and kind != "numeric":
        return "jensen_shannon"
    return method
