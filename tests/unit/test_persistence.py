"""Snapshots round-trip a model exactly; bad files are set aside, never crashed on."""

from __future__ import annotations

import json
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from exporter.evaluation.evaluator import evaluate
from exporter.ingest.records import LabelBatch, PredictionBatch
from exporter.settings import Settings
from exporter.window.persistence import FORMAT, StateDirectory
from exporter.window.profile import build_profile
from exporter.window.store import WindowStore


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


SETTINGS = Settings(window={"max_records": 600, "slices": 6, "sample_size": 120}, min_records=10)


def records(seed: int, count: int, shift: float = 0.0) -> list[dict[str, object]]:
    rng = np.random.default_rng(seed)
    x = rng.normal(shift, 1, count)
    colour = rng.choice(["red", "green", "blue"], count)
    return [
        {"x": float(x[i]), "colour": str(colour[i]), "flag": bool(x[i] > 0)} for i in range(count)
    ]


def filled_store(clock: Clock) -> WindowStore:
    store = WindowStore(SETTINGS, clock=clock)
    reference = records(1, 2_000)
    columns = {name: [row[name] for row in reference] for name in ("x", "colour", "flag")}
    profile = build_profile(
        "credit",
        columns,
        [0.1 * i % 1 for i in range(2_000)],
        None,
        declared={},
        prediction_kind=None,
        settings=SETTINGS.reference,
    )
    store.set_reference(profile)
    for seed in range(10):
        rows = records(100 + seed, 90, shift=0.5)
        rows[0]["x"] = None
        rows[1]["colour"] = "teal"
        batch = PredictionBatch(rows, [0.5] * 90, [None] * 90, [clock.now] * 90)
        store.get("credit").append(batch)
        clock.now += 7
    return store


def test_a_snapshot_restores_the_same_window_and_report(tmp_path: Path) -> None:
    clock = Clock()
    store = filled_store(clock)
    state = StateDirectory(tmp_path)
    state.save(store.get("credit"), clock.now)
    restored = WindowStore(SETTINGS, clock=clock)
    assert state.restore_into(restored) == ["credit"]
    before, after = store.get("credit").snapshot(), restored.get("credit").snapshot()
    assert after.records == before.records == 600  # max_records: the oldest slices went
    assert after.profile.summary() == before.profile.summary()
    for old, new in zip(before.columns, after.columns, strict=True):
        np.testing.assert_array_equal(new.counts, old.counts)
        assert (new.missing, new.nan, new.type_mismatch, new.out_of_range, new.unseen) == (
            old.missing,
            old.nan,
            old.type_mismatch,
            old.out_of_range,
            old.unseen,
        )
        if old.sample is not None:
            assert new.sample is not None
            np.testing.assert_array_equal(np.sort(new.sample), np.sort(old.sample))
    assert restored.get("credit").counters == store.get("credit").counters
    report_before = evaluate(before, SETTINGS.drift, 10, clock.now)
    report_after = evaluate(after, SETTINGS.drift, 10, clock.now)
    assert report_after.to_dict() == report_before.to_dict()


def test_a_restored_window_keeps_ageing_and_accepting(tmp_path: Path) -> None:
    clock = Clock()
    store = filled_store(clock)
    state = StateDirectory(tmp_path)
    state.save(store.get("credit"), clock.now)
    restored = WindowStore(SETTINGS, clock=clock)
    state.restore_into(restored)
    rows = records(7, 50)
    restored.get("credit").append(PredictionBatch(rows, [0.5] * 50, [None] * 50, [None] * 50))
    assert restored.get("credit").counters.records == 900 + 50
    clock.now += 10 * 3_600
    assert restored.get("credit").snapshot().records == 0


def test_a_torn_snapshot_is_set_aside_not_crashed_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    state = StateDirectory(tmp_path)
    state.save(filled_store(clock).get("credit"), clock.now)
    path = state.path("credit")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    restored = WindowStore(SETTINGS, clock=clock)
    assert state.restore_into(restored) == []
    assert len(restored) == 0
    assert not path.exists()
    assert len(list(state.models.glob("credit.npz.rejected-*"))) == 1
    assert state.stats.rejected_files == 1
    assert "cannot be restored" in caplog.text


def test_a_flipped_byte_is_detected_by_the_zip_checksums(tmp_path: Path) -> None:
    clock = Clock()
    state = StateDirectory(tmp_path)
    state.save(filled_store(clock).get("credit"), clock.now)
    path = state.path("credit")
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        member = archive.getinfo("s0_c0.npy")
    data[member.header_offset + 30 + len(member.filename) + 100] ^= 0xFF
    path.write_bytes(bytes(data))
    assert state.restore_into(WindowStore(SETTINGS, clock=clock)) == []
    assert state.stats.rejected_files == 1


def _rewrite_meta(path: Path, change: dict[str, object]) -> None:
    with np.load(path, allow_pickle=False) as data:
        arrays = {name: data[name] for name in data.files}
    meta = json.loads(arrays["meta"].tobytes())
    meta.update(change)
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    with path.open("wb") as handle:
        np.savez(handle, **arrays)


@pytest.mark.parametrize("change", [{"version": 3}, {"format": "something-else"}])
def test_a_newer_or_foreign_file_is_set_aside_and_kept(
    tmp_path: Path, change: dict[str, object]
) -> None:
    clock = Clock()
    state = StateDirectory(tmp_path)
    state.save(filled_store(clock).get("credit"), clock.now)
    _rewrite_meta(state.path("credit"), change)
    assert state.restore_into(WindowStore(SETTINGS, clock=clock)) == []
    aside = list(state.models.glob("credit.npz.rejected-*"))
    assert len(aside) == 1 and aside[0].stat().st_size > 0  # kept for a newer build to read


def test_saving_leaves_no_temporary_files(tmp_path: Path) -> None:
    clock = Clock()
    state = StateDirectory(tmp_path)
    window = filled_store(clock).get("credit")
    for _ in range(3):
        state.save(window, time.time())
    assert sorted(p.name for p in state.models.iterdir()) == ["credit.npz"]
    assert state.stats.snapshots == 3
    with np.load(state.path("credit"), allow_pickle=False) as data:
        assert json.loads(data["meta"].tobytes())["format"] == FORMAT


# ground truth (format version 2)


LABELLED_SETTINGS = Settings(
    window={"max_records": 600, "slices": 6, "sample_size": 120},
    min_records=10,
    labels={"min_labels": 5},
)


def labelled_store(clock: Clock) -> WindowStore:
    """A labelled, scored reference; predictions with ids, latencies, labels for some."""
    settings = LABELLED_SETTINGS
    store = WindowStore(settings, clock=clock)
    rng = np.random.default_rng(3)
    scores = rng.random(500)
    reference = records(1, 500)
    profile = build_profile(
        "credit",
        {name: [row[name] for row in reference] for name in ("x", "colour", "flag")},
        scores.tolist(),
        (rng.random(500) < scores).astype(int).tolist(),
        declared={},
        prediction_kind=None,
        settings=settings.reference,
        model_settings=settings.model_for("credit"),
    )
    store.set_reference(profile)
    live = rng.random(200).round(4).tolist()
    ids: list[str | None] = [f"id-{i}" for i in range(200)]
    inline: list[object] = [1 if i % 10 == 0 else None for i in range(200)]
    store.get("credit").append(
        PredictionBatch(
            records(5, 200), live, ids, [None] * 200, labels=inline, latencies=[0.05] * 200
        ),
    )
    window = store.get("credit")
    window.add_labels(LabelBatch([f"id-{i}" for i in range(1, 100)] + ["nope"], [0] * 100))
    window.counters.detections["adwin"] = 2
    window.counters.last_detection["adwin"] = clock.now - 5
    return store


def test_ground_truth_survives_a_snapshot(tmp_path: Path) -> None:
    clock = Clock()
    store = labelled_store(clock)
    state = StateDirectory(tmp_path)
    state.save(store.get("credit"), clock.now)
    restored = WindowStore(LABELLED_SETTINGS, clock=clock)
    assert state.restore_into(restored) == ["credit"]
    old, new = store.get("credit"), restored.get("credit")
    assert new.counters == old.counters
    assert new.counters.latency.count == 200
    assert new.ground_truth.spec == old.ground_truth.spec
    assert list(new.ground_truth.truth) == list(old.ground_truth.truth)
    assert list(new.ground_truth.predicted) == list(old.ground_truth.predicted)
    assert new.ground_truth.buffer.entries() == old.ground_truth.buffer.entries()
    assert new.profile.summary() == old.profile.summary()
    performance = new.profile.performance
    assert performance is not None and performance.calibration is not None
    assert old.profile.performance is not None and old.profile.performance.calibration is not None
    np.testing.assert_array_equal(
        performance.calibration.thresholds, old.profile.performance.calibration.thresholds
    )
    before = evaluate(store.get("credit").snapshot(), SETTINGS.drift, 10, clock.now, min_labels=5)
    after = evaluate(restored.get("credit").snapshot(), SETTINGS.drift, 10, clock.now, min_labels=5)
    assert after.to_dict()["performance"] == before.to_dict()["performance"]
    # The waiting predictions still join after the restart.
    assert new.add_labels(LabelBatch(["id-151"], [1])).matched == 1


def test_a_string_classifier_keeps_its_class_keys_through_a_snapshot(tmp_path: Path) -> None:
    clock = Clock()
    store = WindowStore(SETTINGS, clock=clock)
    reference = records(1, 300)
    store.set_reference(
        build_profile(
            "churn",
            {"x": [row["x"] for row in reference]},
            ["yes", "no", "maybe"] * 100,
            None,
            declared={},
            prediction_kind=None,
            settings=SETTINGS.reference,
        )
    )
    rows = records(2, 3)
    store.get("churn").append(
        PredictionBatch(rows, ["yes", "no", "maybe"], [None] * 3, [None] * 3, ["yes", 1, "no"]),
    )
    state = StateDirectory(tmp_path)
    state.save(store.get("churn"), clock.now)
    restored = WindowStore(SETTINGS, clock=clock)
    state.restore_into(restored)
    assert list(restored.get("churn").ground_truth.truth) == ["yes", "1", "no"]
    assert list(restored.get("churn").ground_truth.predicted) == ["yes", "no", "maybe"]


def _downgrade_to_version_1(path: Path) -> None:
    """Rewrite a snapshot as version 1 wrote it: no ground-truth keys or arrays."""
    with np.load(path, allow_pickle=False) as data:
        arrays = {name: data[name] for name in data.files}
    meta = json.loads(arrays["meta"].tobytes())
    meta["version"] = 1
    meta.pop("truth")
    meta["profile"].pop("performance")
    meta["counters"] = {
        key: meta["counters"][key] for key in ("records", "invalid", "last_record_timestamp")
    }
    arrays = {
        name: value
        for name, value in arrays.items()
        if not name.startswith(("truth_", "latency_", "perf_"))
    }
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    with path.open("wb") as handle:
        np.savez(handle, **arrays)


def test_a_version_1_snapshot_restores_without_ground_truth(tmp_path: Path) -> None:
    clock = Clock()
    store = labelled_store(clock)
    state = StateDirectory(tmp_path)
    state.save(store.get("credit"), clock.now)
    _downgrade_to_version_1(state.path("credit"))
    restored = WindowStore(SETTINGS, clock=clock)
    assert state.restore_into(restored) == ["credit"]
    window = restored.get("credit")
    assert window.counters.records == store.get("credit").counters.records
    assert window.counters.labels == 0 and window.counters.latency.count == 0
    assert window.profile.performance is None
    assert not window.ground_truth.truth and len(window.ground_truth.buffer) == 0
    assert state.stats.rejected_files == 0


def test_a_snapshot_with_an_inconsistent_labelled_window_is_set_aside(tmp_path: Path) -> None:
    clock = Clock()
    state = StateDirectory(tmp_path)
    state.save(labelled_store(clock).get("credit"), clock.now)
    path = state.path("credit")
    with np.load(path, allow_pickle=False) as data:
        arrays = {name: data[name] for name in data.files}
    arrays["truth_pairs"] = np.frombuffer(b"[[1.0], []]", np.uint8)
    with path.open("wb") as handle:
        np.savez(handle, **arrays)
    assert state.restore_into(WindowStore(SETTINGS, clock=clock)) == []
    assert state.stats.rejected_files == 1
