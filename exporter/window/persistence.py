"""Snapshots of reference profiles and windows on disk, so a restart loses at most one interval.

One file per model, `<state_dir>/models/<model>.npz`: numpy's zip of arrays (loaded with
allow_pickle=False, so a file can hold data but never code) plus a JSON `meta` entry with the
format version. Every write goes to a temporary file that is fsynced and then renamed over the
old one, so a crash leaves either the old snapshot or the new one, never half of one; the zip's
CRCs catch a file torn any other way. A file that is corrupt, inconsistent (any field of the
wrong type, shape or range, or a model other than the one its name says), of another format or
of a newer version is reported, counted and moved aside as `<name>.rejected-<unix time>`, never
crashed on, never restored in part and never silently overwritten. A model deleted while its
snapshot is being written stays deleted: the write checks, under the lock the deletion takes,
that the window is still the store's before it renames.

Version 2 adds ground truth: the reference's performance and calibration, the label and
detector counters, the latency histogram, the labelled window and the predictions waiting for
labels. Version 1 files are still restored (without ground truth); a build that reads only
version 1 sets version 2 files aside instead of dropping their ground truth silently.
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from numpy.typing import NDArray

from exporter.errors import InvalidName, UnknownModel
from exporter.ingest.names import check_feature_name, check_model_name
from exporter.stats.estimation import Calibration
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
    ReservoirState,
    SliceState,
    TruthState,
    WindowState,
)
from exporter.window.store import WindowStore

log = logging.getLogger(__name__)

FORMAT = "drift-exporter-state"
VERSION = 2
READABLE_VERSIONS = (1, 2)

_INT64_MAX = np.iinfo(np.int64).max


class SnapshotError(Exception):
    """A snapshot file that cannot be restored; the message says why."""


@dataclass
class PersistenceStats:
    """What the snapshot writer did, for /metrics."""

    snapshots: int = 0
    failures: int = 0
    rejected_files: int = 0
    last_snapshot_at: float | None = None


class StateDirectory:
    """Reads and writes the per-model snapshot files under `root`.

    `checkpoint`, called with the name of each stage of a save ("exported", "written",
    "locked", "checked"), lets a test hold a save at one stage while it does something else.
    """

    def __init__(self, root: Path, checkpoint: Callable[[str], None] | None = None) -> None:
        self.root = root
        self.models = root / "models"
        self.models.mkdir(parents=True, exist_ok=True)
        self.stats = PersistenceStats()
        self._lock = threading.Lock()
        self._checkpoint = checkpoint or _no_checkpoint

    def path(self, model: str) -> Path:
        """The model's file; ValueError for a name that is not a model name (so never a path
        outside `models/`): the API checks names before they get here, this checks again."""
        target = self.models / f"{model}.npz"
        try:
            check_model_name(model)
        except InvalidName as error:
            raise ValueError(error.detail) from None
        if target.parent != self.models:  # unreachable with the rule above; never trust it alone
            raise ValueError(f"model name {model!r} leaves the state directory")
        return target

    def save(self, store: WindowStore, model: str, now: float) -> bool:
        """Snapshot the model's window atomically (temp file, fsync, rename, fsync the dir).

        Returns False, having written nothing, if the model is not in `store`, or if by the
        rename its window is no longer the store's (deleted, or deleted and created afresh) or
        holds a newer reference than the one exported: a deletion always wins, and an older
        reference never overwrites a newer one.

        The check and the rename happen under the lock `remove` takes, and DELETE removes the
        model from the store before it removes the file, so either the deletion comes first and
        the check sees it, or the rename comes first and the removal deletes what it wrote.
        """
        target = self.path(model)
        try:
            window = store.get(model)
        except UnknownModel:
            return False
        state = window.export_state()
        self._checkpoint("exported")
        meta, arrays = _encode(state, now)
        temporary = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            with temporary.open("wb") as handle:
                arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
                np.savez(handle, allow_pickle=False, **arrays)
                handle.flush()
                os.fsync(handle.fileno())
            self._checkpoint("written")
            with self._lock:
                self._checkpoint("locked")
                # A new reference since the export: its own save (PUT's) writes it, and this
                # older state must not overwrite that.
                stale = window.profile is not state.profile
                if stale or not store.is_current(model, window):
                    temporary.unlink()
                    return False
                self._checkpoint("checked")
                os.replace(temporary, target)
            _fsync_directory(self.models)
        except OSError:
            temporary.unlink(missing_ok=True)
            with self._lock:
                self.stats.failures += 1
            raise
        with self._lock:
            self.stats.snapshots += 1
            self.stats.last_snapshot_at = now
        return True

    def save_all(self, store: WindowStore, now: float) -> None:
        for model, _ in store.windows():
            try:
                self.save(store, model, now)
            except Exception:  # one model's failure never stops the others' (or the thread)
                log.exception("snapshot of model %r failed", model)

    def remove(self, model: str) -> None:
        """Delete the model's file; call after the model left the store (see `save`)."""
        target = self.path(model)
        with self._lock:
            target.unlink(missing_ok=True)

    def restore_into(self, store: WindowStore) -> list[str]:
        """Load every snapshot into `store`; returns the models restored. Bad files go aside."""
        restored = []
        for path in sorted(self.models.glob("*.npz")):
            try:
                state = _decode(path)
                store.restore(state)
            except SnapshotError as error:
                self._set_aside(path, str(error))
                continue
            except Exception as error:  # a check missed something: still never stop start-up
                self._set_aside(path, f"restoring it failed: {error!r}")
                continue
            restored.append(state.profile.model)
        return restored

    def _set_aside(self, path: Path, reason: str) -> None:
        """Log, count and rename a file that cannot be restored, so it is kept for a person (or
        a newer build) to read and never overwritten by this model's next snapshot."""
        aside = path.with_name(f"{path.name}.rejected-{int(time.time())}")
        self.stats.rejected_files += 1
        try:
            os.replace(path, aside)
        except OSError as error:
            log.error(
                "state file %s cannot be restored (%s) nor moved aside: %s", path, reason, error
            )
            return
        log.error("state file %s cannot be restored (%s); moved to %s", path, reason, aside.name)


class SnapshotWriter:
    """A thread that snapshots every model every `interval_seconds`, and once more at stop()."""

    def __init__(
        self,
        directory: StateDirectory,
        store: WindowStore,
        interval_seconds: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._directory = directory
        self._store = store
        self._interval = interval_seconds
        self._clock = clock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="drift-snapshots", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread and write a final snapshot (graceful shutdown)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        self._directory.save_all(self._store, self._clock())

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self._directory.save_all(self._store, self._clock())


def _no_checkpoint(stage: str) -> None:
    pass


def _fsync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _encode(state: WindowState, now: float) -> tuple[dict[str, Any], dict[str, NDArray[Any]]]:
    """A window's state as JSON-able metadata and named arrays (format VERSION)."""
    arrays: dict[str, NDArray[Any]] = {}
    profile = state.profile
    columns = [_encode_column(column, f"p{i}", arrays) for i, column in enumerate(profile.columns)]
    slices = []
    for j, part in enumerate(state.slices):
        for i, counts in enumerate(part.counts):
            arrays[f"s{j}_c{i}"] = counts
        arrays[f"s{j}_quality"] = part.quality
        samples: list[dict[str, int] | None] = []
        for i, sample in enumerate(part.samples):
            if sample is None:
                samples.append(None)
                continue
            arrays[f"s{j}_r{i}"] = sample.values
            samples.append(
                {"capacity": sample.capacity, "filled": len(sample.values), "seen": sample.seen}
            )
        slices.append({"started_at": part.started_at, "records": part.records, "samples": samples})
    counters = state.counters
    arrays["latency_counts"] = counters.latency.counts
    truth = state.truth if state.truth is not None else TruthState(None, [], [], [])
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "saved_at": now,
        "profile": {
            "model": profile.model,
            "rows": profile.rows,
            "labels": profile.labels,
            "created_at": profile.created_at,
            "features": len(profile.features),
            "has_prediction": profile.prediction is not None,
            "columns": columns,
            "performance": _encode_performance(profile.performance, arrays),
        },
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
    return {
        "spec": performance.spec.to_dict(),
        "labels": performance.labels,
        "metrics": dict(performance.metrics),
        "calibrated": calibration is not None,
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


def _decode(path: Path) -> WindowState:
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
        raise SnapshotError(f"metadata is {_kind(meta)}, not an object")
    if meta.get("format") != FORMAT:
        raise SnapshotError(f"not a drift-exporter state file (format {meta.get('format')!r})")
    version = meta.get("version")
    if type(version) is not int or version not in READABLE_VERSIONS:
        raise SnapshotError(
            f"format version {version!r}, this build reads versions "
            f"{', '.join(map(str, READABLE_VERSIONS))}"
        )
    _number(_field(meta, "saved_at", "meta"), "meta.saved_at")
    model = _text(
        _field(_field(meta, "profile", "meta"), "model", "meta.profile"), "meta.profile.model"
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
    profile = _decode_profile(_object(meta["profile"], "meta.profile"), arrays, version)
    counters = _decode_counters(_object(_field(meta, "counters", "meta"), "meta.counters"), version)
    truth = None
    if version >= 2:
        latency = LatencyHistogram()
        latency.counts = _counts(arrays, "latency_counts", latency.counts.shape)
        latency.sum = _number(
            _field(meta["counters"], "latency_sum", "meta.counters"), "meta.counters.latency_sum"
        )
        if latency.sum < 0:
            raise SnapshotError(f"meta.counters.latency_sum: {latency.sum} < 0")
        counters.latency = latency
        truth = _decode_truth(_object(_field(meta, "truth", "meta"), "meta.truth"), arrays)
    described = _list(_field(meta, "slices", "meta"), "meta.slices")
    slices = [
        _decode_slice(profile, _object(part, f"meta.slices[{j}]"), j, arrays)
        for j, part in enumerate(described)
    ]
    records = _count(_field(meta, "window_records", "meta"), "meta.window_records")
    total = sum(part.records for part in slices)
    if records != total:
        raise SnapshotError(f"meta.window_records is {records}, its slices hold {total}")
    return WindowState(profile, counters, tuple(slices), records, truth)


def _decode_profile(
    described: dict[str, Any], arrays: dict[str, NDArray[Any]], version: int
) -> ReferenceProfile:
    where = "meta.profile"
    listed = _list(_field(described, "columns", where), f"{where}.columns")
    features = _count(_field(described, "features", where), f"{where}.features")
    has_prediction = _flag(_field(described, "has_prediction", where), f"{where}.has_prediction")
    if len(listed) != features + has_prediction:
        raise SnapshotError(
            f"{where}.columns: {len(listed)} columns for {features} features"
            f"{' and a prediction' if has_prediction else ''}"
        )
    columns = [
        _decode_column(_object(c, f"{where}.columns[{i}]"), i, arrays) for i, c in enumerate(listed)
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
        performance = _decode_performance(_field(described, "performance", where), arrays)
    return ReferenceProfile(
        model=_text(_field(described, "model", where), f"{where}.model"),
        rows=_count(_field(described, "rows", where), f"{where}.rows"),
        features=tuple(columns[:features]),
        prediction=columns[features] if has_prediction else None,
        labels=_count(_field(described, "labels", where), f"{where}.labels"),
        created_at=_number(_field(described, "created_at", where), f"{where}.created_at"),
        performance=performance,
    )


def _decode_column(
    described: dict[str, Any], i: int, arrays: dict[str, NDArray[Any]]
) -> ColumnProfile:
    where = f"meta.profile.columns[{i}]"
    key = f"p{i}"
    name = _text(_field(described, "name", where), f"{where}.name")
    kind = _field(described, "kind", where)
    rows = _count(_field(described, "rows", where), f"{where}.rows")
    missing = _count(_field(described, "missing", where), f"{where}.missing")
    mismatch = _count(_field(described, "type_mismatch", where), f"{where}.type_mismatch")
    if kind == "numeric":
        edges = _floats(arrays, f"{key}_edges")
        if not (np.isfinite(edges).all() and (np.diff(edges) > 0).all()):
            raise SnapshotError(f"array {key}_edges: not finite and strictly increasing")
        sample = _floats(arrays, f"{key}_sample")
        if not (np.isfinite(sample).all() and (np.diff(sample) >= 0).all()):
            raise SnapshotError(f"array {key}_sample: not finite and sorted")
        return NumericProfile(
            name=name,
            edges=edges,
            counts=_counts(arrays, f"{key}_counts", (len(edges) + 1,)),
            sample_sorted=sample,
            minimum=_number(_field(described, "minimum", where), f"{where}.minimum", nan=True),
            maximum=_number(_field(described, "maximum", where), f"{where}.maximum", nan=True),
            mean=_number(_field(described, "mean", where), f"{where}.mean", nan=True),
            std=_number(_field(described, "std", where), f"{where}.std", nan=True),
            rows=rows,
            missing=missing,
            type_mismatch=mismatch,
        )
    if kind not in ("categorical", "boolean"):
        raise SnapshotError(f"{where}.kind: {kind!r} is not numeric, categorical or boolean")
    categories = tuple(
        _text(category, f"{where}.categories[{c}]")
        for c, category in enumerate(
            _list(_field(described, "categories", where), f"{where}.categories")
        )
    )
    if len(set(categories)) != len(categories):
        raise SnapshotError(f"{where}.categories: a category appears twice")
    seen = frozenset(
        _text(category, f"{where}.seen[{c}]")
        for c, category in enumerate(_list(_field(described, "seen", where), f"{where}.seen"))
    )
    return CategoricalProfile(
        name=name,
        kind=kind,
        categories=categories,
        index={category: code for code, category in enumerate(categories)},
        counts=_counts(arrays, f"{key}_counts", (len(categories) + 1,)),
        seen=seen,
        rows=rows,
        missing=missing,
        type_mismatch=mismatch,
    )


def _decode_performance(
    described: Any, arrays: dict[str, NDArray[Any]]
) -> ReferencePerformance | None:
    if described is None:
        return None
    where = "meta.profile.performance"
    described = _object(described, where)
    calibration = None
    if _flag(_field(described, "calibrated", where), f"{where}.calibrated"):
        thresholds = _floats(arrays, "perf_thresholds")
        values = _floats(arrays, "perf_values")
        if not (
            len(thresholds)
            and values.shape == thresholds.shape
            and np.isfinite(thresholds).all()
            and (np.diff(thresholds) > 0).all()
            and ((values >= 0) & (values <= 1)).all()
            and (np.diff(values) >= 0).all()
        ):
            raise SnapshotError(
                "arrays perf_thresholds, perf_values: not a calibration (strictly increasing "
                "scores, non-decreasing probabilities in [0, 1], as many of each)"
            )
        calibration = Calibration(thresholds, values)
    metrics = _object(_field(described, "metrics", where), f"{where}.metrics")
    for name, value in metrics.items():
        if name not in PERFORMANCE_METRICS:
            raise SnapshotError(f"{where}.metrics: unknown metric {name!r}")
        _number(value, f"{where}.metrics.{name}")
    return ReferencePerformance(
        spec=_decode_spec(_field(described, "spec", where), f"{where}.spec"),
        labels=_count(_field(described, "labels", where), f"{where}.labels"),
        metrics={name: float(value) for name, value in metrics.items()},
        calibration=calibration,
    )


def _decode_spec(described: Any, where: str) -> TaskSpec:
    described = _object(described, where)
    task = _field(described, "task", where)
    if task not in ("classification", "regression"):
        raise SnapshotError(f"{where}.task: {task!r} is not classification or regression")
    positive = _field(described, "positive", where)
    return TaskSpec(
        task,
        _flag(_field(described, "scored", where), f"{where}.scored"),
        None if positive is None else _text(positive, f"{where}.positive"),
        _number(_field(described, "threshold", where), f"{where}.threshold"),
    )


def _decode_counters(counted: dict[str, Any], version: int) -> ModelCounters:
    where = "meta.counters"
    invalid = _object(_field(counted, "invalid", where), f"{where}.invalid")
    for reason, value in invalid.items():
        if reason not in INVALID_REASONS:
            raise SnapshotError(f"{where}.invalid: unknown reason {reason!r}")
        _count(value, f"{where}.invalid.{reason}")
    last = _field(counted, "last_record_timestamp", where)
    counters = ModelCounters(
        records=_count(_field(counted, "records", where), f"{where}.records"),
        invalid=dict(invalid),
        last_record_timestamp=None
        if last is None
        else _number(last, f"{where}.last_record_timestamp"),
    )
    if version < 2:  # no ground truth
        return counters
    counters.labels = _count(_field(counted, "labels", where), f"{where}.labels")
    counters.labels_matched = _count(
        _field(counted, "labels_matched", where), f"{where}.labels_matched"
    )
    counters.labels_unmatched = _count(
        _field(counted, "labels_unmatched", where), f"{where}.labels_unmatched"
    )
    counters.labels_expired = _count(
        _field(counted, "labels_expired", where), f"{where}.labels_expired"
    )
    counters.labels_invalid = _count(
        _field(counted, "labels_invalid", where), f"{where}.labels_invalid"
    )
    detections = _object(_field(counted, "detections", where), f"{where}.detections")
    last_detection = _object(_field(counted, "last_detection", where), f"{where}.last_detection")
    for name in DETECTORS:
        counters.detections[name] = _count(
            _field(detections, name, f"{where}.detections"), f"{where}.detections.{name}"
        )
        at = _field(last_detection, name, f"{where}.last_detection")
        counters.last_detection[name] = (
            None if at is None else _number(at, f"{where}.last_detection.{name}")
        )
    return counters


def _decode_truth(described: dict[str, Any], arrays: dict[str, NDArray[Any]]) -> TruthState:
    spec_described = _field(described, "spec", "meta.truth")
    spec = None if spec_described is None else _decode_spec(spec_described, "meta.truth.spec")
    pairs = _list(_json(arrays, "truth_pairs"), "array truth_pairs")
    if len(pairs) != 2:
        raise SnapshotError(f"array truth_pairs: {len(pairs)} lists, not 2")
    truth = _list(pairs[0], "array truth_pairs[0]")
    predicted = _list(pairs[1], "array truth_pairs[1]")
    if len(truth) != len(predicted):
        raise SnapshotError(
            f"array truth_pairs: {len(truth)} labels for {len(predicted)} predictions"
        )
    if truth and spec is None:
        raise SnapshotError("array truth_pairs: labelled pairs without a task (meta.truth.spec)")
    if spec is not None:
        _check_pairs(spec, truth, predicted)
    pending = []
    for n, entry in enumerate(_list(_json(arrays, "truth_pending"), "array truth_pending")):
        entry = _list(entry, f"array truth_pending[{n}]")
        if len(entry) != 3:
            raise SnapshotError(f"array truth_pending[{n}]: {len(entry)} fields, not 3")
        key, prediction, at = entry
        pending.append(
            (
                _text(key, f"array truth_pending[{n}][0]"),
                prediction,
                _number(at, f"array truth_pending[{n}][2]"),
            )
        )
    return TruthState(spec, truth, predicted, pending)


def _check_pairs(spec: TaskSpec, truth: list[Any], predicted: list[Any]) -> None:
    """The labelled window holds what encode_pairs makes for `spec`, nothing else."""
    if spec.task == "classification" and not spec.scored:
        if not all(type(value) is str for value in (*truth, *predicted)):
            raise SnapshotError("array truth_pairs: a class that is not a string")
        return
    if not all(_is_number(value) for value in (*truth, *predicted)):
        raise SnapshotError("array truth_pairs: a value that is not a finite number")
    if spec.scored and not all(value in (0, 1) for value in truth):
        raise SnapshotError("array truth_pairs: a scored classifier's label other than 0 or 1")


def _decode_slice(
    profile: ReferenceProfile, described: dict[str, Any], j: int, arrays: dict[str, NDArray[Any]]
) -> SliceState:
    where = f"meta.slices[{j}]"
    columns = profile.columns
    records = _count(_field(described, "records", where), f"{where}.records")
    counts = tuple(
        _counts(arrays, f"s{j}_c{i}", (column.bins,)) for i, column in enumerate(columns)
    )
    quality = _counts(arrays, f"s{j}_quality", (len(QUALITY_FIELDS), len(columns)))
    missing, nan, mismatch, outside, unseen = (
        quality[QUALITY_FIELDS.index(name)]
        for name in ("missing", "nan", "type_mismatch", "out_of_range", "unseen")
    )
    samples = _list(_field(described, "samples", where), f"{where}.samples")
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
        started_at=_number(_field(described, "started_at", where), f"{where}.started_at"),
        records=records,
        counts=counts,
        quality=quality,
        samples=tuple(
            _decode_reservoir(
                samples[i],
                column,
                int(counts[i].sum()),
                f"{where}.samples[{i}]",
                f"s{j}_r{i}",
                arrays,
            )
            for i, column in enumerate(columns)
        ),
    )


def _decode_reservoir(
    described: Any,
    column: ColumnProfile,
    valid: int,
    where: str,
    key: str,
    arrays: dict[str, NDArray[Any]],
) -> ReservoirState | None:
    if not isinstance(column, NumericProfile):
        if described is not None:
            raise SnapshotError(f"{where}: a sample of a {column.kind} column")
        return None
    described = _object(described, where)
    capacity = _count(_field(described, "capacity", where), f"{where}.capacity")
    filled = _count(_field(described, "filled", where), f"{where}.filled")
    seen = _count(_field(described, "seen", where), f"{where}.seen")
    if capacity < 1 or filled != min(capacity, seen) or seen > valid:
        raise SnapshotError(
            f"{where}: capacity {capacity}, filled {filled}, seen {seen} of {valid} values "
            "(needs filled = min(capacity, seen), seen <= values)"
        )
    values = _floats(arrays, key)
    if values.shape != (filled,) or not np.isfinite(values).all():
        raise SnapshotError(f"array {key}: {values.shape[0]} values, {filled} filled")
    return ReservoirState(capacity, seen, values)


# Typed reads: each returns the value or raises SnapshotError naming the field.


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(value), "null" if value is None else f"a {type(value).__name__}"
    )


def _field(described: Any, key: str, where: str) -> Any:
    if not isinstance(described, dict):
        raise SnapshotError(f"{where}: {_kind(described)}, not an object")
    if key not in described:
        raise SnapshotError(f"{where}.{key}: missing")
    return described[key]


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise SnapshotError(f"{where}: {_kind(value)}, not an object")
    return value


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise SnapshotError(f"{where}: {_kind(value)}, not a list")
    return value


def _text(value: Any, where: str) -> str:
    if type(value) is not str:
        raise SnapshotError(f"{where}: {_kind(value)}, not a string")
    return value


def _flag(value: Any, where: str) -> bool:
    if type(value) is not bool:
        raise SnapshotError(f"{where}: {_kind(value)}, not a boolean")
    return value


def _count(value: Any, where: str) -> int:
    if type(value) is not int or value < 0:
        raise SnapshotError(f"{where}: {value!r} is not an integer >= 0")
    return value


def _is_number(value: Any) -> bool:
    return type(value) in (int, float) and math.isfinite(value)


def _number(value: Any, where: str, *, nan: bool = False) -> float:
    """A finite number (or, with `nan`, NaN: the statistics of a column with no values)."""
    if _is_number(value) or (nan and type(value) is float and math.isnan(value)):
        return float(value)
    raise SnapshotError(f"{where}: {value!r} is not a finite number")


def _array(arrays: dict[str, NDArray[Any]], key: str) -> NDArray[Any]:
    if key not in arrays:
        raise SnapshotError(f"array {key}: missing")
    return arrays[key]


def _counts(arrays: dict[str, NDArray[Any]], key: str, shape: tuple[int, ...]) -> NDArray[np.int64]:
    """An integer array of exactly `shape`, every value >= 0, as int64."""
    value = _array(arrays, key)
    if value.dtype.kind not in "iu" or value.shape != shape:
        raise SnapshotError(f"array {key}: {value.dtype} {value.shape}, not integers {shape}")
    counts = value.astype(np.int64)
    if (counts < 0).any() or (value.dtype.kind == "u" and (value > _INT64_MAX).any()):
        raise SnapshotError(f"array {key}: a count below 0 or beyond 64 bits")
    return counts


def _floats(arrays: dict[str, NDArray[Any]], key: str) -> NDArray[np.float64]:
    value = _array(arrays, key)
    if value.dtype.kind != "f" or value.ndim != 1:
        raise SnapshotError(f"array {key}: {value.dtype} {value.shape}, not a list of floats")
    return value.astype(np.float64)


def _json(arrays: dict[str, NDArray[Any]], key: str) -> Any:
    value = _array(arrays, key)
    if value.dtype != np.uint8 or value.ndim != 1:
        raise SnapshotError(f"array {key}: {value.dtype} {value.shape}, not JSON bytes")
    try:
        return orjson.loads(value.tobytes())
    except orjson.JSONDecodeError as error:
        raise SnapshotError(f"array {key}: not JSON ({error})") from None
