"""Turn one column of raw JSON/CSV values into arrays, counting what is wrong with the values.

Value-level problems (missing, NaN, wrong type, unseen category) are data-quality signals, not
request errors: every function here accepts any Python value and says how many of each kind it saw.
Shared by reference profiling and live ingest so both read values the same way.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray


class _Absent:
    """The type of ABSENT."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "ABSENT"


#: What a feature absent from a record reads as. It counts as missing, like null, but stays
#: distinguishable so absent keys can be counted without a second pass over the records.
ABSENT: Any = _Absent()

_NUMBER_TYPES = frozenset({int, float})
_BOOLEAN_WORDS = {"true": "true", "false": "false"}


class NumericColumn(NamedTuple):
    """Finite values of a numeric column and the counts of values that were not."""

    values: NDArray[np.float64]
    missing: int
    nan: int
    type_mismatch: int


class CategoricalColumn(NamedTuple):
    """Category keys of a categorical column (None where the value had no usable key)."""

    keys: list[str | None]
    missing: int
    type_mismatch: int


def numeric_column(raw: Sequence[Any]) -> NumericColumn:
    """Split a raw column into finite floats, missing (None/ABSENT), NaN/inf and type mismatches.

    Booleans and strings in a numeric column are type mismatches: they mean the producer
    serialised the feature differently from the reference, which a monitor should surface.
    The common all-numbers case is one `np.array` call; mixed columns take a per-value path.
    """
    types = set(map(type, raw))
    if types <= _NUMBER_TYPES:
        values = np.array(raw, dtype=np.float64)
        finite = np.isfinite(values)
        if finite.all():
            return NumericColumn(values, 0, 0, 0)
        return NumericColumn(values[finite], 0, int((~finite).sum()), 0)
    kept: list[float] = []
    missing = nan = mismatched = 0
    for value in raw:
        kind = type(value)
        if value is None or value is ABSENT:
            missing += 1
        elif kind is float or kind is int:
            if math.isfinite(value):
                kept.append(float(value))
            else:
                nan += 1
        else:
            mismatched += 1
    return NumericColumn(np.array(kept, dtype=np.float64), missing, nan, mismatched)


def category_key(value: Any) -> str | None:
    """The string a value is counted under as a category; None for lists, objects and NaN.

    Numbers and booleans are spelled as JSON would spell them, so `1`, `1.0` and `"1"` meet in one
    category and `true` becomes `"true"`.
    """
    kind = type(value)
    if kind is str:
        return value  # type: ignore[no-any-return]
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return str(value)
    if kind is float:
        if not math.isfinite(value):
            return None
        return str(int(value)) if value.is_integer() else repr(value)
    return None


def boolean_key(value: Any) -> str | None:
    """`"true"`/`"false"` for booleans, 0/1 and the words true/false in any case; else None."""
    kind = type(value)
    if kind is bool:
        return "true" if value else "false"
    if kind is int and value in (0, 1):
        return "true" if value else "false"
    if kind is str:
        return _BOOLEAN_WORDS.get(value.strip().lower())
    return None


def categorical_column(raw: Sequence[Any], *, boolean: bool = False) -> CategoricalColumn:
    """Category keys for a column; None values are missing, unusable values type mismatches."""
    to_key = boolean_key if boolean else category_key
    keys = [None if value is None or value is ABSENT else to_key(value) for value in raw]
    missing = raw.count(None) + raw.count(ABSENT)
    unkeyed = keys.count(None)
    return CategoricalColumn(keys, missing, unkeyed - missing)


def category_codes(
    keys: Sequence[str | None], index: Mapping[str, int], overflow: int
) -> NDArray[np.intp]:
    """Codes for category keys: `index[key]`, or `overflow` for keys the index lacks.

    Keys that are None (missing or mismatched) are left out, so len(result) counts usable values.
    """
    get = index.get
    return np.fromiter((get(key, overflow) for key in keys if key is not None), dtype=np.intp)
