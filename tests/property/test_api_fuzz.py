"""Schema-driven fuzzing of the HTTP API, in-process: no 5xx, no hang, no change on rejection.

schemathesis reads the app's own OpenAPI document and generates requests for every operation,
schema-valid (positive) and schema-violating (negative), which are sent through
`fastapi.testclient.TestClient` (ASGI in-process: no socket, nothing downloaded). Every
response is checked by schemathesis: no server error, a documented status code, content type
and headers, a body matching the documented schema, and a 4xx for every schema-violating
request. Every request answered with a 4xx must also have left the observable state as it was:
`GET /v1/models` and `/metrics` (less `drift_requests_rejected_total`, which counts the
rejection itself). Not checked: that every schema-valid request is accepted, since the document
does not state the model-name pattern, so most generated names are (rightly) refused with 422.

The scheduler runs (so `/readyz` is 200 and part of the check) with a one-hour interval, so no
background evaluation changes the state between two snapshots. A model `credit` with a
reference and a window is seeded first, so the ingest routes get past their 404.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import orjson
import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from exporter.app import create_app
from exporter.settings import Settings

SEEDED = "credit"  # has a reference and a window; fuzzed, but never replaced or deleted
SCRATCH = "scratch"  # fuzzed by PUT reference and DELETE too; re-created when gone
MAX_RECORDS_PER_REQUEST = 200
SETTINGS = {
    "min_records": 5,
    "evaluation_interval_seconds": 3_600.0,
    "window": {"max_records": 500, "slices": 5, "sample_size": 100},
    "reference": {"sample_size": 200, "max_categories": 10},
    "limits": {
        "max_body_bytes": 1024 * 1024,
        "max_records_per_request": MAX_RECORDS_PER_REQUEST,
        "max_models": 12,
        "max_features_per_model": 20,
    },
}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
]
#: Examples per operation; DRIFT_FUZZ_EXAMPLES=600 HYPOTHESIS_PROFILE=explore searches longer.
EXAMPLES_PER_OPERATION = int(os.environ.get("DRIFT_FUZZ_EXAMPLES", "60"))


@schemathesis.serializer("application/x-ndjson")
def _ndjson(context: Any, value: Any) -> bytes:
    """NDJSON bodies are documented as a string; anything else is sent as one JSON line."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    return json.dumps(value).encode()  # the stdlib, for integers past 64 bits


def seeded_records(seed: int, count: int, shift: float = 0.0) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    x = rng.normal(shift, 1.0, count).round(4)
    colour = rng.choice(["red", "green", "blue"], size=count)
    return [
        {
            "id": f"r{seed}-{i}",
            "features": {"x": float(x[i]), "colour": str(colour[i]), "flag": bool(i % 3 == 0)},
            "prediction": float(round(1 / (1 + np.exp(-x[i])), 4)),
        }
        for i in range(count)
    ]


def seed(client: TestClient, model: str) -> None:
    reference = [{k: v for k, v in r.items() if k != "id"} for r in seeded_records(1, 200)]
    response = client.put(f"/v1/models/{model}/reference", json={"records": reference})
    assert response.status_code in (200, 201), response.text
    response = client.post(
        f"/v1/models/{model}/predictions", json={"records": seeded_records(2, 50, 0.5)}
    )
    assert response.status_code == 202, response.text
    assert client.post(f"/v1/models/{model}/evaluate").status_code == 200


def ensure_seeded(client: TestClient) -> None:
    store = client.app.state.store  # type: ignore[attr-defined]
    for model in (SEEDED, SCRATCH):
        if model not in store:
            seed(client, model)


def observable_state(client: TestClient) -> tuple[Any, list[str]]:
    """What a client can see of the state: the model list and every series but the rejections."""
    models = client.get("/v1/models")
    metrics = client.get("/metrics")
    assert models.status_code == 200 and metrics.status_code == 200
    lines = [
        line
        for line in metrics.text.splitlines()
        if not line.startswith("drift_requests_rejected_total")
    ]
    return models.json(), lines


def settings_from(overrides: dict[str, Any]) -> Settings:
    """Settings from `overrides` and the defaults only: a developer's DRIFT_EXPORTER_* variables
    (an auth token, say) must not leak into a module-scoped app."""
    with pytest.MonkeyPatch.context() as patch:
        for key in list(os.environ):
            if key.startswith("DRIFT_EXPORTER_"):
                patch.delenv(key)
        return Settings(**overrides)


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    app = create_app(settings_from(SETTINGS))
    with TestClient(app, raise_server_exceptions=False) as test_client:
        seed(test_client, SEEDED)
        seed(test_client, SCRATCH)
        yield test_client


SCHEMA = schemathesis.openapi.from_dict(create_app(settings_from(SETTINGS)).openapi())
OPERATIONS = {
    f"{operation.method.upper()} {operation.path}": operation
    for operation in (result.ok() for result in SCHEMA.get_all_operations())
}


def case_strategy(operation: Any) -> st.SearchStrategy[Any]:
    """Positive and negative cases; the model is generated, the seeded one, or the scratch one."""
    has_model = any(p.name == "model" for p in operation.path_parameters)
    writes_model = operation.method.upper() in ("PUT", "DELETE")
    models: list[str | None] = [None]
    if has_model:
        models.append(SCRATCH if writes_model else SEEDED)
    strategies = []
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        for model in models:
            overrides = {} if model is None else {"path_parameters": {"model": model}}
            strategies.append(operation.as_strategy(generation_mode=mode, **overrides))
    return st.one_of(strategies)


def send(client: TestClient, case: Any) -> Any:
    """The case as schemathesis would send it, through the TestClient."""
    kwargs = case.as_transport_kwargs(base_url=str(client.base_url))
    data = kwargs.get("data")
    return client.request(
        kwargs["method"],
        kwargs["url"],
        params=kwargs.get("params"),
        headers=kwargs.get("headers"),
        content=data if isinstance(data, (bytes, str)) else None,
        data=data if isinstance(data, dict) else None,
        json=kwargs.get("json"),
    )


@pytest.mark.parametrize("label", sorted(OPERATIONS))
def test_operation_never_fails_and_a_rejection_changes_nothing(
    client: TestClient, label: str
) -> None:
    operation = OPERATIONS[label]

    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow],
    )
    @given(case=case_strategy(operation))
    def run(case: Any) -> None:
        ensure_seeded(client)
        before = observable_state(client)
        response = send(client, case)
        try:
            case.validate_response(response, checks=CHECKS)
        except FailureGroup as failures:
            raise AssertionError(f"{label}: {failures}") from None
        if 400 <= response.status_code < 500:
            assert observable_state(client) == before, (
                f"{label} answered {response.status_code} but changed the state: "
                f"{response.text[:300]}"
            )

    run()


# --------------------------------------------------------------------------- malformed bodies

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=15,
)
BROKEN_RECORDS = st.one_of(
    JSON_VALUES,
    st.fixed_dictionaries({"features": JSON_VALUES.filter(lambda v: type(v) is not dict)}),
    st.fixed_dictionaries({"features": st.just({"x": 1.0}), "junk": SCALARS}),
    st.fixed_dictionaries({"features": st.just({"x": 1.0}), "id": st.floats() | st.lists(SCALARS)}),
    st.fixed_dictionaries(
        {"features": st.just({"x": 1.0}), "timestamp": st.sampled_from([-1, "soon", [], {}])}
    ),
)


@st.composite
def batch_with_one_broken_record(draw: st.DrawFn) -> bytes:
    """Good records with one malformed record somewhere: all must be refused, none counted."""
    good = seeded_records(draw(st.integers(0, 1_000)), draw(st.integers(0, 20)))
    position = draw(st.integers(0, len(good)))
    listed: list[Any] = [*good[:position], draw(BROKEN_RECORDS), *good[position:]]
    if draw(st.booleans()):
        return orjson.dumps({"records": listed})
    return b"\n".join(orjson.dumps(record) for record in listed)


BODIES = st.one_of(
    batch_with_one_broken_record(),
    st.binary(max_size=300),
    JSON_VALUES.map(orjson.dumps),
    st.fixed_dictionaries({"records": st.lists(JSON_VALUES, max_size=4)}).map(orjson.dumps),
    st.integers(MAX_RECORDS_PER_REQUEST + 1, MAX_RECORDS_PER_REQUEST + 50).map(
        lambda n: orjson.dumps({"records": seeded_records(3, n)})
    ),
    st.sampled_from(
        [
            b"x,colour,flag\n1,red\n",  # a short CSV row
            b"x,x\n1,2\n",  # a duplicate CSV column
            b"x,colour\n,\n,\n",  # every value missing: no type to infer
            b"bad/name,colour\n1,red\n",  # an unsafe feature name
            b'{"records": []}',  # nothing to profile
            b'{"records": [{"features": {"x": null}}]}',
        ]
    ),
)
CONTENT_TYPES = st.sampled_from(
    ["application/json", "application/x-ndjson", "text/csv", "text/plain", "", "application/xml"]
)


@settings(max_examples=250)
@given(
    route=st.sampled_from(["predictions", "reference"]),
    model=st.sampled_from([SEEDED, "never-created", "bad name"]),
    body=BODIES,
    content_type=CONTENT_TYPES,
)
def test_a_rejected_ingest_or_reference_upload_changes_nothing(
    client: TestClient, route: str, model: str, body: bytes, content_type: str
) -> None:
    ensure_seeded(client)
    before = observable_state(client)
    method = "POST" if route == "predictions" else "PUT"
    headers = {"content-type": content_type} if content_type else {}
    response = client.request(method, f"/v1/models/{model}/{route}", content=body, headers=headers)
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert observable_state(client) == before, response.text
        error = response.json()
        assert error["location"] and error["detail"].startswith(error["location"])
    elif route == "reference":  # a well-formed reference replaced the seeded one: restore it
        seed(client, SEEDED)


# --------------------------------------------------------------------------- found by fuzzing


@settings(max_examples=20)
@example(magnitude=1e308)
@given(magnitude=st.floats(min_value=9e307, max_value=1.7976931348623157e308))
def test_a_reference_spanning_the_float_range_is_not_a_server_error(
    client: TestClient, magnitude: float
) -> None:
    # numpy's quantile interpolation overflows between two neighbours further apart than the
    # largest float: quantile_edges([-1e308, 1e308], 10) returns [-inf, inf], bin_counts raises
    # ValueError ("edges must be finite") in build_profile, and the upload answers 500. Any
    # finite JSON number is a valid value, so the upload must succeed.
    rows = [{"features": {"x": value}} for value in (-magnitude, magnitude)]
    response = client.put("/v1/models/wide-range/reference", json={"records": rows})
    assert response.status_code in (200, 201), response.text


@pytest.fixture(scope="module")
def default_client() -> Iterator[TestClient]:
    """An app on the default limits (64 MiB bodies, 100,000 records, 200 features)."""
    with TestClient(create_app(settings_from({}), run_scheduler=False)) as test_client:
        yield test_client


def _refused_quickly(client: TestClient, body: bytes, content_type: str) -> tuple[int, float]:
    started = time.perf_counter()
    response = client.put(
        "/v1/models/wide/reference",
        content=body,
        headers={"content-type": content_type},
    )
    return response.status_code, time.perf_counter() - started


# A deadline against a hang, not a speed bound: the bodies (about 1.4 MB) are sized so that the
# linear refusal takes ~0.2 s (0.16 s and 0.03 s measured under load average 5 on 2 cores) and
# the old super-linear work over a minute (extrapolated from the timings in each test), with
# 15 s in between: far enough from both that a loaded machine decides nothing.
NO_HANG_SECONDS = 15.0


def test_a_csv_reference_with_a_huge_header_is_refused_without_hanging(
    default_client: TestClient,
) -> None:
    # reference._csv_table finds duplicate column names with header.count(name) per column:
    # O(columns^2), 12 s for a 270 KB header of 40,000 names before any cap is checked (so
    # ~75 s for these 100,000).
    header = ",".join(f"c{i}" for i in range(100_000)).encode() + b"\n"
    body = header + header.replace(b"c", b"1")
    status, seconds = _refused_quickly(default_client, body, "text/csv")
    assert status == 422
    assert seconds < NO_HANG_SECONDS, f"took {seconds:.1f} s"


def test_a_json_reference_with_too_many_feature_names_is_refused_without_hanging(
    default_client: TestClient,
) -> None:
    # decode_reference builds one column per distinct feature name with one lookup per record
    # (O(names x records)) before api.models._profile compares the count with
    # limits.max_features_per_model: 13 s for 4,000 records of 10 new names each (530 KB), so
    # ~80 s for these 10,000 records (100,000 names).
    listed = [{"features": {f"f{i}_{k}": 1 for k in range(10)}} for i in range(10_000)]
    body = orjson.dumps({"records": listed})
    status, seconds = _refused_quickly(default_client, body, "application/json")
    assert status == 422
    assert seconds < NO_HANG_SECONDS, f"took {seconds:.1f} s"


def test_a_cloudevent_rejected_when_it_completes_a_pair_changes_nothing(
    client: TestClient,
) -> None:
    # The request half (more rows than limits.max_records_per_request) is held (200, accepted 0);
    # its response half is then refused with 413 by _batch, after CloudEventJoiner.add has
    # already removed the held half and counted the pair as paired.
    rows = MAX_RECORDS_PER_REQUEST + 1
    headers = {
        "ce-specversion": "1.0",
        "ce-id": "too-many-rows",
        "ce-source": "http://localhost/fuzz",
        "ce-inferenceservicename": SEEDED,
        "content-type": "application/json",
    }
    request_half = {"instances": [{"x": 0.1, "colour": "red", "flag": True}] * rows}
    response_half = {"predictions": [0.5] * rows}
    statuses = []
    for kind, payload in (("request", request_half), ("response", response_half)):
        joiner = getattr(client.app.state, "cloudevent_joiner", None)  # type: ignore[attr-defined]
        before = None if joiner is None else joiner.stats()
        response = client.post(
            "/v1/cloudevents",
            content=orjson.dumps(payload),
            headers={**headers, "ce-type": f"org.kubeflow.serving.inference.{kind}"},
        )
        statuses.append(response.status_code)
        joiner = client.app.state.cloudevent_joiner  # type: ignore[attr-defined]
        if 400 <= response.status_code < 500 and before is not None:
            assert joiner.stats() == before, (kind, response.status_code, response.text)
    assert 413 in statuses, statuses
