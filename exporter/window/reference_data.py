"""Reference data (JSON records, NDJSON, CSV, or a table read from Parquet) -> a profile.

What a PUT of training data does, below the API so the CLI (`profile build`) and the references
loaded at start-up do exactly the same: decode with exporter.ingest.reference, check the table,
profile it with the model's declarations (exporter.window.profile.build_profile), and say why
prediction drift is off when it is.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from exporter.errors import InvalidInput
from exporter.ingest.media import CSV, JSON, NDJSON
from exporter.ingest.names import check_feature_name
from exporter.ingest.reference import ReferenceTable, decode_reference
from exporter.settings import ModelSettings, Settings
from exporter.window.profile import ProfileError, ReferenceProfile, build_profile
from exporter.window.profile_file import read_profile

#: Not a request media type: the CLI reads Parquet itself and hands over its table, whose
#: prediction and label are named columns as in CSV.
PARQUET = "application/vnd.apache.parquet"
_RECORDS_KEY = re.compile(rb'\{\s*"records"\s*:')

#: Words that, as a part of a column name (`y_pred`, `churn_score`, `predicted_proba`), suggest
#: the column is the model's output.
PREDICTION_WORDS = frozenset(
    {
        "score",
        "scores",
        "pred",
        "preds",
        "predicted",
        "prediction",
        "predictions",
        "ypred",
        "yhat",
        "output",
        "outputs",
        "prob",
        "probs",
        "proba",
        "probability",
        "probabilities",
        "label",
        "labels",
    }
)
#: Column names quoted in a warning or an error before the rest are only counted.
_NAMES_SHOWN = 20


@dataclass(frozen=True)
class ProfiledReference:
    """A profiled reference and what profiling found out about its prediction."""

    profile: ReferenceProfile
    columns: tuple[str, ...]
    prediction_column: str | None
    warnings: list[str]


def profile_data(
    model: str,
    body: bytes,
    media: str,
    settings: Settings,
    prediction_column: str | None = None,
    label_column: str | None = None,
    *,
    max_records: int | None = None,
) -> ProfiledReference:
    """The body (JSON records, NDJSON or CSV) decoded, checked and profiled as a PUT of it
    is, with the warnings about its prediction. `max_records` defaults to
    `limits.max_records_per_request`; InvalidInput / MalformedInput name what is wrong."""
    declared = settings.model_for(model)
    expected, labels = column_names(media, settings, declared, prediction_column, label_column)
    table = decode_reference(
        body,
        media,
        settings.limits.max_records_per_request if max_records is None else max_records,
        prediction_column=expected,
        label_column=labels,
        declared=declared.features,
        max_features=settings.limits.max_features_per_model,
    )
    return profile_table(model, table, media, settings, prediction_column, expected)


def profile_table(
    model: str,
    table: ReferenceTable,
    media: str,
    settings: Settings,
    prediction_column: str | None,
    expected: str,
) -> ProfiledReference:
    """A decoded table checked and profiled with the model's declarations; `expected` is the
    prediction column that was looked for (column_names)."""
    declared = settings.model_for(model)
    _check_table(table, media, prediction_column, settings.limits.max_features_per_model)
    try:
        profile = build_profile(
            model,
            table.columns,
            table.predictions,
            table.labels,
            declared=declared.features,
            prediction_kind=declared.prediction_type,
            settings=settings.reference,
            model_settings=declared,
        )
    except ProfileError as error:
        raise InvalidInput(str(error), "records") from None
    warnings = _prediction_warnings(table, profile, media, expected)
    return ProfiledReference(profile, tuple(_available(table)), table.prediction_column, warnings)


def file_reference(model: str, data: bytes, settings: Settings, source: str) -> ProfiledReference:
    """A profile file (exporter.window.profile_file) as `model`'s reference; ProfileFileError
    names `source` and what is wrong, InvalidInput a profile past this config's feature cap."""
    read = read_profile(data, source)
    cap = settings.limits.max_features_per_model
    if len(read.profile.features) > cap:
        raise InvalidInput(
            f"{len(read.profile.features)} features exceed limits.max_features_per_model ({cap})",
            source,
            reason="limit",
        )
    profile = replace(read.profile, model=model)
    warnings = []
    if read.profile.model and read.profile.model != model:
        warnings.append(f"the profile was built for model {read.profile.model!r}")
    if profile.prediction is None:
        warnings.append("the profile has no prediction, so prediction drift is off.")
    names = tuple(column.name for column in profile.columns)
    return ProfiledReference(profile, names, None, warnings)


def shaping_settings(settings: Settings, model: str) -> dict[str, Any]:
    """The settings a profile of `model` is built with: recorded in a profile file, and hashed
    with configured reference data (a change of them is a change of the reference)."""
    declared = settings.model_for(model)
    return {
        "reference": settings.reference.model_dump(mode="json"),
        "model": declared.model_dump(mode="json", exclude={"reference"}),
        "prediction_column": declared.prediction_column or settings.prediction_column,
        "label_column": declared.label_column or settings.label_column,
    }


def data_source(body: bytes, settings: Settings, model: str) -> str:
    """`sha256:<hex>` of reference data and the settings that shape its profile."""
    digest = hashlib.sha256(body)
    digest.update(json.dumps(shaping_settings(settings, model), sort_keys=True).encode())
    return f"sha256:{digest.hexdigest()}"


def sniff_media(body: bytes) -> str:
    """Reference data's media type told by its content: `{"records": ...}` is JSON, other
    JSON objects one per line NDJSON, anything else CSV (its header row)."""
    start = body.lstrip()[:64]
    if start.startswith(b"["):
        return JSON
    if start.startswith(b"{"):
        return JSON if _RECORDS_KEY.match(start) else NDJSON
    return CSV


def column_names(
    media: str,
    settings: Settings,
    declared: ModelSettings,
    prediction_column: str | None,
    label_column: str | None,
) -> tuple[str, str]:
    """(prediction column, label column) to read: the query's, else the model's, else the
    config's; for JSON records the prediction is their `prediction` unless the query names a
    feature. 422 when the query names the label column as the prediction."""
    labels = label_column or declared.label_column or settings.label_column
    if media in (CSV, PARQUET):  # the config's prediction_column names a CSV column
        expected = prediction_column or declared.prediction_column or settings.prediction_column
    else:  # JSON records carry theirs under `prediction`, or the query names a feature
        expected = prediction_column or "prediction"
    if prediction_column and prediction_column == labels:
        raise InvalidInput(
            f"{prediction_column!r} is the label column (label_column); the prediction must "
            "be another column",
            "query.prediction_column",
        )
    return expected, labels


def _check_table(
    table: ReferenceTable, media: str, prediction_column: str | None, cap: int
) -> None:
    """422 unless the table has the queried prediction column, rows, and 1..`cap` features
    with valid names."""
    if prediction_column and table.prediction_column != prediction_column:
        raise InvalidInput(
            f"no column {prediction_column!r} in the reference; its columns are "
            f"{_quoted(_available(table))}",
            "query.prediction_column",
        )
    if table.rows == 0:
        raise InvalidInput("the reference has no records", "records")
    if not table.columns:
        raise InvalidInput("the reference has no features", "records")
    if len(table.columns) > cap:
        raise InvalidInput(
            f"{len(table.columns)} features exceed limits.max_features_per_model ({cap})",
            "records",
            reason="limit",
        )
    where = {CSV: "line 1", PARQUET: "columns"}.get(media, "records[].features")
    for name in table.columns:
        check_feature_name(name, where)


def _prediction_warnings(
    table: ReferenceTable, profile: ReferenceProfile, media: str, expected: str
) -> list[str]:
    """Why prediction drift is off, if it is: no prediction column, or one all missing."""
    warnings = []
    if table.prediction_column is None:
        warnings.append(_no_prediction_warning(media, expected, list(table.columns)))
    elif profile.prediction is None:
        warnings.append(
            f"every value of the prediction column {table.prediction_column!r} is missing, "
            "so prediction drift is off."
        )
    return warnings


def prediction_candidates(names: Sequence[str]) -> list[str]:
    """The names with a word that suggests a model output (PREDICTION_WORDS), in order."""
    return [
        name
        for name in names
        if not PREDICTION_WORDS.isdisjoint(re.split(r"[^a-z0-9]+", name.lower()))
    ]


def _no_prediction_warning(media: str, expected: str, columns: list[str]) -> str:
    if media in (CSV, PARQUET):
        missing = f"no column {expected!r} in the reference, so prediction drift is off."
    else:
        missing = "the records carry no 'prediction', so prediction drift is off."
    candidates = prediction_candidates(columns)
    hint = (
        f" Columns that look like a prediction: {_quoted(candidates)}; if one of them is the "
        "model's output, upload again with ?prediction_column=<name>."
        if candidates
        else " If a column is the model's output, upload again with ?prediction_column=<name>."
    )
    return f"{missing}{hint} Columns: {_quoted(columns)}."


def _available(table: ReferenceTable) -> list[str]:
    """The columns a prediction_column could name: the features, and the prediction's own."""
    names = list(table.columns)
    if table.prediction_column is not None:
        names.append(table.prediction_column)
    return names


def _quoted(names: Sequence[str]) -> str:
    shown = ", ".join(repr(name) for name in names[:_NAMES_SHOWN])
    more = len(names) - _NAMES_SHOWN
    return f"{shown} and {more} more" if more > 0 else shown or "none"
