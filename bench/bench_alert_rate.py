"""No-drift alert rate per model per day of the shipped drift alert rules, at the default settings.

Simulates what the sidecar and Prometheus do with a model that never drifts, and counts the
alerts each rule would raise:

- **Traffic:** Poisson arrivals at a fixed rate, counted in batches every `--step` seconds (the
  evaluation interval, 15 s by default) into the sidecar's window as `exporter/window/model.py`
  keeps it: a ring of `window.slices` slices (12), a slice closing after `duration / slices`
  seconds (300 s) or `ceil(max_records / slices)` records (834), the oldest slices dropped once
  the window would exceed `window.max_records` (10,000) or once a slice started more than
  `duration + duration / slices` (3,900 s) ago.
- **Features:** `--features` (20) numeric features, each drawn from N(0, 1) like its reference
  of `--reference` (10,000) rows, binned at the reference's deciles (`drift.bins` 10,
  `exporter.stats.binning.quantile_edges`). Only counts matter for PSI, so the window holds the
  bin counts of each slice: multinomial draws with the bins' true probabilities (which differ
  from 1/10 by the reference's own sampling noise).
- **The flag (issue 13):** the sidecar's own: PSI with half a count added to every bin
  (`exporter.stats.psi(..., pseudo_count=0.5)`) >= max(floor, critical), the critical value
  `exporter.stats.calibration.psi_critical` at level 1 - alpha / k with the reference's bin
  proportions (its small-count correction), n the window's valid count, m the reference's; and
  n >= min_records. Floor, alpha, min_records, bins and the window's bounds are read from
  `exporter.settings.Settings()`, so the figures follow the defaults. (Ten decile bins expect
  >= 10 values each from min_records 100 on: the sidecar pools none.)
- **The rules, every step:** `fresh` is the shipped rule (drift_alerts.yml): drifted now, and
  drifted at every evaluation for 15 min while a window's worth of new records arrived, or for
  65 min; then `for: 1m`. For comparison, `for15` is the same flag with only `for: 15m` (what
  the rules did before item 5), and `old` the shipped rule before issue 13: PSI > 0.1 for 15 min.

Prints, per traffic rate: the window size, the share of evaluations any feature is flagged
(the family-wise rate, which the calibration bounds by alpha per evaluation), the mean length of
a flagged run, and alerts per model per day under each rule, with a 95 % upper bound when none
was seen (3 / days, the rule of three). Seeded: the same arguments print the same table.

    python bench/bench_alert_rate.py                    # ~2-4 minutes on one core
    python bench/bench_alert_rate.py --days 40 --rates 1 10
    python bench/bench_alert_rate.py --alpha 0.5   # noise made common: what freshness removes
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from scipy import special, stats  # type: ignore[import-untyped, unused-ignore]

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from exporter.evaluation.evaluator import PSEUDO_COUNT
from exporter.settings import Settings as SidecarSettings
from exporter.stats.binning import bin_counts, quantile_edges
from exporter.stats.calibration import SMALL_COUNT_WEIGHT, psi_critical
from exporter.stats.divergence import psi

DAY_SECONDS = 86_400.0
DEFAULTS = SidecarSettings()
#: The sidecar's floor, and drift_thresholds.yml's model:drift_threshold_feature_psi_warning.
FLOOR = DEFAULTS.drift.psi_threshold
OLD_THRESHOLD = 0.1  # the PSI warning threshold shipped before issue 13


@dataclass(frozen=True)
class Settings:
    """The sidecar's and the rules' defaults (exporter/settings.py, drift_alerts.yml)."""

    rate: float  # records per second
    step: float = DEFAULTS.evaluation_interval_seconds  # sidecar and Prometheus
    max_records: int = DEFAULTS.window.max_records or 10_000
    duration: float = DEFAULTS.window.duration_seconds or 3_600.0
    slices: int = DEFAULTS.window.slices
    min_records: int = DEFAULTS.min_records
    features: int = 20
    bins: int = DEFAULTS.reference.bins
    reference: int = 10_000
    alpha: float = DEFAULTS.drift.alpha
    fresh_short: float = 900.0  # the records path: 15 min
    fresh_long: float = 3_900.0  # the time path: duration + one slice
    for_seconds: float = 60.0  # the alerts' for:
    old_for: float = 900.0  # the old rules' for: 15m


@dataclass
class Slice:
    """One slice of the ring: when it started, its records, its bin counts per feature."""

    started_at: float
    records: int
    counts: NDArray[np.float64]


@dataclass
class Tally:
    evaluations: int = 0
    any_flagged: int = 0
    flagged_runs: int = 0
    flagged_steps: int = 0
    window_records: float = 0.0
    alerts_fresh: int = 0
    alerts_for15: int = 0
    alerts_old: int = 0
    seconds: float = 0.0


def vector_psi(reference: NDArray[np.float64], window: NDArray[np.float64]) -> NDArray[np.float64]:
    """exporter.stats.psi(..., pseudo_count=PSEUDO_COUNT) row by row, for k features at once."""
    r = reference + PSEUDO_COUNT
    c = window + PSEUDO_COUNT
    r = r / r.sum(axis=1, keepdims=True)
    c = c / c.sum(axis=1, keepdims=True)
    return ((c - r) * np.log(c / r)).sum(axis=1)  # type: ignore[no-any-return]


def vector_critical(
    window_n: int, reference_n: int, inverse_proportions: NDArray[np.float64], quantile: float
) -> NDArray[np.float64]:
    """exporter.stats.calibration.psi_critical with each row's reference proportions, for k
    features at once (`inverse_proportions`: the sum of 1 / proportion per row)."""
    scale = 1.0 / window_n + 1.0 / reference_n
    bins = DEFAULTS.reference.bins
    tail = (1.0 - quantile) / (1.0 + SMALL_COUNT_WEIGHT * scale * inverse_proportions / (bins - 1))
    return special.chdtri(bins - 1, tail) * scale  # type: ignore[no-any-return]


class Rule:
    """Since-when a per-feature condition holds, and whether its alert fires (rising edges)."""

    def __init__(self, k: int) -> None:
        self.since = np.full(k, np.nan)
        self.pending_since = np.full(k, np.nan)
        self.firing = np.zeros(k, dtype=bool)

    def update(self, now: float, condition: NDArray[np.bool_]) -> None:
        self.since = np.where(condition, np.where(np.isnan(self.since), now, self.since), np.nan)

    def alert(self, now: float, expression: NDArray[np.bool_], hold: float) -> int:
        """Prometheus `for:`: firing once `expression` held at every step for `hold` seconds."""
        self.pending_since = np.where(
            expression, np.where(np.isnan(self.pending_since), now, self.pending_since), np.nan
        )
        firing = expression & (now - self.pending_since >= hold)
        new = int((firing & ~self.firing).sum())
        self.firing = firing
        return new


class SlicedWindow:
    """The sidecar's window as bin counts: exporter/window/model.py's ring of slices."""

    def __init__(self, settings: Settings, probabilities: NDArray[np.float64]) -> None:
        self.settings = settings
        self.probabilities = probabilities
        self.slice_records = math.ceil(settings.max_records / settings.slices)
        self.slice_seconds = settings.duration / settings.slices
        self.ring: deque[Slice] = deque()
        self.counts = np.zeros(probabilities.shape)
        self.records = 0

    def _drop_oldest(self) -> None:
        gone = self.ring.popleft()
        self.records -= gone.records
        self.counts -= gone.counts

    def expire(self, now: float) -> None:
        """Drop the slices that started more than duration + one slice ago (_expire)."""
        horizon = now - self.settings.duration - self.slice_seconds
        while self.ring and self.ring[0].started_at <= horizon:
            self._drop_oldest()

    def add(self, now: float, incoming: int, rng: np.random.Generator) -> None:
        """Count `incoming` records, a slice's room at a time (_current_slice, _make_room)."""
        while incoming:
            newest = self.ring[-1] if self.ring else None
            if (
                newest is None
                or now - newest.started_at >= self.slice_seconds
                or newest.records >= self.slice_records
            ):
                newest = Slice(now, 0, np.zeros(self.probabilities.shape))
                self.ring.append(newest)
            room = min(incoming, self.slice_records - newest.records)
            while len(self.ring) > 1 and self.records + room > self.settings.max_records:
                self._drop_oldest()
            counts = rng.multinomial(room, self.probabilities).astype(float)
            newest.records += room
            newest.counts += counts
            self.counts += counts
            self.records += room
            incoming -= room


def _reference(
    settings: Settings, rng: np.random.Generator
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Reference bin counts at its own deciles, and the bins' true probabilities (N(0, 1))."""
    rows = rng.normal(size=(settings.features, settings.reference))
    edges = [quantile_edges(row, settings.bins) for row in rows]
    counts = np.array([bin_counts(row, e) for row, e in zip(rows, edges, strict=True)], dtype=float)
    cdf = np.array(
        [np.diff(stats.norm.cdf(np.concatenate(([-np.inf], e, [np.inf])))) for e in edges]
    )
    return counts, cdf / cdf.sum(axis=1, keepdims=True)


def simulate(settings: Settings, days: float, seed: int, warm_up: float = 7_200.0) -> Tally:
    """Alerts of each rule over `days` of no-drift traffic (after a `warm_up` not counted)."""
    rng = np.random.default_rng(seed)
    k, m = settings.features, settings.reference
    reference_counts, probabilities = _reference(settings, rng)
    quantile = 1.0 - settings.alpha / k
    proportions = reference_counts / reference_counts.sum(axis=1, keepdims=True)
    inverse_proportions = (1.0 / proportions).sum(axis=1)
    window = SlicedWindow(settings, probabilities)
    arrivals: deque[tuple[float, int]] = deque()  # (time, cumulative records) for increase()
    total = 0
    fresh, for15, old = Rule(k), Rule(k), Rule(k)
    tally = Tally(seconds=days * DAY_SECONDS)
    previous_flag = np.zeros(k, dtype=bool)
    checked = False
    for index in range(int((warm_up + days * DAY_SECONDS) / settings.step)):
        now = index * settings.step
        window.expire(now)
        incoming = int(rng.poisson(settings.rate * settings.step))
        window.add(now, incoming, rng)
        total += incoming
        arrivals.append((now, total))
        while arrivals[0][0] < now - settings.fresh_short:
            arrivals.popleft()
        records = window.records
        flag = old_flag = np.zeros(k, dtype=bool)
        judged = records >= settings.min_records
        if judged:
            values = vector_psi(reference_counts, window.counts)
            critical = vector_critical(records, m, inverse_proportions, quantile)
            if not checked:  # the vectorised forms are the sidecar's functions
                for row in range(k):
                    expected = psi(
                        reference_counts[row], window.counts[row], pseudo_count=PSEUDO_COUNT
                    )
                    assert math.isclose(values[row], expected, rel_tol=1e-9)
                    bound = psi_critical(
                        records, m, settings.bins, quantile, reference_proportions=proportions[row]
                    )
                    assert math.isclose(critical[row], bound, rel_tol=1e-9)
                checked = True
            flag = values >= np.maximum(FLOOR, critical)
            old_flag = values > OLD_THRESHOLD
        for rule, condition in ((fresh, flag), (for15, flag), (old, old_flag)):
            rule.update(now, condition)
        held_for = now - fresh.since
        fresh_expression = flag & (
            ((held_for >= settings.fresh_short) & (total - arrivals[0][1] >= records))
            | (held_for >= settings.fresh_long)
        )
        new = (
            fresh.alert(now, fresh_expression, settings.for_seconds),
            for15.alert(now, flag, settings.old_for),
            old.alert(now, old_flag, settings.old_for),
        )
        if now >= warm_up and judged:
            tally.evaluations += 1
            tally.window_records += records
            tally.any_flagged += int(flag.any())
            tally.flagged_steps += int(flag.sum())
            tally.flagged_runs += int((flag & ~previous_flag).sum())
            tally.alerts_fresh += new[0]
            tally.alerts_for15 += new[1]
            tally.alerts_old += new[2]
        previous_flag = flag
    return tally


def per_day(count: int, days: float) -> str:
    if count == 0:
        return f"0 (< {3.0 / days:.2g})"
    return f"{count / days:.3g}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rates", type=float, nargs="+", default=[0.2, 1.0, 10.0, 100.0])
    parser.add_argument("--days", type=float, default=20.0, help="simulated days per rate")
    parser.add_argument("--references", type=int, default=4, help="reference draws per rate")
    parser.add_argument("--features", type=int, default=20)
    parser.add_argument("--reference", type=int, default=10_000, help="reference rows")
    parser.add_argument(
        "--step",
        type=float,
        default=DEFAULTS.evaluation_interval_seconds,
        help="evaluation interval, s",
    )
    parser.add_argument(
        "--alpha",
        type=float,
        default=DEFAULTS.drift.alpha,
        help="family-wise alpha of the critical values (the sidecar's default); raise it to make "
        "false alarms common enough to compare the rules",
    )
    parser.add_argument("--seed", type=int, default=20_240_613)
    args = parser.parse_args(argv)

    load = Path("/proc/loadavg").read_text().split()[0] if Path("/proc/loadavg").exists() else "?"
    print(
        f"no-drift alert rate per model per day: {args.features} numeric features, reference "
        f"{args.reference} rows, evaluations every {args.step:g} s, {args.days:g} simulated days "
        f"per rate over {args.references} reference draws, alpha {args.alpha:g}; load {load}"
    )
    print(
        "| records/s | window records | evaluations with any feature flagged | mean flagged run "
        "| alerts/day: shipped rule (fresh evidence) | flag with for: 15m only | old PSI > 0.1 "
        "for 15m |"
    )
    print("|---|---|---|---|---|---|---|")
    started = time.perf_counter()
    for rate in args.rates:
        settings = Settings(
            rate=rate,
            step=args.step,
            features=args.features,
            reference=args.reference,
            alpha=args.alpha,
        )
        totals = Tally()
        for draw in range(args.references):
            tally = simulate(settings, args.days / args.references, args.seed + draw * 7919)
            for field in (
                "evaluations",
                "any_flagged",
                "flagged_runs",
                "flagged_steps",
                "window_records",
                "alerts_fresh",
                "alerts_for15",
                "alerts_old",
            ):
                setattr(totals, field, getattr(totals, field) + getattr(tally, field))
        evaluations = max(totals.evaluations, 1)
        run = totals.flagged_steps * args.step / max(totals.flagged_runs, 1)
        print(
            f"| {rate:g} | {totals.window_records / evaluations:,.0f} "
            f"| {100.0 * totals.any_flagged / evaluations:.2f} % "
            f"| {run / 60.0:.1f} min "
            f"| {per_day(totals.alerts_fresh, args.days)} "
            f"| {per_day(totals.alerts_for15, args.days)} "
            f"| {per_day(totals.alerts_old, args.days)} |"
        )
        sys.stdout.flush()
    print(f"({time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
