"""The ingest route's counting: a request cancelled mid-batch still counts the whole batch."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pytest

from exporter.api import ingest
from exporter.ingest.records import PredictionBatch
from exporter.settings import ReferenceSettings, Settings
from exporter.window.model import COUNT_RECORDS, ModelWindow
from exporter.window.profile import build_profile


def _window() -> ModelWindow:
    rng = np.random.default_rng(0)
    profile = build_profile(
        "m",
        {"x": rng.normal(size=500).tolist(), "c": ["a", "b"] * 250},
        None,
        None,
        declared={},
        prediction_kind=None,
        settings=ReferenceSettings(),
    )
    return ModelWindow(profile, Settings(window={"max_records": None}), lambda: 1_800_000_000.0)


def _batch(size: int) -> PredictionBatch:
    rng = np.random.default_rng(1)
    features = [{"x": float(v), "c": "ab"[i % 2]} for i, v in enumerate(rng.normal(size=size))]
    return PredictionBatch(features, [None] * size, [None] * size, [None] * size)


def test_a_batch_cancelled_while_being_counted_is_counted_whole(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(ingest, "YIELD_AFTER_SECONDS", 0.0)  # hand the loop back every step
    window = _window()
    batch = _batch(3 * COUNT_RECORDS + 1)
    prepared = window.prepare(batch)
    for _ in prepared.steps():
        pass

    async def cancel_mid_batch() -> Any:
        task = asyncio.ensure_future(ingest.count_batch(window, prepared))
        await asyncio.sleep(0)  # the first counting step runs, then the task yields
        assert 0 < window.records < len(batch)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(cancel_mid_batch())
    assert window.records == window.counters.records == len(batch)


def test_count_batch_returns_the_records_counted() -> None:
    window = _window()
    prepared = window.prepare(_batch(10))
    for _ in prepared.steps():
        pass
    assert asyncio.run(ingest.count_batch(window, prepared)) == 10
    assert window.records == 10


def test_each_hand_back_lets_a_waiting_task_run_before_the_next_step(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(ingest, "YIELD_AFTER_SECONDS", 0.0)  # hand back after every step
    seen: list[str] = []

    def steps() -> Any:
        for k in range(3):
            seen.append(f"step {k}")
            yield

    async def scrape_arrives() -> None:
        seen.append("scrape")

    async def run() -> None:
        ingesting = asyncio.ensure_future(ingest._in_steps(steps()))
        await asyncio.sleep(0)  # the first step runs and hands the loop back
        await scrape_arrives()
        await ingesting

    asyncio.run(run())
    assert seen == ["step 0", "scrape", "step 1", "step 2"]
