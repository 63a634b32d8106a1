"""The detection benchmark's data: populations to draw reference and windows from, and drift.

Imports only numpy (and scikit-learn for the bundled real sets, when asked for one), so the
NannyML worker, run by another interpreter, regenerates exactly the same windows from the same
seeds instead of receiving them.

* `synthetic`: 20 features: 4 normal, 3 lognormal, 3 integer counts (Poisson), and categorical
  ones with Zipf mass (p_k proportional to 1/k): 4 with 3 categories, 3 with 10, 3 with 50.
* `breast_cancer`, `diabetes`, `wine`: scikit-learn's bundled sets (`load_*`, read from the
  installed package, never downloaded). The population is the set's empirical distribution:
  reference and windows are rows drawn with replacement from the whole set. (A random half as
  reference and windows from the other half cannot give a 5,000-record window that is an
  independent sample: the halves hold 89-285 rows.) Columns with at most 10 distinct values
  become categorical (diabetes' `sex`).

Drift, in one feature or in half of them:

* mean shift of d standard deviations: x + d * sd (sd of the population); integer counts stay
  integers: Poisson(lam + d * sqrt(lam)), the same shift of the mean.
* category-mass move of p: mass p leaves the most frequent category and goes to the others in
  proportion to their mass (total variation distance p); done by re-labelling each record of
  the top category with probability p / p_top.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np

Columns = dict[str, np.ndarray]

#: The scenarios of a default run. "mean D sd" and "mass P %" name any size (the unit test
#: adds "mean 2 sd"); "half" moves every other feature (numeric by 0.5 sd, categorical by 20 %
#: mass) to see whether the unmoved half gets flagged.
SCENARIOS = (
    "none",
    "mean 0.1 sd",
    "mean 0.2 sd",
    "mean 0.5 sd",
    "mass 5 %",
    "mass 10 %",
    "mass 20 %",
    "half",
)
HALF_MEAN_SD = 0.5
HALF_MASS = 0.20
REAL_SETS = ("breast_cancer", "diabetes", "wine")
DATASETS = ("synthetic", *REAL_SETS)
MAX_CATEGORIES_AS_CATEGORICAL = 10


@dataclass(frozen=True)
class Feature:
    """One column of a population: `kind` is normal, lognormal, count, categorical or real."""

    name: str
    kind: str
    params: tuple[float, ...] = ()
    categories: tuple[str, ...] = ()

    @property
    def categorical(self) -> bool:
        return self.kind == "categorical"


def zipf(k: int) -> np.ndarray:
    weights = 1.0 / np.arange(1, k + 1)
    return weights / weights.sum()


def synthetic_features() -> list[Feature]:
    features = [Feature(f"normal_{i}", "normal", (10.0 * i, 1.0 + i)) for i in range(4)]
    features += [Feature(f"lognormal_{i}", "lognormal", (1.0 + i, 0.5)) for i in range(3)]
    features += [Feature(f"count_{i}", "count", (lam,)) for i, lam in enumerate((2.0, 8.0, 40.0))]
    for k, copies in ((3, 4), (10, 3), (50, 3)):
        for i in range(copies):
            names = tuple(f"c{k}_{j:02d}" for j in range(k))
            features.append(Feature(f"cat{k}_{i}", "categorical", tuple(zipf(k)), names))
    return features


def scenario_kind(name: str) -> tuple[str, float]:
    """("none" | "half" | "mean" | "mass", size) of a scenario name; sizes as fractions."""
    if name in ("none", "half"):
        return name, 0.0
    parts = name.split()
    if len(parts) == 3 and (parts[0], parts[2]) in (("mean", "sd"), ("mass", "%")):
        try:
            size = float(parts[1])
        except ValueError:
            size = -1.0
        if size > 0:
            return parts[0], size / 100 if parts[0] == "mass" else size
    raise ValueError(f"scenario {name!r}: expected none, half, 'mean D sd' or 'mass P %'")


class Population:
    """Where reference rows and window records come from; `draw` is a pure function of `rng`."""

    def __init__(self, name: str, features: list[Feature], table: Columns | None = None) -> None:
        self.name = name
        self.features = features
        self.table = table  # a real set's rows (bootstrap source), None for synthetic
        self.sd = {f.name: self._sd(f) for f in features if not f.categorical}

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.features]

    def _sd(self, feature: Feature) -> float:
        if feature.kind == "normal":
            return feature.params[1]
        if feature.kind == "lognormal":
            mu, sigma = feature.params
            return float(np.sqrt((np.exp(sigma**2) - 1) * np.exp(2 * mu + sigma**2)))
        if feature.kind == "count":
            return float(np.sqrt(feature.params[0]))
        assert self.table is not None
        return float(np.std(self.table[feature.name]))

    def moved(self, scenario: str, window: int) -> dict[int, tuple[str, float]]:
        """Feature index -> (kind, size) moved in window number `window` of `scenario`.

        A one-feature shift rotates over the features it applies to, window by window."""
        kind, size = scenario_kind(scenario)
        numeric = [i for i, f in enumerate(self.features) if not f.categorical]
        categorical = [i for i, f in enumerate(self.features) if f.categorical]
        if kind == "none":
            return {}
        if kind == "half":
            return {
                i: ("mass", HALF_MASS) if self.features[i].categorical else ("mean", HALF_MEAN_SD)
                for i in range(0, len(self.features), 2)
            }
        eligible = numeric if kind == "mean" else categorical
        return {eligible[window % len(eligible)]: (kind, size)} if eligible else {}

    def applies(self, scenario: str) -> bool:
        kind, _ = scenario_kind(scenario)
        wanted = {"mean": False, "mass": True}.get(kind)
        return wanted is None or any(f.categorical == wanted for f in self.features)

    def draw(
        self, rng: np.random.Generator, rows: int, moved: dict[int, tuple[str, float]] | None = None
    ) -> Columns:
        moved = moved or {}
        if self.table is not None:
            picked = rng.integers(0, len(next(iter(self.table.values()))), rows)
            columns = {name: values[picked] for name, values in self.table.items()}
        else:
            columns = {
                f.name: self._generate(f, rng, rows, moved.get(i))
                for i, f in enumerate(self.features)
            }
        for i, (kind, size) in moved.items():
            feature = self.features[i]
            if kind == "mass":
                columns[feature.name] = move_mass(columns[feature.name], feature, size, rng)
            elif feature.kind != "count":
                columns[feature.name] = columns[feature.name] + size * self.sd[feature.name]
        return columns

    @staticmethod
    def _generate(
        feature: Feature, rng: np.random.Generator, rows: int, move: tuple[str, float] | None
    ) -> np.ndarray:
        if feature.kind == "normal":
            return rng.normal(feature.params[0], feature.params[1], rows)
        if feature.kind == "lognormal":
            return rng.lognormal(feature.params[0], feature.params[1], rows)
        if feature.kind == "count":
            lam = feature.params[0]
            if move is not None:
                lam += move[1] * np.sqrt(lam)
            return rng.poisson(lam, rows).astype(np.float64)
        return np.array(feature.categories)[
            rng.choice(len(feature.categories), rows, p=np.array(feature.params))
        ]


def category_shares(feature: Feature, values: np.ndarray | None = None) -> dict[str, float]:
    if values is None:
        return dict(zip(feature.categories, feature.params, strict=True))
    keys, counts = np.unique(values, return_counts=True)
    return dict(zip(keys.tolist(), (counts / counts.sum()).tolist(), strict=True))


def move_mass(
    values: np.ndarray, feature: Feature, size: float, rng: np.random.Generator
) -> np.ndarray:
    """Move mass `size` from the population's top category to the others, in proportion."""
    shares = dict(zip(feature.categories, feature.params, strict=True))
    top = max(shares, key=lambda key: shares[key])
    if size > shares[top]:
        raise ValueError(
            f"{feature.name}: cannot move {size:.0%}, the top category holds {shares[top]:.0%}"
        )
    others = [key for key in feature.categories if key != top]
    weights = np.array([shares[key] for key in others])
    out = values.copy()
    hit = (values == top) & (rng.random(len(values)) < size / shares[top])
    out[hit] = np.array(others)[rng.choice(len(others), int(hit.sum()), p=weights / weights.sum())]
    return out


def real_population(name: str) -> Population:
    """One of scikit-learn's bundled sets, read from the installed package (no download)."""
    from sklearn import datasets

    loaded = getattr(datasets, f"load_{name}")(as_frame=True)
    frame = loaded.data
    table: Columns = {}
    features = []
    for column in frame.columns:
        values = frame[column].to_numpy(dtype=np.float64)
        key = str(column).replace(" ", "_")
        distinct = np.unique(values)
        if len(distinct) <= MAX_CATEGORIES_AS_CATEGORICAL:
            labels = np.array([f"v{j}" for j in range(len(distinct))])
            table[key] = labels[np.searchsorted(distinct, values)]
            shares = category_shares(Feature(key, "categorical"), table[key])
            features.append(Feature(key, "categorical", tuple(shares.values()), tuple(shares)))
        else:
            table[key] = values
            features.append(Feature(key, "real"))
    return Population(name, features, table)


def population(name: str) -> Population:
    if name == "synthetic":
        return Population(name, synthetic_features())
    if name in REAL_SETS:
        return real_population(name)
    raise ValueError(f"unknown dataset {name!r}: choose from {', '.join(DATASETS)}")


def seed_for(seed: int, *parts: Any) -> np.random.Generator:
    """An independent stream per (dataset, n, scenario, window, ...) from one master seed."""
    words = [int.from_bytes(hashlib.sha256(str(p).encode()).digest()[:4], "little") for p in parts]
    return np.random.default_rng(np.random.SeedSequence([seed, *words]))


def reference_rows(pop: Population, seed: int, draw: int, rows: int) -> Columns:
    return pop.draw(seed_for(seed, pop.name, "reference", draw), rows)


def window_rows(
    pop: Population, seed: int, n: int, scenario: str, window: int
) -> tuple[Columns, dict[int, tuple[str, float]]]:
    moved = pop.moved(scenario, window)
    return pop.draw(seed_for(seed, pop.name, n, scenario, window), n, moved), moved
