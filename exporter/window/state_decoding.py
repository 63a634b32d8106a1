"""A state file back to a WindowState, every field checked against the restored profile."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from exporter.errors import InvalidName
from exporter.ingest.names import check_feature_name, check_model_name
from exporter.truth.concept import DETECTORS
from exporter.truth.latency import LatencyHistogram
from exporter.truth.performance import PERFORMANCE_METRICS, ReferencePerformance
from exporter.truth.task import TaskSpec
from exporter.window.counters import INVALID_REASONS, ModelCounters
from exporter.window.profile import (
    PREDICTION,
    CategoricalProfile,
    ColumnProfile,
    NumericProfile,
    ReferenceProfile,
)
from exporter.window.slices import QUALITY_FIELDS
from exporter.window.snapshot import (
    SliceState,
    TruthState,
    WindowState,
)
from exporter.window.state_encoding import FORMAT, READABLE_VERSIONS, VERSION
from exporter.window.state_fields import (
    SnapshotError,
    is_number,
    kind_of,
    read_count,
    read_counts,
    read_field,
    read_flag,
    read_floats,
    read_json,
    read_list,
    read_number,
    read_object,
    read_reservoir,
    read_text,
)
from exporter.window.state_performance import read_calibration, read_loss_table


def decode_state_file(path: Path) -> WindowState:
    """Read and check one snapshot file; SnapshotError says which field is wrong and how.

    Every field is checked before anything is built from it: a file is data from disk, not a
    trusted copy of a window. The model name must pass the API's rule and be the file's own
    name; every array must have the dtype and shape the restored profile implies; counts are
    integers >= 0 and agree with each other (a slice's records with its counts, the window's
    records with its slices', a reservoir's fill with what it saw).
    """
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
    except Exception as error:  # BadZipFile, a truncated member, a CRC mismatch, ...
        raise SnapshotError(f"unreadable or torn: {error}") from None
    if "meta" not in arrays:
        raise SnapshotError("no metadata entry")
    try:
        meta = json.loads(arrays.pop("meta").tobytes())
    except Exception as error:
        raise SnapshotError(f"no readable metadata: {error}") from None
    if not isinstance(meta, dict):
        raise SnapshotError(f"metadata is {kind_of(meta)}, not an object")
    if meta.get("format") != FORMAT:
        raise SnapshotError(f"not a drift-exporter state file (format {meta.get('format')!r})")
    version = meta.get("version")
    if type(version) is not int or version not in READABLE_VERSIONS:
        raise SnapshotError(
            f"format version {version!r}, this build reads versions "
            f"{', '.join(map(str, READABLE_VERSIONS))}"
        )
    read_number(read_field(meta, "saved_at", "meta"), "meta.saved_at")
    model = read_text(
        read_field(read_field(meta, "profile", "meta"), "model", "meta.profile"),
        "meta.profile.model",
    )
    try:
        check_model_name(model)
    except InvalidName as error:
        raise SnapshotError(f"meta.profile.model: {error.detail}") from None
    if path.name != f"{model}.npz":
        raise SnapshotError(f"holds model {model!r} but is named {path.name!r}")
    return _decode_state(meta, arrays, version)


def _decode_state(
    meta: dict[str, Any], arrays: dict[str, NDArray[Any]], version: int
) -> WindowState:
    profile = decode_profile(read_object(meta["profile"], "meta.profile"), arrays, version)
    counters = _decode_counters(
        read_object(read_field(meta, "counters", "meta"), "meta.counters"), version
    )
    truth = None
    if version >= 2:
        latency = LatencyHistogram()
        latency.counts = read_counts(arrays, "latency_counts", latency.counts.shape)
        latency.sum = read_number(
            read_field(meta["counters"], "latency_sum", "meta.counters"),
            "meta.counters.latency_sum",
        )
        if latency.sum < 0:
            raise SnapshotError(f"meta.counters.latency_sum: {latency.sum} < 0")
        counters.latency = latency
        truth = _decode_truth(read_object(read_field(meta, "truth", "meta"), "meta.truth"), arrays)
    described = read_list(read_field(meta, "slices", "meta"), "meta.slices")
    slices = [
        _decode_slice(profile, read_object(part, f"meta.slices[{j}]"), j, arrays, version)
        for j, part in enumerate(described)
    ]
    records = read_count(read_field(meta, "window_records", "meta"), "meta.window_records")
    total = sum(part.records for part in slices)
    if records != total:
        raise SnapshotError(f"meta.window_records is {records}, its slices hold {total}")
    return WindowState(profile, counters, tuple(slices), records, truth)


def decode_profile(
    described: dict[str, Any], arrays: dict[str, NDArray[Any]], version: int = VERSION
) -> ReferenceProfile:
    """The profile `encode_profile` described; SnapshotError names the field that is wrong."""
    where = "meta.profile"
    listed = read_list(read_field(described, "columns", where), f"{where}.columns")
    features = read_count(read_field(described, "features", where), f"{where}.features")
    has_prediction = read_flag(
        read_field(described, "has_prediction", where), f"{where}.has_prediction"
    )
    if len(listed) != features + has_prediction:
        raise SnapshotError(
            f"{where}.columns: {len(listed)} columns for {features} features"
            f"{' and a prediction' if has_prediction else ''}"
        )
    columns = [
        _decode_column(read_object(c, f"{where}.columns[{i}]"), i, arrays)
        for i, c in enumerate(listed)
    ]
    names = [column.name for column in columns[:features]]
    for i, name in enumerate(names):
        try:
            check_feature_name(name, f"{where}.columns[{i}].name")
        except InvalidName as error:
            raise SnapshotError(error.message) from None
    if len(set(names)) != len(names):
        raise SnapshotError(f"{where}.columns: a feature name appears twice")
    if has_prediction and columns[-1].name != PREDICTION:
        raise SnapshotError(
            f"{where}.columns[{features}]: the prediction is named {columns[-1].name!r}"
        )
    performance = None
    if version >= 2:
        performance = _decode_performance(
            read_field(described, "performance", where),
            arrays,
            columns[features].bins if has_prediction else None,
        )
    source, model_version = described.get("source"), described.get("model_version")
    return ReferenceProfile(
        model=read_text(read_field(described, "model", where), f"{where}.model"),
        rows=read_count(read_field(described, "rows", where), f"{where}.rows"),
        features=tuple(columns[:features]),
        prediction=columns[features] if has_prediction else None,
        labels=read_count(read_field(described, "labels", where), f"{where}.labels"),
        created_at=read_number(read_field(described, "created_at", where), f"{where}.created_at"),
        performance=performance,
        source=None if source is None else read_text(source, f"{where}.source"),
        version=None
        if model_version is None
        else read_text(model_version, f"{where}.model_version"),
    )


def _decode_column(
    described: dict[str, Any], i: int, arrays: dict[str, NDArray[Any]]
) -> ColumnProfile:
    where = f"meta.profile.columns[{i}]"
    key = f"p{i}"
    name = read_text(read_field(described, "name", where), f"{where}.name")
    kind = read_field(described, "kind", where)
    rows = read_count(read_field(described, "rows", where), f"{where}.rows")
    missing = read_count(read_field(described, "missing", where), f"{where}.missing")
    mismatch = read_count(read_field(described, "type_mismatch", where), f"{where}.type_mismatch")
    if kind == "numeric":
        edges = read_floats(arrays, f"{key}_edges")
        if not (np.isfinite(edges).all() and (np.diff(edges) > 0).all()):
            raise SnapshotError(f"array {key}_edges: not finite and strictly increasing")
        sample = read_floats(arrays, f"{key}_sample")
        if not (np.isfinite(sample).all() and (np.diff(sample) >= 0).all()):
            raise SnapshotError(f"array {key}_sample: not finite and sorted")
        return NumericProfile(
            name=name,
            edges=edges,
            counts=read_counts(arrays, f"{key}_counts", (len(edges) + 1,)),
            sample_sorted=sample,
            minimum=read_number(
                read_field(described, "minimum", where), f"{where}.minimum", nan=True
            ),
            maximum=read_number(
                read_field(described, "maximum", where), f"{where}.maximum", nan=True
            ),
            mean=read_number(read_field(described, "mean", where), f"{where}.mean", nan=True),
            std=read_number(read_field(described, "std", where), f"{where}.std", nan=True),
            rows=rows,
            missing=missing,
            type_mismatch=mismatch,
        )
    if kind not in ("categorical", "boolean"):
        raise SnapshotError(f"{where}.kind: {kind!r} is not numeric, categorical or boolean")
    categories = tuple(
        read_text(category, f"{where}.categories[{c}]")
        for c, category in enumerate(
            read_list(read_field(described, "categories", where), f"{where}.categories")
        )
    )
    if len(set(categories)) != len(categories):
        raise SnapshotError(f"{where}.categories: a category appears twice")
    seen = frozenset(
        read_text(category, f"{where}.seen[{c}]")
        for c, category in enumerate(
            read_list(read_field(described, "seen", where), f"{where}.seen")
        )
    )
    return CategoricalProfile(
        name=name,
        kind=kind,
        categories=categories,
        index={category: code for code, category in enumerate(categories)},
        counts=read_counts(arrays, f"{key}_counts", (len(categories) + 1,)),
        seen=seen,
        rows=rows,
        missing=missing,
        type_mismatch=mismatch,
    )


def _decode_performance(
    described: Any, arrays: dict[str, NDArray[Any]], prediction_bins: int | None
) -> ReferencePerformance | None:
    if described is None:
        return None
    where = "meta.profile.performance"
    described = read_object(described, where)
    calibration = None
    if read_flag(read_field(described, "calibrated", where), f"{where}.calibrated"):
        calibration = read_calibration(arrays)
    loss_table = None  # absent from files written before direct loss estimation
    if read_flag(described.get("loss_estimated", False), f"{where}.loss_estimated"):
        loss_table = read_loss_table(arrays, prediction_bins)
    metrics = read_object(read_field(described, "metrics", where), f"{where}.metrics")
    for name, value in metrics.items():
        if name not in PERFORMANCE_METRICS:
            raise SnapshotError(f"{where}.metrics: unknown metric {name!r}")
        read_number(value, f"{where}.metrics.{name}")
    return ReferencePerformance(
        spec=_decode_spec(read_field(described, "spec", where), f"{where}.spec"),
        labels=read_count(read_field(described, "labels", where), f"{where}.labels"),
        metrics={name: float(value) for name, value in metrics.items()},
        calibration=calibration,
        loss_table=loss_table,
    )


def _decode_spec(described: Any, where: str) -> TaskSpec:
    described = read_object(described, where)
    task = read_field(described, "task", where)
    if task not in ("classification", "regression"):
        raise SnapshotError(f"{where}.task: {task!r} is not classification or regression")
    positive = read_field(described, "positive", where)
    return TaskSpec(
        task,
        read_flag(read_field(described, "scored", where), f"{where}.scored"),
        None if positive is None else read_text(positive, f"{where}.positive"),
        read_number(read_field(described, "threshold", where), f"{where}.threshold"),
    )


def _decode_counters(counted: dict[str, Any], version: int) -> ModelCounters:
    where = "meta.counters"
    invalid = read_object(read_field(counted, "invalid", where), f"{where}.invalid")
    for reason, value in invalid.items():
        if reason not in INVALID_REASONS:
            raise SnapshotError(f"{where}.invalid: unknown reason {reason!r}")
        read_count(value, f"{where}.invalid.{reason}")
    last = read_field(counted, "last_record_timestamp", where)
    counters = ModelCounters(
        records=read_count(read_field(counted, "records", where), f"{where}.records"),
        invalid=dict(invalid),
        last_record_timestamp=None
        if last is None
        else read_number(last, f"{where}.last_record_timestamp"),
    )
    if version < 2:  # no ground truth
        return counters
    counters.labels = read_count(read_field(counted, "labels", where), f"{where}.labels")
    counters.labels_matched = read_count(
        read_field(counted, "labels_matched", where), f"{where}.labels_matched"
    )
    counters.labels_unmatched = read_count(
        read_field(counted, "labels_unmatched", where), f"{where}.labels_unmatched"
    )
    counters.labels_expired = read_count(
        read_field(counted, "labels_expired", where), f"{where}.labels_expired"
    )
    counters.labels_invalid = read_count(
        read_field(counted, "labels_invalid", where), f"{where}.labels_invalid"
    )
    detections = read_object(read_field(counted, "detections", where), f"{where}.detections")
    last_detection = read_object(
        read_field(counted, "last_detection", where), f"{where}.last_detection"
    )
    for name in DETECTORS:
        counters.detections[name] = read_count(
            read_field(detections, name, f"{where}.detections"), f"{where}.detections.{name}"
        )
        at = read_field(last_detection, name, f"{where}.last_detection")
        counters.last_detection[name] = (
            None if at is None else read_number(at, f"{where}.last_detection.{name}")
        )
    return counters


def _decode_truth(described: dict[str, Any], arrays: dict[str, NDArray[Any]]) -> TruthState:
    spec_described = read_field(described, "spec", "meta.truth")
    spec = None if spec_described is None else _decode_spec(spec_described, "meta.truth.spec")
    pairs = read_list(read_json(arrays, "truth_pairs"), "array truth_pairs")
    if len(pairs) != 2:
        raise SnapshotError(f"array truth_pairs: {len(pairs)} lists, not 2")
    truth = read_list(pairs[0], "array truth_pairs[0]")
    predicted = read_list(pairs[1], "array truth_pairs[1]")
    if len(truth) != len(predicted):
        raise SnapshotError(
            f"array truth_pairs: {len(truth)} labels for {len(predicted)} predictions"
        )
    if truth and spec is None:
        raise SnapshotError("array truth_pairs: labelled pairs without a task (meta.truth.spec)")
    if spec is not None:
        _check_pairs(spec, truth, predicted)
    pending = []
    for n, entry in enumerate(read_list(read_json(arrays, "truth_pending"), "array truth_pending")):
        entry = read_list(entry, f"array truth_pending[{n}]")
        if len(entry) != 3:
            raise SnapshotError(f"array truth_pending[{n}]: {len(entry)} fields, not 3")
        key, prediction, at = entry
        pending.append(
            (
                read_text(key, f"array truth_pending[{n}][0]"),
                prediction,
                read_number(at, f"array truth_pending[{n}][2]"),
            )
        )
    return TruthState(spec, truth, predicted, pending)


def _check_pairs(spec: TaskSpec, truth: list[Any], predicted: list[Any]) -> None:
    """The labelled window holds what encode_pairs makes for `spec`, nothing else."""
    if spec.task == "classification" and not spec.scored:
        if not all(type(value) is str for value in (*truth, *predicted)):
            raise SnapshotError("array truth_pairs: a class that is not a string")
        return
    if not all(is_number(value) for value in (*truth, *predicted)):
        raise SnapshotError("array truth_pairs: a value that is not a finite number")
    if spec.scored and not all(value in (0, 1) for value in truth):
        raise SnapshotError("array truth_pairs: a scored classifier's label other than 0 or 1")


def _decode_slice(
    profile: ReferenceProfile,
    described: dict[str, Any],
    j: int,
    arrays: dict[str, NDArray[Any]],
    version: int,
) -> SliceState:
    where = f"meta.slices[{j}]"
    columns = profile.columns
    records = read_count(read_field(described, "records", where), f"{where}.records")
    counts = tuple(
        read_counts(arrays, f"s{j}_c{i}", (column.bins,)) for i, column in enumerate(columns)
    )
    quality = read_counts(arrays, f"s{j}_quality", (len(QUALITY_FIELDS), len(columns)))
    missing, nan, mismatch, outside, unseen = (
        quality[QUALITY_FIELDS.index(name)]
        for name in ("missing", "nan", "type_mismatch", "out_of_range", "unseen")
    )
    samples = read_list(read_field(described, "samples", where), f"{where}.samples")
    if len(samples) != len(columns):
        raise SnapshotError(f"{where}.samples: {len(samples)} for {len(columns)} columns")
    for i, column in enumerate(columns):
        valid = int(counts[i].sum())
        counted = valid + int(missing[i] + nan[i] + mismatch[i])
        if counted != records:
            raise SnapshotError(f"{where}: column {i} counts {counted} values in {records} records")
        if isinstance(column, NumericProfile):
            possible = unseen[i] == 0 and outside[i] <= valid
        else:
            possible = outside[i] == 0 and unseen[i] <= counts[i][-1]
        if not possible:
            raise SnapshotError(f"{where}: column {i}'s out-of-range or unseen count is impossible")
    return SliceState(
        started_at=read_number(read_field(described, "started_at", where), f"{where}.started_at"),
        records=records,
        counts=counts,
        quality=quality,
        samples=tuple(
            read_reservoir(
                samples[i],
                isinstance(column, NumericProfile),
                int(counts[i].sum()),
                f"{where}.samples[{i}]",
                (arrays, f"s{j}_r{i}"),
                version,
            )
            for i, column in enumerate(columns)
        ),
    )


# Typed reads: each returns the value or raises SnapshotError naming the field.
