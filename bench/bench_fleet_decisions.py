"""Pooled against per-replica drift decisions: false alarms and detection for a model that runs
as N replicas, each sidecar seeing 1/N of the traffic (issue 14).

    OPENBLAS_NUM_THREADS=1 python -m bench.bench_fleet_decisions [--quick] [--json FILE]

Per replica: each sidecar judges its own window of n records with its own calibrated rule
(PSI >= max(floor, psi_critical at n, with the small-count correction): the sidecar's flag), so
a model has N chances a feature to raise a drift alert. Pooled: the recording rules sum the N
windows' bin counts and judge the pooled window of N x n records once, with the closed-form
critical value whose chi-squared quantile comes from the exported normal quantile by
Wilson-Hilferty (deploy/prometheus/rules/drift_pooled.yml). Both at the sidecar's defaults:
alpha 0.01 for the model's 20 features (Bonferroni), the PSI floor 0.005, 10 reference
quantile bins of a 10,000-row reference.

Rates are per evaluation of one model: a false alarm is any feature flagged on no-drift
windows (per replica: by any replica); detection is the shifted feature flagged (by any
replica). Windows are drawn as multinomial counts over the reference's bins, so one cell of
thousands of windows takes a second; the PSI kernel is checked against exporter.stats.psi.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from scipy.special import ndtr, ndtri  # type: ignore[import-untyped, unused-ignore]

from exporter.evaluation.decision import critical_quantile
from exporter.settings import Settings
from exporter.stats import psi, psi_critical

Array = NDArray[np.float64]
FEATURES = 20
REFERENCE_ROWS = 10_000
SHIFTS = (0.0, 0.1, 0.2, 0.5)
#: Windows judged against each reference draw.
PER_REFERENCE = 50


def psi_rows(reference: Array, window: Array) -> Array:
    """PSI with Jeffreys' pseudo-count, one value per row of `window` (counts over bins)."""
    a = 0.5
    r = (reference + a) / (reference.sum() + reference.size * a)
    c = (window + a) / (window.sum(-1, keepdims=True) + window.shape[-1] * a)
    out: Array = ((c - r) * np.log(c / r)).sum(-1)
    return out


def wilson_hilferty(z: float, df: int) -> float:
    """The chi-squared quantile at the normal quantile z, as the pooled rules compute it."""
    h = 2.0 / (9.0 * df)
    return df * (1.0 - h + z * math.sqrt(h)) ** 3


def bin_probabilities(edges: Array, shift: float) -> Array:
    """P(bin) for N(shift, 1) over the reference's bins (open first and last bins)."""
    cdf = ndtr(edges - shift)
    return np.diff(np.concatenate(([0.0], cdf, [1.0])))


def cell(
    rng: np.random.Generator, replicas: int, n: int, shift: float, windows: int
) -> dict[str, float]:
    """Rates of one (replicas, n, shift) cell over `windows` draws of the model's features,
    `PER_REFERENCE` windows against each fresh reference draw (the critical values hold on
    average over references: with pooled windows near the reference's size, one reference's
    own rate can be a few times the average)."""
    draws = [
        _draws(rng, replicas, n, shift, PER_REFERENCE)
        for _ in range(max(windows // PER_REFERENCE, 1))
    ]
    replica_flags = np.concatenate([d[0] for d in draws])
    pooled_flags = np.concatenate([d[1] for d in draws])
    others = slice(1, None) if shift else slice(None)
    return {
        "replica_bound": float(np.mean([d[2] for d in draws])),
        "pooled_bound": float(np.mean([d[3] for d in draws])),
        "per_replica_false_alarm": float(replica_flags[:, others].any(axis=(1, 2)).mean()),
        "pooled_false_alarm": float(pooled_flags[:, others].any(axis=1).mean()),
        "per_replica_detection": float(replica_flags[:, 0].any(axis=1).mean()) if shift else 0.0,
        "pooled_detection": float(pooled_flags[:, 0].mean()) if shift else 0.0,
    }


def _draws(
    rng: np.random.Generator, replicas: int, n: int, shift: float, windows: int
) -> tuple[NDArray[np.bool_], NDArray[np.bool_], float, float]:
    """Flags [window, feature, replica] and [window, feature] against one reference draw, and
    the per-replica and pooled bounds; feature 0 is the one moved by `shift` sd."""
    drift = Settings().drift
    quantile = critical_quantile(drift.alpha, FEATURES)
    reference_sample = rng.standard_normal(REFERENCE_ROWS)
    edges = np.quantile(reference_sample, np.linspace(0, 1, 11)[1:-1])
    reference = np.histogram(reference_sample, np.concatenate(([-np.inf], edges, [np.inf])))[0]
    reference = reference.astype(float)
    bins = reference.size
    replica_bound = max(
        drift.psi_threshold,
        psi_critical(
            n, REFERENCE_ROWS, bins, quantile, reference_proportions=reference / reference.sum()
        ),
    )
    pooled_n = replicas * n
    pooled_bound = max(
        drift.psi_threshold,
        wilson_hilferty(float(ndtri(quantile)), bins - 1) * (1 / pooled_n + 1 / REFERENCE_ROWS),
    )
    counts = rng.multinomial(n, bin_probabilities(edges, 0.0), size=(windows, FEATURES, replicas))
    counts[:, 0] = rng.multinomial(n, bin_probabilities(edges, shift), size=(windows, replicas))
    window_counts = counts.astype(float)
    replica_flags = psi_rows(reference, window_counts) >= replica_bound
    pooled_flags = psi_rows(reference, window_counts.sum(2)) >= pooled_bound
    return replica_flags, pooled_flags, replica_bound, pooled_bound


def check_kernel(rng: np.random.Generator) -> None:
    reference = rng.integers(0, 2_000, 10).astype(float)
    window = rng.integers(0, 50, 10).astype(float)
    got = float(psi_rows(reference, window[None])[0])
    expected = psi(reference, window, pseudo_count=0.5)
    if not math.isclose(got, expected, rel_tol=1e-9):
        raise SystemExit(f"psi kernel {got} != exporter.stats.psi {expected}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer windows (~10 s)")
    parser.add_argument("--windows", type=int, default=4_000, help="windows per cell")
    parser.add_argument("--json", type=Path, help="write the results here too")
    args = parser.parse_args(argv)
    windows = 500 if args.quick else args.windows
    rng = np.random.default_rng(14)
    check_kernel(rng)
    print(f"# {platform.processor() or platform.machine()}, {windows} windows a cell")
    print(
        "| replicas x n | shift (sd) | per-replica bound / pooled bound | false alarms: "
        "per replica / pooled | detection: per replica / pooled |"
    )
    print("|---|---|---|---|---|")
    results = []
    for replicas, n in ((2, 500), (6, 300), (6, 1_000), (10, 200)):
        for shift in SHIFTS:
            result = cell(rng, replicas, n, shift, windows)
            results.append({"replicas": replicas, "n": n, "shift": shift, **result})
            detection = (
                f"{result['per_replica_detection']:.1%} / {result['pooled_detection']:.1%}"
                if shift
                else "-"
            )
            print(
                f"| {replicas} x {n:,} | {shift} | {result['replica_bound']:.4f} / "
                f"{result['pooled_bound']:.4f} | {result['per_replica_false_alarm']:.1%} / "
                f"{result['pooled_false_alarm']:.1%} | {detection} |"
            )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
