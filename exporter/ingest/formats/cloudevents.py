"""KServe inference-logger CloudEvents -> records, pairing each request with its response.

KServe's logger (`spec.predictor.logger` of an InferenceService) POSTs every inference request
and response as a binary-mode CloudEvent 1.0: attributes in `ce-*` headers, the payload as the
body. Both events of one inference carry the same `ce-id`; `ce-type` ends in
`.inference.request` or `.inference.response` (`org.kubeflow.serving.inference.request`), and
the extensions `ce-inferenceservicename`, `ce-namespace`, `ce-component` and `ce-endpoint` say
where it came from. The body is the V1 protocol (`{"instances": [...]}` /
`{"predictions": [...]}`) or the Open Inference Protocol (`{"inputs": [...]}` /
`{"outputs": [...]}`), whichever the model speaks.

The events are parsed with the CloudEvents SDK (`cloudevents.core.bindings.http.from_http`, which
also accepts structured mode); the two halves of an inference arrive as separate HTTP requests,
in either order, so `CloudEventJoiner` holds the first until its partner comes, within the
`cloudevents.*` bounds (count, bytes, age).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from json import JSONDecodeError
from typing import Any, Literal, NamedTuple

from cloudevents.core.base import BaseCloudEvent
from cloudevents.core.bindings.http import HTTPMessage, from_http
from cloudevents.core.exceptions import BaseCloudEventException, CloudEventValidationError
from cloudevents.core.formats.json import JSONFormat

from exporter.errors import InputTooLarge, InvalidInput, MalformedInput
from exporter.ingest.formats import mlflow, oip
from exporter.ingest.formats._common import (
    Record,
    fail,
    pair,
    row_ids,
)
from exporter.ingest.kinds import json_kind as kind
from exporter.ingest.names import MODEL_NAME

REQUEST_TYPE_SUFFIX = ".inference.request"
RESPONSE_TYPE_SUFFIX = ".inference.response"
SERVICE_EXTENSION = "inferenceservicename"

EventKind = Literal["request", "response"]

#: `cloudevents.max_pending_bytes`'s default: bytes of held events' bodies.
DEFAULT_MAX_PENDING_BYTES = 64 * 1024 * 1024


class InferenceEvent(NamedTuple):
    """One parsed logger event: which inference, which half, from where, and its payload.

    `size` is the length of the HTTP body it came from: what the joiner counts it as."""

    id: str
    kind: EventKind
    service: str
    component: str
    time: float | None
    data: dict[str, Any]
    size: int


def parse_event(headers: Mapping[str, str], body: bytes) -> InferenceEvent:
    """A KServe logger event from an HTTP request's headers and body.

    400 when it is not a CloudEvent at all, 422 when a required attribute is missing or wrong
    (the location names the header: `header.ce-id`, `header.ce-type`, ...).
    """
    lowered = {name.lower(): value for name, value in headers.items()}
    binary = any(name.startswith("ce-") for name in lowered)
    if binary and "ce-id" not in lowered:
        # The SDK would invent a random id, and the event could never meet its other half.
        raise InvalidInput("missing required attribute 'id'", "header.ce-id")
    try:
        event = from_http(HTTPMessage(headers=lowered, body=body), JSONFormat())
    except CloudEventValidationError as error:
        attribute = next(iter(error.errors), "specversion")
        reasons = "; ".join(str(e) for e in error.errors.get(attribute, ()))
        raise InvalidInput(
            f"invalid CloudEvent: {reasons or error}",
            f"header.ce-{attribute}" if binary else f"body.{attribute}",
        ) from None
    except (BaseCloudEventException, JSONDecodeError, UnicodeDecodeError, ValueError) as error:
        raise MalformedInput(
            "not a CloudEvent: expected binary mode (ce-* headers) or a structured "
            f"application/cloudevents+json body ({error})",
            "body",
        ) from None
    except (AttributeError, TypeError, KeyError):
        raise MalformedInput(
            "not a CloudEvent: a structured event must be a JSON object", "body"
        ) from None
    return _inference_event(event, len(body))


def _inference_event(event: BaseCloudEvent, size: int) -> InferenceEvent:
    event_type = event.get_type()
    event_kind: EventKind
    if event_type.endswith(REQUEST_TYPE_SUFFIX):
        event_kind = "request"
    elif event_type.endswith(RESPONSE_TYPE_SUFFIX):
        event_kind = "response"
    else:
        fail(
            f"event type {event_type[:128]!r} is not an inference logger event: expected a type "
            f"ending in {REQUEST_TYPE_SUFFIX!r} or {RESPONSE_TYPE_SUFFIX!r}",
            "header.ce-type",
        )
    service = event.get_extension(SERVICE_EXTENSION)
    if not isinstance(service, str) or not service:
        fail(
            f"missing the {SERVICE_EXTENSION!r} extension: it names the InferenceService, "
            "which is the model",
            f"header.ce-{SERVICE_EXTENSION}",
        )
    if MODEL_NAME.fullmatch(service) is None:
        fail(
            f"invalid model name {service[:64]!a}: use 1-128 characters from "
            "A-Z a-z 0-9 _ . - starting with a letter or digit",
            f"header.ce-{SERVICE_EXTENSION}",
        )
    component = event.get_extension("component")
    data = event.get_data()
    if type(data) is not dict:
        detail = (
            "the event has no data"
            if data is None
            else f"expected the event data to be a JSON object, got {_data_kind(data)}"
        )
        fail(detail, "body")
    when = event.get_time()
    return InferenceEvent(
        id=event.get_id(),
        kind=event_kind,
        service=service,
        component=component if isinstance(component, str) else "",
        time=None if when is None else when.timestamp(),
        data=data,
        size=size,
    )


def _data_kind(data: object) -> str:
    if isinstance(data, (bytes, str)):
        return "text that is not JSON" if isinstance(data, str) else "binary data"
    return kind(data)


def request_features(
    data: dict[str, Any], feature_names: Sequence[str] | None, location: str = "body"
) -> list[dict[str, Any]]:
    """The feature dicts of a logged request: Open Inference Protocol or V1 `instances`."""
    inputs = data.get("inputs")
    if type(inputs) is list and inputs and type(inputs[0]) is dict and "datatype" in inputs[0]:
        return oip.request_features(data, feature_names, location)[0]
    if "instances" in data or "inputs" in data:
        return mlflow.request_features(
            {key: data[key] for key in ("instances", "inputs") if key in data},
            feature_names,
            location,
        )
    fail(
        'expected a V1 request {"instances": [...]} or an Open Inference Protocol request '
        '{"inputs": [...]}',
        location,
    )


def response_predictions(
    data: dict[str, Any],
    output_name: str | None,
    output_index: int | None,
    location: str = "body",
) -> list[Any]:
    """The predictions of a logged response: Open Inference Protocol or V1 `predictions`."""
    if "outputs" in data:
        return oip.response_predictions(data, output_name, output_index, location)[0]
    if "predictions" in data:
        return mlflow.response_predictions(data, output_name, output_index, location)
    fail(
        'expected a V1 response {"predictions": [...]} or an Open Inference Protocol response '
        '{"outputs": [...]}',
        location,
    )


def _convert_half(
    event: InferenceEvent,
    feature_names: Sequence[str] | None,
    output_name: str | None,
    output_index: int | None,
    max_records: int | None,
) -> tuple[list[dict[str, Any]] | None, list[Any] | None]:
    """`(features, None)` of a request or `(None, predictions)` of a response, size-checked.

    Raises InvalidInput for a payload that cannot be converted and InputTooLarge (413) for a
    half with more than `max_records` rows.
    """
    features: list[dict[str, Any]] | None = None
    predictions: list[Any] | None = None
    if event.kind == "request":
        features = request_features(event.data, feature_names)
        rows = len(features)
    else:
        predictions = response_predictions(event.data, output_name, output_index)
        rows = len(predictions)
    if max_records is not None and rows > max_records:
        raise InputTooLarge(
            f"{rows} records exceed limits.max_records_per_request ({max_records})", "body"
        )
    return features, predictions


class JoinerStats(NamedTuple):
    """What the joiner holds and has done; all but `pending` and `pending_bytes` only grow.

    `paired` counts pairs (inferences), the others single halves."""

    pending: int
    paired: int
    expired: int
    evicted: int
    replaced: int
    pending_bytes: int

    @property
    def unpaired(self) -> int:
        """Halves given up on: expired (partner too late) or evicted (buffer full)."""
        return self.expired + self.evicted


@dataclass
class _Pending:
    arrived_at: float
    time: float | None
    size: int
    features: list[dict[str, Any]] | None = None
    predictions: list[Any] | None = None


class CloudEventJoiner:
    """Pairs logger request and response events by (service, component, ce-id).

    Bounds (`cloudevents.*`): at most `max_pending` unpaired halves whose bodies total at most
    `max_pending_bytes` (the oldest are evicted to make room; a half whose body alone is larger
    is not held, and counted as evicted), and at most `max_age_seconds` of waiting (older
    halves expire when the next event arrives or the stats are read). A held half's size is
    its body's length: cheap, and proportional to the feature dicts and predictions it holds
    (their Python objects take about 2 to 4 times more). Each half is converted when it
    arrives, so a malformed event is rejected at once and the buffer holds converted rows, not
    raw payloads. Safe to call from several threads.
    """

    def __init__(
        self,
        max_pending: int,
        max_age_seconds: float,
        *,
        max_pending_bytes: int = DEFAULT_MAX_PENDING_BYTES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_pending < 1:
            raise ValueError(f"max_pending must be >= 1, got {max_pending}")
        if max_pending_bytes < 1:
            raise ValueError(f"max_pending_bytes must be >= 1, got {max_pending_bytes}")
        if max_age_seconds <= 0:
            raise ValueError(f"max_age_seconds must be > 0, got {max_age_seconds}")
        self.max_pending = max_pending
        self.max_pending_bytes = max_pending_bytes
        self.max_age_seconds = max_age_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._pending: OrderedDict[tuple[str, str, str], _Pending] = OrderedDict()
        self._pending_bytes = 0
        self._paired = 0
        self._expired = 0
        self._evicted = 0
        self._replaced = 0

    def add(
        self,
        event: InferenceEvent,
        *,
        feature_names: Sequence[str] | None = None,
        output_name: str | None = None,
        output_index: int | None = None,
        max_records: int | None = None,
    ) -> tuple[str, list[Record]] | None:
        """Hold one half; when it completes a pair, `(model, records)` for that inference.

        Raises InvalidInput for a payload that cannot be converted or a pair whose
        halves disagree on the number of rows, and (413) for a half with more than
        `max_records` rows; the buffer is then left as it was.
        """
        features, predictions = _convert_half(
            event, feature_names, output_name, output_index, max_records
        )
        key = (event.service, event.component, event.id)
        with self._lock:
            now = self._clock()
            self._expire(now)
            records = self._complete(key, event, features, predictions)
            if records is not None:
                return event.service, records
            self._hold(key, event, now, features, predictions)
            return None

    def _complete(
        self,
        key: tuple[str, str, str],
        event: InferenceEvent,
        features: list[dict[str, Any]] | None,
        predictions: list[Any] | None,
    ) -> list[Record] | None:
        """The records of the pair `event` completes, else None; holds the lock.

        A waiting half of the same kind is dropped (counted as replaced): the newer one wins.
        Raises InvalidInput, leaving the buffer as it was, when the halves disagree on rows.
        """
        waiting = self._pending.get(key)
        if waiting is None:
            return None
        have_features = features if features is not None else waiting.features
        have_predictions = predictions if predictions is not None else waiting.predictions
        if have_features is None or have_predictions is None:
            self._replaced += 1
            self._remove(key)
            return None
        stamp = event.time if event.kind == "request" else waiting.time
        records = pair(
            have_features,
            have_predictions,
            row_ids(event.id, len(have_features)),
            "body",
            timestamp=stamp,
        )
        self._remove(key)
        self._paired += 1
        return records

    def _hold(
        self,
        key: tuple[str, str, str],
        event: InferenceEvent,
        now: float,
        features: list[dict[str, Any]] | None,
        predictions: list[Any] | None,
    ) -> None:
        """Keep a half for its partner, evicting the oldest to stay in bounds; holds the lock."""
        if event.size > self.max_pending_bytes:
            self._evicted += 1  # holding it would empty the buffer and still overflow
            return
        self._pending[key] = _Pending(
            arrived_at=now,
            time=event.time if event.kind == "request" else None,
            size=event.size,
            features=features,
            predictions=predictions,
        )
        self._pending_bytes += event.size
        while len(self._pending) > self.max_pending or self._pending_bytes > self.max_pending_bytes:
            self._pending_bytes -= self._pending.popitem(last=False)[1].size
            self._evicted += 1

    def stats(self) -> JoinerStats:
        with self._lock:
            self._expire(self._clock())
            return JoinerStats(
                pending=len(self._pending),
                paired=self._paired,
                expired=self._expired,
                evicted=self._evicted,
                replaced=self._replaced,
                pending_bytes=self._pending_bytes,
            )

    def _remove(self, key: tuple[str, str, str]) -> None:
        self._pending_bytes -= self._pending.pop(key).size

    def _expire(self, now: float) -> None:
        horizon = now - self.max_age_seconds
        pending = self._pending
        while pending:
            oldest = next(iter(pending.values()))
            if oldest.arrived_at > horizon:
                return
            pending.popitem(last=False)
            self._pending_bytes -= oldest.size
            self._expired += 1
