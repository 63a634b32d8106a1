"""WindowStore: per-model rolling windows of binned counts, bounded in records, age and memory.

A model's window is a ring of slices. Each slice holds, per monitored column, the bin counts,
the data-quality counts, and (numeric columns) a reservoir sample of raw values for the ECDF
statistics. Appending touches only the newest slice and expiry drops whole slices, so the cost
of both is independent of traffic. Bounds, with S = window.slices:

* records: at most `window.max_records`; once full, between max_records*(1-1/S) and max_records.
* age: slices older than `window.duration_seconds` (+ at most one slice, duration/S) are dropped.
* raw values: at most ceil(window.sample_size / S) floats per numeric column per slice.
* models: at most `limits.max_models`; columns per model: `limits.max_features_per_model` + 1.
* ground truth: see exporter.truth.groundtruth (join buffer, labelled window, detectors, latency).
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

import numpy as np
from numpy.typing import NDArray

from exporter.errors import LimitReached, UnknownModel
from exporter.ingest.decoding import LabelBatch, PredictionBatch
from exporter.settings import FeatureKind, Settings
from exporter.truth.concept import DETECTORS, ErrorStreamMonitor
from exporter.truth.groundtruth import (
    GroundTruth,
    JoinCounts,
    LatencyHistogram,
    TaskSpec,
    resolve_task,
)
from exporter.window.columns import (
    ABSENT,
    EXTRA_CODES,
    MISMATCH_OFFSET,
    MISSING_OFFSET,
    NAN_OFFSET,
    EncodedColumn,
    encode_categorical,
    encode_numeric,
)
from exporter.window.profile import NumericProfile, ReferenceProfile

#: The fixed reasons behind drift_invalid_values_total{reason}.
INVALID_REASONS = (
    "missing",
    "nan",
    "type_mismatch",
    "unseen_category",
    "out_of_range",
    "unknown_feature",
)

Clock = Callable[[], float]

#: Labels joined per hold of the window lock: a large label batch never holds ingest up long.
LABEL_CHUNK = 2_048
#: Records counted per hold of the window lock (~0.25 ms at 50 features).
COUNT_RECORDS = 512


class Reservoir:
    """A uniform sample of at most `capacity` values from everything added (Algorithm R)."""

    __slots__ = ("capacity", "filled", "seen", "values")

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.values = np.empty(0, dtype=np.float64)
        self.filled = 0
        self.seen = 0

    def add(self, new: NDArray[np.float64], rng: np.random.Generator) -> None:
        if len(self.values) < self.capacity and self.filled + len(new) > len(self.values):
            grown = np.empty(min(self.capacity, max(64, 2 * (self.filled + len(new)))))
            grown[: self.filled] = self.values[: self.filled]
            self.values = grown
        take = min(self.capacity - self.filled, len(new))
        if take > 0:
            self.values[self.filled : self.filled + take] = new[:take]
            self.filled += take
            self.seen += take
            new = new[take:]
        if len(new):
            # Item number t (1-based) replaces a uniform slot with probability capacity/t.
            numbers = np.arange(self.seen + 1, self.seen + len(new) + 1)
            slots = rng.integers(0, numbers)
            kept = slots < self.capacity
            self.values[slots[kept]] = new[kept]
            self.seen += len(new)

    def sample(self) -> NDArray[np.float64]:
        return self.values[: self.filled]


class WindowSlice:
    """The counts of one slice of the window, column by column in profile.columns order."""

    __slots__ = (
        "counts",
        "missing",
        "nan",
        "out_of_range",
        "records",
        "samples",
        "started_at",
        "type_mismatch",
        "unseen",
    )

    def __init__(self, profile: ReferenceProfile, started_at: float, sample_capacity: int):
        columns = profile.columns
        self.started_at = started_at
        self.records = 0
        self.counts = [np.zeros(column.bins, dtype=np.int64) for column in columns]
        width = len(columns)
        self.missing = np.zeros(width, dtype=np.int64)
        self.nan = np.zeros(width, dtype=np.int64)
        self.type_mismatch = np.zeros(width, dtype=np.int64)
        self.out_of_range = np.zeros(width, dtype=np.int64)
        self.unseen = np.zeros(width, dtype=np.int64)
        self.samples = [
            Reservoir(sample_capacity) if isinstance(column, NumericProfile) else None
            for column in columns
        ]


@dataclass(frozen=True, eq=False)
class ColumnWindow:
    """One column's merged window: bin counts, quality counts, and the raw-value sample."""

    counts: NDArray[np.int64]
    missing: int
    nan: int
    type_mismatch: int
    out_of_range: int
    unseen: int
    sample: NDArray[np.float64] | None

    @property
    def valid(self) -> int:
        return int(self.counts.sum())


@dataclass(frozen=True, eq=False)
class TruthSnapshot:
    """A copy of a model's labelled window and detector counts, safe to evaluate unlocked."""

    spec: TaskSpec | None
    truth: list[Any]
    predicted: list[Any]
    detections: dict[str, int]
    last_detection: dict[str, float | None]


@dataclass(frozen=True, eq=False)
class WindowSnapshot:
    """An immutable copy of a model's window, safe to evaluate outside the lock."""

    profile: ReferenceProfile
    records: int
    columns: tuple[ColumnWindow, ...]
    taken_at: float
    oldest_started_at: float | None
    truth: TruthSnapshot | None = None


@dataclass
class ModelCounters:
    """Monotonic counts for one model; they survive reference replacement, not deletion.

    Labels: `labels` = `labels_matched` + `labels_unmatched`; `labels_invalid` counts matched
    labels whose pair the task cannot read (a subset of the matched); `labels_expired` counts
    predictions that left the join buffer without their label (aged past
    `labels.max_age_seconds`, evicted by `labels.max_pending`, or waiting when the reference
    was replaced).
    """

    records: int = 0
    invalid: dict[str, int] = field(default_factory=lambda: dict.fromkeys(INVALID_REASONS, 0))
    last_record_timestamp: float | None = None
    labels: int = 0
    labels_matched: int = 0
    labels_unmatched: int = 0
    labels_expired: int = 0
    labels_invalid: int = 0
    detections: dict[str, int] = field(default_factory=lambda: dict.fromkeys(DETECTORS, 0))
    last_detection: dict[str, float | None] = field(
        default_factory=lambda: dict.fromkeys(DETECTORS)
    )
    latency: LatencyHistogram = field(default_factory=LatencyHistogram)


class ModelWindow:
    """One model's reference profile, window slices and counters, behind one lock."""

    def __init__(self, profile: ReferenceProfile, settings: Settings, clock: Clock) -> None:
        window = settings.window
        self.lock = threading.Lock()
        self.profile = profile
        self.counters = ModelCounters()
        self.slices: deque[WindowSlice] = deque()
        self._clock = clock
        self._max_records = window.max_records
        self._duration = window.duration_seconds
        self._slice_records = (
            None if window.max_records is None else math.ceil(window.max_records / window.slices)
        )
        self._slice_seconds = (
            None if window.duration_seconds is None else window.duration_seconds / window.slices
        )
        self._sample_capacity = math.ceil(window.sample_size / window.slices)
        self._rng = np.random.default_rng(settings.reference.seed)
        self._records = 0
        self._settings = settings
        self._declared = settings.model_for(profile.model)
        self._detector_settings = settings.concept_drift.detector_settings()
        self.ground_truth = self._new_truth(profile)

    @property
    def records(self) -> int:
        """Records in the window now (as of the last append or expiry)."""
        return self._records

    def replace_profile(self, profile: ReferenceProfile) -> None:
        """A new reference re-bins everything, so the old window cannot be kept.

        It is a new model version too: its labelled window and detectors start afresh, and the
        predictions still waiting for labels are dropped (counted as expired).
        """
        with self.lock:
            self.profile = profile
            self.slices.clear()
            self._records = 0
            self.counters.labels_expired += len(self.ground_truth.buffer)
            self.ground_truth = self._new_truth(profile)

    def _new_truth(self, profile: ReferenceProfile) -> GroundTruth:
        """Ground truth for `profile`: the task from the reference, else from the config alone."""
        if profile.performance is not None:
            spec: TaskSpec | None = profile.performance.spec
        else:
            kind = None if profile.prediction is None else profile.prediction.kind
            spec = resolve_task(self._declared, kind, [], [])
        return GroundTruth(self._settings.labels, spec)

    @property
    def _prediction_kind(self) -> FeatureKind | None:
        prediction = self.profile.prediction
        return None if prediction is None else prediction.kind

    def append(self, batch: PredictionBatch) -> int:
        """Count a checked batch into the window; returns how many records it held."""
        prepared = self.prepare(batch)
        for _ in prepared.steps():
            pass
        return self.commit(prepared)

    def prepare(self, batch: PredictionBatch) -> PreparedBatch:
        """The batch to encode against the current profile, step by step, outside the lock."""
        return PreparedBatch(self.profile, batch)

    def commit(self, prepared: PreparedBatch) -> int:
        """Count an encoded batch into the window; returns how many records it held."""
        for _ in self.commit_steps(prepared):
            pass
        return len(prepared.batch)

    def commit_steps(self, prepared: PreparedBatch) -> Iterator[None]:
        """Count an encoded batch into the window, COUNT_RECORDS records (at most one slice's
        worth) per step, holding the lock within a step only.

        A snapshot taken between steps sees a prefix of the batch, every column of each counted
        record, as if the rest had not arrived yet. The record, label and timestamp counters
        move in the last step. Run every step: a batch left half-way is half counted.
        """
        batch = prepared.batch
        total = len(batch)
        start = 0
        while True:
            with self.lock:
                if prepared.profile is not self.profile or not prepared.done:
                    # The reference was replaced meanwhile: the codes are for the old bins (and
                    # what was counted with them went with the old window).
                    prepared = PreparedBatch(self.profile, batch)
                    for _ in prepared.steps():
                        pass
                now = self._clock()
                self._expire(now)
                if start < total:
                    current = self._current_slice(now)
                    room = min(total - start, COUNT_RECORDS)
                    if self._slice_records is not None:
                        room = min(room, self._slice_records - current.records)
                    self._make_room(room)
                    self._count(current, prepared, start, start + room)
                    start += room
                if start >= total:
                    self._count_batch_extras(batch, prepared.all_present)
                    self._count_truth(batch, now)
                    return
            yield

    def add_labels(self, batch: LabelBatch) -> JoinCounts:
        """Join labels to the predictions waiting for them, then feed the detectors.

        Runs in a worker thread: the join holds the window lock for at most LABEL_CHUNK labels
        at a time, and the detectors run under their own lock.
        """
        matched = 0
        for start in range(0, len(batch), LABEL_CHUNK):
            ids = batch.ids[start : start + LABEL_CHUNK]
            labels = batch.labels[start : start + LABEL_CHUNK]
            with self.lock:
                truth, counters = self.ground_truth, self.counters
                now = self._clock()
                counters.labels_expired += truth.buffer.expire(now)
                joined = truth.buffer.join(ids, now)
                counters.labels += len(ids)
                counters.labels_matched += len(joined.positions)
                counters.labels_unmatched += joined.unmatched
                counters.labels_invalid += truth.add_pairs(
                    joined.predictions,
                    [labels[position] for position in joined.positions],
                    self._declared,
                    self._prediction_kind,
                )
                matched += len(joined.positions)
        self.feed_detectors()
        return JoinCounts(len(batch), matched, len(batch) - matched)

    def feed_detectors(self) -> None:
        """Run the concept-drift detectors over the errors of the pairs added since the last
        call, in order; created on the first pair (importing river). Call from a worker thread."""
        truth = self.ground_truth
        with truth.monitor_lock:
            with self.lock:
                errors = truth.take_unfed()
                spec = truth.spec
            if errors is None or spec is None:
                return
            if truth.monitor is None:
                binary = spec.task == "classification"
                truth.monitor = ErrorStreamMonitor(self._detector_settings, binary=binary)
            now = self._clock()
            found = truth.monitor.update(errors, now)
        with self.lock:
            for name, hits in found.items():
                if hits:
                    self.counters.detections[name] += hits
                    self.counters.last_detection[name] = now

    def _count_truth(self, batch: PredictionBatch, now: float) -> None:
        """Latencies, inline labels (joined at once), and ids remembered for later labels."""
        counters, truth = self.counters, self.ground_truth
        if batch.latencies is not None:
            counters.latency.observe(batch.latencies)
        ids, labels = batch.ids, batch.labels
        if labels is None:
            if ids.count(None) != len(ids):
                counters.labels_expired += truth.buffer.remember(ids, batch.predictions, None, now)
            return
        waiting = [key if label is None else None for key, label in zip(ids, labels, strict=True)]
        if waiting.count(None) != len(waiting):
            counters.labels_expired += truth.buffer.remember(waiting, batch.predictions, None, now)
        labelled = [i for i, label in enumerate(labels) if label is not None]
        counters.labels += len(labelled)
        counters.labels_matched += len(labelled)
        counters.labels_invalid += truth.add_pairs(
            [batch.predictions[i] for i in labelled],
            [labels[i] for i in labelled],
            self._declared,
            self._prediction_kind,
        )

    def snapshot(self) -> WindowSnapshot:
        """Merge the slices into one immutable window, after expiring old slices."""
        with self.lock:
            now = self._clock()
            self._expire(now)
            profile = self.profile
            slices = list(self.slices)
            quality = _quality_totals(slices, len(profile.columns))
            columns = tuple(self._merge(i, slices, quality) for i in range(len(profile.columns)))
            truth, counters = self.ground_truth, self.counters
            counters.labels_expired += truth.buffer.expire(now)
            return WindowSnapshot(
                profile=profile,
                records=self._records,
                columns=columns,
                taken_at=now,
                oldest_started_at=slices[0].started_at if slices else None,
                truth=TruthSnapshot(
                    spec=truth.spec,
                    truth=list(truth.truth),
                    predicted=list(truth.predicted),
                    detections=dict(counters.detections),
                    last_detection=dict(counters.last_detection),
                ),
            )

    def restore_truth(self, restored: RestoredTruth) -> None:
        """Reinstate the labelled window, the task and the waiting predictions.

        Detector state is not restored: the detectors start afresh, their counts continue.
        """
        with self.lock:
            truth = self.ground_truth
            spec = restored.spec if restored.spec is not None else truth.spec
            truth.restored(spec, restored.truth, restored.predicted)
            start = 0
            pending = restored.pending
            while start < len(pending):
                stop = start
                stamp = pending[start][2]
                while stop < len(pending) and pending[stop][2] == stamp:
                    stop += 1
                run = pending[start:stop]
                truth.buffer.remember([p[0] for p in run], [p[1] for p in run], None, stamp)
                start = stop

    def _current_slice(self, now: float) -> WindowSlice:
        if self.slices:
            newest = self.slices[-1]
            fresh = self._slice_seconds is None or now - newest.started_at < self._slice_seconds
            roomy = self._slice_records is None or newest.records < self._slice_records
            if fresh and roomy:
                return newest
        created = WindowSlice(self.profile, now, self._sample_capacity)
        self.slices.append(created)
        return created

    def _make_room(self, incoming: int) -> None:
        if self._max_records is None:
            return
        while len(self.slices) > 1 and self._records + incoming > self._max_records:
            self._records -= self.slices.popleft().records

    def _expire(self, now: float) -> None:
        if self._duration is None or self._slice_seconds is None:
            return
        horizon = now - self._duration - self._slice_seconds
        while self.slices and self.slices[0].started_at <= horizon:
            self._records -= self.slices.popleft().records

    def _count(self, target: WindowSlice, prepared: PreparedBatch, start: int, stop: int) -> None:
        """Count records start..stop of an encoded batch into one slice.

        Every column's bins and quality counts come from one bincount over the batch's offset
        codes (see ColumnLayout), so the work under the lock is a few array operations, not a
        few per column; only the numeric columns' reservoirs are fed column by column.
        """
        layout = prepared.layout
        totals = np.bincount(prepared.offset_codes[:, start:stop].ravel(), minlength=layout.size)
        for counts, first in zip(target.counts, layout.firsts, strict=True):
            counts += totals[first : first + len(counts)]
        missing = totals[layout.missing_at]
        nan = totals[layout.nan_at]
        mismatch = totals[layout.mismatch_at]
        flagged = np.count_nonzero(prepared.flagged[:, start:stop], axis=1)
        outside = np.where(layout.numeric, flagged, 0)
        unseen = flagged - outside
        target.missing += missing
        target.nan += nan
        target.type_mismatch += mismatch
        target.out_of_range += outside
        target.unseen += unseen
        self._tally(
            int(missing.sum()),
            int(nan.sum()),
            int(mismatch.sum()),
            int(outside.sum()),
            int(unseen.sum()),
        )
        if stop > start:
            for i in layout.sampled:
                sample = target.samples[i]
                values = prepared.encoded[i].values
                if sample is not None and values is not None:
                    codes = prepared.encoded[i].codes[start:stop]
                    sample.add(values[start:stop][codes < layout.bins[i]], self._rng)
        target.records += stop - start
        self._records += stop - start

    def _tally(self, missing: int, nan: int, mismatch: int, outside: int, unseen: int) -> None:
        invalid = self.counters.invalid
        invalid["missing"] += missing
        invalid["nan"] += nan
        invalid["type_mismatch"] += mismatch
        invalid["out_of_range"] += outside
        invalid["unseen_category"] += unseen

    def _count_batch_extras(self, batch: PredictionBatch, all_present: bool) -> None:
        """Records, unknown features and the newest timestamp.

        When every record has every reference feature (`all_present`), a record has unknown
        features exactly when it has more keys than the reference has features, so counting
        keys suffices.
        """
        counters = self.counters
        counters.records += len(batch)
        names = self.profile.feature_names
        keys = sum(map(len, batch.features))
        if keys > len(names) * len(batch) or (keys and not all_present):
            known = set(names)
            counters.invalid["unknown_feature"] += sum(
                len(values.keys() - known) for values in batch.features
            )
        stamps = [stamp for stamp in batch.timestamps if stamp is not None]
        if stamps:
            newest = max(stamps)
            last = counters.last_record_timestamp
            counters.last_record_timestamp = newest if last is None else max(last, newest)

    def _merge(
        self, i: int, slices: list[WindowSlice], quality: dict[str, list[int]]
    ) -> ColumnWindow:
        column = self.profile.columns[i]
        counts = np.zeros(column.bins, dtype=np.int64)
        for part in slices:
            counts += part.counts[i]
        sample = None
        if isinstance(column, NumericProfile):
            sample = self._merged_sample([part.samples[i] for part in slices])
        return ColumnWindow(
            counts=counts,
            missing=quality["missing"][i],
            nan=quality["nan"][i],
            type_mismatch=quality["type_mismatch"][i],
            out_of_range=quality["out_of_range"][i],
            unseen=quality["unseen"][i],
            sample=sample,
        )

    def _merged_sample(self, reservoirs: list[Reservoir | None]) -> NDArray[np.float64]:
        """One uniform sample of the window from the slices' reservoirs.

        A slice that saw more values than its reservoir holds is under-represented, so every
        slice contributes in proportion to what it saw, at the lowest kept rate of any slice.
        """
        parts = [r for r in reservoirs if r is not None and r.seen]
        if not parts:
            return np.empty(0, dtype=np.float64)
        if all(r.filled == r.seen for r in parts):
            return np.concatenate([r.sample() for r in parts])
        rate = min(r.filled / r.seen for r in parts)
        chosen = []
        for r in parts:
            size = min(r.filled, round(r.seen * rate))
            chosen.append(self._rng.choice(r.sample(), size=size, replace=False))
        return np.concatenate(chosen)


_QUALITY_FIELDS = ("missing", "nan", "type_mismatch", "out_of_range", "unseen")


def _quality_totals(slices: list[WindowSlice], width: int) -> dict[str, list[int]]:
    """Each data-quality count summed over the slices, per column: one reduction per field."""
    if not slices:
        return {name: [0] * width for name in _QUALITY_FIELDS}
    return {
        name: np.add.reduce([getattr(part, name) for part in slices], dtype=np.int64).tolist()
        for name in _QUALITY_FIELDS
    }


class ColumnLayout:
    """Where each column's codes land in one bincount over all columns of a batch.

    Column i's code c becomes `firsts[i] + c`, so one `np.bincount` of the offset codes holds
    every column's bin counts (`firsts[i]` .. `+ bins[i]`) and its missing, NaN and
    type-mismatch counts (at `missing_at[i]`, `nan_at[i]`, `mismatch_at[i]`).
    """

    def __init__(self, profile: ReferenceProfile) -> None:
        bins = np.array([column.bins for column in profile.columns], dtype=np.intp)
        widths = bins + EXTRA_CODES
        self.bins = bins
        self.firsts = np.concatenate(([0], np.cumsum(widths)[:-1])).astype(np.intp)
        self.size = int(widths.sum())
        self.missing_at = self.firsts + bins + MISSING_OFFSET
        self.nan_at = self.firsts + bins + NAN_OFFSET
        self.mismatch_at = self.firsts + bins + MISMATCH_OFFSET
        self.numeric = np.array(
            [isinstance(column, NumericProfile) for column in profile.columns], dtype=bool
        )
        self.sampled = np.flatnonzero(self.numeric).tolist()


class PreparedBatch:
    """A batch being encoded against one profile: one code per record per column.

    `steps()` gathers and encodes one column per step, so a caller on the event loop can yield
    between steps and a large batch never blocks other requests for long; `ModelWindow.commit`
    then counts the codes under the lock. A column is gathered with one C-level lookup per
    record (`map(itemgetter(name), ...)`) unless some record lacks it; gathering by column
    builds no per-record tuples, which kept the cyclic GC busy.
    """

    def __init__(self, profile: ReferenceProfile, batch: PredictionBatch) -> None:
        self.profile = profile
        self.batch = batch
        self.all_present = True
        """Whether every record had every reference feature (known once the steps are done)."""
        self.encoded: list[EncodedColumn] = []
        self.layout = ColumnLayout(profile)
        self.offset_codes: NDArray[np.intp] = np.empty((0, 0), dtype=np.intp)
        self.flagged: NDArray[np.bool_] = np.empty((0, 0), dtype=bool)
        self.done = False

    def steps(self) -> Iterator[None]:
        profile, batch = self.profile, self.batch
        features = batch.features
        for column in profile.columns:
            raw: Sequence[Any]
            if column is profile.prediction:
                raw = batch.predictions
            else:
                try:
                    raw = list(map(itemgetter(column.name), features))
                except KeyError:
                    self.all_present = False
                    raw = [values.get(column.name, ABSENT) for values in features]
            if isinstance(column, NumericProfile):
                self.encoded.append(
                    encode_numeric(raw, column.edges, column.minimum, column.maximum)
                )
            else:
                self.encoded.append(
                    encode_categorical(
                        raw,
                        column.lookup,
                        column.overflow,
                        column.seen,
                        boolean=column.kind == "boolean",
                    )
                )
            yield
        width, length = len(self.encoded), len(batch)
        self.offset_codes = np.empty((width, length), dtype=np.intp)
        self.flagged = np.empty((width, length), dtype=bool)
        for i, coded in enumerate(self.encoded):
            np.add(coded.codes, self.layout.firsts[i], out=self.offset_codes[i])
            self.flagged[i] = coded.flagged
        self.done = True


@dataclass(frozen=True, eq=False)
class RestoredTruth:
    """A model's ground truth as a snapshot holds it."""

    spec: TaskSpec | None
    truth: list[Any]
    predicted: list[Any]
    pending: list[tuple[str, Any, float]]
    """Predictions waiting for labels: (id, prediction, remembered at), oldest first."""


class WindowStore:
    """Every model's window, created by its first reference upload, capped at max_models."""

    def __init__(self, settings: Settings, clock: Clock = time.time) -> None:
        self._settings = settings
        self._clock = clock
        self._lock = threading.Lock()
        self._models: dict[str, ModelWindow] = {}

    def __contains__(self, model: str) -> bool:
        return model in self._models

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._models))

    def __len__(self) -> int:
        return len(self._models)

    def get(self, model: str) -> ModelWindow:
        """The model's window, or a 404 that says how to create it."""
        window = self._models.get(model)
        if window is None:
            raise UnknownModel(
                f"unknown model {model!r}: upload its reference first "
                f"(PUT /v1/models/{model}/reference)",
                "path.model",
            )
        return window

    def windows(self) -> list[tuple[str, ModelWindow]]:
        with self._lock:
            return sorted(self._models.items())

    def set_reference(self, profile: ReferenceProfile) -> bool:
        """Install a profile, creating the model if needed; True if the model is new."""
        with self._lock:
            window = self._models.get(profile.model)
            if window is not None:
                window.replace_profile(profile)
                return False
            cap = self._settings.limits.max_models
            if len(self._models) >= cap:
                raise LimitReached(
                    f"limits.max_models ({cap}) reached; delete a model first", "path.model"
                )
            self._models[profile.model] = ModelWindow(profile, self._settings, self._clock)
            return True

    def restore(
        self,
        profile: ReferenceProfile,
        counters: ModelCounters,
        slices: list[WindowSlice],
        records: int,
        truth: RestoredTruth | None = None,
    ) -> None:
        """Reinstate a model from a snapshot (window.persistence), replacing any in memory."""
        for reason in INVALID_REASONS:
            counters.invalid.setdefault(reason, 0)
        for name in DETECTORS:
            counters.detections.setdefault(name, 0)
            counters.last_detection.setdefault(name, None)
        window = ModelWindow(profile, self._settings, self._clock)
        window.counters = counters
        window.slices.extend(slices)
        window._records = records
        if truth is not None:
            window.restore_truth(truth)
        with self._lock:
            self._models[profile.model] = window

    def delete(self, model: str) -> None:
        with self._lock:
            self.get(model)
            del self._models[model]

    def append(self, model: str, batch: PredictionBatch) -> int:
        return self.get(model).append(batch)

    def snapshot(self, model: str) -> WindowSnapshot:
        return self.get(model).snapshot()
