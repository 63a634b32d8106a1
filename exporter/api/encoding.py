"""Content-coding negotiation for /metrics: does this Accept-Encoding accept gzip?

A small parser rather than a dependency's: prometheus_client's `gzip_accepted` (0.26) and
starlette's GZipMiddleware both test only whether the name `gzip` appears, so `gzip;q=0`,
which refuses gzip, would get it, and `*` would not.

RFC 9110 section 12.5.3: the field is a comma-separated list of codings, each with an optional
weight `;q=` (0 to 1, at most three decimals; 0 means "not acceptable"). Names are
case-insensitive; `*` stands for every coding not listed by name; `identity` (no coding) is
acceptable unless it is refused by name or by `*;q=0`. An empty field asks for no coding.
"""

from __future__ import annotations

import re

# qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )
_QVALUE = re.compile(r"(?:0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?)")


def parse_accept_encoding(header: str) -> dict[str, float]:
    """The weight of each coding named in an Accept-Encoding value, names lower-cased.

    An element whose q is malformed is dropped (it cannot be honoured), as are empty
    elements (`gzip,,br`). A coding named twice keeps its first weight.

    >>> parse_accept_encoding("br, GZIP;q=0.5, *;q=0")
    {'br': 1.0, 'gzip': 0.5, '*': 0.0}
    """
    weights: dict[str, float] = {}
    for element in header.split(","):
        name, *params = (part.strip() for part in element.split(";"))
        if not name:
            continue
        q = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() != "q":
                continue
            value = value.strip()
            if not _QVALUE.fullmatch(value):
                break
            q = float(value)
        else:
            weights.setdefault(name.lower(), q)
    return weights


def gzip_preferred(header: str | None) -> bool:
    """True when the response should be gzip rather than identity.

    No header means any coding, but this server then sends identity (as before: a client that
    says nothing may not inflate). gzip is sent when its weight (by name, else `*`'s) is above
    0 and not below identity's: identity counts only when named, since an unnamed identity is a
    fallback, not a preference (`br, gzip;q=0.5` wants gzip over nothing).

    >>> gzip_preferred("gzip;q=0"), gzip_preferred("identity, gzip;q=0.5"), gzip_preferred("*")
    (False, False, True)
    """
    if header is None:
        return False
    weights = parse_accept_encoding(header)
    gzip = weights.get("gzip", weights.get("x-gzip", weights.get("*", 0.0)))
    if gzip <= 0.0:
        return False
    return gzip >= weights.get("identity", 0.0)
