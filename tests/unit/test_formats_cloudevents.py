"""KServe inference-logger CloudEvents -> paired records, with events built by the CloudEvents SDK.

The events reproduce the logger output published in KServe's "Inference Logger Demo",
kserve/kserve `docs/samples/logger/basic/README.md` (commit 00ad214b0fc6): the attributes
(type `org.kubeflow.serving.inference.request` / `.response`, source, id, time,
datacontenttype) and the extensions (`inferenceservicename`, `namespace`, `endpoint`) shown by
the message dumper, with the same V1 payloads. The `component` extension is the one the current
logger also sets (kserve/kserve `pkg/logger/worker.go`). Every event is encoded with
`cloudevents.core.bindings.http.to_binary` (or `to_structured`), as a real sender would.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from cloudevents.core.bindings.http import HTTPMessage, to_binary, to_structured
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

from exporter.api.errors import status_for
from exporter.errors import DomainError
from exporter.ingest.formats.cloudevents import CloudEventJoiner, InferenceEvent, parse_event

REQUEST_ID = "0009174a-24a8-4603-b098-09c8799950e9"
IRIS = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
V1_REQUEST = {"instances": [[6.8, 2.8, 4.8, 1.4], [6.0, 3.4, 4.5, 1.6]]}
V1_RESPONSE = {"predictions": [1, 1]}
# The Open Inference Protocol pair of KServe's sklearn v2 example
# (kserve/website docs/modelserving/v1beta1/sklearn/v2/README.md).
V2_REQUEST = {
    "inputs": [
        {
            "name": "input-0",
            "shape": [2, 4],
            "datatype": "FP32",
            "data": [[6.8, 2.8, 4.8, 1.4], [6.0, 3.4, 4.5, 1.6]],
        }
    ]
}
V2_RESPONSE = {
    "id": "823248cc-d770-4a51-9606-16803395569c",
    "model_name": "sklearn-v2-iris",
    "model_version": "v1.0.0",
    "outputs": [
        {"data": [1, 1], "datatype": "INT64", "name": "predict", "parameters": None, "shape": [2]}
    ],
}
REQUEST_TIME = "2021-04-10T00:23:26.0789529Z"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def logger_event(
    kind: str,
    data: Any,
    *,
    event_id: str = REQUEST_ID,
    service: str | None = "sklearn-iris",
    **attributes: Any,
) -> dict[str, Any]:
    """The attributes and data of one logger event, as the KServe sample shows them."""
    base: dict[str, Any] = {
        "specversion": "1.0",
        "type": f"org.kubeflow.serving.inference.{kind}",
        "source": "http://localhost:9081/",
        "id": event_id,
        "time": datetime.fromisoformat(REQUEST_TIME),
        "datacontenttype": "application/json",
        "endpoint": "",
        "namespace": "default",
        "component": "predictor",
        "traceparent": "00-90bdf848647d50283394155d2df58f19-84dacdfdf07cadfc-00",
    }
    if service is not None:
        base["inferenceservicename"] = service
    base.update(attributes)
    return {"attributes": base, "data": data}


def binary(kind: str, data: Any, **options: Any) -> HTTPMessage:
    event = logger_event(kind, data, **options)
    return to_binary(CloudEvent(event["attributes"], event["data"]), JSONFormat())


def parsed(kind: str, data: Any, **options: Any) -> InferenceEvent:
    message = binary(kind, data, **options)
    return parse_event(message.headers, message.body)


def test_binary_logger_event_parses_to_its_inference_half() -> None:
    message = binary("request", V1_REQUEST)
    assert message.headers["ce-inferenceservicename"] == "sklearn-iris"
    event = parse_event(message.headers, message.body)
    assert event.id == REQUEST_ID
    assert event.kind == "request"
    assert event.service == "sklearn-iris"
    assert event.component == "predictor"
    assert event.data == V1_REQUEST
    assert event.time == datetime.fromisoformat(REQUEST_TIME).timestamp()


def test_the_published_header_spelling_parses_too() -> None:
    # Header values exactly as KServe's Go logger sends them (sample README, message dumper).
    headers = {
        "Ce-Specversion": "1.0",
        "Ce-Type": "org.kubeflow.serving.inference.response",
        "Ce-Source": "http://localhost:9081/",
        "Ce-Id": REQUEST_ID,
        "Ce-Time": "2021-04-10T00:23:26.080736102Z",
        "Content-Type": "application/json",
        "Ce-Endpoint": "",
        "Ce-Inferenceservicename": "sklearn-iris",
        "Ce-Namespace": "default",
    }
    event = parse_event(headers, b'{\n  "predictions": [\n    1,\n    1\n  ]\n}')
    assert (event.kind, event.service, event.component) == ("response", "sklearn-iris", "")
    assert event.data == V1_RESPONSE


def test_request_then_response_pair_into_records() -> None:
    joiner = CloudEventJoiner(max_pending=10, max_age_seconds=60)
    assert joiner.add(parsed("request", V1_REQUEST), feature_names=IRIS) is None
    assert joiner.stats().pending == 1
    model, records = joiner.add(parsed("response", V1_RESPONSE)) or ("", [])
    assert model == "sklearn-iris"
    stamp = datetime.fromisoformat(REQUEST_TIME).timestamp()
    assert records == [
        {
            "features": dict(zip(IRIS, [6.8, 2.8, 4.8, 1.4], strict=True)),
            "prediction": 1,
            "id": f"{REQUEST_ID}-0",
            "timestamp": stamp,
        },
        {
            "features": dict(zip(IRIS, [6.0, 3.4, 4.5, 1.6], strict=True)),
            "prediction": 1,
            "id": f"{REQUEST_ID}-1",
            "timestamp": stamp,
        },
    ]
    assert joiner.stats() == (0, 1, 0, 0, 0, 0)


def test_response_first_pairs_as_well() -> None:
    joiner = CloudEventJoiner(max_pending=10, max_age_seconds=60)
    assert joiner.add(parsed("response", V1_RESPONSE)) is None
    paired = joiner.add(parsed("request", V1_REQUEST), feature_names=IRIS)
    assert paired is not None and len(paired[1]) == 2


def test_open_inference_protocol_payloads_pair() -> None:
    joiner = CloudEventJoiner(max_pending=10, max_age_seconds=60)
    joiner.add(parsed("request", V2_REQUEST, service="sklearn-v2-iris"), feature_names=IRIS)
    paired = joiner.add(parsed("response", V2_RESPONSE, service="sklearn-v2-iris"))
    assert paired is not None
    model, records = paired
    assert model == "sklearn-v2-iris"
    assert [r["prediction"] for r in records] == [1, 1]
    assert records[0]["features"]["petal_width"] == 1.4


def test_structured_mode_is_accepted() -> None:
    event = logger_event("request", V1_REQUEST)
    message = to_structured(CloudEvent(event["attributes"], event["data"]), JSONFormat())
    assert parse_event(message.headers, message.body).data == V1_REQUEST


def test_halves_of_different_services_or_components_do_not_pair() -> None:
    joiner = CloudEventJoiner(max_pending=10, max_age_seconds=60)
    joiner.add(parsed("request", V1_REQUEST), feature_names=IRIS)
    assert joiner.add(parsed("response", V1_RESPONSE, service="other")) is None
    assert joiner.add(parsed("response", V1_RESPONSE, component="transformer")) is None
    assert joiner.stats().pending == 3


def test_a_full_buffer_evicts_the_oldest_half() -> None:
    joiner = CloudEventJoiner(max_pending=2, max_age_seconds=60)
    for i in range(3):
        joiner.add(parsed("request", V1_REQUEST, event_id=f"r{i}"), feature_names=IRIS)
    stats = joiner.stats()
    assert (stats.pending, stats.evicted, stats.unpaired) == (2, 1, 1)
    # r0 was evicted: its response now waits alone; r2's pairs.
    assert joiner.add(parsed("response", V1_RESPONSE, event_id="r0")) is None
    assert joiner.add(parsed("response", V1_RESPONSE, event_id="r2")) is not None


def test_halves_older_than_max_age_expire() -> None:
    clock = FakeClock()
    joiner = CloudEventJoiner(max_pending=10, max_age_seconds=30, clock=clock)
    joiner.add(parsed("request", V1_REQUEST), feature_names=IRIS)
    clock.now += 31
    assert joiner.add(parsed("response", V1_RESPONSE)) is None
    stats = joiner.stats()
    assert (stats.pending, stats.expired, stats.paired) == (1, 1, 0)
    clock.now += 31
    assert joiner.stats().unpaired == 2


def test_a_repeated_half_replaces_the_waiting_one() -> None:
    joiner = CloudEventJoiner(max_pending=10, max_age_seconds=60)
    joiner.add(parsed("request", V1_REQUEST), feature_names=IRIS)
    joiner.add(parsed("request", {"instances": [[1, 2, 3, 4]]}), feature_names=IRIS)
    assert joiner.stats().replaced == 1
    paired = joiner.add(parsed("response", {"predictions": [0]}))
    assert paired is not None and paired[1][0]["features"]["sepal_length"] == 1


def test_a_pair_with_mismatched_rows_is_422_and_leaves_the_buffer_as_it_was() -> None:
    joiner = CloudEventJoiner(max_pending=10, max_age_seconds=60)
    joiner.add(parsed("request", V1_REQUEST), feature_names=IRIS)
    with pytest.raises(DomainError) as caught:
        joiner.add(parsed("response", {"predictions": [1, 1, 1]}))
    assert (status_for(caught.value), caught.value.location) == (422, "body")
    assert "3 predictions for 2 request rows" in caught.value.detail
    assert joiner.stats().pending == 1


def test_a_malformed_half_is_422_and_not_buffered() -> None:
    joiner = CloudEventJoiner(max_pending=10, max_age_seconds=60)
    with pytest.raises(DomainError) as caught:
        joiner.add(parsed("request", V1_REQUEST))  # tensor rows, no feature_names
    assert caught.value.location == "body.instances[0]"
    assert "feature_names" in caught.value.detail
    with pytest.raises(DomainError) as caught:
        joiner.add(parsed("response", {"outputs": [{"name": "y"}]}))
    assert caught.value.location == "body.outputs[0]"
    with pytest.raises(DomainError) as caught:
        joiner.add(parsed("response", {"scores": [1]}))
    assert caught.value.location == "body"
    assert joiner.stats().pending == 0


def rejection(message: HTTPMessage) -> DomainError:
    with pytest.raises(DomainError) as caught:
        parse_event(message.headers, message.body)
    return caught.value


def test_an_event_without_the_service_extension_is_422() -> None:
    caught = rejection(binary("request", V1_REQUEST, service=None))
    assert (status_for(caught), caught.location) == (422, "header.ce-inferenceservicename")


def test_an_unsafe_service_name_is_422() -> None:
    caught = rejection(binary("request", V1_REQUEST, service="../etc"))
    assert (status_for(caught), caught.location) == (422, "header.ce-inferenceservicename")


def test_an_event_of_another_type_is_422() -> None:
    caught = rejection(binary("request", V1_REQUEST, type="dev.knative.example"))
    assert (status_for(caught), caught.location) == (422, "header.ce-type")
    assert ".inference.request" in caught.detail


def test_required_attributes_are_checked_by_the_sdk() -> None:
    message = binary("request", V1_REQUEST)
    headers = {k: v for k, v in message.headers.items() if k != "ce-source"}
    caught = rejection(HTTPMessage(headers, message.body))
    assert (status_for(caught), caught.location) == (422, "header.ce-source")
    wrong_version = {**message.headers, "ce-specversion": "0.2"}
    assert rejection(HTTPMessage(wrong_version, message.body)).location == "header.ce-specversion"


def test_a_binary_event_without_an_id_is_422_rather_than_unpairable() -> None:
    message = binary("request", V1_REQUEST)
    headers = {k: v for k, v in message.headers.items() if k != "ce-id"}
    caught = rejection(HTTPMessage(headers, message.body))
    assert (status_for(caught), caught.location) == (422, "header.ce-id")


def test_event_data_must_be_a_json_object() -> None:
    message = binary("request", V1_REQUEST)
    caught = rejection(HTTPMessage(message.headers, b"instances=1,2,3"))
    assert (status_for(caught), caught.location) == (422, "body")
    assert "not JSON" in caught.detail
    assert "no data" in rejection(HTTPMessage(message.headers, b"")).detail
    assert "an array" in rejection(HTTPMessage(message.headers, b"[1, 2]")).detail


def test_a_body_that_is_no_cloudevent_is_rejected() -> None:
    caught = rejection(HTTPMessage({"content-type": "application/json"}, b"[1, 2]"))
    assert (status_for(caught), caught.location) == (400, "body")
    caught = rejection(HTTPMessage({"content-type": "application/json"}, b"{not json"))
    assert status_for(caught) == 400
    caught = rejection(HTTPMessage({"content-type": "application/json"}, b'{"instances": []}'))
    assert status_for(caught) == 422 and caught.location.startswith("body.")


# bounded in bytes: each held half counts the size of the body it came from


def test_an_event_carries_the_size_of_its_body() -> None:
    message = binary("request", V1_REQUEST)
    assert parse_event(message.headers, message.body).size == len(message.body)


def test_a_buffer_over_its_bytes_evicts_the_oldest_halves_first() -> None:
    events = [parsed("request", V1_REQUEST, event_id=f"r{i}") for i in range(3)]
    size = events[0].size
    assert {event.size for event in events} == {size}
    joiner = CloudEventJoiner(max_pending=10, max_age_seconds=60, max_pending_bytes=2 * size)
    for event in events[:2]:
        joiner.add(event, feature_names=IRIS)
    stats = joiner.stats()
    assert (stats.pending, stats.pending_bytes, stats.evicted) == (2, 2 * size, 0)
    joiner.add(events[2], feature_names=IRIS)
    stats = joiner.stats()
    assert (stats.pending, stats.pending_bytes, stats.evicted) == (2, 2 * size, 1)
    # r0 went, r1 and r2 still wait.
    assert joiner.add(parsed("response", V1_RESPONSE, event_id="r2")) is not None
    assert joiner.add(parsed("response", V1_RESPONSE, event_id="r1")) is not None
    stats = joiner.stats()
    assert (stats.pending, stats.pending_bytes, stats.paired, stats.evicted) == (0, 0, 2, 1)
    assert joiner.add(parsed("response", V1_RESPONSE, event_id="r0")) is None


def test_one_large_half_evicts_as_many_old_ones_as_it_needs() -> None:
    one_row = {"instances": [[1, 2, 3, 4]]}
    small = [parsed("request", one_row, event_id=f"s{i}") for i in range(3)]
    size = small[0].size
    large = parsed("request", one_row | {"pad": "x" * (size // 2)}, event_id="large")
    assert size < large.size <= 2 * size
    joiner = CloudEventJoiner(max_pending=10, max_age_seconds=60, max_pending_bytes=3 * size)
    for event in small:
        joiner.add(event, feature_names=IRIS)
    assert (joiner.stats().pending, joiner.stats().evicted) == (3, 0)
    joiner.add(large, feature_names=IRIS)
    # 2 s + L > 3 s, s + L <= 3 s: s0 and s1 go, s2 and the large half stay.
    stats = joiner.stats()
    assert (stats.pending, stats.pending_bytes, stats.evicted) == (2, size + large.size, 2)
    assert joiner.add(parsed("response", {"predictions": [0]}, event_id="s2")) is not None
    assert joiner.add(parsed("response", {"predictions": [0]}, event_id="large")) is not None
    assert joiner.stats().pending_bytes == 0


def test_a_half_larger_than_the_whole_bound_is_not_held_and_evicts_nothing() -> None:
    small = parsed("request", {"instances": [[1, 2, 3, 4]]}, event_id="small")
    large = parsed("request", V1_REQUEST | {"pad": "x" * 4_000}, event_id="large")
    joiner = CloudEventJoiner(max_pending=10, max_age_seconds=60, max_pending_bytes=2_000)
    assert small.size < 2_000 < large.size
    joiner.add(small, feature_names=IRIS)
    assert joiner.add(large, feature_names=IRIS) is None
    stats = joiner.stats()
    assert (stats.pending, stats.pending_bytes, stats.evicted) == (1, small.size, 1)


def test_pending_bytes_fall_as_halves_pair_are_replaced_and_expire() -> None:
    clock = FakeClock()
    joiner = CloudEventJoiner(max_pending=10, max_age_seconds=30, clock=clock)
    first = parsed("request", V1_REQUEST, event_id="a")
    joiner.add(first, feature_names=IRIS)
    again = parsed("request", {"instances": [[1, 2, 3, 4]]}, event_id="a")
    joiner.add(again, feature_names=IRIS)
    assert (joiner.stats().replaced, joiner.stats().pending_bytes) == (1, again.size)
    joiner.add(parsed("response", {"predictions": [0]}, event_id="a"))
    assert joiner.stats().pending_bytes == 0
    joiner.add(first, feature_names=IRIS)
    clock.now += 31
    stats = joiner.stats()
    assert (stats.pending, stats.pending_bytes, stats.expired) == (0, 0, 1)


def test_the_joiner_refuses_a_bytes_bound_below_one() -> None:
    with pytest.raises(ValueError, match="max_pending_bytes"):
        CloudEventJoiner(max_pending=10, max_age_seconds=60, max_pending_bytes=0)
