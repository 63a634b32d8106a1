"""A reference profile as a file: built offline (`drift-exporter profile build`), loaded at start.

The file is three parts::

    drift-exporter profile\\n                      the magic line
    {"format_version": 1, "payload_bytes": n,      one JSON line: how to read the rest
     "sha256": "<hex of the payload>"}\\n
    <payload>                                      a zip of .npy arrays, n bytes

The payload is the profile exactly as a state snapshot encodes it (exporter.window.
state_encoding.encode_profile: kinds, bin edges, counts, categories, sorted samples, rows, the
reference's performance) plus a `meta` entry saying which drift-exporter wrote it, the model's
version and the settings that shaped it. It is read with numpy's `allow_pickle=False` (data,
never code) and checked field by field like a snapshot, after its length and SHA-256 match the
header: a truncated or altered file is refused, never half loaded. The zip is written with fixed
timestamps and sorted members, so the same profile gives the same bytes and the same hash.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import orjson
from numpy.typing import NDArray

from exporter import __version__
from exporter.window.profile import ReferenceProfile
from exporter.window.state_decoding import decode_profile
from exporter.window.state_encoding import VERSION as STATE_VERSION
from exporter.window.state_encoding import encode_profile
from exporter.window.state_fields import SnapshotError, read_object

MAGIC = b"drift-exporter profile\n"
FORMAT = "drift-exporter-profile"
FORMAT_VERSION = 1
READABLE_VERSIONS = (1,)
#: A header line longer than this is not a header (a random file that starts with the magic).
_MAX_HEADER_BYTES = 4_096
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


class ProfileFileError(ValueError):
    """A profile file that cannot be read; the message names the file and what is wrong."""

    def __init__(self, source: str, problem: str) -> None:
        super().__init__(f"{source}: {problem}")
        self.source = source
        self.problem = problem


@dataclass(frozen=True)
class ProfileFile:
    """A profile read from a file and what the file says about it.

    `profile.source` is `sha256:<hex of the payload>`; `settings` are the `reference` settings
    and model declarations it was built with; `written_by` the drift-exporter version."""

    profile: ReferenceProfile
    settings: dict[str, Any]
    written_by: str
    sha256: str
    size: int

    def summary(self) -> dict[str, Any]:
        """What `drift-exporter profile show` prints: no arrays, one line per column."""
        profile = self.profile
        return {
            "format_version": FORMAT_VERSION,
            "written_by": self.written_by,
            "sha256": self.sha256,
            "bytes": self.size,
            "model": profile.model or None,
            "model_version": profile.version,
            "rows": profile.rows,
            "labels": profile.labels,
            "created_at": profile.created_at,
            "settings": self.settings,
            "columns": [_column_summary(column) for column in profile.columns],
            "prediction": profile.prediction is not None,
            "performance": None if profile.performance is None else profile.performance.summary(),
        }


def is_profile_file(data: bytes) -> bool:
    """Whether `data` starts like a profile file (else it is reference data: CSV or JSON)."""
    return data.startswith(MAGIC)


def write_profile(profile: ReferenceProfile, settings: dict[str, Any]) -> bytes:
    """The file's bytes for `profile` (its `version` is the model's, or None); `settings` are
    recorded as the settings that shaped it."""
    arrays: dict[str, NDArray[Any]] = {}
    meta = {
        "format": FORMAT,
        "written_by": __version__,
        "state_version": STATE_VERSION,
        "settings": settings,
        "profile": encode_profile(replace(profile, source=None), arrays),
    }
    arrays["meta"] = np.frombuffer(json.dumps(meta, sort_keys=True).encode(), np.uint8)
    payload = _zip_arrays(arrays)
    header = {
        "format_version": FORMAT_VERSION,
        "payload_bytes": len(payload),
        "sha256": hashlib.sha256(payload).hexdigest(),
    }
    return MAGIC + json.dumps(header, sort_keys=True).encode() + b"\n" + payload


def read_profile(data: bytes, source: str) -> ProfileFile:
    """The profile in `data` (the bytes of the file or URL `source`, named in every error)."""
    if not data.startswith(MAGIC):
        raise ProfileFileError(source, "not a drift-exporter profile file (bad magic line)")
    end = data.find(b"\n", len(MAGIC), len(MAGIC) + _MAX_HEADER_BYTES)
    if end == -1:
        raise ProfileFileError(source, "truncated or unreadable header line")
    header = _header(data[len(MAGIC) : end], source)
    payload = data[end + 1 :]
    expected = header["payload_bytes"]
    if len(payload) != expected:
        what = "truncated" if len(payload) < expected else "trailing bytes"
        raise ProfileFileError(
            source, f"{what}: the payload is {len(payload)} bytes, the header says {expected}"
        )
    digest = hashlib.sha256(payload).hexdigest()
    if digest != header["sha256"]:
        raise ProfileFileError(
            source, f"content hash mismatch: sha256 {digest}, the header says {header['sha256']}"
        )
    try:
        meta, profile = _decode_payload(payload)
    except SnapshotError as error:
        raise ProfileFileError(source, f"invalid payload: {error}") from None
    return ProfileFile(
        profile=replace(profile, source=f"sha256:{digest}"),
        settings=meta["settings"],
        written_by=meta["written_by"],
        sha256=digest,
        size=len(data),
    )


def _header(line: bytes, source: str) -> dict[str, Any]:
    try:
        header = orjson.loads(line)
    except orjson.JSONDecodeError:
        raise ProfileFileError(source, "the header line is not JSON") from None
    if not isinstance(header, dict):
        raise ProfileFileError(source, "the header line is not a JSON object")
    version = header.get("format_version")
    if version not in READABLE_VERSIONS or type(version) is not int:
        raise ProfileFileError(
            source,
            f"format version {version!r}; this build ({__version__}) reads versions "
            f"{', '.join(map(str, READABLE_VERSIONS))}",
        )
    size, digest = header.get("payload_bytes"), header.get("sha256")
    if type(size) is not int or size < 0 or type(digest) is not str or len(digest) != 64:
        raise ProfileFileError(source, "the header lacks payload_bytes or a sha256 hex digest")
    return header


def _decode_payload(payload: bytes) -> tuple[dict[str, Any], ReferenceProfile]:
    try:
        with np.load(io.BytesIO(payload), allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
    except Exception as error:  # BadZipFile, a bad .npy header, ...
        raise SnapshotError(f"unreadable: {error}") from None
    if "meta" not in arrays or arrays["meta"].dtype != np.uint8:
        raise SnapshotError("no metadata entry")
    try:  # json, not orjson: a column with no valid value has NaN statistics
        meta = read_object(json.loads(arrays.pop("meta").tobytes()), "meta")
    except ValueError as error:
        raise SnapshotError(f"no readable metadata: {error}") from None
    if meta.get("format") != FORMAT:
        raise SnapshotError(f"meta.format is {meta.get('format')!r}, not {FORMAT!r}")
    state_version = meta.get("state_version")
    if type(state_version) is not int or not 2 <= state_version <= STATE_VERSION:
        raise SnapshotError(f"meta.state_version {state_version!r} is not one this build reads")
    for key, kind in (("settings", dict), ("written_by", str)):
        if not isinstance(meta.get(key), kind):
            raise SnapshotError(f"meta.{key}: missing or not a {kind.__name__}")
    profile = decode_profile(read_object(meta.get("profile"), "meta.profile"), arrays)
    return meta, profile


def _zip_arrays(arrays: dict[str, NDArray[Any]]) -> bytes:
    """An .npz of `arrays`, byte for byte the same for the same arrays (fixed member times)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(arrays):
            member = io.BytesIO()
            np.lib.format.write_array(
                member, np.ascontiguousarray(arrays[name]), allow_pickle=False
            )
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, member.getvalue())
    return buffer.getvalue()


def _column_summary(column: Any) -> dict[str, Any]:
    described: dict[str, Any] = {
        "name": column.name,
        "kind": column.kind,
        "bins": column.bins,
        "valid": column.valid,
        "missing": column.missing,
    }
    if column.kind == "numeric":
        described["sample"] = len(column.sample_sorted)
        described["range"] = [_plain(column.minimum), _plain(column.maximum)]
    else:
        described["categories"] = len(column.categories)
        described["distinct"] = len(column.seen)
    return described


def _plain(value: float) -> float | None:
    return value if np.isfinite(value) else None
