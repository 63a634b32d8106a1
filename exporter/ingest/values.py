"""How a raw JSON/CSV value reads: ABSENT for a missing key, and the keys values are counted under.

Shared by the window (category and boolean columns) and the label join (class keys), so a
value spells the same wherever it is counted.
"""

from __future__ import annotations

import math
from typing import Any


class _Absent:
    """The type of ABSENT."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "ABSENT"


#: What a feature absent from a record reads as. It counts as missing, like null, but stays
#: distinguishable so absent keys can be counted without a second pass over the records.
ABSENT: Any = _Absent()

_BOOLEAN_WORDS = {"true": "true", "false": "false"}


def category_key(value: Any) -> str | None:
    """The string a value is counted under as a category; None for lists, objects and NaN.

    Numbers and booleans are spelled as JSON would spell them, so `1`, `1.0` and `"1"` meet in one
    category and `true` becomes `"true"`.

    >>> [category_key(v) for v in (1, 1.0, "1", True, 0.25, float("nan"), None, [1])]
    ['1', '1', '1', 'true', '0.25', None, None, None]
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
    """`"true"`/`"false"` for booleans, 0/1 and the words true/false in any case; else None.

    >>> [boolean_key(v) for v in (True, 0, " TRUE ", "false", 2, 1.0, "yes", None)]
    ['true', 'false', 'true', 'false', None, None, None, None]
    """
    kind = type(value)
    if kind is bool:
        return "true" if value else "false"
    if kind is int and value in (0, 1):
        return "true" if value else "false"
    if kind is str:
        return _BOOLEAN_WORDS.get(value.strip().lower())
    return None
