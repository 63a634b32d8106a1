"""A small FastAPI model server whose traffic drift-exporter watches, with no change to its handler.

A logistic-regression credit-risk model (plain numpy, trained at start-up on seeded data)
serves `POST /predict` with `{"features": {...}}` or `{"instances": [{...}, ...]}`.
`DriftMiddleware` copies each exchange into a `DriftLogger`, which batches the records to the
sidecar from a background thread: if the sidecar is slow or down, predictions are unaffected.

    python -m examples.model_server reference > reference.json       # the training data
    curl -X PUT localhost:9808/v1/models/credit-risk/reference \\
         -H 'Content-Type: application/json' --data-binary @reference.json
    DRIFT_SIDECAR_URL=http://127.0.0.1:9808 \\
        uvicorn examples.model_server:create_app --factory --port 8000

Environment: `DRIFT_SIDECAR_URL` (default http://127.0.0.1:9808), `DRIFT_MODEL` (default
credit-risk), `DRIFT_SIDECAR_TOKEN` (optional bearer token), `DRIFT_FLUSH_INTERVAL_SECONDS`
(default 1).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
from fastapi import FastAPI, HTTPException
from numpy.typing import NDArray
from pydantic import BaseModel

from drift_exporter_client import DriftLogger, DriftMiddleware

FEATURES = ("age", "income", "tenure_years")


def applicants(seed: int, rows: int, *, age_shift: float = 0.0) -> NDArray[np.float64]:
    """Seeded applicants, one column per feature; `age_shift` moves the age distribution."""
    rng = np.random.default_rng(seed)
    age = rng.normal(40.0 + age_shift, 10.0, rows).clip(18, 90)
    income = rng.lognormal(10.5, 0.4, rows)
    tenure = rng.exponential(4.0, rows)
    return np.column_stack([age, income, tenure]).round(2)


def training_data(seed: int = 0, rows: int = 5_000) -> tuple[NDArray[np.float64], NDArray[Any]]:
    """Applicants and whether they defaulted: younger, poorer, newer customers default more."""
    x = applicants(seed, rows)
    rng = np.random.default_rng(seed + 1)
    logit = -0.04 * (x[:, 0] - 40) - 0.8 * np.log(x[:, 1] / 36_000) - 0.15 * x[:, 2] + 0.3
    y = rng.random(rows) < 1 / (1 + np.exp(-logit))
    return x, y


@dataclass(frozen=True)
class LogisticModel:
    """P(default) = sigmoid(w · standardised(x) + b)."""

    mean: NDArray[np.float64]
    scale: NDArray[np.float64]
    weights: NDArray[np.float64]
    bias: float

    @classmethod
    def fit(
        cls, x: NDArray[np.float64], y: NDArray[Any], steps: int = 300, rate: float = 0.5
    ) -> LogisticModel:
        """Batch gradient descent on the log loss of standardised features."""
        mean, scale = x.mean(axis=0), x.std(axis=0)
        z = (x - mean) / scale
        weights, bias = np.zeros(x.shape[1]), 0.0
        target = y.astype(np.float64)
        for _ in range(steps):
            error = 1 / (1 + np.exp(-(z @ weights + bias))) - target
            weights -= rate * (z.T @ error) / len(z)
            bias -= rate * float(error.mean())
        return cls(mean, scale, weights, bias)

    def predict(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        z = (x - self.mean) / self.scale
        return np.asarray(1 / (1 + np.exp(-(z @ self.weights + self.bias))), dtype=np.float64)


def as_rows(x: NDArray[np.float64]) -> list[dict[str, float]]:
    return [dict(zip(FEATURES, map(float, row), strict=True)) for row in x]


def reference_records(seed: int = 0, rows: int = 5_000) -> list[dict[str, Any]]:
    """The training data with the trained model's scores: the sidecar's reference."""
    x, y = training_data(seed, rows)
    scores = LogisticModel.fit(x, y).predict(x)
    return [
        {"features": features, "prediction": round(float(score), 6)}
        for features, score in zip(as_rows(x), scores, strict=True)
    ]


class PredictRequest(BaseModel):
    """One applicant (`features`) or a batch (`instances`)."""

    features: dict[str, float] | None = None
    instances: list[dict[str, float]] | None = None


def _matrix(rows: Sequence[dict[str, float]]) -> NDArray[np.float64]:
    try:
        return np.array([[row[name] for name in FEATURES] for row in rows], dtype=np.float64)
    except KeyError as missing:
        raise HTTPException(422, f"missing feature {missing}") from None


def create_app() -> FastAPI:
    """The model server (a uvicorn `--factory`): model, logger and middleware built here."""
    model = LogisticModel.fit(*training_data())
    logger = DriftLogger(
        os.environ.get("DRIFT_SIDECAR_URL", "http://127.0.0.1:9808"),
        os.environ.get("DRIFT_MODEL", "credit-risk"),
        token=os.environ.get("DRIFT_SIDECAR_TOKEN"),
        flush_interval_seconds=float(os.environ.get("DRIFT_FLUSH_INTERVAL_SECONDS", "1")),
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            logger.close(timeout=5)  # send what is still queued before exiting

    app = FastAPI(title="credit-risk model", lifespan=lifespan)
    app.add_middleware(DriftMiddleware, logger=logger, paths=["/predict"])

    @app.post("/predict")
    def predict(request: PredictRequest) -> dict[str, Any]:
        if request.features is not None:
            return {"prediction": round(float(model.predict(_matrix([request.features]))[0]), 6)}
        if request.instances is not None:
            if not request.instances:
                return {"predictions": []}
            scores = model.predict(_matrix(request.instances))
            return {"predictions": [round(float(score), 6) for score in scores]}
        raise HTTPException(422, 'send {"features": {...}} or {"instances": [...]}')

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/drift-logger")
    def drift_logger() -> dict[str, int]:
        """The logger's counters: queued, sent, dropped, rejected, failed requests."""
        return logger.stats()._asdict()

    return app


if __name__ == "__main__":
    if sys.argv[1:] != ["reference"]:
        sys.exit("usage: python -m examples.model_server reference > reference.json")
    json.dump({"records": reference_records()}, sys.stdout)
