"""The built-in demo: a seeded credit-scoring model whose live traffic drifts part-way.

Nothing is downloaded: the reference and the traffic are generated from
`np.random.default_rng(seed)`. The traffic goes through the sidecar's real HTTP API, exactly as
a model server's would, so the demo exercises the whole path. The model is calibrated by
construction (each label is drawn with P(default) = the score), the reference carries labels,
and live records carry an id and the server's latency; their labels arrive
`LABEL_DELAY_SECONDS` later through `POST /v1/models/{model}/labels`, as ground truth does.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import httpx
import numpy as np

from exporter.client import DriftLogger

log = logging.getLogger(__name__)

DEMO_MODEL = "demo-credit"
COUNTRIES = ("DE", "FR", "ES", "IT", "NL", "PL")
COUNTRY_SHARES = (0.3, 0.25, 0.15, 0.15, 0.1, 0.05)
DEVICES = ("web", "ios", "android")
#: How long the demo's ground truth takes to arrive after the prediction.
LABEL_DELAY_SECONDS = 10.0


def generate_records(
    rng: np.random.Generator, count: int, *, drifted: bool = False
) -> list[dict[str, Any]]:
    """`count` records with features, the model's score and the true label (drawn with
    P(1) = the score); `drifted` shifts income, age, country (a market the model never saw)
    and device mix, as a new marketing campaign might."""
    age = rng.normal(41 if not drifted else 33, 11, count).clip(18, 90).round()
    income = rng.lognormal(10.6 if not drifted else 10.25, 0.45, count).round(2)
    tenure = rng.exponential(4.0, count).round(2)
    debt_ratio = rng.beta(2, 5, count).round(4)
    inquiries = rng.poisson(1.2, count)
    country_shares = COUNTRY_SHARES if not drifted else (0.15, 0.15, 0.1, 0.1, 0.05, 0.05)
    countries = list(COUNTRIES) + (["BR"] if drifted else [])
    shares = list(country_shares) + ([0.4] if drifted else [])
    country = rng.choice(countries, size=count, p=np.array(shares) / sum(shares))
    device = rng.choice(DEVICES, size=count, p=(0.5, 0.3, 0.2) if not drifted else (0.2, 0.3, 0.5))
    member = rng.random(count) < 0.35
    logit = (
        -1.2
        + 0.9 * (np.log(income) - 10.6)
        - 2.5 * (debt_ratio - 0.28)
        + 0.02 * (age - 41)
        - 0.3 * inquiries
        + 0.4 * member
    )
    score = 1 / (1 + np.exp(-logit))
    missing = rng.random(count) < 0.01
    labels = rng.random(count) < score
    records = []
    for i in range(count):
        records.append(
            {
                "features": {
                    "age": float(age[i]),
                    "income": None if missing[i] else float(income[i]),
                    "tenure_years": float(tenure[i]),
                    "debt_ratio": float(debt_ratio[i]),
                    "inquiries": int(inquiries[i]),
                    "country": str(country[i]),
                    "device": str(device[i]),
                    "is_member": bool(member[i]),
                },
                "prediction": round(float(score[i]), 5),
                "label": int(labels[i]),
            }
        )
    return records


class DemoTraffic:
    """Uploads the reference, then posts traffic at a steady pace; drift starts after a while."""

    def __init__(
        self,
        base_url: str,
        *,
        records_per_second: float = 200.0,
        drift_after_seconds: float = 60.0,
        reference_rows: int = 5_000,
        seed: int = 7,
        say: Callable[[str], None] = print,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.records_per_second = records_per_second
        self.drift_after_seconds = drift_after_seconds
        self.reference_rows = reference_rows
        self.rng = np.random.default_rng(seed)
        self.say = say
        self.stop = threading.Event()
        self.sent = 0

    def run(self) -> None:
        """Upload the reference over HTTP, then serve traffic through the client library
        (`exporter.client.DriftLogger`), as a model server would."""
        with (
            httpx.Client(base_url=self.base_url, timeout=30) as client,
            DriftLogger(
                self.base_url, DEMO_MODEL, batch_size=1_000, flush_interval_seconds=0.25
            ) as drift,
        ):
            if not self._wait_until_up(client):
                return
            reference = generate_records(self.rng, self.reference_rows)
            client.put(
                f"/v1/models/{DEMO_MODEL}/reference", json={"records": reference}
            ).raise_for_status()
            self.say(
                f"demo: reference for {DEMO_MODEL!r} uploaded ({self.reference_rows} rows, "
                f"labelled); live labels arrive {LABEL_DELAY_SECONDS:g} s after their predictions"
            )
            started = time.monotonic()
            announced = False
            tick = 0.5
            batch = max(1, int(self.records_per_second * tick))
            # Labels waiting to be "known": LABEL_DELAY_SECONDS / tick batches, or at most 200
            # (the oldest dropped) while the sidecar refuses them.
            waiting: deque[tuple[float, list[tuple[str, Any]]]] = deque(maxlen=200)
            number = 0
            while not self.stop.is_set():
                drifted = time.monotonic() - started >= self.drift_after_seconds
                if drifted and not announced:
                    self.say(
                        f"demo: drift injected after {self.drift_after_seconds:g} s "
                        "(age, income, country, device); watch drift_feature_psi rise"
                    )
                    announced = True
                records = generate_records(self.rng, batch, drifted=drifted)
                labels = []
                latencies = self.rng.gamma(2.0, 0.015, batch)
                for i, record in enumerate(records):
                    record_id = f"{number}-{i}"
                    drift.log(
                        record["features"],
                        record["prediction"],
                        id=record_id,
                        latency_seconds=round(float(latencies[i]), 4),
                    )
                    labels.append((record_id, record["label"]))
                number += 1
                self.sent += batch
                now = time.monotonic()
                waiting.append((now, labels))
                while waiting and now - waiting[0][0] >= LABEL_DELAY_SECONDS:
                    for record_id, label in waiting.popleft()[1]:
                        drift.log_label(record_id, label)
                self.stop.wait(tick)

    def _wait_until_up(self, client: httpx.Client) -> bool:
        while not self.stop.is_set():
            try:
                if client.get("/healthz").status_code == 200:
                    return True
            except httpx.HTTPError:
                pass
            self.stop.wait(0.1)
        return False
