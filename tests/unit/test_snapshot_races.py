"""A DELETE racing a snapshot: the deletion wins, whatever step of the save it lands on.

The save's stages are paused with injected events (StateDirectory's `checkpoint`), so each
interleaving is forced, not hoped for: no sleeps.
"""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path

import pytest

from exporter.window.persistence import StateDirectory
from exporter.window.store import WindowStore
from tests.unit.test_persistence import SETTINGS, Clock, filled_store

TIMEOUT = 10.0


class Pause:
    """A checkpoint that stops the save at one stage until the test lets it go on."""

    def __init__(self, stage: str) -> None:
        self.stage = stage
        self.reached = threading.Event()
        self.go = threading.Event()
        self.stages: list[str] = []

    def __call__(self, stage: str) -> None:
        self.stages.append(stage)
        if stage == self.stage:
            self.reached.set()
            assert self.go.wait(TIMEOUT), "the test never let the save go on"


def _saving(state: StateDirectory, store: WindowStore, now: float) -> threading.Thread:
    writer = threading.Thread(target=state.save_all, args=(store, now))
    writer.start()
    return writer


@pytest.mark.parametrize("stage", ["exported", "written", "locked", "checked"])
def test_a_delete_during_a_snapshot_is_not_undone_by_it(tmp_path: Path, stage: str) -> None:
    clock = Clock()
    store = filled_store(clock)
    assert StateDirectory(tmp_path).save(store, "credit", clock.now)  # what a restart finds
    pause = Pause(stage)
    state = StateDirectory(tmp_path, checkpoint=pause)
    writer = _saving(state, store, clock.now)
    assert pause.reached.wait(TIMEOUT)
    # DELETE /v1/models/credit: the store forgets the model, then its file goes.
    store.delete("credit")
    remover = threading.Thread(target=state.remove, args=("credit",))
    remover.start()  # waits for the state lock while the save holds it ("locked", "checked")
    pause.go.set()
    writer.join(TIMEOUT)
    remover.join(TIMEOUT)
    assert not writer.is_alive() and not remover.is_alive()
    assert stage in pause.stages
    assert not state.path("credit").exists()
    assert list(state.models.iterdir()) == []  # no temporary file left behind either
    assert StateDirectory(tmp_path).restore_into(WindowStore(SETTINGS, clock=clock)) == []


def test_a_snapshot_of_a_deleted_then_recreated_model_keeps_the_new_one(tmp_path: Path) -> None:
    clock = Clock()
    store = filled_store(clock)
    old = store.get("credit")
    pause = Pause("exported")
    state = StateDirectory(tmp_path, checkpoint=pause)
    writer = _saving(state, store, clock.now)
    assert pause.reached.wait(TIMEOUT)
    store.delete("credit")
    state.remove("credit")
    store.set_reference(old.profile)  # a new, empty window under the same name
    pause.go.set()  # the old window's save must not land
    writer.join(TIMEOUT)
    assert not state.path("credit").exists()
    assert StateDirectory(tmp_path).save(store, "credit", clock.now)
    restored = WindowStore(SETTINGS, clock=clock)
    assert StateDirectory(tmp_path).restore_into(restored) == ["credit"]
    assert restored.get("credit").counters.records == 0 < old.counters.records


def test_saving_a_model_that_is_gone_writes_nothing(tmp_path: Path) -> None:
    clock = Clock()
    state = StateDirectory(tmp_path)
    assert not state.save(WindowStore(SETTINGS, clock=clock), "credit", clock.now)
    assert list(state.models.iterdir()) == []


def test_a_snapshot_taken_before_a_new_reference_does_not_overwrite_it(tmp_path: Path) -> None:
    clock = Clock()
    store = filled_store(clock)
    old = store.get("credit").profile
    pause = Pause("exported")
    state = StateDirectory(tmp_path, checkpoint=pause)
    writer = _saving(state, store, clock.now)  # the periodic snapshot, holding the old reference
    assert pause.reached.wait(TIMEOUT)
    # PUT /v1/models/credit/reference: a new profile, snapshotted before the answer.
    new = dataclasses.replace(old, created_at=old.created_at + 60)
    store.set_reference(new)
    assert StateDirectory(tmp_path).save(store, "credit", clock.now)
    pause.go.set()
    writer.join(TIMEOUT)
    restored = WindowStore(SETTINGS, clock=clock)
    assert StateDirectory(tmp_path).restore_into(restored) == ["credit"]
    assert restored.get("credit").profile.created_at == new.created_at
