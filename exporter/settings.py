"""Typed settings: an optional YAML file, overridden by DRIFT_EXPORTER_* environment variables.

Precedence, highest first: explicit overrides (command-line flags), environment variables
(`DRIFT_EXPORTER_WINDOW__MAX_RECORDS=2000`, nested keys joined with `__`), the YAML file,
the defaults below. Unknown keys are rejected so a typo never silently falls back to a default,
and so are unknown DRIFT_EXPORTER_* variables (pydantic-settings itself only reads the names it
knows and ignores the rest).
"""

from __future__ import annotations

import difflib
import os
import types
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from exporter.listen import Address, parse_address
from exporter.logs import LogFormat
from exporter.truth.concept import DetectorSettings

FeatureKind = Literal["numeric", "categorical", "boolean"]
Task = Literal["classification", "regression"]
DriftMethod = Literal["pvalue", "psi", "jensen_shannon", "wasserstein_normalized"]
Correction = Literal["none", "bonferroni", "benjamini_hochberg"]

DEFAULT_PORT = 9808
ENV_PREFIX = "DRIFT_EXPORTER_"
ENV_NESTED_DELIMITER = "__"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WindowSettings(_Section):
    """The rolling window: a ring of `slices` time slices, bounded by count and/or age."""

    max_records: int | None = Field(10_000, ge=1)
    duration_seconds: float | None = Field(3_600.0, gt=0)
    slices: int = Field(12, ge=1, le=1_000)
    sample_size: int = Field(5_000, ge=10, le=1_000_000)

    @model_validator(mode="after")
    def _bounded(self) -> WindowSettings:
        if self.max_records is None and self.duration_seconds is None:
            raise ValueError("window needs max_records, duration_seconds or both")
        return self


class ReferenceSettings(_Section):
    """How a reference upload becomes a profile."""

    bins: int = Field(10, ge=2, le=1_000)
    sample_size: int = Field(10_000, ge=10, le=1_000_000)
    max_categories: int = Field(50, ge=1, le=10_000)
    seed: int = 0


class DriftSettings(_Section):
    """What makes a feature count as drifted in the per-model share and the JSON report."""

    method: DriftMethod = "psi"
    alpha: float = Field(0.01, gt=0, lt=1)
    correction: Correction = "benjamini_hochberg"
    #: Effect floors (exporter.evaluation.decision): each ~ a 0.075 sd mean shift.
    psi_threshold: float = Field(0.005, gt=0)
    jensen_shannon_threshold: float = Field(0.03, gt=0, le=1)
    wasserstein_normalized_threshold: float = Field(0.075, gt=0)
    #: Kept for old configs; PSI now adds half a count to every bin (exporter.stats.psi).
    psi_smoothing: float = Field(1e-4, gt=0, lt=0.5)
    #: Valid values a column needs to be judged; None: 5 per reference bin, at most 50.
    min_valid_records: int | None = Field(None, ge=1)


class PoolingSettings(_Section):
    """What a sidecar exports so that Prometheus can pool the windows of a model's replicas
    (docs/metrics.md, "Pooling across replicas"): per-reference-bin window counts, the
    reference's bin counts, data-quality counts and the noise quantile's z.

    Bound: a feature (or prediction) with more than `max_bins_per_feature` reference bins
    exports no bin series, so each model adds at most 2 x max_bins_per_feature x (features + 1)
    bin series."""

    enabled: bool = True
    max_bins_per_feature: int = Field(64, ge=2, le=10_001)


class LimitSettings(_Section):
    """Caps on what one client can make the sidecar hold."""

    max_body_bytes: int = Field(64 * 1024 * 1024, ge=1_024)
    max_records_per_request: int = Field(100_000, ge=1)
    max_models: int = Field(100, ge=1)
    max_features_per_model: int = Field(200, ge=1)


class LabelSettings(_Section):
    """Ground truth: the join buffer that waits for late labels, and the labelled window.

    Bounds, per model: at most `max_pending` predictions wait for their label (the oldest is
    evicted when full), each at most `max_age_seconds`; at most `window_max_labels`
    (prediction, label) pairs feed the performance gauges, the oldest dropped first.
    """

    max_pending: int = Field(100_000, ge=1)
    max_age_seconds: float = Field(86_400.0, gt=0, allow_inf_nan=False)
    window_max_labels: int = Field(10_000, ge=1)
    min_labels: int = Field(100, ge=1)


class CloudEventSettings(_Section):
    """The buffer that holds a KServe logger event until its other half (request or response)
    arrives. Each held event counts the bytes of the HTTP body it came from; when either bound
    is passed the oldest are evicted, and an event older than `max_age_seconds` expires."""

    max_pending: int = Field(10_000, ge=1)
    max_pending_bytes: int = Field(64 * 1024 * 1024, ge=1)
    max_age_seconds: float = Field(60.0, gt=0, allow_inf_nan=False)


#: The detector defaults, written once (exporter.truth.concept.DetectorSettings).
_DETECTOR_DEFAULTS = DetectorSettings()


class ConceptDriftSettings(_Section):
    """Parameters of the error-stream change detectors (exporter.truth.concept.DetectorSettings).

    Defaults measured by bench/bench_detectors.py (docs/ground-truth.md): under one false alarm
    per 100,000 stationary records per detector. Page-Hinkley is one-sided on standardized
    errors, so its `delta` and `threshold` are in standard deviations of the error stream
    (set `page_hinkley_standardize: false` for the error's own units, as river has them).
    """

    adwin_delta: float = Field(_DETECTOR_DEFAULTS.adwin_delta, gt=0, lt=1)
    page_hinkley_min_instances: int = Field(_DETECTOR_DEFAULTS.page_hinkley_min_instances, ge=0)
    page_hinkley_delta: float = Field(
        _DETECTOR_DEFAULTS.page_hinkley_delta, ge=0, allow_inf_nan=False
    )
    page_hinkley_threshold: float = Field(
        _DETECTOR_DEFAULTS.page_hinkley_threshold, ge=0, allow_inf_nan=False
    )
    page_hinkley_alpha: float = Field(_DETECTOR_DEFAULTS.page_hinkley_alpha, gt=0, le=1)
    page_hinkley_direction: Literal["up", "both"] = _DETECTOR_DEFAULTS.page_hinkley_direction
    page_hinkley_standardize: bool = _DETECTOR_DEFAULTS.page_hinkley_standardize
    ddm_warm_start: int = Field(_DETECTOR_DEFAULTS.ddm_warm_start, ge=0)
    ddm_drift_threshold: float = Field(
        _DETECTOR_DEFAULTS.ddm_drift_threshold, ge=0, allow_inf_nan=False
    )

    def detector_settings(self) -> DetectorSettings:
        return DetectorSettings(**self.model_dump())


class AuthSettings(_Section):
    """Bearer-token auth; with no token configured every route is open (the default)."""

    token: SecretStr | None = None
    token_file: Path | None = None
    protect_reads: bool = False
    protect_metrics: bool = False


class TlsSettings(_Section):
    """Serve HTTPS when both files are given."""

    cert_file: Path | None = None
    key_file: Path | None = None

    @model_validator(mode="after")
    def _both_or_neither(self) -> TlsSettings:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("tls needs both cert_file and key_file")
        return self


class ModelSettings(_Section):
    """Per-model declarations; anything left out is inferred from the reference."""

    features: dict[str, FeatureKind] = Field(default_factory=dict)
    prediction_type: FeatureKind | None = None
    prediction_column: str | None = None
    label_column: str | None = None
    min_records: int | None = Field(None, ge=1)
    task: Task | None = None
    positive_class: str | int | float | bool | None = None
    decision_threshold: float = Field(0.5, allow_inf_nan=False)
    min_labels: int | None = Field(None, ge=1)
    #: A profile file or raw reference data loaded at start (exporter.window.references):
    #: a path, a file:// URL or an http(s):// URL.
    reference: str | None = Field(None, min_length=1)


class Settings(BaseSettings):
    """Everything the sidecar can be told; see the README's configuration reference."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter=ENV_NESTED_DELIMITER,
        extra="forbid",
        frozen=True,
    )

    host: str = "0.0.0.0"
    port: int = Field(DEFAULT_PORT, ge=1, le=65_535)
    #: "HOST:PORT" of a second listener that alone takes writes (exporter.listen); None: one.
    ingest_listen: str | None = None
    log_level: Literal["critical", "error", "warning", "info", "debug"] = "info"
    log_format: LogFormat = "text"
    evaluation_interval_seconds: float = Field(15.0, gt=0)
    evaluation_worker: Literal["process", "thread"] = "process"
    min_records: int = Field(100, ge=1)
    prediction_column: str = "prediction"
    label_column: str = "label"
    window: WindowSettings = WindowSettings()
    reference: ReferenceSettings = ReferenceSettings()
    drift: DriftSettings = DriftSettings()
    pooling: PoolingSettings = PoolingSettings()
    limits: LimitSettings = LimitSettings()
    labels: LabelSettings = LabelSettings()
    concept_drift: ConceptDriftSettings = ConceptDriftSettings()
    cloudevents: CloudEventSettings = CloudEventSettings()
    models: dict[str, ModelSettings] = Field(default_factory=dict)
    auth: AuthSettings = AuthSettings()
    tls: TlsSettings = TlsSettings()
    state_dir: Path | None = None
    snapshot_interval_seconds: float = Field(60.0, gt=0)
    shutdown_timeout_seconds: float = Field(10.0, gt=0)
    #: How often a configured reference file is checked for a change (and re-read).
    reference_poll_interval_seconds: float = Field(5.0, gt=0)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        check_environment(os.environ, settings_cls)
        yaml_file = settings_cls.model_config.get("yaml_file")
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if yaml_file:
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=yaml_file))
        return tuple(sources)

    @field_validator("ingest_listen")
    @classmethod
    def _ingest_listen(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and parse_address(value).port == info.data.get("port"):
            raise ValueError(f"ingest_listen {value!r} needs a port other than port")
        return value

    @property
    def ingest_address(self) -> Address | None:
        """`ingest_listen` parsed, or None when every route is on `host`/`port`."""
        return None if self.ingest_listen is None else parse_address(self.ingest_listen)

    def model_for(self, model: str) -> ModelSettings:
        """The declarations for `model`, empty when the config names none."""
        return self.models.get(model, _NO_MODEL_SETTINGS)

    def min_records_for(self, model: str) -> int:
        declared = self.model_for(model).min_records
        return self.min_records if declared is None else declared

    def min_labels_for(self, model: str) -> int:
        declared = self.model_for(model).min_labels
        return self.labels.min_labels if declared is None else declared


_NO_MODEL_SETTINGS = ModelSettings()


class ConfigError(Exception):
    """The config file is missing, unreadable or invalid; the message says which key."""


def check_environment(environ: Mapping[str, str], settings_cls: type[BaseModel] = Settings) -> None:
    """ConfigError naming every DRIFT_EXPORTER_* variable in `environ` that sets nothing.

    A variable must name a key the way pydantic-settings reads it (case-insensitively): a
    top-level key (`DRIFT_EXPORTER_PORT`, or a whole section as JSON: `DRIFT_EXPORTER_WINDOW`),
    a section's key (`DRIFT_EXPORTER_WINDOW__MAX_RECORDS`), or under `models` any model name
    then its keys (`DRIFT_EXPORTER_MODELS__CREDIT__MIN_RECORDS`). The nearest valid name is
    suggested when one is close (difflib). Values are never shown: a misspelt token is a secret.
    """
    problems = []
    for name in sorted(environ):
        if name.upper().startswith(ENV_PREFIX):
            problem = _unknown_variable(name, settings_cls)
            if problem is not None:
                problems.append(problem)
    if problems:
        raise ConfigError("; ".join(problems))


def _unknown_variable(name: str, settings_cls: type[BaseModel]) -> str | None:
    """Why `name` sets nothing, or None when it names a key."""
    parts = name[len(ENV_PREFIX) :].lower().split(ENV_NESTED_DELIMITER)
    walked: list[str] = []
    level: Any = settings_cls
    for part in parts:
        keys, values = _children(level)
        if keys is None and part:  # a mapping (`models`): any key, then its value's keys
            level = values
        elif keys is not None and part in keys:
            level = keys[part]
        else:
            if walked:
                options = [ENV_NESTED_DELIMITER.join([*walked, key]) for key in keys or ()]
            else:
                options = _variable_names(settings_cls)
            close = difflib.get_close_matches(
                name[len(ENV_PREFIX) :].upper(), [option.upper() for option in options], n=1
            )
            hint = f" (did you mean {ENV_PREFIX}{close[0]}?)" if close else ""
            return f"unknown environment variable {name}{hint}"
        walked.append(part)
    return None


def _children(annotation: Any) -> tuple[dict[str, Any] | None, Any]:
    """(keys -> annotations, None) for a model, (None, value annotation) for a mapping, and
    ({}, None) for a value, which has no keys below it; `X | None` is read as X."""
    if get_origin(annotation) in (Union, types.UnionType):
        for member in get_args(annotation):
            keys, values = _children(member)
            if keys is None or keys:
                return keys, values
        return {}, None
    if get_origin(annotation) is dict:
        return None, get_args(annotation)[1]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return {key: field.annotation for key, field in annotation.model_fields.items()}, None
    return {}, None


def _variable_names(settings_cls: type[BaseModel]) -> list[str]:
    """Every top-level key and every section's key, as variable names without the prefix."""
    names = []
    for key, field in settings_cls.model_fields.items():
        names.append(key)
        keys, _ = _children(field.annotation)
        names.extend(f"{key}{ENV_NESTED_DELIMITER}{child}" for child in keys or ())
    return names


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Settings from `config_file` (YAML), the environment and `overrides`, in that rising order."""
    try:
        if config_file is None:
            return Settings(**overrides)
        if not config_file.is_file():
            raise ConfigError(f"config file {config_file} does not exist")

        class FileSettings(Settings):
            model_config = SettingsConfigDict(yaml_file=config_file)

        return FileSettings(**overrides)
    except ConfigError:
        raise
    except Exception as error:  # pydantic.ValidationError, yaml.YAMLError, OSError
        raise ConfigError(f"invalid configuration: {error}") from error
