"""`drift-exporter profile build|show` and `serve --check-config`: the offline side of references.

`profile build` decodes training data exactly as `PUT /v1/models/{model}/reference` would (the
same decoder, checks and profile builder, with the config's `reference` settings and, with
`--model`, that model's declarations), except that the request limits on records and body size
do not apply to a file on disk. It writes a profile file (exporter.window.profile_file)
atomically, so a reader never sees half of one.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from exporter.errors import DomainError
from exporter.ingest.media import CSV, JSON, NDJSON
from exporter.ingest.reference import ReferenceTable
from exporter.settings import ConfigError, Settings, load_settings
from exporter.window.profile_file import ProfileFileError, read_profile, write_profile
from exporter.window.reference_data import (
    PARQUET,
    ProfiledReference,
    column_names,
    profile_data,
    profile_table,
    shaping_settings,
    sniff_media,
)
from exporter.window.references import ReferenceLoadError, check_references

_BY_SUFFIX = {".csv": CSV, ".json": JSON, ".jsonl": NDJSON, ".ndjson": NDJSON}
_PARQUET_SUFFIXES = (".parquet", ".pq")
#: The model name a profile is built under when `--model` names none.
_UNNAMED = "model"


class CommandError(Exception):
    """A command that cannot do its job; the message says what and where (exit status 1)."""


def add_profile_commands(commands: Any) -> None:
    """`profile build` and `profile show` under the CLI's subcommands."""
    profile = commands.add_parser("profile", help="build or show a reference profile file")
    actions = profile.add_subparsers(dest="action", required=True)
    build = actions.add_parser(
        "build", help="profile training data (CSV, JSON, JSONL, Parquet) into a file"
    )
    build.add_argument("data", type=Path, help="the training data: .csv, .json, .jsonl, .parquet")
    build.add_argument("-o", "--output", type=Path, required=True, help="the profile file")
    build.add_argument("--config", type=Path, help="YAML config: reference settings, models")
    build.add_argument("--model", help="read this model's declarations from the config")
    build.add_argument("--model-version", help="the model's version, carried in the file")
    build.add_argument("--prediction-column", help="as PUT's ?prediction_column=")
    build.add_argument("--label-column", help="as PUT's ?label_column=")
    show = actions.add_parser("show", help="print a profile file's summary")
    show.add_argument("file", type=Path)
    show.add_argument("--json", action="store_true", help="the summary as JSON")


def run_profile(args: argparse.Namespace) -> int:
    """Run `profile build|show`: 0, or 1 (2 for a bad config) with the error on stderr."""
    try:
        if args.action == "build":
            settings = load_settings(args.config)
            print(build(args, settings))
        else:
            print(show(args.file, as_json=args.json))
    except ConfigError as error:
        print(f"drift-exporter: {error}", file=sys.stderr)
        return 2
    except CommandError as error:
        print(f"drift-exporter: {error}", file=sys.stderr)
        return 1
    return 0


def build(args: argparse.Namespace, settings: Settings) -> str:
    """Profile `args.data`, write `args.output`; the one-line summary (warnings on stderr)."""
    model = args.model or _UNNAMED
    if args.model is not None and args.model not in settings.models:
        raise CommandError(f"--model {args.model}: the config declares no such model")
    data: Path = args.data
    try:
        profiled = _profiled(data, model, settings, args.prediction_column, args.label_column)
    except DomainError as error:
        raise CommandError(f"{data}: {error.message}") from None
    profile = profiled.profile
    if args.model is None:
        profile = replace(profile, model="")  # built for no model in particular
    if args.model_version is not None:
        profile = replace(profile, version=args.model_version)
    epoch = os.environ.get("SOURCE_DATE_EPOCH")  # reproducible builds: same data, same bytes
    if epoch is not None:
        try:
            profile = replace(profile, created_at=float(epoch))
        except ValueError:
            raise CommandError(f"SOURCE_DATE_EPOCH={epoch!r} is not a number") from None
    content = write_profile(profile, shaping_settings(settings, model))
    _write_atomically(args.output, content)
    for warning in profiled.warnings:
        print(f"drift-exporter: warning: {warning}", file=sys.stderr)
    read = read_profile(content, str(args.output))
    kinds = [column.kind for column in profile.features]
    counted = ", ".join(f"{kinds.count(k)} {k}" for k in dict.fromkeys(kinds))
    return (
        f"wrote {args.output}: {len(kinds)} features ({counted}), "
        f"{'a prediction' if profile.prediction is not None else 'no prediction'}, "
        f"{profile.rows} rows, {len(content)} bytes, sha256 {read.sha256}"
    )


def show(path: Path, *, as_json: bool) -> str:
    """The summary of the profile file at `path`, as text or JSON."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise CommandError(f"cannot read {path}: {error.strerror}") from None
    try:
        summary = read_profile(data, str(path)).summary()
    except ProfileFileError as error:
        raise CommandError(str(error)) from None
    if as_json:
        return json.dumps(summary, indent=2)
    return _text_summary(path, summary)


def check_config(config: Path | None, overrides: dict[str, Any]) -> int:
    """`serve --check-config`: settings, token file and every reference read and parsed; one
    OK line and 0, or the error and 2. No server is started."""
    from exporter.api.auth import load_token

    try:
        settings = load_settings(config, **overrides)
        load_token(settings.auth)
        for name in ("cert_file", "key_file"):
            tls_file = getattr(settings.tls, name)
            if tls_file is not None and not os.access(tls_file, os.R_OK):
                raise ConfigError(f"tls.{name}: {tls_file} is not a readable file")
        references = check_references(settings)
    except (ConfigError, ReferenceLoadError) as error:
        print(f"drift-exporter: {error}", file=sys.stderr)
        return 2
    loaded = "; ".join(
        f"{model}: {len(profile.features)} features, {profile.rows} rows"
        for model, profile in references.items()
    )
    print(
        f"drift-exporter: configuration OK: {len(settings.models)} model(s) declared, "
        f"{len(references)} reference(s) loaded{f' ({loaded})' if loaded else ''}; "
        f"would listen on {settings.host}:{settings.port}"
    )
    return 0


def _profiled(
    data: Path,
    model: str,
    settings: Settings,
    prediction_column: str | None,
    label_column: str | None,
) -> ProfiledReference:
    suffix = data.suffix.lower()
    if suffix in _PARQUET_SUFFIXES:
        expected, labels = column_names(
            PARQUET, settings, settings.model_for(model), prediction_column, label_column
        )
        table = _parquet_table(data, expected, labels)
        return profile_table(model, table, PARQUET, settings, prediction_column, expected)
    try:
        body = data.read_bytes()
    except OSError as error:
        raise CommandError(f"cannot read {data}: {error.strerror}") from None
    media = _BY_SUFFIX.get(suffix) or sniff_media(body)
    return profile_data(
        model, body, media, settings, prediction_column, label_column, max_records=2**62
    )


def _parquet_table(data: Path, prediction_column: str, label_column: str) -> ReferenceTable:
    """A Parquet file as a ReferenceTable: typed values kept (nulls None, NaN a NaN), others
    (dates, decimals) as their text; the prediction and label are named columns, as in CSV."""
    try:
        import pyarrow.parquet as parquet  # type: ignore[import-untyped]
    except ImportError:
        raise CommandError(
            f"{data}: reading Parquet needs pyarrow (python3 -m pip install pyarrow); or export "
            "the data as CSV or JSON"
        ) from None
    try:
        columns = parquet.read_table(data).to_pydict()
    except Exception as error:  # OSError, ArrowInvalid, ...
        raise CommandError(f"cannot read {data} as Parquet: {error}") from None
    typed = {name: [_plain(value) for value in values] for name, values in columns.items()}
    predictions = typed.pop(prediction_column, None)
    labels = typed.pop(label_column, None)
    rows = max((len(values) for values in columns.values()), default=0)
    return ReferenceTable(
        typed, predictions, labels, rows, None if predictions is None else prediction_column
    )


def _plain(value: Any) -> Any:
    if value is None or type(value) in (bool, int, float, str):
        return value
    return str(value)


def _write_atomically(path: Path, content: bytes) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with temporary.open("wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        raise CommandError(f"cannot write {path}: {error.strerror}") from None


def _text_summary(path: Path, summary: dict[str, Any]) -> str:
    lines = [
        f"{path}: drift-exporter profile, format {summary['format_version']}, "
        f"written by drift-exporter {summary['written_by']}",
        f"  sha256:   {summary['sha256']} ({summary['bytes']} bytes)",
        f"  model:    {summary['model'] or '-'}  version: {summary['model_version'] or '-'}",
        f"  rows:     {summary['rows']}  labels: {summary['labels']}",
        f"  settings: {json.dumps(summary['settings']['reference'], sort_keys=True)}",
        "  columns:",
    ]
    for column in summary["columns"]:
        if column["kind"] == "numeric":
            low, high = column["range"]
            detail = f"{column['bins']} bins, sample {column['sample']}, range [{low}, {high}]"
        else:
            detail = (
                f"{column['bins']} bins, {column['categories']} categories kept "
                f"of {column['distinct']}"
            )
        lines.append(
            f"    {column['name']:<24} {column['kind']:<12} {detail}, "
            f"{column['valid']} valid, {column['missing']} missing"
        )
    return "\n".join(lines)
