"""Snapshots of reference profiles and windows on disk, so a restart loses at most one interval.

One file per model, `<state_dir>/models/<model>.npz`: numpy's zip of arrays (loaded with
allow_pickle=False, so a file can hold data but never code) plus a JSON `meta` entry with the
format version. Every write goes to a temporary file that is fsynced and then renamed over the
old one, so a crash leaves either the old snapshot or the new one, never half of one; the zip's
CRCs catch a file torn any other way. A file that is corrupt, of another format or of a newer
version is reported and moved aside as `<name>.rejected-<unix time>`, never crashed on and never
silently overwritten.

Version 2 adds ground truth: the reference's performance and calibration, the label and
detector counters, the latency histogram, the labelled window and the predictions waiting for
labels. Version 1 files are still restored (without ground truth); a build that reads only
version 1 sets version 2 files aside instead of dropping their ground truth silently.
"""

from __future__ import annotations

import json
import logging
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

from exporter.stats.estimation import Calibration
from exporter.truth.concept import DETECTORS
from exporter.truth.latency import LatencyHistogram
from exporter.truth.performance import ReferencePerformance
from exporter.truth.task import TaskSpec
from exporter.window.counters import ModelCounters
from exporter.window.model import ModelWindow
from exporter.window.profile import (
    CategoricalProfile,
    ColumnProfile,
    NumericProfile,
    ReferenceProfile,
)
from exporter.window.slices import QUALITY_FIELDS, Reservoir, WindowSlice
from exporter.window.snapshot import RestoredTruth
from exporter.window.store import WindowStore

log = logging.getLogger(__name__)

FORMAT = "drift-exporter-state"
VERSION = 2
READABLE_VERSIONS = (1, 2)


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
    """Reads and writes the per-model snapshot files under `root`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.models = root / "models"
        self.models.mkdir(parents=True, exist_ok=True)
        self.stats = PersistenceStats()
        self._lock = threading.Lock()

    def path(self, model: str) -> Path:
        return self.models / f"{model}.npz"

    def save(self, window: ModelWindow, now: float) -> None:
        """Write one model's snapshot atomically (temp file, fsync, rename, fsync the dir)."""
        meta, arrays = _encode(window, now)
        target = self.path(window.profile.model)
        temporary = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        with self._lock:
            try:
                with temporary.open("wb") as handle:
                    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
                    np.savez(handle, allow_pickle=False, **arrays)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(temporary, target)
                _fsync_directory(self.models)
            except OSError:
                self.stats.failures += 1
                temporary.unlink(missing_ok=True)
                raise
            self.stats.snapshots += 1
            self.stats.last_snapshot_at = now

    def save_all(self, store: WindowStore, now: float) -> None:
        for model, window in store.windows():
            try:
                self.save(window, now)
            except OSError:
                log.exception("snapshot of model %r failed", model)

    def remove(self, model: str) -> None:
        self.path(model).unlink(missing_ok=True)

    def restore_into(self, store: WindowStore) -> list[str]:
        """Load every snapshot into `store`; returns the models restored. Bad files go aside."""
        restored = []
        for path in sorted(self.models.glob("*.npz")):
            try:
                profile, counters, slices, records, truth = _decode(path)
                store.restore(profile, counters, slices, records, truth)
            except SnapshotError as error:
                self._set_aside(path, str(error))
                continue
            restored.append(profile.model)
        return restored

    def _set_aside(self, path: Path, reason: str) -> None:
        aside = path.with_name(f"{path.name}.rejected-{int(time.time())}")
        log.error("state file %s cannot be restored (%s); moved to %s", path, reason, aside.name)
        os.replace(path, aside)
        self.stats.rejected_files += 1


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


def _fsync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _encode(window: ModelWindow, now: float) -> tuple[dict[str, Any], dict[str, NDArray[Any]]]:
    """The snapshot of one window as JSON-able metadata and named arrays, under its lock."""
    arrays: dict[str, NDArray[Any]] = {}
    with window.lock:
        profile = window.profile
        columns = []
        for i, column in enumerate(profile.columns):
            columns.append(_encode_column(column, f"p{i}", arrays))
        slices = []
        for j, part in enumerate(window.slices):
            for i, counts in enumerate(part.counts):
                arrays[f"s{j}_c{i}"] = counts.copy()
            arrays[f"s{j}_quality"] = np.stack([getattr(part, name) for name in QUALITY_FIELDS])
            samples: list[dict[str, int] | None] = []
            for i, reservoir in enumerate(part.samples):
                if reservoir is None:
                    samples.append(None)
                    continue
                arrays[f"s{j}_r{i}"] = reservoir.sample().copy()
                samples.append(
                    {
                        "capacity": reservoir.capacity,
                        "filled": reservoir.filled,
                        "seen": reservoir.seen,
                    }
                )
            slices.append(
                {"started_at": part.started_at, "records": part.records, "samples": samples}
            )
        counters = window.counters
        truth = window.ground_truth
        pending = truth.buffer.entries()
        spec = truth.spec
        labelled = (list(truth.truth), list(truth.predicted))
        arrays["latency_counts"] = counters.latency.counts.copy()
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
            "window_records": window.records,
            "slices": slices,
        }
    # Encoding the labelled window and the join buffer can take a while: outside the lock.
    meta["truth"] = {"spec": None if spec is None else spec.to_dict()}
    arrays["truth_pairs"] = _json_array(list(labelled))
    arrays["truth_pending"] = _json_array(
        [[key, prediction, at] for key, prediction, _, at in pending]
    )
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


def _decode(
    path: Path,
) -> tuple[ReferenceProfile, ModelCounters, list[WindowSlice], int, RestoredTruth | None]:
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
    except Exception as error:  # BadZipFile, a truncated member, a CRC mismatch, ...
        raise SnapshotError(f"unreadable or torn: {error}") from None
    try:
        meta = json.loads(arrays.pop("meta").tobytes())
    except Exception as error:
        raise SnapshotError(f"no readable metadata: {error}") from None
    if meta.get("format") != FORMAT:
        raise SnapshotError(f"not a drift-exporter state file (format {meta.get('format')!r})")
    if meta.get("version") not in READABLE_VERSIONS:
        raise SnapshotError(
            f"format version {meta.get('version')!r}, this build reads versions "
            f"{', '.join(map(str, READABLE_VERSIONS))}"
        )
    try:
        return _decode_state(meta, arrays)
    except (KeyError, TypeError, ValueError, IndexError) as error:
        raise SnapshotError(f"inconsistent content: {error!r}") from None


def _decode_state(
    meta: dict[str, Any], arrays: dict[str, NDArray[Any]]
) -> tuple[ReferenceProfile, ModelCounters, list[WindowSlice], int, RestoredTruth | None]:
    described = meta["profile"]
    columns = [_decode_column(c, f"p{i}", arrays) for i, c in enumerate(described["columns"])]
    feature_count = described["features"]
    profile = ReferenceProfile(
        model=described["model"],
        rows=described["rows"],
        features=tuple(columns[:feature_count]),
        prediction=columns[feature_count] if described["has_prediction"] else None,
        labels=described["labels"],
        created_at=described["created_at"],
        performance=_decode_performance(described.get("performance"), arrays),
    )
    counted = meta["counters"]
    counters = ModelCounters(
        records=counted["records"],
        invalid=dict(counted["invalid"]),
        last_record_timestamp=counted["last_record_timestamp"],
    )
    truth = None
    if meta["version"] >= 2:
        counters.labels = int(counted["labels"])
        counters.labels_matched = int(counted["labels_matched"])
        counters.labels_unmatched = int(counted["labels_unmatched"])
        counters.labels_expired = int(counted["labels_expired"])
        counters.labels_invalid = int(counted["labels_invalid"])
        counters.detections.update({k: int(counted["detections"][k]) for k in DETECTORS})
        counters.last_detection.update({k: counted["last_detection"][k] for k in DETECTORS})
        latency = LatencyHistogram()
        counts = arrays["latency_counts"].astype(np.int64)
        if counts.shape != latency.counts.shape:
            raise ValueError(f"latency histogram of {counts.shape[0]} buckets")
        latency.counts = counts
        latency.sum = float(counted["latency_sum"])
        counters.latency = latency
        truth = _decode_truth(meta["truth"], arrays)
    slices = []
    for j, described_slice in enumerate(meta["slices"]):
        part = WindowSlice(profile, described_slice["started_at"], 1)
        part.records = described_slice["records"]
        part.counts = [arrays[f"s{j}_c{i}"].astype(np.int64) for i in range(len(profile.columns))]
        quality = arrays[f"s{j}_quality"].astype(np.int64)
        for row, name in enumerate(QUALITY_FIELDS):
            setattr(part, name, quality[row].copy())
        for i, described_sample in enumerate(described_slice["samples"]):
            if described_sample is None:
                part.samples[i] = None
                continue
            reservoir = Reservoir(described_sample["capacity"])
            values = arrays[f"s{j}_r{i}"].astype(np.float64)
            reservoir.values = np.empty(reservoir.capacity, dtype=np.float64)
            reservoir.values[: len(values)] = values
            reservoir.filled = described_sample["filled"]
            reservoir.seen = described_sample["seen"]
            part.samples[i] = reservoir
        slices.append(part)
    return profile, counters, slices, meta["window_records"], truth


def _decode_performance(
    described: dict[str, Any] | None, arrays: dict[str, NDArray[Any]]
) -> ReferencePerformance | None:
    if described is None:
        return None
    calibration = None
    if described["calibrated"]:
        calibration = Calibration(
            arrays["perf_thresholds"].astype(np.float64), arrays["perf_values"].astype(np.float64)
        )
    return ReferencePerformance(
        spec=TaskSpec.from_dict(described["spec"]),
        labels=int(described["labels"]),
        metrics={str(name): float(value) for name, value in described["metrics"].items()},
        calibration=calibration,
    )


def _decode_truth(described: dict[str, Any], arrays: dict[str, NDArray[Any]]) -> RestoredTruth:
    spec = None if described["spec"] is None else TaskSpec.from_dict(described["spec"])
    truth, predicted = orjson.loads(arrays["truth_pairs"].tobytes())
    if len(truth) != len(predicted):
        raise ValueError(f"{len(truth)} labels for {len(predicted)} predictions")
    pending = [
        (str(key), prediction, float(at))
        for key, prediction, at in orjson.loads(arrays["truth_pending"].tobytes())
    ]
    return RestoredTruth(spec, truth, predicted, pending)


def _decode_column(
    described: dict[str, Any], key: str, arrays: dict[str, NDArray[Any]]
) -> ColumnProfile:
    counts = arrays[f"{key}_counts"].astype(np.int64)
    if described["kind"] == "numeric":
        return NumericProfile(
            name=described["name"],
            edges=arrays[f"{key}_edges"].astype(np.float64),
            counts=counts,
            sample_sorted=arrays[f"{key}_sample"].astype(np.float64),
            minimum=described["minimum"],
            maximum=described["maximum"],
            mean=described["mean"],
            std=described["std"],
            rows=described["rows"],
            missing=described["missing"],
            type_mismatch=described["type_mismatch"],
        )
    categories = tuple(described["categories"])
    return CategoricalProfile(
        name=described["name"],
        kind=described["kind"],
        categories=categories,
        index={category: code for code, category in enumerate(categories)},
        counts=counts,
        seen=frozenset(described["seen"]),
        rows=described["rows"],
        missing=described["missing"],
        type_mismatch=described["type_mismatch"],
    )
