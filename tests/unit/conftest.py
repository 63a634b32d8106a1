"""Shared unit-test fixtures: a hand-moved clock and an environment free of DRIFT_EXPORTER_*."""

from __future__ import annotations

import os

import pytest


class FakeClock:
    """A clock the test moves by hand; injected wherever the code would call time.time()."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(autouse=True)
def drift_exporter_env_cleared(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings read DRIFT_EXPORTER_* from the environment; a developer's shell must not leak in."""
    for name in list(os.environ):
        if name.upper().startswith("DRIFT_EXPORTER_"):
            monkeypatch.delenv(name)
