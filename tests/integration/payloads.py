"""Seeded request payloads for the API tests."""

from __future__ import annotations

from typing import Any

import numpy as np


def seeded_records(seed: int, count: int, *, shift: float = 0.0) -> list[dict[str, Any]]:
    """Two numeric, one categorical and one boolean feature plus a score; `shift` moves `x`."""
    rng = np.random.default_rng(seed)
    x = rng.normal(shift, 1.0, count)
    y = rng.exponential(2.0, count)
    colour = rng.choice(["red", "green", "blue"], size=count, p=[0.5, 0.3, 0.2])
    flag = rng.random(count) < 0.3
    score = 1 / (1 + np.exp(-x))
    return [
        {
            "features": {
                "x": round(float(x[i]), 6),
                "y": round(float(y[i]), 6),
                "colour": str(colour[i]),
                "flag": bool(flag[i]),
            },
            "prediction": round(float(score[i]), 6),
        }
        for i in range(count)
    ]


def labelled_records(seed: int, count: int, *, shift: float = 0.0) -> list[dict[str, Any]]:
    """seeded_records with a 0/1 `label` drawn with P(label = 1) = the score: a calibrated
    binary classifier whose prediction is its score."""
    records = seeded_records(seed, count, shift=shift)
    draws = np.random.default_rng(seed + 10_000).random(count)
    for record, draw in zip(records, draws, strict=True):
        record["label"] = int(draw < record["prediction"])
    return records
