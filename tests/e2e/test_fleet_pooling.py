"""End to end, a fleet (issue 14): six sidecars as one model's replicas, real Prometheus servers
with the shipped rules, a real Alertmanager and a webhook.

A seventh sidecar is fed the whole traffic and is not scraped: it is what one sidecar would
say of the model. The pooled recording rules must give its numbers (PSI, valid counts, data
quality, accuracy) from the six replicas' mergeable counts, for a round-robin split and for a
70/10/10/10 one; with no drift the replicas' own PSIs are noisy while the pooled one is not and
no drift alert fires; drift fires one alert per drifted feature, for the model, that reaches the
webhook; a replica fed bad values alone is named by its own data-quality alert; and two leaf
Prometheus servers federated by a third give the same pooled values as one server.
"""

from __future__ import annotations

import math
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.e2e.fleet import (
    Fleet,
    Prometheus,
    PrometheusApi,
    post,
    scrape,
    series,
    split,
    start_federation,
    start_fleet,
)
from tests.e2e.stack import WARM_UP_ALERTS, Stack, WebhookReceiver, start_stack
from tests.integration.payloads import labelled_records
from tests.support import wait_until

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        shutil.which("prometheus") is None or shutil.which("prometheus-alertmanager") is None,
        reason="needs Debian's prometheus and prometheus-alertmanager (.ci/run installs them)",
    ),
]

REPLICAS = 6
#: Small windows on purpose: 300 records a replica is a noisy window, 1,800 pooled is not.
#: The first phases evict nothing, so the replicas' windows together hold exactly the whole
#: sidecar's; the drift phase turns every replica's window over (the alerts' fresh evidence).
REPLICA_CONFIG = """\
evaluation_interval_seconds: 1
min_records: 50
window:
  max_records: {max_records}
  slices: 4
labels:
  min_labels: 50
"""
REPLICA_WINDOW = 1_000
WHOLE_WINDOW = 20_000
#: The alerts' waits in this test (tests.e2e.stack.shortened_rules): the drift phase sends
#: about 2,000 records a second, so a 10 s span sees the pooled window (6,000) turn over.
FOR_SECONDS = 10
#: The same records, pooled and whole, must give the same numbers to float rounding.
RELATIVE = 1e-9
#: Feature x is missing in one record of this many (a pooled data-quality ratio to check).
MISSING_EVERY = 50


@dataclass
class Rig:
    fleet: Fleet
    whole: Fleet
    stack: Stack
    webhook: WebhookReceiver
    federation: list[Prometheus]

    @property
    def prometheus(self) -> PrometheusApi:
        """The single server that scrapes every replica."""
        return PrometheusApi(self.stack.prometheus)


def traffic(seed: int, count: int, *, shift: float = 0.0) -> list[dict[str, Any]]:
    records = labelled_records(seed, count, shift=shift)
    for i, record in enumerate(records):
        if i % MISSING_EVERY == 0:
            record["features"]["x"] = None
    return records


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    workdir = tmp_path_factory.mktemp("fleet")
    webhook = WebhookReceiver()
    opened: list[Any] = [webhook]
    try:
        fleet = start_fleet(workdir, REPLICA_CONFIG.format(max_records=REPLICA_WINDOW), REPLICAS)
        opened.append(fleet)
        (workdir / "whole").mkdir()
        whole = start_fleet(workdir / "whole", REPLICA_CONFIG.format(max_records=WHOLE_WINDOW), 1)
        opened.append(whole)
        (workdir / "single").mkdir()
        stack = start_stack(workdir / "single", fleet.ports, webhook, for_seconds=FOR_SECONDS)
        opened.append(stack)
        federation = start_federation(workdir / "federation", fleet, workdir / "single" / "rules")
        opened.extend(federation)
        yield Rig(fleet, whole, stack, webhook, federation)
    finally:
        for thing in reversed(opened):
            thing.close()


def upload_reference(urls: list[str], model: str) -> None:
    body = {"records": labelled_records(1, 10_000)}
    for url in urls:
        post(url, f"/v1/models/{model}/reference", body, method="PUT")


def send_split(
    rig: Rig, model: str, records: list[dict[str, Any]], weights: list[int], *, whole: bool = True
) -> list[int]:
    """The records to the replicas by `weights` (and, with `whole`, all of them to the whole
    sidecar)."""
    shares = split(records, weights)
    for url, share in zip(rig.fleet.urls, shares, strict=False):
        if share:
            post(url, f"/v1/models/{model}/predictions", {"records": share})
    if whole:
        post(rig.whole.urls[0], f"/v1/models/{model}/predictions", {"records": records})
    return [len(share) for share in shares]


def close_enough(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=RELATIVE, abs_tol=1e-12)


def whole_value(samples: dict[Any, float], name: str, model: str, **labels: str) -> float | None:
    """The one sample of `name` for `model` (and `labels`), None while there is none."""
    found = series(samples, name, model=model, **labels)
    return next(iter(found.values())) if len(found) == 1 else None


def pooled_matches_whole(rig: Rig, model: str) -> list[str]:
    """The pooled rules' values that differ from the whole sidecar's (empty when all agree)."""
    whole = scrape(rig.whole.urls[0])
    server = rig.prometheus
    problems: list[str] = []

    def compare(expr: str, expected: float | None) -> None:
        got = server.values(expr)
        if (
            expected is None
            or len(got) != 1
            or not close_enough(next(iter(got.values())), expected)
        ):
            problems.append(f"{expr} = {got}, one sidecar fed everything says {expected!r}")

    compare(
        f'model_feature:drift_window_records:pooled{{model="{model}"}}',
        whole_value(whole, "drift_window_records", model),
    )
    for feature in ("x", "y"):
        selector = f'{{model="{model}", feature="{feature}"}}'
        for name in ("drift_feature_psi", "drift_feature_valid_records"):
            compare(
                f"model_feature:{name}:pooled{selector}",
                whole_value(whole, name, model, feature=feature),
            )
    compare(
        f'model_feature:drift_feature_missing_ratio:pooled{{model="{model}", feature="x"}}',
        whole_value(whole, "drift_feature_missing_ratio", model, feature="x"),
    )
    compare(
        f'model:drift_prediction_psi:pooled{{model="{model}"}}',
        whole_value(whole, "drift_prediction_psi", model),
    )
    compare(
        f'model:drift_performance_accuracy:pooled{{model="{model}"}}',
        whole_value(whole, "drift_performance_accuracy", model),
    )
    return problems


def settle(rig: Rig, model: str, sent: list[int]) -> None:
    """Wait until every replica's window holds what it was sent and the whole sidecar all."""
    expected = {
        f"127.0.0.1:{port}": float(count)
        for port, count in zip(rig.fleet.ports, sent, strict=False)
        if count
    }
    query = f'drift_window_records{{model="{model}"}}'
    wait_until(
        lambda: (
            rig.prometheus.values(query, "instance")
            == {(instance,): count for instance, count in expected.items()}
        ),
        lambda: f"replica windows: {rig.prometheus.values(query, 'instance')}",
        timeout=120,
    )


@pytest.mark.parametrize(
    ("model", "weights", "count"),
    [("roundrobin", [1] * REPLICAS, 1_800), ("skewed", [7, 1, 1, 1], 1_200)],
    ids=["round-robin", "70-10-10-10"],
)
def test_the_pooled_rules_equal_one_sidecar_fed_everything(
    rig: Rig, model: str, weights: list[int], count: int
) -> None:
    replicas = rig.fleet.urls[: len(weights)]
    upload_reference(replicas + rig.whole.urls, model)
    sent = send_split(rig, model, traffic(2, count), weights)
    assert max(sent) <= REPLICA_WINDOW  # nothing evicted: the replicas hold the whole window
    settle(rig, model, sent)
    wait_until(
        lambda: not pooled_matches_whole(rig, model),
        lambda: "\n".join(pooled_matches_whole(rig, model)),
        timeout=120,
    )


def test_noisy_replicas_do_not_alert_while_the_pool_is_calm(rig: Rig) -> None:
    """Still the no-drift round-robin traffic: each replica's 300-record window has a PSI of
    x a few times the pooled one, over the model's floor; the pooled decision says no drift
    and no drift alert fires."""
    server = rig.prometheus
    floor = server.values('model:drift_threshold_feature_psi_warning:value{model="roundrobin"}')
    replica_psi = server.values('drift_feature_psi{model="roundrobin", feature="x"}', "instance")
    pooled = server.values(
        'model_feature:drift_feature_psi:pooled{model="roundrobin", feature="x"}'
    )
    assert len(replica_psi) == REPLICAS and len(pooled) == 1 and len(floor) == 1
    assert max(replica_psi.values()) > next(iter(floor.values()))
    assert max(replica_psi.values()) > 2 * next(iter(pooled.values()))
    assert not server.query('model_feature:drift_feature_psi:pooled_drifted{model="roundrobin"}')
    firing = [a for a in rig.stack.firing() if a["alertname"] not in WARM_UP_ALERTS]
    assert firing == []


def test_federated_servers_pool_to_the_same_values(rig: Rig) -> None:
    """Leaf servers scrape three replicas each; the global one federates their series and
    evaluates the shipped rules: its pooled values equal the single server's."""
    single, federated = rig.prometheus, rig.federation[-1]
    exprs = [
        'model_feature:drift_feature_psi:pooled{model="roundrobin"}',
        'model_feature:drift_window_records:pooled{model="roundrobin"}',
        'model_feature:drift_feature_missing_ratio:pooled{model="roundrobin"}',
        'model:drift_performance_accuracy:pooled{model="roundrobin"}',
    ]

    def differences() -> list[str]:
        out = []
        for expr in exprs:
            a = single.values(expr, "feature")
            b = federated.values(expr, "feature")
            if a.keys() != b.keys() or not all(close_enough(a[k], b[k]) for k in a):
                out.append(f"{expr}: single {a}, federated {b}")
        return out

    wait_until(lambda: not differences(), lambda: "\n".join(differences()), timeout=120)
    assert single.values(exprs[0], "feature")


def test_one_replica_fed_bad_values_is_named_alone(rig: Rig) -> None:
    """Replica 2 of model "quality" gets y as a string in 4 % of its records: its own
    type-mismatch alert names it; the pool (0.7 %) stays under the model's 1 % threshold."""
    urls = rig.fleet.urls
    upload_reference(urls, "quality")
    records = traffic(3, 1_800)
    shares = split(records, [1] * REPLICAS)
    for i, record in enumerate(shares[2]):
        if i % 25 == 0:
            record["features"]["y"] = "not a number"
    for url, share in zip(urls, shares, strict=True):
        post(url, "/v1/models/quality/predictions", {"records": share})
    bad = f"127.0.0.1:{rig.fleet.ports[2]}"

    def quality_alerts() -> list[dict[str, str]]:
        return [a for a in rig.stack.firing("ModelDriftFeature.*") if a.get("model") == "quality"]

    alerts = wait_until(
        lambda: quality_alerts(), "no data-quality alert for the bad replica", timeout=120
    )
    assert {(a["alertname"], a.get("instance"), a.get("feature")) for a in alerts} == {
        ("ModelDriftFeatureTypeMismatch", bad, "y")
    }


def test_drift_fires_once_per_feature_and_reaches_the_webhook(rig: Rig) -> None:
    """x moves by one reference sd on every replica: one alert per drift alert name and
    drifted feature, for the model (no instance label), in Alertmanager once; the model's
    score moves with x, so the severe prediction shift (the impact that pages) reaches the
    retraining webhook, once for the model. The shifted records keep coming (2,000 a second, in
    batches) so that the alerts' fresh-evidence condition sees whole windows turn over."""
    for batch in range(40):
        records = traffic(100 + batch, 1_000, shift=1.0)
        send_split(rig, "roundrobin", records, [1] * REPLICAS, whole=False)
        time.sleep(0.5)

    def drift_alerts() -> list[dict[str, str]]:
        return [
            a
            for a in rig.stack.firing("ModelDriftFeature(Shift|JensenShannon|Wasserstein)")
            if a.get("model") == "roundrobin"
        ]

    alerts = wait_until(drift_alerts, "no drift alert for model roundrobin", timeout=180)
    keys = [(a["alertname"], a["feature"]) for a in alerts]
    assert len(keys) == len(set(keys)), keys
    assert {feature for _, feature in keys} == {"x"}
    assert all("instance" not in a for a in alerts), alerts

    def in_alertmanager() -> list[dict[str, Any]]:
        response = httpx.get(
            f"{rig.stack.alertmanager}/api/v2/alerts",
            params={"filter": ['alertname="ModelDriftFeatureShift"', 'model="roundrobin"']},
            timeout=10,
        )
        found: list[dict[str, Any]] = response.json()
        return found

    received = wait_until(in_alertmanager, "Alertmanager never got ModelDriftFeatureShift")
    assert [(a["labels"]["feature"], a["labels"].get("instance")) for a in received] == [
        ("x", None)
    ]

    def paged() -> list[dict[str, Any]]:
        return [
            alert
            for _, alert in rig.webhook.alerts()
            if alert["labels"].get("model") == "roundrobin"
        ]

    wait_until(
        lambda: any(a["labels"]["alertname"] == "ModelDriftPredictionShift" for a in paged()),
        "the severe prediction shift of roundrobin never reached the retraining webhook",
        timeout=120,
    )
    assert all("instance" not in alert["labels"] for alert in paged())
    assert {alert["labels"]["alertname"] for alert in paged()} == {"ModelDriftPredictionShift"}
