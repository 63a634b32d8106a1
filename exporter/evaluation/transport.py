"""How a call's arguments reach the evaluation child without copies: the arrays through a file
in shared memory, the rest as a small pickle through the executor.

Pickle protocol 5 hands each contiguous numpy array to a `buffer_callback` instead of copying
it into the pickle. `parcel` writes those buffers once, straight from the arrays' memory, into
one file per call in /dev/shm (tmpfs: memory, not disk) and yields a `Parcel`: the pickle
without the arrays (a few KiB), the file's path and where each buffer lies in it. The child
maps the file (`open_parcel`) and unpickles over the mapping, so its arrays are the shared
pages themselves: copy-on-write, never written back to the file. The file is removed by the
child once it has it open, and by the server when `parcel` exits whatever happened (answer,
error, death or hang of the child), so nothing outlives a call; a server killed outright
leaves at most the file of a call the child had not opened yet.

Not `multiprocessing.shared_memory`: before Python 3.13 every `SharedMemory`, the child's too,
registers with multiprocessing's resource tracker, a process of its own (8.0 MiB private,
measured) that the worker otherwise never starts. Where /dev/shm cannot be written (another
OS, or tmpfs full), the arrays go in the pickle as before.
"""

from __future__ import annotations

import mmap
import os
import pickle
import secrets
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any, NamedTuple

#: Where the files go: tmpfs on Linux.
SHARED_MEMORY_DIR = "/dev/shm"
#: Each buffer starts at a multiple of this (numpy's alignment for any dtype).
_ALIGNMENT = 64


class Parcel(NamedTuple):
    """One call's arguments: the pickle without its arrays, and where the arrays are."""

    pickled: bytes
    path: str | None
    """The shared-memory file holding the arrays; None if they are in `pickled`."""
    spans: tuple[tuple[int, int], ...]
    """(offset, length) in the file of each out-of-band buffer, in pickling order."""


@contextmanager
def parcel(value: Any, directory: str = SHARED_MEMORY_DIR) -> Iterator[Parcel]:
    """`value` pickled, its arrays written to a new file in `directory`; the file is removed
    when the block exits (the child may have removed it already)."""
    buffers: list[pickle.PickleBuffer] = []
    pickled = pickle.dumps(value, protocol=5, buffer_callback=buffers.append)
    path: str | None = None
    spans: tuple[tuple[int, int], ...] = ()
    if buffers:
        path = os.path.join(directory, f"drift-exporter-{os.getpid()}-{secrets.token_hex(8)}")
        try:
            spans = _write(path, buffers)
        except (OSError, BufferError):  # no /dev/shm here, or it is full: arrays in band
            _remove(path)
            path, pickled = None, pickle.dumps(value, protocol=5)
    try:
        yield Parcel(pickled, path, spans)
    finally:
        if path is not None:
            _remove(path)


def open_parcel(parcel: Parcel) -> Any:
    """In the child: the value, its arrays backed by a private (copy-on-write) mapping of the
    parcel's file, which is removed as soon as it is open."""
    if parcel.path is None:
        return pickle.loads(parcel.pickled)
    descriptor = os.open(parcel.path, os.O_RDONLY | os.O_NOFOLLOW)
    try:
        _remove(parcel.path)
        size = os.fstat(descriptor).st_size  # 0 if every array is empty: nothing to map
        # The mapping lives as long as the arrays over it; the descriptor is not needed.
        mapping = mmap.mmap(descriptor, size, access=mmap.ACCESS_COPY) if size else bytearray()
    finally:
        os.close(descriptor)
    whole = memoryview(mapping)
    return pickle.loads(parcel.pickled, buffers=[whole[at : at + n] for at, n in parcel.spans])


def _write(path: str, buffers: list[pickle.PickleBuffer]) -> tuple[tuple[int, int], ...]:
    """Each buffer at the next aligned offset of a new file only this user can read."""
    spans = []
    with open(path, "xb", opener=lambda name, flags: os.open(name, flags, 0o600)) as file:
        for buffer in buffers:
            with buffer.raw() as raw:
                file.write(bytes(-file.tell() % _ALIGNMENT))
                spans.append((file.tell(), raw.nbytes))
                file.write(raw)
    return tuple(spans)


def _remove(path: str) -> None:
    with suppress(FileNotFoundError):
        os.unlink(path)
