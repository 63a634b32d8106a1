"""Handing freed heap memory back to the system.

glibc keeps memory that Python frees (a reference upload's parse, an evaluation's snapshot) in
the process for reuse, so RSS stays at its high-water mark. `malloc_trim(0)` releases every
whole free page; where the C library is not glibc this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from typing import Any

try:
    _LIBC: Any = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    _LIBC.malloc_trim.restype = ctypes.c_int
except (OSError, AttributeError):  # not glibc: nothing to trim
    _LIBC = None


def release_freed_memory() -> None:
    """Return the heap's free pages to the system (a few ms at most)."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)
