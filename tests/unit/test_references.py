"""Configured references: loaded, re-read on a real change only, broken ones named, snapshots kept
when they hold the same reference. `poll` is called by hand: no thread, no clock."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from exporter.ingest.records import PredictionBatch
from exporter.prometheus.references import ReferenceCollector
from exporter.settings import Settings
from exporter.window.persistence import StateDirectory
from exporter.window.profile_file import write_profile
from exporter.window.reference_data import profile_data, shaping_settings
from exporter.window.references import ReferenceLoader
from exporter.window.store import WindowStore


def csv_data(seed: int, rows: int = 400) -> bytes:
    rng = np.random.default_rng(seed)
    lines = ["x,colour,prediction"]
    lines += [
        f"{rng.normal():.4f},{rng.choice(['red', 'blue'])},{rng.uniform():.3f}" for _ in range(rows)
    ]
    return ("\n".join(lines) + "\n").encode()


def profile_bytes(seed: int, settings: Settings) -> bytes:
    from exporter.ingest.media import CSV

    profile = profile_data("m", csv_data(seed), CSV, settings).profile
    return write_profile(profile, shaping_settings(settings, "m"))


def settings_for(**references: str) -> Settings:
    return Settings(
        min_records=5,
        models={model: {"reference": location} for model, location in references.items()},
    )


def add_traffic(store: WindowStore, model: str, count: int = 20) -> None:
    batch = PredictionBatch(
        [{"x": 0.1 * i, "colour": "red"} for i in range(count)],
        [0.5] * count,
        [None] * count,
        [1_800_000_000.0] * count,
    )
    store.get(model).append(batch)


def test_a_broken_reference_is_named_and_the_others_still_load(tmp_path: Path) -> None:
    good, broken = tmp_path / "good.profile", tmp_path / "broken.profile"
    settings = settings_for(good=str(good), broken=str(broken), absent=str(tmp_path / "nope.csv"))
    good.write_bytes(profile_bytes(1, settings))
    broken.write_bytes(profile_bytes(2, settings)[:-100])
    store = WindowStore(settings)
    loader = ReferenceLoader(settings, store)
    assert loader.pending() == {"absent": "loading", "broken": "loading", "good": "loading"}
    for model in ("good", "broken", "absent"):
        loader.poll(model)
    pending = loader.pending()
    assert set(pending) == {"broken", "absent"}
    assert pending["broken"].startswith(f"{broken}: truncated: the payload is")
    assert pending["absent"].startswith(f"cannot read {tmp_path / 'nope.csv'}")
    assert list(store) == ["good"]
    metrics = {
        (family.name, sample.labels["model"]): sample.value
        for family in ReferenceCollector(loader).collect()
        for sample in family.samples
    }
    assert metrics[("drift_reference_loaded", "good")] == 1.0
    assert metrics[("drift_reference_loaded", "broken")] == 0.0
    assert metrics[("drift_reference_load_failures", "broken")] == 1.0
    loader.poll("broken")  # the same broken file: not read again, not counted again
    assert loader.statuses["broken"].failures == 1
    broken.write_bytes(csv_data(3))  # fixed (as raw reference data this time)
    loader.poll("broken")
    assert "broken" not in loader.pending() and store.get("broken").profile.rows == 400


def test_a_changed_file_replaces_the_reference_and_the_same_content_changes_nothing(
    tmp_path: Path,
) -> None:
    # A ConfigMap volume: <dir>/m.profile -> ..data/m.profile, ..data -> ..<timestamp>/.
    def publish(version: str, content: bytes) -> None:
        (tmp_path / version).mkdir()
        (tmp_path / version / "m.profile").write_bytes(content)
        (tmp_path / "..data_tmp").symlink_to(version)
        os.replace(tmp_path / "..data_tmp", tmp_path / "..data")  # the atomic swap

    settings = settings_for(m=str(tmp_path / "m.profile"))
    first = profile_bytes(1, settings)
    publish("..v1", first)
    (tmp_path / "m.profile").symlink_to("..data/m.profile")
    store = WindowStore(settings)
    loader = ReferenceLoader(settings, store)
    loader.poll("m")
    original = store.get("m").profile
    add_traffic(store, "m")
    publish("..v2", first)  # another key of the ConfigMap changed: a new inode, same bytes
    loader.poll("m")
    assert store.get("m").profile is original and store.get("m").records == 20
    publish("..v3", profile_bytes(2, settings))
    loader.poll("m")
    assert store.get("m").profile is not original and store.get("m").records == 0
    assert store.get("m").profile.source != original.source
    publish("..v4", b"not,a\nprofile")
    replaced = store.get("m").profile
    loader.poll("m")  # a broken new version: the last good one stays, readiness too
    assert store.get("m").profile is replaced and loader.pending() == {}
    assert loader.statuses["m"].failures == 1


@pytest.mark.parametrize("same", [True, False])
def test_a_restored_snapshot_is_kept_only_when_it_holds_the_configured_reference(
    tmp_path: Path, same: bool
) -> None:
    path = tmp_path / "m.profile"
    settings = settings_for(m=str(path))
    path.write_bytes(profile_bytes(1, settings))
    state = StateDirectory(tmp_path / "state")
    store = WindowStore(settings)
    ReferenceLoader(settings, store, state).poll("m")  # installs and snapshots it
    add_traffic(store, "m")
    state.save(store, "m", 1_800_000_000.0)
    if not same:
        path.write_bytes(profile_bytes(2, settings))
    restarted = WindowStore(settings)
    assert state.restore_into(restarted) == ["m"]
    ReferenceLoader(settings, restarted, state).poll("m")
    assert restarted.get("m").records == (20 if same else 0)
    assert restarted.get("m").profile.source == store.get("m").profile.source or not same
