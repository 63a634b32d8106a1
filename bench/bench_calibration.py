"""Monte Carlo proof of the no-drift critical values (exporter.stats.calibration).

Run from the repository root (about 15 minutes on one core; pass ``--quick`` for ~1 minute)::

    OPENBLAS_NUM_THREADS=1 python -m bench.bench_calibration [--quick]

For each cell it draws no-drift windows (window of n and reference of m from the same
distribution), computes the statistic as the evaluator would and prints the realised
exceedance rate of the critical value divided by 1 - quantile (1.00 = exact). PSI and
Jensen-Shannon use Jeffreys' pseudo-count on bins pooled to 5 expected counts; the normalised
Wasserstein distance draws a fresh reference every 200 windows, so the rate averages over
references as well as windows. The statistics are computed by vectorised kernels that are first
checked against ``exporter.stats.psi``, ``jensen_shannon`` and ``compare_ecdfs`` on the same
draws (to 1e-9), because calling those once per window would take hours. Also prints the time
of one ``wasserstein_critical`` call with a shared bridge table.
"""

from __future__ import annotations

import math
import sys
import time

import numpy as np
from numpy.typing import NDArray
from scipy.special import rel_entr  # type: ignore[import-untyped, unused-ignore]

from exporter.stats import (
    brownian_bridges,
    compare_ecdfs,
    jensen_shannon,
    jensen_shannon_critical,
    pool_sparse_bins,
    pooled,
    psi,
    psi_critical,
    wasserstein_critical,
)

Array = NDArray[np.float64]


def _smoothed(counts: Array, a: float) -> Array:
    return (counts + a) / (counts.sum(1, keepdims=True) + counts.shape[1] * a)


def psi_rows(reference: Array, window: Array) -> Array:
    r, c = _smoothed(reference, 0.5), _smoothed(window, 0.5)
    return ((c - r) * np.log(c / r)).sum(1)


def js_rows(reference: Array, window: Array) -> Array:
    p, q = _smoothed(reference, 0.5), _smoothed(window, 0.5)
    m = (p + q) / 2
    divergence = (rel_entr(p, m).sum(1) + rel_entr(q, m).sum(1)) / math.log(2)
    return np.minimum(np.sqrt(np.maximum(divergence / 2, 0.0)), 1.0)


def w1_rows(z: Array, x: Array) -> Array:
    """W1 between sorted z and each row of x, in O(n log m) a row (no value of x equal to one
    of z: continuous data). Reference intervals between window values are summed with prefix
    sums of the gaps."""
    rows, n = x.shape
    m = z.size
    xs = np.sort(x, axis=1)
    below = np.searchsorted(z, xs)
    zpad = np.append(z, np.inf)
    following = np.concatenate([xs[:, 1:], np.full((rows, 1), np.inf)], 1)
    gap = np.abs(np.arange(1, n + 1) / n - below / m)
    length = np.minimum(following, zpad[below]) - xs
    out = np.where(gap > 0, gap * np.where(np.isfinite(length), length, 0.0), 0.0).sum(1)
    dz = np.diff(z)
    level = np.arange(1, m) / m
    p0 = np.concatenate([[0.0], np.cumsum(dz)])
    p1 = np.concatenate([[0.0], np.cumsum(level * dz)])
    clipped = np.minimum(below, m - 1)
    lo = np.concatenate([np.zeros((rows, 1), np.int64), clipped], 1)
    hi = np.concatenate([clipped, np.full((rows, 1), m - 1, np.int64)], 1)
    j = np.arange(n + 1)
    split = np.clip(np.ceil(j * m / n).astype(np.int64) - 1, lo, hi)
    out += ((j / n) * (p0[split] - p0[lo]) - (p1[split] - p1[lo])).sum(1)
    out += ((p1[hi] - p1[split]) - (j / n) * (p0[hi] - p0[split])).sum(1)
    first = np.ones((rows, n), bool)
    first[:, 1:] = below[:, 1:] != below[:, :-1]
    i = np.arange(n)
    inside = first & (below >= 1) & (below <= m - 1)
    out -= np.where(inside, np.abs(i / n - below / m) * (zpad[below] - xs), 0.0).sum(1)
    past = first & (below == m)
    out += np.where(past, np.abs(i / n - 1.0) * (xs - z[-1]), 0.0).sum(1)
    return out


def w1_integer_rows(z: Array, x: NDArray[np.int64]) -> Array:
    rows, n = x.shape
    top = int(max(z.max(), x.max())) + 1
    g = np.cumsum(np.bincount(z.astype(np.int64), minlength=top)) / z.size
    flat = (x + (np.arange(rows) * top)[:, None]).ravel()
    f = np.cumsum(np.bincount(flat, minlength=rows * top).reshape(rows, top), 1) / n
    return np.abs(f - g)[:, :-1].sum(1)


def zipf(k: int) -> Array:
    p = 1.0 / np.arange(1, k + 1)
    return p / p.sum()


def binned_cells(draws: int, rng: np.random.Generator) -> None:
    print(f"PSI and JS (Jeffreys, pooled), {draws} windows a cell; rate / (1 - q)")
    dists = {
        "deciles": np.full(10, 0.1),
        "zipf10": zipf(10),
        "zipf50+other": np.append(zipf(50), 0),
    }
    for name, pi in dists.items():
        ordered, overflow = name == "deciles", (pi.size - 1 if name.endswith("other") else None)
        for m in (1000, 10_000):
            for n in (50, 100, 200, 1000, 5000):
                pooling = pool_sparse_bins(pi * m, n, overflow_index=overflow, ordered=ordered)
                groups = np.zeros((pi.size, pooling.bins))
                groups[np.arange(pi.size), pooling.grouping] = 1.0
                ref = rng.multinomial(m, pi, size=draws) @ groups
                win = rng.multinomial(n, pi, size=draws) @ groups
                p, j = psi_rows(ref, win), js_rows(ref, win)
                for k in range(3):
                    assert math.isclose(p[k], psi(ref[k], win[k], pseudo_count=0.5), rel_tol=1e-9)
                    assert math.isclose(
                        j[k], jensen_shannon(ref[k], win[k], pseudo_count=0.5), rel_tol=1e-9
                    )
                proportions = pooled(pi, pooling)
                row = f"  {name:13s} m={m:6d} n={n:5d} B={pooling.bins:2d}"
                for q in (0.99, 0.9995):
                    plain = psi_critical(n, m, pooling.bins, q)
                    fixed = psi_critical(n, m, pooling.bins, q, reference_proportions=proportions)
                    js = jensen_shannon_critical(n, m, pooling.bins, q)
                    row += (
                        f" | q={q}: PSI {np.mean(p >= plain) / (1 - q):5.2f}"
                        f" PSI+tau {np.mean(p >= fixed) / (1 - q):5.2f}"
                        f" JS {np.mean(j >= js) / (1 - q):5.2f}"
                    )
                print(row, flush=True)


def wasserstein_cells(draws: int, rng: np.random.Generator) -> None:
    print(f"W1 / sd (Brownian bridges), {draws} windows a cell; rate / (1 - q)")
    bridges = brownian_bridges()
    samplers = {
        "normal": lambda k: rng.normal(size=k),
        "lognormal": lambda k: rng.lognormal(size=k),
        "poisson3": lambda k: rng.poisson(3.0, size=k),
    }
    for name, draw in samplers.items():
        for m in (1000, 10_000):
            for n in (50, 200, 1000):
                exceeded = {0.99: 0, 0.9995: 0}
                for start in range(0, draws, 200):
                    z = np.sort(draw(m)).astype(np.float64)
                    std = float(z.std())
                    x = draw(200 * n).reshape(200, n)
                    w = (w1_integer_rows(z, x) if name == "poisson3" else w1_rows(z, x)) / std
                    if start == 0:
                        exact = compare_ecdfs(z, x[0].astype(np.float64)).wasserstein / std
                        assert math.isclose(w[0], exact, rel_tol=1e-9)
                    for q in exceeded:
                        critical = wasserstein_critical(z, std, n, q, bridges=bridges)
                        exceeded[q] += int((w >= critical).sum())
                rates = " ".join(f"q={q}: {c / draws / (1 - q):5.2f}" for q, c in exceeded.items())
                print(f"  {name:10s} m={m:6d} n={n:5d} {rates}", flush=True)
    z = np.sort(rng.normal(size=10_000))
    best = min(
        _timed(lambda: wasserstein_critical(z, 1.0, 500, 0.9995, bridges=bridges))
        for _ in range(21)
    )
    print(f"wasserstein_critical, m = 10,000, shared bridge table: {best * 1e3:.2f} ms a call")


def _timed(fn: object) -> float:
    start = time.perf_counter()
    fn()  # type: ignore[operator]
    return time.perf_counter() - start


def main() -> None:
    quick = "--quick" in sys.argv
    rng = np.random.default_rng(20240613)
    binned_cells(20_000 if quick else 200_000, rng)
    wasserstein_cells(2_000 if quick else 100_000, rng)


if __name__ == "__main__":
    main()
