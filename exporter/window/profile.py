"""ReferenceProfile: what the live window is compared against, built once per reference upload.

For each monitored column (every feature, plus the prediction when the reference has one) the
profile fixes the type, the bins live values are counted into, and the reference's counts in
those bins. Numeric columns keep reference-quantile bin edges, a sorted bounded sample for the
ECDF statistics, and the range and spread; categorical and boolean columns keep the
`reference.max_categories` most frequent categories plus one overflow bin.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
from numpy.typing import NDArray

from exporter.ingest.values import ABSENT
from exporter.settings import FeatureKind, ModelSettings, ReferenceSettings
from exporter.stats.binning import bin_counts, quantile_edges
from exporter.truth.performance import ReferencePerformance, reference_performance
from exporter.window.columns import (
    MISMATCH_OFFSET,
    categorical_column,
    category_codes,
    numeric_column,
)

PREDICTION = "prediction"


class ProfileError(ValueError):
    """The reference cannot be profiled; the message names the column."""


@dataclass(frozen=True, eq=False)
class NumericProfile:
    """A numeric column: bins are (-inf, e1], (e1, e2], ..., (ek, +inf)."""

    name: str
    edges: NDArray[np.float64]
    counts: NDArray[np.int64]
    sample_sorted: NDArray[np.float64]
    minimum: float
    maximum: float
    mean: float
    std: float
    rows: int
    missing: int
    type_mismatch: int
    kind: FeatureKind = "numeric"

    @property
    def bins(self) -> int:
        return len(self.edges) + 1

    @property
    def valid(self) -> int:
        return int(self.counts.sum())

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.kind,
            "rows": self.rows,
            "missing": self.missing,
            "type_mismatch": self.type_mismatch,
            "bin_edges": self.edges.tolist(),
            "bin_counts": self.counts.tolist(),
            "min": _finite_or_none(self.minimum),
            "max": _finite_or_none(self.maximum),
            "mean": _finite_or_none(self.mean),
            "std": _finite_or_none(self.std),
            "sample_size": len(self.sample_sorted),
        }


@dataclass(frozen=True, eq=False)
class CategoricalProfile:
    """A categorical or boolean column: one bin per kept category, then one overflow bin.

    The overflow bin holds reference categories beyond `max_categories` and, live, every value
    the reference never had; `seen` (all reference categories, bounded by the reference's size)
    tells those two apart so unseen categories are counted as such.
    """

    name: str
    kind: FeatureKind
    categories: tuple[str, ...]
    index: Mapping[str, int]
    counts: NDArray[np.int64]
    seen: frozenset[str]
    rows: int
    missing: int
    type_mismatch: int

    @property
    def bins(self) -> int:
        return len(self.categories) + 1

    @cached_property
    def lookup(self) -> Mapping[str | None, int]:
        """`index` plus None -> the type-mismatch code, for `columns.encode_categorical`."""
        lookup: dict[str | None, int] = {key: code for key, code in self.index.items()}
        lookup[None] = self.bins + MISMATCH_OFFSET
        return lookup

    @property
    def overflow(self) -> int:
        return len(self.categories)

    @property
    def valid(self) -> int:
        return int(self.counts.sum())

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.kind,
            "rows": self.rows,
            "missing": self.missing,
            "type_mismatch": self.type_mismatch,
            "categories": list(self.categories),
            "category_counts": self.counts[:-1].tolist(),
            "other_count": int(self.counts[-1]),
            "distinct_categories": len(self.seen),
        }


ColumnProfile = NumericProfile | CategoricalProfile


@dataclass(frozen=True, eq=False)
class ReferenceProfile:
    """A model's reference: its feature columns, its prediction column, and when it was made."""

    model: str
    rows: int
    features: tuple[ColumnProfile, ...]
    prediction: ColumnProfile | None
    labels: int
    created_at: float = field(default_factory=time.time)
    performance: ReferencePerformance | None = None
    """The reference's realised performance, score calibration or loss table (with labels)."""
    source: str | None = None
    """`sha256:<hex>` of the profile file or reference data it came from (configured references
    and profile files; None for a PUT of data), to tell a changed reference from the same one."""
    version: str | None = None
    """The model's version, as `profile build --model-version` recorded it."""

    @property
    def columns(self) -> tuple[ColumnProfile, ...]:
        """Every monitored column: the features, then the prediction if there is one."""
        if self.prediction is None:
            return self.features
        return (*self.features, self.prediction)

    @property
    def feature_names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.features)

    def summary(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "rows": self.rows,
            "labels": self.labels,
            "created_at": self.created_at,
            "features": [column.summary() for column in self.features],
            "prediction": None if self.prediction is None else self.prediction.summary(),
            "performance": None if self.performance is None else self.performance.summary(),
            "source": self.source,
            "model_version": self.version,
        }


def infer_kind(raw: Sequence[Any]) -> FeatureKind | None:
    """numeric if every present value is a number, boolean if every one is a bool (or the words
    true/false), categorical otherwise; None when nothing is present to infer from."""
    types = {type(value) for value in raw if value is not None and value is not ABSENT}
    if not types:
        return None
    if types <= {bool}:
        return "boolean"
    if types <= {int, float}:
        return "numeric"
    if types <= {str}:
        words = {value.strip().lower() for value in raw if type(value) is str}
        if words <= {"true", "false"}:
            return "boolean"
    return "categorical"


def build_column(
    name: str,
    raw: Sequence[Any],
    kind: FeatureKind,
    settings: ReferenceSettings,
    rng: np.random.Generator,
) -> ColumnProfile:
    """Profile one reference column as `kind`."""
    if kind == "numeric":
        return _numeric_profile(name, raw, settings, rng)
    return _categorical_profile(name, raw, kind, settings)


def build_profile(
    model: str,
    columns: Mapping[str, Sequence[Any]],
    predictions: Sequence[Any] | None,
    labels: Sequence[Any] | None,
    *,
    declared: Mapping[str, FeatureKind],
    prediction_kind: FeatureKind | None,
    settings: ReferenceSettings,
    model_settings: ModelSettings | None = None,
) -> ReferenceProfile:
    """Profile a reference table; raises ProfileError when a column's type cannot be known.

    With predictions and labels, the profile also holds the reference's realised performance
    (the score calibration of a scored classifier, the error moments per prediction bin of a
    regressor), read as `model_settings` declares.
    """
    rows = len(predictions) if predictions is not None else _rows(columns)
    rng = np.random.default_rng(settings.seed)
    features: list[ColumnProfile] = []
    for name, raw in columns.items():
        kind = declared.get(name) or infer_kind(raw)
        if kind is None:
            raise ProfileError(
                f"feature {name!r}: every reference value is missing, so its type cannot be "
                f"inferred; declare it under models.{model}.features in the config"
            )
        features.append(build_column(name, raw, kind, settings, rng))
    prediction: ColumnProfile | None = None
    if predictions is not None and infer_kind(predictions) is not None:
        kind = prediction_kind or infer_kind(predictions)
        assert kind is not None
        prediction = build_column(PREDICTION, predictions, kind, settings, rng)
    label_count = 0 if labels is None else len(labels) - labels.count(None) - labels.count(ABSENT)
    performance = reference_performance(
        model_settings or ModelSettings(),
        None if prediction is None else prediction.kind,
        predictions,
        labels,
        prediction.edges if isinstance(prediction, NumericProfile) else None,
    )
    return ReferenceProfile(
        model=model,
        rows=rows,
        features=tuple(features),
        prediction=prediction,
        labels=label_count,
        performance=performance,
    )


def _rows(columns: Mapping[str, Sequence[Any]]) -> int:
    return max((len(raw) for raw in columns.values()), default=0)


def _numeric_profile(
    name: str, raw: Sequence[Any], settings: ReferenceSettings, rng: np.random.Generator
) -> NumericProfile:
    column = numeric_column(raw)
    values = column.values
    edges = quantile_edges(values, settings.bins)
    if len(values) > settings.sample_size:
        sample = rng.choice(values, size=settings.sample_size, replace=False)
    else:
        sample = values.copy()
    sample.sort()
    empty = len(values) == 0
    return NumericProfile(
        name=name,
        edges=edges,
        counts=bin_counts(values, edges),
        sample_sorted=sample,
        minimum=float("nan") if empty else float(values.min()),
        maximum=float("nan") if empty else float(values.max()),
        mean=float("nan") if empty else float(values.mean()),
        std=float("nan") if empty else float(values.std()),
        rows=len(raw),
        missing=column.missing + column.nan,
        type_mismatch=column.type_mismatch,
    )


def _categorical_profile(
    name: str, raw: Sequence[Any], kind: FeatureKind, settings: ReferenceSettings
) -> CategoricalProfile:
    column = categorical_column(raw, boolean=kind == "boolean")
    frequencies = Counter(key for key in column.keys if key is not None)
    if kind == "boolean":
        kept = ["false", "true"]
    else:
        # Most frequent first; ties broken by name so the same reference gives the same bins.
        ranked = sorted(frequencies.items(), key=lambda item: (-item[1], item[0]))
        kept = [key for key, _ in ranked[: settings.max_categories]]
    index = {key: code for code, key in enumerate(kept)}
    codes = category_codes(column.keys, index, len(kept))
    return CategoricalProfile(
        name=name,
        kind=kind,
        categories=tuple(kept),
        index=index,
        counts=np.bincount(codes, minlength=len(kept) + 1).astype(np.int64),
        seen=frozenset(frequencies),
        rows=len(raw),
        missing=column.missing,
        type_mismatch=column.type_mismatch,
    )


def _finite_or_none(value: float) -> float | None:
    return value if np.isfinite(value) else None
