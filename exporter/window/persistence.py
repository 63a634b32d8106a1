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
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from exporter.errors import InvalidName, UnknownModel
from exporter.ingest.names import check_model_name
from exporter.window.state_decoding import decode_state_file
from exporter.window.state_encoding import encode_state
from exporter.window.state_fields import SnapshotError
from exporter.window.store import WindowStore

log = logging.getLogger(__name__)


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
        meta, arrays = encode_state(state, now)
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
                if stale or not store.holds(model, window):
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
                state = decode_state_file(path)
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
