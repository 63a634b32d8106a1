"""ABSENT: a feature missing from a record, kept apart from an explicit null."""

from __future__ import annotations

from typing import Any


class _Absent:
    """The type of ABSENT."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "ABSENT"


#: What a feature absent from a record reads as. It counts as missing, like null, but stays
#: distinguishable so absent keys can be counted without a second pass over the records.
ABSENT: Any = _Absent()
