"""Accept-Encoding parsed per RFC 9110 section 12.5.3: q-values, case, `*`, identity."""

from __future__ import annotations

import pytest

from exporter.api.encoding import gzip_preferred, parse_accept_encoding


@pytest.mark.parametrize(
    ("header", "gzipped"),
    [
        ("gzip", True),
        ("GZIP", True),
        ("x-gzip", True),
        (" gzip ; Q=1.000 ", True),
        ("gzip;q=0", False),
        ("gzip;q=0.0", False),
        ("gzip;q=0.000", False),
        ("*;q=0.5", True),
        ("*", True),
        ("*;q=0", False),
        ("identity, gzip;q=0", False),
        ("identity;q=0.4, gzip;q=0.5", True),
        ("identity, gzip;q=0.5", False),
        ("gzip, identity", True),  # a tie goes to gzip
        ("br, gzip;q=0.5", True),
        ("br", False),
        ("br, *;q=0", False),
        ("gzip;q=0, *", False),  # gzip named: `*` does not override it
        ("gzip;q=2", False),  # q above 1 is malformed: the element is dropped
        ("gzip;q=abc", False),
        ("gzip;q=0.0001", False),  # more than three decimals is malformed
        ("", False),  # an empty field asks for no coding
        (None, False),  # no field: this server sends identity
    ],
)
def test_gzip_is_preferred_only_when_acceptable(header: str | None, gzipped: bool) -> None:
    assert gzip_preferred(header) is gzipped


def test_parse_keeps_weights_lower_cases_names_and_skips_empty_elements() -> None:
    assert parse_accept_encoding("Br;q=0.9, , GZIP;level=9;q=0.25, gzip;q=1, *;q=0") == {
        "br": 0.9,
        "gzip": 0.25,
        "*": 0.0,
    }


def test_parse_drops_elements_with_malformed_weights() -> None:
    assert parse_accept_encoding("gzip;q=1.5, br;q=, deflate;q=0.5") == {"deflate": 0.5}
