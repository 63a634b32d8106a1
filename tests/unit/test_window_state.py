"""A window's state is exported and restored through a public interface, copied both ways."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import numpy as np
import pytest

import exporter.window.persistence
import exporter.window.store
from exporter.ingest.records import LabelBatch, PredictionBatch
from exporter.settings import Settings
from exporter.window.profile import build_profile
from exporter.window.snapshot import WindowState
from exporter.window.store import WindowStore
from tests.unit.conftest import FakeClock

SETTINGS = Settings(
    window={"max_records": 600, "slices": 6, "sample_size": 120},
    min_records=10,
    labels={"min_labels": 5},
)


def _rows(seed: int, count: int) -> list[dict[str, object]]:
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1, count)
    colour = rng.choice(["red", "green", "blue"], count)
    return [{"x": float(x[i]), "colour": str(colour[i])} for i in range(count)]


def _store(clock: FakeClock) -> WindowStore:
    store = WindowStore(SETTINGS, clock=clock)
    rng = np.random.default_rng(3)
    scores = rng.random(400)
    reference = _rows(1, 400)
    store.set_reference(
        build_profile(
            "credit",
            {name: [row[name] for row in reference] for name in ("x", "colour")},
            scores.tolist(),
            (rng.random(400) < scores).astype(int).tolist(),
            declared={},
            prediction_kind=None,
            settings=SETTINGS.reference,
            model_settings=SETTINGS.model_for("credit"),
        )
    )
    window = store.get("credit")
    for seed in range(4):
        ids: list[str | None] = [f"{seed}-{i}" for i in range(150)]
        window.append(
            PredictionBatch(
                _rows(10 + seed, 150),
                rng.random(150).round(3).tolist(),
                ids,
                [None] * 150,
                latencies=[0.02] * 150,
            )
        )
        clock.advance(60)
    window.add_labels(LabelBatch([f"0-{i}" for i in range(80)], [i % 2 for i in range(80)]))
    return store


def test_exported_state_is_frozen_and_does_not_follow_the_window(fake_clock: FakeClock) -> None:
    window = _store(fake_clock).get("credit")
    state = window.export_state()
    assert isinstance(state, WindowState)
    with pytest.raises(dataclasses.FrozenInstanceError):
        state.records = 0  # type: ignore[misc]
    counts = [part.counts[0].copy() for part in state.slices]
    records, labels = state.records, state.counters.labels
    pending = list(state.truth.pending) if state.truth is not None else []
    window.append(PredictionBatch(_rows(99, 50), [0.5] * 50, ["late"] * 50, [None] * 50))
    window.add_labels(LabelBatch(["1-3"], [1]))
    assert state.records == records and state.counters.labels == labels
    assert state.truth is not None and state.truth.pending == pending
    for part, before in zip(state.slices, counts, strict=True):
        np.testing.assert_array_equal(part.counts[0], before)
    assert sum(part.records for part in state.slices) == state.records


def test_a_store_restores_a_window_equal_to_the_exported_one(fake_clock: FakeClock) -> None:
    window = _store(fake_clock).get("credit")
    state = window.export_state()
    restored_store = WindowStore(SETTINGS, clock=fake_clock)
    restored_store.restore(state)
    restored = restored_store.get("credit")
    assert restored.records == window.records
    assert restored.counters == window.counters
    assert restored.counters is not state.counters  # a copy: the state stays as exported
    before, after = window.snapshot(), restored.snapshot()
    for old, new in zip(before.columns, after.columns, strict=True):
        np.testing.assert_array_equal(new.counts, old.counts)
        assert (new.missing, new.nan, new.unseen) == (old.missing, old.nan, old.unseen)
        if old.sample is not None:
            assert new.sample is not None
            np.testing.assert_array_equal(np.sort(new.sample), np.sort(old.sample))
    assert after.truth is not None and before.truth is not None
    assert (after.truth.truth, after.truth.predicted) == (
        before.truth.truth,
        before.truth.predicted,
    )
    # The restored window counts on into its own arrays, not the state's.
    exported = [part.counts[0].copy() for part in state.slices]
    restored.append(PredictionBatch(_rows(7, 40), [0.5] * 40, [None] * 40, [None] * 40))
    for part, before_counts in zip(state.slices, exported, strict=True):
        np.testing.assert_array_equal(part.counts[0], before_counts)
    assert restored.add_labels(LabelBatch(["3-149"], [1])).matched == 1  # pending survived


@pytest.mark.parametrize("module", [exporter.window.persistence, exporter.window.store])
def test_persistence_and_the_store_touch_no_private_attribute_of_a_window(module: object) -> None:
    source = Path(str(getattr(module, "__file__", ""))).read_text()
    private = [
        f"line {node.lineno}: {ast.unparse(node)}"
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Attribute)
        and node.attr.startswith("_")
        and not node.attr.startswith("__")
        and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))
    ]
    assert private == []
