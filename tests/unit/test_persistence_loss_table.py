"""A regressor's loss table survives a snapshot, older files without one still restore, and a
table that is not one a reference could give is set aside."""

from __future__ import annotations

import json
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
from exporter.window.store import WindowStore

SETTINGS = Settings(window={"max_records": 600, "slices": 6, "sample_size": 120}, min_records=10)
NOW = 1_800_000_000.0


def regressor_store() -> WindowStore:
    rng = np.random.default_rng(5)
    x = rng.normal(size=1_000)
    store = WindowStore(SETTINGS, clock=lambda: NOW)
    store.set_reference(
        build_profile(
            "price",
            {"x": x.tolist()},
            (1.2 * x).tolist(),
            (x + 0.3 * x**2 + rng.normal(0.0, 0.5, 1_000)).tolist(),
            declared={},
            prediction_kind=None,
            settings=SETTINGS.reference,
        )
    )
    window = rng.normal(0.5, 1.0, 200)
    ids: list[str | None] = [f"id-{i}" for i in range(200)]
    store.get("price").append(
        PredictionBatch([{"x": v} for v in window], (1.2 * window).tolist(), ids, [NOW] * 200)
    )
    store.get("price").add_labels(LabelBatch(ids[:50], (window[:50] + 0.1).tolist()))
    return store


def _saved(tmp_path: Path) -> tuple[StateDirectory, WindowStore, Path]:
    state = StateDirectory(tmp_path / "state")
    store = regressor_store()
    state.save(store, "price", NOW)
    return state, store, state.path("price")


def _forge(path: Path, edit: Callable[[Any, dict[str, Any]], None]) -> None:
    with np.load(path, allow_pickle=False) as data:
        arrays = {name: data[name] for name in data.files}
    meta = json.loads(arrays.pop("meta").tobytes())
    edit(meta, arrays)
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    with path.open("wb") as handle:
        np.savez(handle, **arrays)


def test_the_loss_table_and_the_estimate_survive_a_snapshot(tmp_path: Path) -> None:
    state, store, _ = _saved(tmp_path)
    restored = WindowStore(SETTINGS, clock=lambda: NOW)
    assert state.restore_into(restored) == ["price"]
    old, new = store.get("price").profile.performance, restored.get("price").profile.performance
    assert old is not None and old.loss_table is not None
    assert new is not None and new.loss_table is not None
    for before, after in zip(old.loss_table, new.loss_table, strict=True):
        np.testing.assert_array_equal(after, before)
    before = evaluate(store.get("price").snapshot(), SETTINGS.drift, 10, NOW, min_labels=5)
    after = evaluate(restored.get("price").snapshot(), SETTINGS.drift, 10, NOW, min_labels=5)
    assert after.to_dict()["performance"] == before.to_dict()["performance"]
    assert after.to_dict()["performance"]["estimated"]["rmse"] is not None


def test_a_file_written_before_the_loss_table_restores_without_an_estimate(
    tmp_path: Path,
) -> None:
    state, _, path = _saved(tmp_path)

    def strip(meta: Any, arrays: dict[str, Any]) -> None:
        del meta["profile"]["performance"]["loss_estimated"]
        for name in [name for name in arrays if name.startswith("perf_loss_")]:
            del arrays[name]

    _forge(path, strip)
    restored = WindowStore(SETTINGS, clock=lambda: NOW)
    assert state.restore_into(restored) == ["price"]
    performance = restored.get("price").profile.performance
    assert performance is not None and performance.loss_table is None
    report = evaluate(restored.get("price").snapshot(), SETTINGS.drift, 10, NOW, min_labels=5)
    assert report.performance is not None and report.performance.estimated_rmse is None


def _negative_mae(meta: Any, arrays: dict[str, Any]) -> None:
    arrays["perf_loss_mae"] = -arrays["perf_loss_mae"]


def _group_beyond_the_rows(meta: Any, arrays: dict[str, Any]) -> None:
    arrays["perf_loss_group"] = arrays["perf_loss_group"] + 1


def _group_of_another_length(meta: Any, arrays: dict[str, Any]) -> None:
    arrays["perf_loss_group"] = arrays["perf_loss_group"][:-1].copy()


def _float_labels(meta: Any, arrays: dict[str, Any]) -> None:
    arrays["perf_loss_labels"] = arrays["perf_loss_labels"].astype(np.float64)


def _mse_below_mae_squared(meta: Any, arrays: dict[str, Any]) -> None:
    arrays["perf_loss_mse"] = arrays["perf_loss_mae"] ** 2 / 2


def _table_missing(meta: Any, arrays: dict[str, Any]) -> None:
    del arrays["perf_loss_fourth"]


@pytest.mark.parametrize(
    "forgery",
    [
        _negative_mae,
        _group_beyond_the_rows,
        _group_of_another_length,
        _float_labels,
        _mse_below_mae_squared,
        _table_missing,
    ],
)
def test_a_loss_table_no_reference_could_give_is_set_aside(
    tmp_path: Path, forgery: Callable[[Any, dict[str, Any]], None]
) -> None:
    state, _, path = _saved(tmp_path)
    _forge(path, forgery)
    store = WindowStore(SETTINGS, clock=lambda: NOW)
    assert state.restore_into(store) == []
    assert len(store) == 0
    assert len(list(state.models.glob("price.npz.rejected-*"))) == 1
    assert state.stats.rejected_files == 1
