"""Typed readers for a state file's fields: each names the field it refuses.

Every check on restore goes through these, so a forged or torn file fails with a
`SnapshotError` that says where, never with an AttributeError or a half-built window.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import orjson
from numpy.typing import NDArray

from exporter.window.snapshot import ReservoirState

INT64_MAX = np.iinfo(np.int64).max


class SnapshotError(Exception):
    """A snapshot file that cannot be restored; the message says why."""


def kind_of(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(value), "null" if value is None else f"a {type(value).__name__}"
    )


def read_field(described: Any, key: str, where: str) -> Any:
    if not isinstance(described, dict):
        raise SnapshotError(f"{where}: {kind_of(described)}, not an object")
    if key not in described:
        raise SnapshotError(f"{where}.{key}: missing")
    return described[key]


def read_object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise SnapshotError(f"{where}: {kind_of(value)}, not an object")
    return value


def read_list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise SnapshotError(f"{where}: {kind_of(value)}, not a list")
    return value


def read_text(value: Any, where: str) -> str:
    if type(value) is not str:
        raise SnapshotError(f"{where}: {kind_of(value)}, not a string")
    return value


def read_flag(value: Any, where: str) -> bool:
    if type(value) is not bool:
        raise SnapshotError(f"{where}: {kind_of(value)}, not a boolean")
    return value


def read_count(value: Any, where: str) -> int:
    if type(value) is not int or value < 0:
        raise SnapshotError(f"{where}: {value!r} is not an integer >= 0")
    return value


def is_number(value: Any) -> bool:
    return type(value) in (int, float) and math.isfinite(value)


def read_number(value: Any, where: str, *, nan: bool = False) -> float:
    """A finite number (or, with `nan`, NaN: the statistics of a column with no values)."""
    if is_number(value) or (nan and type(value) is float and math.isnan(value)):
        return float(value)
    raise SnapshotError(f"{where}: {value!r} is not a finite number")


def read_array(arrays: dict[str, NDArray[Any]], key: str) -> NDArray[Any]:
    if key not in arrays:
        raise SnapshotError(f"array {key}: missing")
    return arrays[key]


def read_counts(
    arrays: dict[str, NDArray[Any]], key: str, shape: tuple[int, ...]
) -> NDArray[np.int64]:
    """An integer array of exactly `shape`, every value >= 0, as int64."""
    value = read_array(arrays, key)
    if value.dtype.kind not in "iu" or value.shape != shape:
        raise SnapshotError(f"array {key}: {value.dtype} {value.shape}, not integers {shape}")
    counts = value.astype(np.int64)
    if (counts < 0).any() or (value.dtype.kind == "u" and (value > INT64_MAX).any()):
        raise SnapshotError(f"array {key}: a count below 0 or beyond 64 bits")
    return counts


def read_floats(arrays: dict[str, NDArray[Any]], key: str) -> NDArray[np.float64]:
    value = read_array(arrays, key)
    if value.dtype.kind != "f" or value.ndim != 1:
        raise SnapshotError(f"array {key}: {value.dtype} {value.shape}, not a list of floats")
    return value.astype(np.float64)


def read_json(arrays: dict[str, NDArray[Any]], key: str) -> Any:
    value = read_array(arrays, key)
    if value.dtype != np.uint8 or value.ndim != 1:
        raise SnapshotError(f"array {key}: {value.dtype} {value.shape}, not JSON bytes")
    try:
        return orjson.loads(value.tobytes())
    except orjson.JSONDecodeError as error:
        raise SnapshotError(f"array {key}: not JSON ({error})") from None


def read_reservoir(
    described: Any,
    numeric: bool,
    valid: int,
    where: str,
    stored: tuple[dict[str, NDArray[Any]], str],
    version: int,
) -> ReservoirState | None:
    """A slice's sample of a column holding `valid` values: None unless `numeric`.

    Version 3 stores its rate; versions 1 and 2 a capacity, with filled = min(capacity, seen),
    read as the rate filled / seen (each value was kept with that probability).
    """
    if not numeric:
        if described is not None:
            raise SnapshotError(f"{where}: a sample of a non-numeric column")
        return None
    described = read_object(described, where)
    filled = read_count(read_field(described, "filled", where), f"{where}.filled")
    seen = read_count(read_field(described, "seen", where), f"{where}.seen")
    if version >= 3:
        rate = read_number(read_field(described, "rate", where), f"{where}.rate")
        if not (0.0 < rate <= 1.0 and filled <= seen <= valid):
            raise SnapshotError(
                f"{where}: rate {rate}, filled {filled}, seen {seen} of {valid} values "
                "(needs 0 < rate <= 1, filled <= seen <= values)"
            )
    else:
        capacity = read_count(read_field(described, "capacity", where), f"{where}.capacity")
        if capacity < 1 or filled != min(capacity, seen) or seen > valid:
            raise SnapshotError(
                f"{where}: capacity {capacity}, filled {filled}, seen {seen} of {valid} values "
                "(needs filled = min(capacity, seen), seen <= values)"
            )
        rate = filled / seen if seen else 1.0
    values = read_floats(*stored)
    if values.shape != (filled,) or not np.isfinite(values).all():
        raise SnapshotError(f"array {stored[1]}: {values.shape[0]} values, {filled} filled")
    return ReservoirState(seen, rate, values)
