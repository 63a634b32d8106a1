"""ModelWindow: one model's rolling window of binned counts, bounded in records, age and memory.

A model's window is a ring of slices. Each slice holds, per monitored column, the bin counts,
the data-quality counts, and (numeric columns) a reservoir sample of raw values for the ECDF
statistics. Appending touches only the newest slice and expiry drops whole slices, so the cost
of both is independent of traffic. Bounds, with S = window.slices:

* records: at most `window.max_records`; once full, between max_records*(1-1/S) and max_records.
* age: slices older than `window.duration_seconds` (+ at most one slice, duration/S) are dropped.
* raw values: at most window.sample_size + 2 * ceil(window.sample_size / S) floats per numeric
  column over all slices (exporter.window.sampling), one chunk more while a chunk is counted.
* models: at most `limits.max_models`; columns per model: `limits.max_features_per_model` + 1.
* ground truth: see exporter.truth.groundtruth (join buffer, labelled window, detectors, latency).
"""

from __future__ import annotations

import copy
import math
import threading
from collections import deque
from collections.abc import Callable, Iterator

import numpy as np

from exporter.ingest.records import LabelBatch, PredictionBatch
from exporter.settings import FeatureKind, Settings
from exporter.truth.concept import DETECTORS, ErrorStreamMonitor
from exporter.truth.groundtruth import GroundTruth, JoinCounts
from exporter.truth.task import TaskSpec, resolve_task
from exporter.window.counters import INVALID_REASONS, ModelCounters
from exporter.window.encoding import PreparedBatch
from exporter.window.profile import NumericProfile, ReferenceProfile
from exporter.window.sampling import SampleBudget, merged_sample
from exporter.window.slices import (
    WindowSlice,
    opened_slice,
    quality_totals,
    slice_from_state,
    slice_state,
)
from exporter.window.snapshot import (
    ColumnWindow,
    TruthSnapshot,
    TruthState,
    WindowSnapshot,
    WindowState,
)

Clock = Callable[[], float]

#: Labels joined per hold of the window lock: a large label batch never holds ingest up long.
LABEL_CHUNK = 2_048
#: Records counted per hold of the window lock (~0.25 ms at 50 features).
COUNT_RECORDS = 512


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
        self._budget = SampleBudget(window.sample_size, window.slices)
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
                counters.labels_expired += truth.buffer.remember(ids, batch.predictions, now)
            return
        waiting = [key if label is None else None for key, label in zip(ids, labels, strict=True)]
        if waiting.count(None) != len(waiting):
            counters.labels_expired += truth.buffer.remember(waiting, batch.predictions, now)
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
            quality = quality_totals(slices, len(profile.columns))
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

    def export_state(self) -> WindowState:
        """A copy of everything a restart must keep, taken under the lock (for persistence).

        Nothing expires on the way out: the state is the window as it is, and a window built
        from it (`from_state`) expires what is due on its first append or snapshot.
        """
        with self.lock:
            truth = self.ground_truth
            return WindowState(
                profile=self.profile,
                counters=copy.deepcopy(self.counters),
                slices=tuple(slice_state(part) for part in self.slices),
                records=self._records,
                truth=TruthState(
                    spec=truth.spec,
                    truth=list(truth.truth),
                    predicted=list(truth.predicted),
                    pending=truth.buffer.entries(),
                ),
            )

    @classmethod
    def from_state(cls, state: WindowState, settings: Settings, clock: Clock) -> ModelWindow:
        """A window holding a copy of `state` (from `export_state` or a snapshot file).

        The state must be consistent with its profile (window.persistence checks a file's);
        counters it lacks (an older file's) start at zero.
        """
        window = cls(state.profile, settings, clock)
        counters = copy.deepcopy(state.counters)
        for reason in INVALID_REASONS:
            counters.invalid.setdefault(reason, 0)
        for name in DETECTORS:
            counters.detections.setdefault(name, 0)
            counters.last_detection.setdefault(name, None)
        window.counters = counters
        window.slices.extend(slice_from_state(state.profile, part) for part in state.slices)
        for i in range(len(state.profile.columns)):
            window._budget.resume([part.samples[i] for part in window.slices], window._rng)
        window._records = state.records
        if state.truth is not None:
            window._restore_truth(state.truth)
        return window

    def _restore_truth(self, restored: TruthState) -> None:
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
                truth.buffer.remember([p[0] for p in run], [p[1] for p in run], stamp)
                start = stop

    def _current_slice(self, now: float) -> WindowSlice:
        if self.slices:
            newest = self.slices[-1]
            fresh = self._slice_seconds is None or now - newest.started_at < self._slice_seconds
            roomy = self._slice_records is None or newest.records < self._slice_records
            if fresh and roomy:
                return newest
        created = opened_slice(self.profile, now, self._budget, list(self.slices), self._rng)
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
                    if not sample.add(values[start:stop][codes < layout.bins[i]], self._rng):
                        reservoirs = [part.samples[i] for part in self.slices]
                        self._budget.rebalance(reservoirs, self._rng)
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
            reservoirs = [part.samples[i] for part in slices]
            entropy = (self._settings.reference.seed % 2**63, i)
            sample = merged_sample(reservoirs, self._budget.sample_size, entropy)
        return ColumnWindow(
            counts=counts,
            missing=quality["missing"][i],
            nan=quality["nan"][i],
            type_mismatch=quality["type_mismatch"][i],
            out_of_range=quality["out_of_range"][i],
            unseen=quality["unseen"][i],
            sample=sample,
        )
