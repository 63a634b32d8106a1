"""Profile files round-trip a profile exactly, are byte-stable, refuse a damaged file by name."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from exporter.errors import InvalidInput
from exporter.ingest.media import CSV, JSON, NDJSON
from exporter.settings import Settings
from exporter.window.profile import NumericProfile, ReferenceProfile
from exporter.window.profile_file import (
    MAGIC,
    ProfileFileError,
    is_profile_file,
    read_profile,
    write_profile,
)
from exporter.window.reference_data import (
    data_source,
    file_reference,
    profile_data,
    shaping_settings,
    sniff_media,
)
from exporter.window.references import ReferenceLoadError, ReferenceSource, load_reference

SETTINGS = Settings(models={"credit": {"task": "classification", "positive_class": "1"}})


def training_csv(rows: int = 800, seed: int = 3) -> bytes:
    rng = np.random.default_rng(seed)
    lines = ["age,country,member,note,prediction,label"]
    for i in range(rows):
        age = "" if i % 97 == 0 else f"{rng.normal(40, 10):.3f}"
        note = ""  # a column with no value at all: declared nowhere, so typed from nothing
        lines.append(
            f"{age},{rng.choice(['fr', 'de', 'us'])},{rng.choice(['true', 'false'])},"
            f"{note or 'n' + str(i % 7)},{rng.uniform():.4f},{int(rng.uniform() < 0.3)}"
        )
    return ("\n".join(lines) + "\n").encode()


def built(model: str = "credit") -> ReferenceProfile:
    return profile_data(model, training_csv(), CSV, SETTINGS).profile


def assert_same_profile(left: ReferenceProfile, right: ReferenceProfile) -> None:
    unsourced = {"source": None, "created_at": None}
    assert left.summary() | unsourced == right.summary() | unsourced
    for a, b in zip(left.columns, right.columns, strict=True):
        np.testing.assert_array_equal(a.counts, b.counts)
        if isinstance(a, NumericProfile):
            assert isinstance(b, NumericProfile)
            np.testing.assert_array_equal(a.edges, b.edges)
            np.testing.assert_array_equal(a.sample_sorted, b.sample_sorted)
    assert (left.performance is None) == (right.performance is None)
    if left.performance is not None and right.performance is not None:
        assert left.performance.summary() == right.performance.summary()


def test_a_profile_file_reads_back_the_profile_it_was_written_from() -> None:
    profile = replace(built(), version="2024-06-01.3")
    content = write_profile(profile, shaping_settings(SETTINGS, "credit"))
    assert is_profile_file(content)
    read = read_profile(content, "credit.profile")
    assert_same_profile(read.profile, profile)
    assert read.profile.version == "2024-06-01.3"
    assert read.profile.source == f"sha256:{read.sha256}"
    assert read.settings["reference"] == SETTINGS.reference.model_dump()
    assert read.settings["model"]["positive_class"] == "1"
    summary = read.summary()
    assert [c["kind"] for c in summary["columns"]] == [
        "numeric",
        "categorical",
        "boolean",
        "categorical",
        "numeric",
    ]
    assert summary["rows"] == 800 and summary["columns"][0]["missing"] == 9  # i % 97 == 0
    json.dumps(summary)  # printable as JSON


def test_the_same_profile_gives_the_same_bytes_and_hash() -> None:
    profile = built()
    settings = shaping_settings(SETTINGS, "credit")
    assert write_profile(profile, settings) == write_profile(profile, settings)
    other = write_profile(replace(profile, rows=profile.rows + 1), settings)
    assert (
        read_profile(other, "a").sha256
        != read_profile(write_profile(profile, settings), "b").sha256
    )


@pytest.mark.parametrize(
    ("damage", "problem"),
    [
        (lambda b: b"PK\x03\x04" + b[4:], "bad magic line"),
        (lambda b: b[: len(b) - 10], "truncated: the payload is"),
        (lambda b: b + b"x", "trailing bytes"),
        (lambda b: b[:-20] + bytes([b[-20] ^ 1]) + b[-19:], "content hash mismatch"),
        (lambda b: b.replace(b'"format_version": 1', b'"format_version": 9', 1), "version 9"),
        (lambda b: MAGIC + b"{not json\n" + b, "header line is not JSON"),
        (lambda b: MAGIC, "truncated or unreadable header"),
    ],
)
def test_a_damaged_file_is_refused_naming_the_file_and_the_problem(damage, problem) -> None:  # type: ignore[no-untyped-def]
    content = write_profile(built(), shaping_settings(SETTINGS, "credit"))
    with pytest.raises(ProfileFileError) as raised:
        read_profile(damage(content), "/etc/profiles/credit.profile")
    assert str(raised.value).startswith("/etc/profiles/credit.profile: ")
    assert problem in str(raised.value)


def test_a_payload_that_hashes_right_but_is_not_a_profile_is_refused() -> None:
    import hashlib

    payload = b"not a zip at all"
    header = {"format_version": 1, "payload_bytes": len(payload)}
    header["sha256"] = hashlib.sha256(payload).hexdigest()  # type: ignore[assignment]
    forged = MAGIC + json.dumps(header).encode() + b"\n" + payload
    with pytest.raises(ProfileFileError, match=r"x\.profile: invalid payload: unreadable"):
        read_profile(forged, "x.profile")


def test_a_profile_file_installs_under_the_model_it_is_given_with_warnings() -> None:
    content = write_profile(built("fraud"), shaping_settings(SETTINGS, "fraud"))
    profiled = file_reference("credit", content, SETTINGS, "body")
    assert profiled.profile.model == "credit"
    assert profiled.warnings == ["the profile was built for model 'fraud'"]
    narrow = Settings(limits={"max_features_per_model": 2})
    with pytest.raises(InvalidInput, match=r"4 features exceed limits\.max_features_per_model"):
        file_reference("credit", content, narrow, "body")


@pytest.mark.parametrize(
    ("body", "media"),
    [
        (b'  {"records": [{"features": {"a": 1}}]}', JSON),
        (b'{"features": {"a": 1}}\n{"features": {"a": 2}}\n', NDJSON),
        (b"[1, 2]", JSON),
        (b"a,b\n1,2\n", CSV),
    ],
)
def test_reference_data_is_told_apart_by_its_content(body: bytes, media: str) -> None:
    assert sniff_media(body) == media


def test_reference_data_is_hashed_with_the_settings_that_shape_its_profile() -> None:
    data = training_csv()
    coarse = Settings(reference={"bins": 5})
    assert data_source(data, SETTINGS, "credit") == data_source(data, SETTINGS, "credit")
    assert data_source(data, SETTINGS, "credit") != data_source(data, coarse, "credit")
    assert data_source(data, SETTINGS, "credit") != data_source(data + b"\n", SETTINGS, "credit")


def test_loaded_reference_data_is_profiled_as_a_put_of_it(tmp_path: Path) -> None:
    data = training_csv()
    loaded = load_reference("credit", data, SETTINGS, "train.csv")
    assert_same_profile(loaded, profile_data("credit", data, CSV, SETTINGS).profile)
    assert loaded.source == data_source(data, SETTINGS, "credit")
    with pytest.raises(ReferenceLoadError, match=r"^bad\.csv: line 3: expected 2 fields, got 3"):
        load_reference("credit", b"a,b\n1,2\n1,2,3\n", SETTINGS, "bad.csv")


@pytest.mark.parametrize(
    ("location", "path", "url"),
    [
        ("/etc/p/credit.profile", "/etc/p/credit.profile", None),
        ("relative/credit.csv", "relative/credit.csv", None),
        ("file:///etc/p/credit%20v2.profile", "/etc/p/credit v2.profile", None),
        ("https://models.example/credit.profile", None, "https://models.example/credit.profile"),
    ],
)
def test_a_reference_location_is_a_path_or_an_http_url(
    location: str, path: str | None, url: str | None
) -> None:
    source = ReferenceSource.parse(location)
    assert (str(source.path) if source.path else None, source.url) == (path, url)


@pytest.mark.parametrize("location", ["s3://bucket/credit.profile", "file://host/p"])
def test_an_unreadable_kind_of_location_is_refused_by_name(location: str) -> None:
    with pytest.raises(ReferenceLoadError, match=location.split(":")[0]):
        ReferenceSource.parse(location)
