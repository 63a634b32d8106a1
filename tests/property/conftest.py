"""Hypothesis settings for the property and fuzz tests: deterministic, no example database.

`derandomize=True` makes every run generate the same examples, so CI is reproducible and a
failure seen once is seen again; `database=None` keeps the tests from writing `.hypothesis/`
into the work tree (the suite runs with `-p no:cacheprovider` for the same reason). Each test
bounds its own `max_examples` so the directory stays well under a minute. Set
HYPOTHESIS_PROFILE=explore for a longer, randomised local search.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "explore",
    derandomize=False,
    database=None,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(autouse=True)
def drift_exporter_env_cleared(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings read DRIFT_EXPORTER_* from the environment; a developer's shell must not leak in."""
    for key in list(os.environ):
        if key.startswith("DRIFT_EXPORTER_"):
            monkeypatch.delenv(key)
