"""The drift flag's false-alarm rate on no-drift windows, at window sizes drawn at random.

The stated bound (docs/statistics.md): with the defaults, a window drawn from the reference's
own distribution flags any of a model's features with probability <= `drift.alpha` (0.01).
Each example draws a window size n and 100 no-drift windows of it for a model of 8 features
of every kind (normal, lognormal, integer counts, 3/10/50 Zipf categories, boolean), runs
the real `evaluate`, and counts windows with any feature flagged. Under the bound that count
is Binomial(100, <= 0.01): P(count >= 6) < 6e-4, so 6 or more means the bound does not hold.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from exporter.evaluation.evaluator import evaluate
from exporter.settings import DriftSettings, ReferenceSettings
from exporter.stats.binning import bin_counts
from exporter.window.profile import (
    CategoricalProfile,
    NumericProfile,
    ReferenceProfile,
    build_profile,
)
from exporter.window.snapshot import ColumnWindow, WindowSnapshot

WINDOWS = 100
MOST_FALSE_ALARMS = 5  # P(Binomial(100, 0.01) >= 6) < 6e-4
REFERENCE_ROWS = 10_000


def _zipf(categories: int) -> np.ndarray:
    mass = 1.0 / np.arange(1, categories + 1)
    return mass / mass.sum()


def _draw(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    return {
        "normal": rng.normal(size=n),
        "lognormal": rng.lognormal(size=n),
        "counts": rng.poisson(2.0, size=n).astype(float),
        "zipf3": rng.choice(3, size=n, p=_zipf(3)),
        "zipf10": rng.choice(10, size=n, p=_zipf(10)),
        "zipf50": rng.choice(50, size=n, p=_zipf(50)),
        "flag": rng.random(n) < 0.3,
    }


def _profile(rng: np.random.Generator) -> ReferenceProfile:
    drawn = _draw(rng, REFERENCE_ROWS)
    columns = {
        name: [f"c{v}" for v in values] if name.startswith("zipf") else values.tolist()
        for name, values in drawn.items()
    }
    return build_profile(
        "m",
        columns,
        None,
        None,
        declared={},
        prediction_kind=None,
        settings=ReferenceSettings(),
    )


def _window(profile: ReferenceProfile, drawn: dict[str, np.ndarray], n: int) -> WindowSnapshot:
    columns = []
    for column in profile.columns:
        values = drawn[column.name]
        if isinstance(column, NumericProfile):
            counts = bin_counts(values, column.edges)
            columns.append(ColumnWindow(counts, 0, 0, 0, 0, 0, values.astype(float)))
            continue
        assert isinstance(column, CategoricalProfile)
        keys = (
            [("true" if v else "false") for v in values]
            if column.kind == "boolean"
            else [f"c{v}" for v in values]
        )
        codes = np.array([column.index.get(key, column.overflow) for key in keys])
        counts = np.bincount(codes, minlength=column.bins).astype(np.int64)
        columns.append(ColumnWindow(counts, 0, 0, 0, 0, 0, None))
    return WindowSnapshot(profile, n, tuple(columns), 0.0, None)


@settings(max_examples=4, deadline=None)
@given(n=st.integers(min_value=60, max_value=5_000), seed=st.integers(0, 2**32 - 1))
def test_no_drift_windows_flag_a_feature_at_most_at_the_stated_rate(n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    profile = _profile(rng)
    drift = DriftSettings()
    alarms = 0
    for _ in range(WINDOWS):
        report = evaluate(_window(profile, _draw(rng, n), n), drift, 1, 0.0)
        alarms += report.features_drifted > 0
    assert alarms <= MOST_FALSE_ALARMS, f"{alarms} of {WINDOWS} no-drift windows of {n} flagged"
