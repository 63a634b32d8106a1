"""The logger's wire format: JSON for the sidecar, and what its answers say (detail, Retry-After).

Only httpx and the standard library.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import httpx

_MAX_RETRY_AFTER_SECONDS = 60.0


def detail(response: httpx.Response) -> str:
    """The sidecar's `detail`, or the start of whatever else the body was."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(body, dict) and isinstance(body.get("detail"), str):
        return str(body["detail"])
    return response.text[:200]


def retry_after(response: httpx.Response) -> float:
    try:
        seconds = float(response.headers.get("retry-after", "0"))
    except ValueError:
        return 0.0
    return min(max(seconds, 0.0), _MAX_RETRY_AFTER_SECONDS) if math.isfinite(seconds) else 0.0


def encode(document: dict[str, Any]) -> bytes:
    """JSON for the sidecar: numpy scalars and arrays as numbers and lists, NaN/inf as null.

    The fast path is one `json.dumps`; only a batch holding a non-finite float is walked.
    """
    try:
        return json.dumps(document, default=_jsonable, allow_nan=False).encode()
    except (ValueError, TypeError):  # NaN or inf; or a key json cannot encode
        return json.dumps(_finite(document), default=_jsonable, allow_nan=False).encode()


def _jsonable(value: Any) -> Any:
    """What json.dumps cannot encode itself: numpy values, sets, anything else as text."""
    if hasattr(value, "tolist"):  # numpy scalars and arrays
        return value.tolist()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def _finite(value: Any) -> Any:
    """`value` with every non-finite float replaced by None (JSON has no NaN)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, (str, int)):
        return value
    if isinstance(value, Mapping):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_finite(v) for v in value]
    return _finite(_jsonable(value))
