"""The pooling families are the pooled window: two replicas' counts sum to one sidecar's.

Three in-process sidecars get the same reference; two share the traffic round-robin and the
third gets all of it. Per bin and per data-quality count, the two replicas' series sum to the
third's; the third's PSI is the sidecar's own estimator (exporter.stats.psi, Jeffreys
pseudo-count 0.5) over its exported bins (at these sizes no numeric bin is sparse, so none is
merged); its ratios are its counts over drift_window_records. `pooling.enabled: false` exports
none of the families, and a column over `pooling.max_bins_per_feature` exports no bin series.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from scipy.stats import norm

from exporter.app import create_app
from exporter.settings import Settings
from exporter.stats import psi
from tests.integration.conftest import FakeClock
from tests.integration.payloads import seeded_records
from tests.support import POOLING_FAMILIES

Labels = tuple[tuple[str, str], ...]
Exposition = dict[str, dict[Labels, float]]
QUALITY = ("missing", "type_mismatch", "unseen_category", "out_of_range")
ALPHA = 0.01


def _settings(**pooling: Any) -> Settings:
    return Settings(
        min_records=100,
        window={"max_records": 5_000, "slices": 10},
        drift={"alpha": ALPHA},
        pooling=pooling,
    )


@contextmanager
def _sidecars(count: int, settings: Settings) -> Iterator[list[TestClient]]:
    with ExitStack() as stack:
        clients = []
        for _ in range(count):
            app = create_app(settings, clock=FakeClock(), timer=lambda: 0.0, run_scheduler=False)
            client = stack.enter_context(TestClient(app))
            response = client.put(
                "/v1/models/m/reference", json={"records": seeded_records(1, 2_000)}
            )
            assert response.status_code == 201, response.text
            clients.append(client)
        yield clients


def _traffic() -> list[dict[str, Any]]:
    """Shifted traffic, with bad values of every kind spread through it."""
    records = seeded_records(5, 901, shift=0.5)
    for i, record in enumerate(records):
        features = record["features"]
        if i % 37 == 0:
            features["x"] = None  # missing
        if i % 41 == 0:
            features["y"] = "n/a"  # type mismatch
        if i % 43 == 0:
            features["colour"] = "teal"  # unseen category, counted in the overflow bin
        if i % 47 == 0:
            features["y"] = 1e6  # out of range, counted in the last bin
    return records


def _scrape(client: TestClient) -> Exposition:
    client.app.state.scheduler.run_once()  # type: ignore[attr-defined]
    exposition: Exposition = {}
    for family in text_string_to_metric_families(client.get("/metrics").text):
        for sample in family.samples:
            labels = tuple(sorted(sample.labels.items()))
            exposition.setdefault(sample.name, {})[labels] = sample.value
    return exposition


def _post(client: TestClient, records: list[dict[str, Any]]) -> None:
    response = client.post("/v1/models/m/predictions", json={"records": records})
    assert response.status_code == 202, response.text


def _bins(exposition: Exposition, name: str, **where: str) -> list[float]:
    """A column's bin series in bin order, checking the bins are 0..B-1."""
    selected = {
        dict(labels)["bin"]: value
        for labels, value in exposition[name].items()
        if all(dict(labels).get(key) == value_ for key, value_ in where.items())
    }
    assert sorted(selected, key=int) == [str(i) for i in range(len(selected))]
    return [selected[str(i)] for i in range(len(selected))]


def _one(exposition: Exposition, name: str, **labels: str) -> float:
    return exposition[name][tuple(sorted({"model": "m", **labels}.items()))]


@pytest.fixture(scope="module")
def pooled_and_whole() -> tuple[Exposition, Exposition, Exposition]:
    records = _traffic()
    with _sidecars(3, _settings()) as (first, second, whole):
        for start in range(0, len(records), 100):
            batch = records[start : start + 100]
            _post(first, batch[0::2])
            _post(second, batch[1::2])
            _post(whole, batch)
        return _scrape(first), _scrape(second), _scrape(whole)


@pytest.mark.parametrize(
    ("family", "column"),
    [
        ("drift_feature_window_bin_records", {"feature": "x"}),
        ("drift_feature_window_bin_records", {"feature": "y"}),
        ("drift_feature_window_bin_records", {"feature": "colour"}),
        ("drift_feature_window_bin_records", {"feature": "flag"}),
        ("drift_prediction_window_bin_records", {}),
    ],
)
def test_two_replicas_window_bins_sum_to_the_whole_traffic_bins(
    pooled_and_whole: tuple[Exposition, Exposition, Exposition],
    family: str,
    column: dict[str, str],
) -> None:
    first, second, whole = pooled_and_whole
    a, b, c = (_bins(e, family, model="m", **column) for e in (first, second, whole))
    assert len(c) > 1
    assert [x + y for x, y in zip(a, b, strict=True)] == c
    assert 0 < sum(a) < sum(c)
    reference = family.replace("window", "reference")
    assert _bins(first, reference, **column) == _bins(whole, reference, **column)
    scope = "feature" if column else "prediction"
    assert sum(c) == _one(whole, f"drift_{scope}_valid_records", **column)


@pytest.mark.parametrize("feature", ["x", "y", "colour", "flag"])
def test_two_replicas_quality_counts_sum_to_the_whole_traffic_counts(
    pooled_and_whole: tuple[Exposition, Exposition, Exposition], feature: str
) -> None:
    first, second, whole = pooled_and_whole
    window = _one(whole, "drift_window_records")
    assert _one(first, "drift_window_records") + _one(second, "drift_window_records") == window
    compared = 0
    for field in QUALITY:
        name = f"drift_feature_{field}_records"
        key = tuple(sorted({"model": "m", "feature": feature}.items()))
        if key not in whole.get(name, {}):
            assert key not in first.get(name, {})  # not this kind of column
            continue
        counts = [_one(e, name, feature=feature) for e in (first, second, whole)]
        assert counts[0] + counts[1] == counts[2]
        ratio = _one(whole, f"drift_feature_{field}_ratio", feature=feature)
        assert counts[2] / window == pytest.approx(ratio, rel=1e-12, abs=0)
        compared += 1
    assert compared == 3  # missing, type mismatch, and unseen or out-of-range


def test_the_bad_values_land_where_the_docs_say(
    pooled_and_whole: tuple[Exposition, Exposition, Exposition],
) -> None:
    """1e6 is out of range and in y's last bin; teal is unseen and in colour's overflow bin."""
    whole = pooled_and_whole[2]
    assert _one(whole, "drift_feature_out_of_range_records", feature="y") >= 901 // 47
    y = _bins(whole, "drift_feature_window_bin_records", model="m", feature="y")
    assert y[-1] >= 901 // 47
    colour = _bins(whole, "drift_feature_window_bin_records", model="m", feature="colour")
    unseen = _one(whole, "drift_feature_unseen_category_records", feature="colour")
    assert unseen == len(range(0, 901, 43))
    assert colour[-1] == unseen  # the reference has no other category beyond its 3
    assert _one(whole, "drift_feature_missing_records", feature="x") == len(range(0, 901, 37))


@pytest.mark.parametrize(
    ("statistic", "column"),
    [
        ("drift_feature_psi", {"feature": "x"}),
        ("drift_feature_psi", {"feature": "y"}),
        ("drift_prediction_psi", {}),
    ],
)
def test_the_whole_traffic_psi_is_the_psi_of_its_exported_bins(
    pooled_and_whole: tuple[Exposition, Exposition, Exposition],
    statistic: str,
    column: dict[str, str],
) -> None:
    whole = pooled_and_whole[2]
    scope = "feature" if column else "prediction"
    window = _bins(whole, f"drift_{scope}_window_bin_records", model="m", **column)
    reference = _bins(whole, f"drift_{scope}_reference_bin_records", model="m", **column)
    expected = psi(reference, window, pseudo_count=0.5)
    assert _one(whole, statistic, **column) == pytest.approx(expected, rel=1e-9, abs=0)


def test_the_noise_quantile_z_is_that_of_the_critical_values(
    pooled_and_whole: tuple[Exposition, Exposition, Exposition],
) -> None:
    whole = pooled_and_whole[2]
    judged = sum(
        value for labels, value in whole["drift_feature_judged"].items() if ("model", "m") in labels
    )
    assert judged == 4
    # scipy.stats.norm.ppf (an independent route to Phi^-1 from scipy.special.ndtri), rel 1e-12
    assert _one(whole, "drift_noise_quantile_z") == pytest.approx(
        norm.ppf(1 - ALPHA / judged), rel=1e-12
    )
    assert _one(whole, "drift_prediction_noise_quantile_z") == pytest.approx(
        norm.ppf(1 - ALPHA), rel=1e-12
    )


def test_pooling_disabled_exports_none_of_the_families() -> None:
    with _sidecars(1, _settings(enabled=False)) as (client,):
        _post(client, _traffic()[:300])
        exposition = _scrape(client)
        text = client.get("/metrics").text
    assert exposition["drift_feature_psi"]  # the drift families are there
    for family in POOLING_FAMILIES:
        assert family not in exposition
        assert f" {family} " not in text  # not even HELP and TYPE


def test_a_column_over_the_bin_cap_exports_no_bin_series() -> None:
    # 3 bins: flag (false, true, overflow) stays; colour (4), x, y and the prediction (10) go.
    with _sidecars(1, _settings(max_bins_per_feature=3)) as (client,):
        _post(client, _traffic()[:300])
        exposition = _scrape(client)
    for family in ("drift_feature_window_bin_records", "drift_feature_reference_bin_records"):
        features = {dict(labels)["feature"] for labels in exposition[family]}
        assert features == {"flag"}, family
        assert len(exposition[family]) == 3
    assert "drift_prediction_window_bin_records" not in exposition
    assert "drift_prediction_reference_bin_records" not in exposition
    missing = exposition["drift_feature_missing_records"]
    assert {dict(labels)["feature"] for labels in missing} == {"x", "y", "colour", "flag"}
