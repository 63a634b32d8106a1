"""Model and feature names: what is safe in a URL path, a log line and a Prometheus label."""

from __future__ import annotations

import pytest

from exporter.api.errors import status_for
from exporter.errors import DomainError
from exporter.ingest.names import MAX_NAME_LENGTH, check_feature_name, check_model_name

# model names


@pytest.mark.parametrize(
    "name",
    ["fraud", "a", "9lives", "Fraud_Model-v2.1", "x" * 128, "a..b", "model.v1"],
)
def test_check_model_name_returns_an_accepted_name_unchanged(name: str) -> None:
    assert check_model_name(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "",
        "../x",
        "..",
        ".hidden",
        "a/b",
        "a\\b",
        "-x",
        "_x",
        " x",
        "x ",
        "a b",
        "a\nb",
        "fraud\n",
        "a\x00b",
        "a\tb",
        "caf\u00e9",
        "a:b",
        "a{b}",
        'a"b',
        "x" * 129,
    ],
)
def test_check_model_name_rejects_unsafe_names_with_422_invalid_name(name: str) -> None:
    with pytest.raises(DomainError) as caught:
        check_model_name(name)
    assert status_for(caught.value) == 422
    assert caught.value.reason == "invalid_name"
    assert caught.value.location == "path.model"


def test_max_name_length_is_128() -> None:
    assert MAX_NAME_LENGTH == 128
    assert check_model_name("m" * 128) == "m" * 128
    assert check_feature_name("f" * 128, "body") == "f" * 128


# feature names


@pytest.mark.parametrize(
    "name",
    ["age", "_id", "a", "9", "income (USD)", "tags[0]", "ns:field", "x-y", "a.b", "f" * 128],
)
def test_check_feature_name_returns_an_accepted_name_unchanged(name: str) -> None:
    assert check_feature_name(name, "records[0].features") == name


@pytest.mark.parametrize(
    "name",
    [
        "",
        "../x",
        "a/b",
        "a\\b",
        " age",
        "age ",
        "-age",
        ".age",
        "a\nb",
        "a\rb",
        "a\tb",
        "a\x00b",
        "a\x7fb",
        'a"b',
        "a'b",
        "a{b}",
        "a,b",
        "\u00e2ge",
        "f" * 129,
    ],
)
def test_check_feature_name_rejects_unsafe_names_with_422_at_the_given_location(
    name: str,
) -> None:
    with pytest.raises(DomainError) as caught:
        check_feature_name(name, "line 1, column 3")
    assert status_for(caught.value) == 422
    assert caught.value.reason == "invalid_name"
    assert caught.value.location == "line 1, column 3"


# the error message


def test_model_name_error_escapes_control_characters_in_the_name() -> None:
    with pytest.raises(DomainError) as caught:
        check_model_name("evil\nname\x00\u00e9")
    detail = caught.value.detail
    assert "'evil\\nname\\x00\\xe9'" in detail
    assert "\n" not in detail
    assert "\x00" not in detail
    assert detail.isascii()


def test_feature_name_error_escapes_the_name_and_the_message_carries_the_location() -> None:
    with pytest.raises(DomainError) as caught:
        check_feature_name("a\r\nb", "records[3].features")
    assert "'a\\r\\nb'" in caught.value.detail
    assert "\r" not in caught.value.message
    assert caught.value.message.startswith("records[3].features: ")


def test_name_error_cuts_a_long_name_to_64_characters() -> None:
    name = "x" * 200 + "/"
    with pytest.raises(DomainError) as caught:
        check_model_name(name)
    assert repr("x" * 64 + "...") in caught.value.detail
    assert "x" * 65 not in caught.value.detail
