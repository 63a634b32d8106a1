"""gzip for /metrics without recompressing the cached drift text on every scrape.

Prometheus asks for `Accept-Encoding: gzip`. The drift families (hundreds of kilobytes at
thousands of series) change once per evaluation, so their raw deflate stream is made once then;
each scrape deflates only the small live part, ends it with a sync flush (byte-aligned, not
final), and appends the cached stream. The result is one ordinary gzip member (RFC 1952) that
any gzip reader inflates to live + drift, at the cost of a CRC over the cached text per scrape.
"""

from __future__ import annotations

import struct
import zlib
from typing import NamedTuple

#: Magic, deflate, no flags, no mtime, no extra flags, OS unknown.
_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"


class DeflatedText(NamedTuple):
    """Text and its raw deflate stream, final block included."""

    text: bytes
    deflated: bytes


def deflate_once(text: bytes, level: int = 6) -> DeflatedText:
    compressor = zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS)
    return DeflatedText(text, compressor.compress(text) + compressor.flush(zlib.Z_FINISH))


def gzip_with_suffix(prefix: bytes, suffix: DeflatedText) -> bytes:
    """One gzip member holding `prefix + suffix.text`; only `prefix` is compressed now."""
    compressor = zlib.compressobj(1, zlib.DEFLATED, -zlib.MAX_WBITS)
    head = compressor.compress(prefix) + compressor.flush(zlib.Z_SYNC_FLUSH)
    crc = zlib.crc32(suffix.text, zlib.crc32(prefix))
    size = (len(prefix) + len(suffix.text)) & 0xFFFFFFFF
    return _GZIP_HEADER + head + suffix.deflated + struct.pack("<II", crc, size)
