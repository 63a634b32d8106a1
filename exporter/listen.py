"""Where the sidecar listens, and who can write to it.

`host`/`port` is the main listener. With `ingest_listen: "HOST:PORT"` set, a second listener
on that address takes the writes (every method but GET/HEAD/OPTIONS: ingest, labels, CloudEvents,
reference uploads, deletes, evaluate-now) and the main one keeps `/metrics`, the probes, the
reads and the docs (`exporter.api.listeners` enforces the split). In a pod the model server
writes over 127.0.0.1 while only Prometheus reaches the pod IP, so the write API is closed to the
cluster without a token. `write_exposure` is the start-up warning for the open cases.
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from exporter.settings import Settings


class Address(NamedTuple):
    """A listener's host (a name or an IP literal, IPv6 without brackets) and TCP port."""

    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def parse_address(text: str) -> Address:
    """`HOST:PORT` (`127.0.0.1:9809`, `[::1]:9809`, `localhost:9809`) as an Address.

    A ValueError says what is wrong with `text`: no port, a port outside 1-65535, no host, an
    IPv6 literal without brackets."""
    host, separator, port_text = text.strip().rpartition(":")
    if not separator or not port_text.isdigit():
        raise ValueError(f"expected HOST:PORT (e.g. 127.0.0.1:9809), got {text!r}")
    port = int(port_text)
    if not 1 <= port <= 65_535:
        raise ValueError(f"port {port} in {text!r} is outside 1-65535")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise ValueError(f"an IPv6 host needs brackets ([::1]:{port}), got {text!r}")
    if not host:
        raise ValueError(f"no host in {text!r}: write 0.0.0.0:{port} to listen on every address")
    return Address(host, port)


def is_loopback(host: str) -> bool:
    """True for `localhost` and the loopback IPs (127.0.0.0/8, ::1, IPv4-mapped 127.x).

    Any other name counts as reachable from elsewhere: it is not resolved here."""
    if host.lower() == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return bool(address.is_loopback or (mapped is not None and mapped.is_loopback))


def write_exposure(settings: Settings) -> str | None:
    """The warning to log at start when anyone who reaches a non-loopback address can write
    (no `auth.token`/`auth.token_file`), or None when writes are closed to the network."""
    if settings.auth.token is not None or settings.auth.token_file is not None:
        return None
    writes = settings.ingest_address or Address(settings.host, settings.port)
    if is_loopback(writes.host):
        return None
    return (
        f"writes are open to every client that can reach {writes}: no auth token is set, so "
        "anyone there can upload or delete references and send predictions and labels. "
        "Fix: set ingest_listen: 127.0.0.1:9809 (writes only from this host or pod, as a "
        "sidecar's model server sends them) or auth.token / auth.token_file (docs/operations.md)"
    )
