"""`ingest_listen`: parsing HOST:PORT, what counts as loopback, and when the start-up warns."""

from __future__ import annotations

from pathlib import Path

import pytest

from exporter.listen import Address, is_loopback, parse_address, write_exposure
from exporter.settings import ConfigError, Settings, load_settings


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("127.0.0.1:9809", Address("127.0.0.1", 9809)),
        ("localhost:1", Address("localhost", 1)),
        ("0.0.0.0:65535", Address("0.0.0.0", 65_535)),
        ("[::1]:9809", Address("::1", 9809)),
        (" 10.1.2.3:9809 ", Address("10.1.2.3", 9809)),
    ],
)
def test_parse_address_reads_host_and_port(text: str, address: Address) -> None:
    assert parse_address(text) == address


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("127.0.0.1", "expected HOST:PORT"),
        ("127.0.0.1:http", "expected HOST:PORT"),
        ("127.0.0.1:0", "outside 1-65535"),
        ("127.0.0.1:70000", "outside 1-65535"),
        (":9809", "no host"),
        ("::1:9809", "needs brackets"),
    ],
)
def test_parse_address_says_what_is_wrong(text: str, complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        parse_address(text)


def test_an_address_prints_as_it_is_written() -> None:
    assert str(Address("127.0.0.1", 9809)) == "127.0.0.1:9809"
    assert str(Address("::1", 9809)) == "[::1]:9809"


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("localhost", True),
        ("LOCALHOST", True),
        ("0.0.0.0", False),
        ("::", False),
        ("10.0.0.7", False),
        ("::ffff:10.0.0.7", False),
        ("model-server.default.svc", False),  # a name is never resolved: counted as reachable
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_ingest_listen_defaults_to_none_so_one_listener_serves_every_route() -> None:
    settings = Settings()
    assert settings.ingest_listen is None
    assert settings.ingest_address is None


def test_ingest_listen_loads_from_yaml_and_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config.yml"
    config.write_text('ingest_listen: "127.0.0.1:9809"\n')
    assert load_settings(config).ingest_address == Address("127.0.0.1", 9809)
    monkeypatch.setenv("DRIFT_EXPORTER_INGEST_LISTEN", "[::1]:9810")
    assert load_settings(config).ingest_address == Address("::1", 9810)


@pytest.mark.parametrize(
    ("value", "complaint"),
    [
        ("127.0.0.1", "expected HOST:PORT"),
        ("127.0.0.1:9808", "needs a port other than port"),
    ],
)
def test_a_bad_ingest_listen_is_a_config_error_naming_the_key(
    tmp_path: Path, value: str, complaint: str
) -> None:
    config = tmp_path / "config.yml"
    config.write_text(f'port: 9808\ningest_listen: "{value}"\n')
    with pytest.raises(ConfigError, match="ingest_listen") as raised:
        load_settings(config)
    assert complaint in str(raised.value)


@pytest.mark.parametrize(
    ("settings", "open_at"),
    [
        # Today's default: one listener on every address, no token.
        ({}, "0.0.0.0:9808"),
        ({"host": "10.0.0.7"}, "10.0.0.7:9808"),
        ({"ingest_listen": "0.0.0.0:9809"}, "0.0.0.0:9809"),
        ({"host": "127.0.0.1", "ingest_listen": "10.0.0.7:9809"}, "10.0.0.7:9809"),
        # Closed: everything on loopback, writes on loopback, or a token.
        ({"host": "127.0.0.1"}, None),
        ({"ingest_listen": "127.0.0.1:9809"}, None),
        ({"ingest_listen": "localhost:9809"}, None),
        ({"auth": {"token": "t0ken"}}, None),
        ({"auth": {"token_file": "/run/secrets/token"}, "ingest_listen": "0.0.0.0:9809"}, None),
    ],
)
def test_write_exposure_warns_exactly_when_writes_are_open_to_the_network(
    settings: dict[str, object], open_at: str | None
) -> None:
    warning = write_exposure(Settings(**settings))  # type: ignore[arg-type]
    if open_at is None:
        assert warning is None
    else:
        assert warning is not None
        assert f"every client that can reach {open_at}:" in warning
        assert "ingest_listen: 127.0.0.1:9809" in warning
        assert "auth.token" in warning
