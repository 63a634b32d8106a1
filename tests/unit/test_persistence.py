"""Snapshots round-trip a model exactly; bad files are set aside, never crashed on."""

from __future__ import annotations

import json
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from exporter.evaluation.evaluator import evaluate
from exporter.ingest.records import LabelBatch, PredictionBatch
from exporter.settings import Settings
from exporter.window.persistence import StateDirectory
from exporter.window.profile import build_profile
from exporter.window.state_encoding import FORMAT
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
    state.save(store, "credit", clock.now)
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
    state.save(store, "credit", clock.now)
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
    state.save(filled_store(clock), "credit", clock.now)
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
    state.save(filled_store(clock), "credit", clock.now)
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


@pytest.mark.parametrize("change", [{"version": 4}, {"format": "something-else"}])
def test_a_newer_or_foreign_file_is_set_aside_and_kept(
    tmp_path: Path, change: dict[str, object]
) -> None:
    clock = Clock()
    state = StateDirectory(tmp_path)
    state.save(filled_store(clock), "credit", clock.now)
    _rewrite_meta(state.path("credit"), change)
    assert state.restore_into(WindowStore(SETTINGS, clock=clock)) == []
    aside = list(state.models.glob("credit.npz.rejected-*"))
    assert len(aside) == 1 and aside[0].stat().st_size > 0  # kept for a newer build to read


def test_saving_leaves_no_temporary_files(tmp_path: Path) -> None:
    clock = Clock()
    state = StateDirectory(tmp_path)
    store = filled_store(clock)
    for _ in range(3):
        state.save(store, "credit", time.time())
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
    state.save(store, "credit", clock.now)
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
    state.save(store, "churn", clock.now)
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
    for part in meta["slices"]:  # a reservoir of fixed capacity: filled = min(capacity, seen)
        for sample in part["samples"]:
            if sample is not None:
                filled = sample.pop("filled")
                sample.pop("rate")
                sample.update(capacity=max(filled, 1), filled=filled)
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
    state.save(store, "credit", clock.now)
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
    state.save(labelled_store(clock), "credit", clock.now)
    path = state.path("credit")
    with np.load(path, allow_pickle=False) as data:
        arrays = {name: data[name] for name in data.files}
    arrays["truth_pairs"] = np.frombuffer(b"[[1.0], []]", np.uint8)
    with path.open("wb") as handle:
        np.savez(handle, **arrays)
    assert state.restore_into(WindowStore(SETTINGS, clock=clock)) == []
    assert state.stats.rejected_files == 1


# forged files: every field is checked before anything is restored


def _forge(source: Path, edit: Callable[[Any, dict[str, Any]], Any], target: Path) -> None:
    """Rewrite a real snapshot's metadata and arrays with `edit`, as `target`."""
    with np.load(source, allow_pickle=False) as data:
        arrays = {name: data[name] for name in data.files}
    meta = json.loads(arrays.pop("meta").tobytes())
    edited = edit(meta, arrays)
    document = json.dumps(meta if edited is None else edited)
    arrays["meta"] = np.frombuffer(document.encode(), np.uint8)
    with target.open("wb") as handle:
        np.savez(handle, **arrays)


def _outside(root: Path, state: StateDirectory) -> list[Path]:
    """Every file under `root` that is not under the state directory."""
    return [path for path in root.rglob("*") if state.root not in path.parents and path.is_file()]


def _assert_set_aside_and_contained(
    root: Path, state: StateDirectory, restored: list[str], store: WindowStore, name: str
) -> None:
    assert restored == []
    assert len(store) == 0
    assert not (state.models / f"{name}.npz").exists()
    assert len(list(state.models.glob(f"{name}.npz.rejected-*"))) == 1
    assert state.stats.rejected_files == 1
    state.save_all(store, time.time())  # the next snapshot writes nothing anywhere
    assert _outside(root, state) == []


def test_metadata_that_is_a_json_list_is_set_aside(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    state = StateDirectory(tmp_path / "state")
    state.save(filled_store(clock), "credit", clock.now)
    path = state.path("credit")
    _forge(path, lambda meta, arrays: [meta], path)
    store = WindowStore(SETTINGS, clock=clock)
    restored = state.restore_into(store)
    _assert_set_aside_and_contained(tmp_path, state, restored, store, "credit")
    assert "metadata" in caplog.text


def test_a_model_name_that_leaves_the_state_directory_is_set_aside(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    state = StateDirectory(tmp_path / "state")
    state.save(filled_store(clock), "credit", clock.now)
    path = state.path("credit")
    _forge(path, lambda meta, arrays: meta["profile"].update(model="../../x"), path)
    store = WindowStore(SETTINGS, clock=clock)
    restored = state.restore_into(store)
    _assert_set_aside_and_contained(tmp_path, state, restored, store, "credit")
    assert "invalid model name" in caplog.text


def test_the_state_directory_refuses_a_path_outside_itself(tmp_path: Path) -> None:
    state = StateDirectory(tmp_path / "state")
    for name in ("../../x", "a/b", "..", ".hidden", ""):
        with pytest.raises(ValueError, match="model name"):
            state.path(name)
    assert _outside(tmp_path, state) == []


def test_a_file_saved_under_another_name_is_set_aside(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    state = StateDirectory(tmp_path / "state")
    store = filled_store(clock)
    credit = store.get("credit")
    state.save(store, "credit", clock.now)
    # A copy of an older, smaller window of the same model, saved as another model's file.
    older = WindowStore(SETTINGS, clock=clock)
    older.set_reference(credit.profile)
    other = state.models / "other.npz"
    state.save(older, "credit", clock.now)
    state.path("credit").rename(other)
    state.save(store, "credit", clock.now)
    store = WindowStore(SETTINGS, clock=clock)
    restored = state.restore_into(store)
    assert restored == ["credit"]  # from its own file, not the later one claiming it
    assert store.get("credit").counters.records == credit.counters.records == 900
    assert "other" not in store
    assert not other.exists()
    assert len(list(state.models.glob("other.npz.rejected-*"))) == 1
    assert state.stats.rejected_files == 1
    assert "'credit'" in caplog.text and "other.npz" in caplog.text
    # Alone, it restores nothing either.
    state.path("credit").unlink()
    aside = next(state.models.glob("other.npz.rejected-*"))
    aside.rename(other)
    store = WindowStore(SETTINGS, clock=clock)
    restored = state.restore_into(store)
    assert restored == [] and len(store) == 0 and not other.exists()
    assert _outside(tmp_path, state) == []


def _truncate_bins(meta: Any, arrays: dict[str, Any]) -> None:
    arrays["s0_c0"] = arrays["s0_c0"][:-1]


def _reshape_quality(meta: Any, arrays: dict[str, Any]) -> None:
    arrays["s1_quality"] = arrays["s1_quality"][:, :-1]


def _grow_reservoir(meta: Any, arrays: dict[str, Any]) -> None:
    arrays["s0_r0"] = np.concatenate([arrays["s0_r0"], arrays["s0_r0"]])


def _overfill_reservoir(meta: Any, arrays: dict[str, Any]) -> None:
    meta["slices"][0]["samples"][0]["filled"] += 1


def _zero_rate(meta: Any, arrays: dict[str, Any]) -> None:
    meta["slices"][0]["samples"][0]["rate"] = 0.0


def _rate_above_one(meta: Any, arrays: dict[str, Any]) -> None:
    meta["slices"][0]["samples"][0]["rate"] = 1.5


def _more_kept_than_seen(meta: Any, arrays: dict[str, Any]) -> None:
    sample = meta["slices"][0]["samples"][0]
    sample["seen"] = sample["filled"] - 1


def _shrink_reference_counts(meta: Any, arrays: dict[str, Any]) -> None:
    arrays["p1_counts"] = arrays["p1_counts"][:2]


def _negative_bin(meta: Any, arrays: dict[str, Any]) -> None:
    arrays["s0_c1"][0] = -5


def _negative_counter(meta: Any, arrays: dict[str, Any]) -> None:
    meta["counters"]["records"] = -1


def _negative_quality(meta: Any, arrays: dict[str, Any]) -> None:
    arrays["s2_quality"][0, 0] -= 10**6


def _records_not_the_sum(meta: Any, arrays: dict[str, Any]) -> None:
    meta["window_records"] += 1


def _records_not_counted(meta: Any, arrays: dict[str, Any]) -> None:
    meta["slices"][0]["records"] += 1
    meta["window_records"] += 1


def _float_bins(meta: Any, arrays: dict[str, Any]) -> None:
    arrays["s0_c0"] = arrays["s0_c0"].astype(np.float64) + 0.5


def _string_count(meta: Any, arrays: dict[str, Any]) -> None:
    meta["slices"][0]["records"] = "90"


def _short_latency(meta: Any, arrays: dict[str, Any]) -> None:
    arrays["latency_counts"] = arrays["latency_counts"][:3]


@pytest.mark.parametrize(
    "forgery",
    [
        _truncate_bins,
        _reshape_quality,
        _grow_reservoir,
        _overfill_reservoir,
        _zero_rate,
        _rate_above_one,
        _more_kept_than_seen,
        _shrink_reference_counts,
        _negative_bin,
        _negative_counter,
        _negative_quality,
        _records_not_the_sum,
        _records_not_counted,
        _float_bins,
        _string_count,
        _short_latency,
    ],
)
def test_arrays_and_counts_that_do_not_fit_the_profile_are_set_aside(
    tmp_path: Path, forgery: Callable[[Any, dict[str, Any]], None]
) -> None:
    _assert_forgery_set_aside(tmp_path, forgery, filled_store, SETTINGS)


def _assert_forgery_set_aside(
    tmp_path: Path,
    forgery: Callable[[Any, dict[str, Any]], None],
    make_store: Callable[[Clock], WindowStore],
    settings: Settings,
) -> None:
    """Save `make_store`'s "credit", forge its file, restore: the file is set aside."""
    clock = Clock()
    state = StateDirectory(tmp_path / "state")
    state.save(make_store(clock), "credit", clock.now)
    path = state.path("credit")
    _forge(path, forgery, path)
    store = WindowStore(settings, clock=clock)
    restored = state.restore_into(store)
    _assert_set_aside_and_contained(tmp_path, state, restored, store, "credit")


def test_an_unforged_file_passes_every_check(tmp_path: Path) -> None:
    """The checks above reject the forgeries, not the real files they were made from."""
    clock = Clock()
    state = StateDirectory(tmp_path / "state")
    state.save(labelled_store(clock), "credit", clock.now)
    path = state.path("credit")
    _forge(path, lambda meta, arrays: None, path)
    assert state.restore_into(WindowStore(LABELLED_SETTINGS, clock=clock)) == ["credit"]
    assert state.stats.rejected_files == 0


def _string_score(meta: Any, arrays: dict[str, Any]) -> None:
    truth, predicted = json.loads(arrays["truth_pairs"].tobytes())
    predicted[0] = "high"
    arrays["truth_pairs"] = np.frombuffer(json.dumps([truth, predicted]).encode(), np.uint8)


def _short_pending_entry(meta: Any, arrays: dict[str, Any]) -> None:
    pending = json.loads(arrays["truth_pending"].tobytes())
    pending[0] = pending[0][:2]
    arrays["truth_pending"] = np.frombuffer(json.dumps(pending).encode(), np.uint8)


def _unknown_task(meta: Any, arrays: dict[str, Any]) -> None:
    meta["truth"]["spec"]["task"] = "ranking"


def _unsorted_calibration(meta: Any, arrays: dict[str, Any]) -> None:
    arrays["perf_thresholds"] = arrays["perf_thresholds"][::-1].copy()


def _detections_as_a_list(meta: Any, arrays: dict[str, Any]) -> None:
    meta["counters"]["detections"] = list(meta["counters"]["detections"].values())


@pytest.mark.parametrize(
    "forgery",
    [
        _string_score,
        _short_pending_entry,
        _unknown_task,
        _unsorted_calibration,
        _detections_as_a_list,
    ],
)
def test_ground_truth_that_does_not_fit_its_task_is_set_aside(
    tmp_path: Path, forgery: Callable[[Any, dict[str, Any]], None]
) -> None:
    _assert_forgery_set_aside(tmp_path, forgery, labelled_store, LABELLED_SETTINGS)


def test_a_failure_inside_the_store_does_not_stop_the_restore(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock()
    state = StateDirectory(tmp_path / "state")
    state.save(filled_store(clock), "credit", clock.now)
    store = WindowStore(SETTINGS, clock=clock)

    def fails(*args: object) -> None:
        raise RuntimeError("a check this build does not have yet")

    monkeypatch.setattr(store, "restore", fails)
    restored = state.restore_into(store)
    _assert_set_aside_and_contained(tmp_path, state, restored, store, "credit")
