"""A window's persistable state to the arrays and JSON metadata of its `.npz` file."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import orjson
from numpy.typing import NDArray

from exporter.truth.performance import ReferencePerformance
from exporter.window.profile import (
    ColumnProfile,
    NumericProfile,
    ReferenceProfile,
)
from exporter.window.snapshot import (
    TruthState,
    WindowState,
)
from exporter.window.state_performance import encode_loss_table

FORMAT = "drift-exporter-state"
VERSION = 3
READABLE_VERSIONS = (1, 2, 3)


def encode_state(state: WindowState, now: float) -> tuple[dict[str, Any], dict[str, NDArray[Any]]]:
    """A window's state as JSON-able metadata and named arrays (format VERSION).

    Version 3 describes a slice's sample by its rate (exporter.window.sampling); versions 1 and 2
    by a fixed capacity, read back as the rate filled / seen.
    """
    arrays: dict[str, NDArray[Any]] = {}
    profile = state.profile
    slices = []
    for j, part in enumerate(state.slices):
        for i, counts in enumerate(part.counts):
            arrays[f"s{j}_c{i}"] = counts
        arrays[f"s{j}_quality"] = part.quality
        samples: list[dict[str, float] | None] = []
        for i, sample in enumerate(part.samples):
            if sample is None:
                samples.append(None)
                continue
            arrays[f"s{j}_r{i}"] = sample.values
            samples.append({"rate": sample.rate, "filled": len(sample.values), "seen": sample.seen})
        slices.append({"started_at": part.started_at, "records": part.records, "samples": samples})
    counters = state.counters
    arrays["latency_counts"] = counters.latency.counts
    truth = state.truth if state.truth is not None else TruthState(None, [], [], [])
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "saved_at": now,
        "profile": encode_profile(profile, arrays),
        "counters": {
            "records": counters.records,
            "invalid": counters.invalid,
            "last_record_timestamp": counters.last_record_timestamp,
            "labels": counters.labels,
            "labels_matched": counters.labels_matched,
            "labels_unmatched": counters.labels_unmatched,
            "labels_expired": counters.labels_expired,
            "labels_invalid": counters.labels_invalid,
            "detections": dict(counters.detections),
            "last_detection": dict(counters.last_detection),
            "latency_sum": counters.latency.sum,
        },
        "window_records": state.records,
        "slices": slices,
        "truth": {"spec": None if truth.spec is None else truth.spec.to_dict()},
    }
    arrays["truth_pairs"] = _json_array([truth.truth, truth.predicted])
    arrays["truth_pending"] = _json_array([list(entry) for entry in truth.pending])
    return meta, arrays


def encode_profile(profile: ReferenceProfile, arrays: dict[str, NDArray[Any]]) -> dict[str, Any]:
    """A profile as JSON-able metadata, its arrays added to `arrays` (also the payload of a
    profile file, exporter.window.profile_file). `source` and `model_version` are optional
    on read: files written before profile files lack them."""
    columns = [_encode_column(column, f"p{i}", arrays) for i, column in enumerate(profile.columns)]
    return {
        "model": profile.model,
        "rows": profile.rows,
        "labels": profile.labels,
        "created_at": profile.created_at,
        "features": len(profile.features),
        "has_prediction": profile.prediction is not None,
        "columns": columns,
        "performance": _encode_performance(profile.performance, arrays),
        "source": profile.source,
        "model_version": profile.version,
    }


def _json_array(value: Any) -> NDArray[np.uint8]:
    """JSON of `value` as bytes in a uint8 array (strings and mixed scalars, never pickled)."""
    try:
        encoded = orjson.dumps(value)
    except TypeError:  # an integer beyond 64 bits, say: the slower, general encoder
        encoded = json.dumps(value, default=str).encode()
    return np.frombuffer(encoded, np.uint8)


def _encode_performance(
    performance: ReferencePerformance | None, arrays: dict[str, NDArray[Any]]
) -> dict[str, Any] | None:
    if performance is None:
        return None
    calibration = performance.calibration
    if calibration is not None:
        arrays["perf_thresholds"] = calibration.thresholds
        arrays["perf_values"] = calibration.values
    if performance.loss_table is not None:
        encode_loss_table(performance.loss_table, arrays)
    return {
        "spec": performance.spec.to_dict(),
        "labels": performance.labels,
        "metrics": dict(performance.metrics),
        "calibrated": calibration is not None,
        "loss_estimated": performance.loss_table is not None,
    }


def _encode_column(
    column: ColumnProfile, key: str, arrays: dict[str, NDArray[Any]]
) -> dict[str, Any]:
    arrays[f"{key}_counts"] = column.counts
    common = {
        "name": column.name,
        "kind": column.kind,
        "rows": column.rows,
        "missing": column.missing,
        "type_mismatch": column.type_mismatch,
    }
    if isinstance(column, NumericProfile):
        arrays[f"{key}_edges"] = column.edges
        arrays[f"{key}_sample"] = column.sample_sorted
        return {
            **common,
            "minimum": column.minimum,
            "maximum": column.maximum,
            "mean": column.mean,
            "std": column.std,
        }
    return {**common, "categories": list(column.categories), "seen": sorted(column.seen)}
