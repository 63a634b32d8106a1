"""`python -m exporter serve|demo` with a bad config: one line on stderr, exit 2, no traceback.

Each case fails before the server starts, so no port is bound; the timeout only bounds a
regression that would start serving instead.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import ROOT, free_port

#: Long enough for the interpreter and the package to import on a loaded machine.
TIMEOUT_SECONDS = 60


def run_cli(
    command: str, config: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The CLI in a child process, with none of the developer's DRIFT_EXPORTER_* variables."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.upper().startswith("DRIFT_EXPORTER_")
    }
    environment.update(env or {})
    listen = ["--host", "127.0.0.1", "--port", str(free_port())]
    return subprocess.run(
        [sys.executable, "-m", "exporter", command, "--config", str(config), *listen],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=environment,
        timeout=TIMEOUT_SECONDS,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], expected: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [expected]


def config_with_token_file(tmp_path: Path, token_file: Path) -> Path:
    config = tmp_path / "config.yml"
    config.write_text(f"auth:\n  token_file: {token_file}\n", encoding="utf-8")
    return config


@pytest.mark.parametrize("command", ["serve", "demo"])
def test_a_missing_token_file_is_one_line_naming_key_and_path_and_exit_2(
    tmp_path: Path, command: str
) -> None:
    missing = tmp_path / "no-such-token"
    result = run_cli(command, config_with_token_file(tmp_path, missing))
    assert_one_line_error(
        result, f"drift-exporter: auth.token_file {missing}: cannot read: No such file or directory"
    )


def test_a_token_file_that_is_a_directory_is_one_line_and_exit_2(tmp_path: Path) -> None:
    directory = tmp_path / "secrets"
    directory.mkdir()
    result = run_cli("serve", config_with_token_file(tmp_path, directory))
    assert_one_line_error(
        result, f"drift-exporter: auth.token_file {directory}: cannot read: Is a directory"
    )


def test_a_token_file_that_is_not_utf8_is_one_line_and_exit_2(tmp_path: Path) -> None:
    binary = tmp_path / "token.bin"
    binary.write_bytes(b"ok\xff\xfe")
    result = run_cli("serve", config_with_token_file(tmp_path, binary))
    assert_one_line_error(
        result, f"drift-exporter: auth.token_file {binary}: cannot read: not UTF-8 text (byte 2)"
    )


def test_an_empty_token_file_is_one_line_and_exit_2(tmp_path: Path) -> None:
    empty = tmp_path / "token"
    empty.write_text("\n", encoding="utf-8")
    result = run_cli("serve", config_with_token_file(tmp_path, empty))
    assert_one_line_error(result, f"drift-exporter: auth.token_file {empty}: is empty")


def test_a_misspelt_environment_variable_is_one_line_with_a_suggestion_and_exit_2(
    tmp_path: Path,
) -> None:
    config = tmp_path / "config.yml"
    config.write_text("min_records: 10\n", encoding="utf-8")
    result = run_cli("serve", config, env={"DRIFT_EXPORTER_EVALUATION_INTERVAL_SECOND": "5"})
    assert_one_line_error(
        result,
        "drift-exporter: unknown environment variable DRIFT_EXPORTER_EVALUATION_INTERVAL_SECOND"
        " (did you mean DRIFT_EXPORTER_EVALUATION_INTERVAL_SECONDS?)",
    )
