"""The spliced gzip stream is one valid member that inflates to live + cached text."""

from __future__ import annotations

import gzip
import zlib

import numpy as np
import pytest

from exporter.prometheus.compression import deflate_once, gzip_with_suffix


def _text(seed: int, lines: int) -> bytes:
    rng = np.random.default_rng(seed)
    return "".join(
        f'drift_feature_psi{{feature="f{i % 50}",model="m{i % 10}"}} {rng.random()!r}\n'
        for i in range(lines)
    ).encode()


@pytest.mark.parametrize(("live_lines", "drift_lines"), [(0, 0), (0, 10), (5, 0), (300, 4_000)])
def test_the_spliced_stream_inflates_to_both_parts(live_lines: int, drift_lines: int) -> None:
    live, drift = _text(1, live_lines), _text(2, drift_lines)
    body = gzip_with_suffix(live, deflate_once(drift))
    assert gzip.decompress(body) == live + drift  # checks the CRC and the size too
    # A reader that knows only one member (as httpx's and many clients' do) sees it all.
    single = zlib.decompressobj(16 + zlib.MAX_WBITS)
    assert single.decompress(body) + single.flush() == live + drift
    assert single.unused_data == b""


def test_the_cached_part_is_compressed_once_and_much_smaller() -> None:
    drift = _text(3, 4_000)
    cached = deflate_once(drift)
    assert len(cached.deflated) < len(drift) / 3
    assert cached.text is drift
