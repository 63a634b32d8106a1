"""Fixtures for API tests: an app built from explicit settings, a fake clock, seeded payloads."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from exporter.app import create_app
from exporter.settings import Settings


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def settings() -> Settings:
    return Settings(min_records=100, window={"max_records": 1_000, "slices": 10})


@pytest.fixture
def client(settings: Settings, clock: FakeClock) -> Iterator[TestClient]:
    app = create_app(settings, clock=clock, timer=lambda: 0.0, run_scheduler=False)
    with TestClient(app) as test_client:
        yield test_client
