"""`exporter.client` and its submodules re-export `drift_exporter_client`: code written against
the old import paths gets the very same objects."""

from __future__ import annotations

import importlib

import pytest

import drift_exporter_client

SUBMODULES = ["", ".logger", ".middleware", ".flask", ".extraction"]


@pytest.mark.parametrize("submodule", SUBMODULES)
def test_each_exporter_client_name_is_the_drift_exporter_client_object(submodule: str) -> None:
    shim = importlib.import_module(f"exporter.client{submodule}")
    source = importlib.import_module(f"drift_exporter_client{submodule}")
    assert shim.__all__, f"exporter.client{submodule} exports nothing"
    for name in shim.__all__:
        assert getattr(shim, name) is getattr(source, name), f"exporter.client{submodule}.{name}"


def test_exporter_client_exports_all_the_public_client_names() -> None:
    shim = importlib.import_module("exporter.client")
    assert set(shim.__all__) == set(drift_exporter_client.__all__) - {"__version__"}
