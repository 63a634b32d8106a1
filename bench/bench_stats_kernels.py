"""Time the stats kernels against the scipy calls they replace, as ratios from the same run.

Run from the repository root::

    python -m bench.bench_stats_kernels

Absolute times depend on the machine; the ratios are what to compare. The KS p-value
(``scipy.stats.kstwo.sf``, shared by both sides) costs from tens of microseconds to a few
milliseconds depending on D and the sample sizes, so it is timed on its own too.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
from scipy import stats  # type: ignore[import-untyped, unused-ignore]
from scipy.spatial.distance import jensenshannon  # type: ignore[import-untyped, unused-ignore]

from exporter.stats import bin_counts, compare_ecdfs, jensen_shannon, quantile_edges
from exporter.stats.two_sample import _ecdf_gap

N_REFERENCE = 10_000
N_CURRENT = 5_000


def _best_seconds(*fns: Callable[[], object], repeats: int = 51) -> list[float]:
    """Fastest of ``repeats`` calls of each function, interleaved so that load from other
    processes hits every contender alike; the minimum is the run least disturbed."""
    for fn in fns:
        fn()  # warm-up
    best = [float("inf")] * len(fns)
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            start = time.perf_counter()
            fn()
            best[i] = min(best[i], time.perf_counter() - start)
    return best


def _ecdf_row(label: str, reference: np.ndarray, current: np.ndarray) -> None:
    reference_sorted = np.sort(reference)
    ours, kernel, baseline = _best_seconds(
        lambda: compare_ecdfs(reference_sorted, current),
        lambda: _ecdf_gap(reference_sorted, current),  # the ECDF pass without the p-value
        lambda: (
            stats.ks_2samp(reference, current, method="asymp"),
            stats.wasserstein_distance(reference, current),
        ),
    )
    print(
        f"{label:<22} compare_ecdfs {ours * 1e3:6.3f} ms (ECDF pass {kernel * 1e3:5.3f} ms)  "
        f"scipy {baseline * 1e3:6.3f} ms  ratio scipy/ours {baseline / ours:5.1f}x  "
        f"(ECDF pass alone {baseline / kernel:5.1f}x)"
    )


def main() -> None:
    rng = np.random.default_rng(0)
    reference = rng.normal(size=N_REFERENCE)
    print(f"KS + W1, {N_REFERENCE} sorted reference vs {N_CURRENT} current values")
    for shift in (0.0, 0.05, 0.5):
        _ecdf_row(f"normal, shift {shift}", reference, rng.normal(shift, 1.0, size=N_CURRENT))
    tied = rng.integers(0, 10, size=N_REFERENCE).astype(float)
    _ecdf_row("integers 0-9 (ties)", tied, rng.integers(0, 10, size=N_CURRENT).astype(float))

    edges = quantile_edges(reference, bins=10)
    ref_counts = bin_counts(reference, edges)
    cur_counts = bin_counts(rng.normal(0.2, 1.0, size=N_CURRENT), edges)
    ours, baseline = _best_seconds(
        lambda: jensen_shannon(ref_counts, cur_counts),
        lambda: jensenshannon(ref_counts, cur_counts, base=2),
        repeats=201,
    )
    print(
        f"jensen_shannon, 10 bins  ours {ours * 1e6:6.1f} us  scipy {baseline * 1e6:6.1f} us  "
        f"ratio scipy/ours {baseline / ours:5.1f}x"
    )
    batch = rng.normal(size=1_000)
    (ours,) = _best_seconds(lambda: bin_counts(batch, edges), repeats=201)
    print(f"bin_counts, 1,000 values {ours * 1e6:6.1f} us")


if __name__ == "__main__":
    main()
