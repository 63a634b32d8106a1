"""False alarms and detection delays of the concept-drift detectors, at their defaults.

Run from the repository root::

    python bench/bench_detectors.py             # ~5 minutes on 2 cores; --streams 10 for ~1

Every stream is drawn from ``np.random.default_rng([SEED, kind, i])`` and fed to the shipping
``exporter.truth.concept.ErrorStreamMonitor``, once with the defaults and once with the settings
shipped before (river 0.26's defaults: Page-Hinkley two-sided in the error's units with
forgetting; DDM with threshold 3 and a warm start of 1,000), the baseline of the same run on
the same streams.

- **False alarms**: ``--streams`` stationary streams of ``--records`` records per kind: 0/1
  errors at error rates 0.05, 0.1 and 0.3 (a classifier) and |N(0, 1)| absolute errors (a
  regressor: mean 0.80, sd 0.60), fed 5,000 records a call. Every detection is false; the
  rate is per 100,000 records, with the exact one-sided 95 % Poisson upper bound beside it.
- **Delay**: the same number of streams whose 0/1 error rate steps from 0.1 to 0.3 after
  20,000 records (10,000 after it), fed one record a call so the detecting record is exact;
  the delay is the records after the change up to and including the first detection at or
  after it. Also a regression step, |N(0, 1)| -> |N(0, 1.5)| (mean error 0.80 -> 1.20).
  Detections before the change are counted apart (they are false alarms too).

Nothing is timed: these are statistical properties, the same on any CPU for the same seeds.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np
from scipy import stats  # type: ignore[import-untyped, unused-ignore]

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import common

from exporter.truth.concept import DETECTORS, DetectorSettings, ErrorStreamMonitor

SEED = 20_261_213
CHANGE_AT = 20_000
AFTER_CHANGE = 10_000
WITHIN = 5_000  # the detection share is reported within this many records of the change
STATIONARY_CHUNK = 5_000

SETTINGS = {
    "defaults": DetectorSettings(),
    "before (river 0.26)": replace(
        DetectorSettings(),
        page_hinkley_delta=0.005,
        page_hinkley_threshold=50.0,
        page_hinkley_alpha=0.9999,
        page_hinkley_direction="both",
        page_hinkley_standardize=False,
        ddm_warm_start=1_000,
        ddm_drift_threshold=3.0,
    ),
}


def _bernoulli(rate: float) -> Callable[[np.random.Generator, int], np.ndarray]:
    return lambda rng, n: (rng.random(n) < rate).astype(np.float64)


def _half_normal(scale: float) -> Callable[[np.random.Generator, int], np.ndarray]:
    return lambda rng, n: np.abs(rng.normal(0.0, scale, n))


#: name -> (binary, draw); the stationary kinds.
STATIONARY = {
    "0/1 at 0.05": (True, _bernoulli(0.05)),
    "0/1 at 0.1": (True, _bernoulli(0.1)),
    "0/1 at 0.3": (True, _bernoulli(0.3)),
    "abs N(0,1)": (False, _half_normal(1.0)),
}
#: name -> (binary, before, after); the steps.
STEPS = {
    "0/1 0.1 -> 0.3": (True, _bernoulli(0.1), _bernoulli(0.3)),
    "abs N(0,1) -> abs N(0,1.5)": (False, _half_normal(1.0), _half_normal(1.5)),
}


def stationary_alarms(setting: str, kind: str, index: int, records: int) -> dict[str, int]:
    """Detections per detector on one stationary stream (all of them false)."""
    binary, draw = STATIONARY[kind]
    rng = np.random.default_rng([SEED, list(STATIONARY).index(kind), index])
    errors = draw(rng, records)
    monitor = ErrorStreamMonitor(SETTINGS[setting], binary=binary)
    for start in range(0, records, STATIONARY_CHUNK):
        monitor.update(errors[start : start + STATIONARY_CHUNK], now=0.0)
    return dict(monitor.detections)


def step_detections(setting: str, kind: str, index: int) -> dict[str, tuple[int, int | None]]:
    """Per detector: detections before the change, and the delay of the first one after it."""
    binary, before, after = STEPS[kind]
    rng = np.random.default_rng([SEED, 100 + list(STEPS).index(kind), index])
    errors = np.concatenate([before(rng, CHANGE_AT), after(rng, AFTER_CHANGE)])
    monitor = ErrorStreamMonitor(SETTINGS[setting], binary=binary)
    early = dict.fromkeys(monitor.detectors, 0)
    delay: dict[str, int | None] = dict.fromkeys(monitor.detectors)
    for i in range(errors.size):
        for name, hits in monitor.update(errors[i : i + 1], now=float(i)).items():
            if hits and i < CHANGE_AT:
                early[name] += hits
            elif hits and delay[name] is None:
                delay[name] = i - CHANGE_AT + 1
    return {name: (early[name], delay[name]) for name in monitor.detectors}


def poisson_upper(count: int, exposure: float) -> float:
    """Exact one-sided 95 % upper bound of a Poisson rate with ``count`` events."""
    return float(stats.chi2.ppf(0.95, 2 * count + 2)) / 2.0 / exposure


def _rate(count: int, exposure: float) -> str:
    return f"{count / exposure:.2f} (<= {poisson_upper(count, exposure):.2f})"


def _delays(found: list[tuple[int, int | None]]) -> tuple[str, str, str, str]:
    """Pre-change alarms, median / p90 / max delay, share detected within WITHIN."""
    early = sum(e for e, _ in found)
    delays = np.array([d if d is not None else np.inf for _, d in found])
    within = float(np.mean(delays <= WITHIN))
    finite = delays[np.isfinite(delays)]
    if finite.size == 0:
        spread = "never"
    else:
        spread = " / ".join(
            f"> {AFTER_CHANGE}" if np.isinf(value) else f"{value:.0f}"
            for value in (np.median(delays), np.percentile(delays, 90), delays.max())
        )
    return str(early), spread, f"{within:.0%}", f"{int(np.isinf(delays).sum())}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--streams", type=int, default=40, help="streams per kind (40)")
    parser.add_argument("--records", type=int, default=100_000, help="per stationary stream")
    parser.add_argument("--workers", type=int, default=2, help="processes (2)")
    args = parser.parse_args()
    print(f"# bench_detectors: {common.machine_line()}")
    print(
        f"{args.streams} streams per kind; stationary streams of {args.records:,} records; "
        f"steps at record {CHANGE_AT:,}, {AFTER_CHANGE:,} records after; seed {SEED}\n"
    )
    n = args.streams
    exposure = n * args.records / 100_000
    with ProcessPoolExecutor(args.workers) as pool:
        alarms = {
            (setting, kind): pool.map(
                stationary_alarms,
                *([setting] * n, [kind] * n, range(n), [args.records] * n),
            )
            for setting in SETTINGS
            for kind in STATIONARY
        }
        steps = {
            (setting, kind): pool.map(step_detections, [setting] * n, [kind] * n, range(n))
            for setting in SETTINGS
            for kind in STEPS
        }
        stationary_rows, step_rows = [], []
        for setting in SETTINGS:
            found = {kind: list(alarms[setting, kind]) for kind in STATIONARY}
            stepped = {kind: list(steps[setting, kind]) for kind in STEPS}
            for name in DETECTORS:
                cells = []
                for kind, (binary, _) in STATIONARY.items():
                    total = sum(a.get(name, 0) for a in found[kind])
                    cells.append(_rate(total, exposure) if binary or name != "ddm" else "-")
                stationary_rows.append([setting, name, *cells])
                for kind in STEPS:
                    per_stream = [s[name] for s in stepped[kind] if name in s]
                    if per_stream:
                        step_rows.append([setting, name, kind, *_delays(per_stream)])
    print("False alarms per 100,000 stationary records (95 % upper bound)\n")
    common.print_table(["settings", "detector", *STATIONARY], stationary_rows)
    print(f"\nDetection of a step after {CHANGE_AT:,} stationary records\n")
    common.print_table(
        [
            "settings",
            "detector",
            "step",
            f"alarms in the {CHANGE_AT:,} before",
            "delay median / p90 / max",
            f"detected within {WITHIN:,}",
            f"missed in {AFTER_CHANGE:,}",
        ],
        step_rows,
    )
    print(f"\nload average at end: {common.load_average()}")


if __name__ == "__main__":
    main()
