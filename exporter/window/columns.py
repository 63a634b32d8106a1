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

from exporter.ingest.values import ABSENT, boolean_key, category_key
from exporter.stats.binning import bin_index

_NUMBER_TYPES = frozenset({int, float})


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


#: Codes past a column's bins, for values that land in no bin: code = bins + offset.
MISSING_OFFSET = 0
NAN_OFFSET = 1
MISMATCH_OFFSET = 2
EXTRA_CODES = 3


class EncodedColumn(NamedTuple):
    """One code per record, so a batch is encoded once and any run of records counted by
    `np.bincount(codes[a:b], minlength=bins + EXTRA_CODES)`.

    `values` (numeric only) holds each record's value, NaN where there is no finite number;
    `flagged` marks values outside the reference range (numeric) or categories the reference
    never had (categorical).
    """

    codes: NDArray[np.intp]
    values: NDArray[np.float64] | None
    flagged: NDArray[np.bool_]


def encode_numeric(
    raw: Sequence[Any], edges: NDArray[np.float64], minimum: float, maximum: float
) -> EncodedColumn:
    """Bin index per record; missing, NaN/inf and wrong types get the extra codes."""
    bins = len(edges) + 1
    if set(map(type, raw)) <= _NUMBER_TYPES:
        values = np.array(raw, dtype=np.float64)
        extra = None
    else:
        values = np.empty(len(raw), dtype=np.float64)
        extra = np.full(len(raw), -1, dtype=np.intp)
        for i, value in enumerate(raw):
            kind = type(value)
            if kind is float or kind is int:
                values[i] = value
            else:
                values[i] = math.nan
                absent = value is None or value is ABSENT
                extra[i] = bins + (MISSING_OFFSET if absent else MISMATCH_OFFSET)
    codes = bin_index(values, edges)
    finite = np.isfinite(values)
    if not finite.all():
        codes[~finite] = bins + NAN_OFFSET
        if extra is not None:
            marked = extra >= 0
            codes[marked] = extra[marked]
    with np.errstate(invalid="ignore"):
        flagged = (values < minimum) | (values > maximum)
    flagged &= finite  # +-inf is counted as NaN, not also as out of range
    return EncodedColumn(codes, values, flagged)


def encode_categorical(
    raw: Sequence[Any],
    lookup: Mapping[str | None, int],
    overflow: int,
    seen: frozenset[str],
    *,
    boolean: bool = False,
) -> EncodedColumn:
    """Category code per record: `lookup[key]`, `overflow` for keys the bins lack.

    `lookup` maps each kept category to its bin and None (a value with no usable key) to the
    type-mismatch code, so one dict lookup classifies every present value.
    """
    missing = overflow + 1 + MISSING_OFFSET
    get = lookup.get
    if boolean:
        codes = [
            missing if value is None or value is ABSENT else get(boolean_key(value), overflow)
            for value in raw
        ]
    else:
        codes = [
            get(value, overflow)
            if type(value) is str
            else missing
            if value is None or value is ABSENT
            else get(category_key(value), overflow)
            for value in raw
        ]
    coded = np.array(codes, dtype=np.intp)
    flagged = coded == overflow
    if len(seen) > overflow and flagged.any():
        # Some reference categories were folded into the overflow bin: only keys the
        # reference never had are unseen.
        to_key = boolean_key if boolean else category_key
        for i in np.flatnonzero(flagged).tolist():
            key = to_key(raw[i])
            flagged[i] = key is None or key not in seen
    return EncodedColumn(coded, None, flagged)
