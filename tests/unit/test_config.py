"""Settings: defaults, the YAML file, DRIFT_EXPORTER_* env overrides, explicit overrides, errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel

from exporter.api.auth import load_token
from exporter.settings import (
    DEFAULT_PORT,
    AuthSettings,
    ConceptDriftSettings,
    ConfigError,
    LabelSettings,
    ReferenceSettings,
    Settings,
    WindowSettings,
    check_environment,
    load_settings,
)
from exporter.truth.concept import DetectorSettings


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "drift-exporter.yml"
    path.write_text(text, encoding="utf-8")
    return path


# defaults


def test_defaults_listen_on_9808_and_evaluate_every_15_seconds() -> None:
    settings = load_settings()
    assert DEFAULT_PORT == 9808
    assert settings.port == 9808
    assert settings.host == "0.0.0.0"
    assert settings.evaluation_interval_seconds == 15.0
    assert settings.min_records == 100


def test_default_window_is_10000_records_or_one_hour_in_12_slices() -> None:
    window = Settings().window
    assert window.max_records == 10_000
    assert window.duration_seconds == 3_600.0
    assert window.slices == 12
    assert window.sample_size == 5_000


def test_default_reference_drift_and_limit_sections() -> None:
    settings = Settings()
    assert settings.reference == ReferenceSettings(
        bins=10, sample_size=10_000, max_categories=50, seed=0
    )
    assert settings.drift.method == "psi"
    assert settings.drift.alpha == 0.01
    assert settings.drift.correction == "benjamini_hochberg"
    assert settings.limits.max_models == 100
    assert settings.prediction_column == "prediction"
    assert settings.label_column == "label"
    assert settings.models == {}


# the YAML file


def test_load_settings_reads_every_section_from_yaml(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """
port: 9999
evaluation_interval_seconds: 5
min_records: 50
window:
  max_records: 2000
  duration_seconds: 600
  slices: 4
reference:
  bins: 20
drift:
  method: psi
  correction: bonferroni
models:
  fraud:
    min_records: 10
    features:
      zip: categorical
""",
    )
    settings = load_settings(path)
    assert settings.port == 9999
    assert settings.evaluation_interval_seconds == 5.0
    assert settings.min_records == 50
    assert settings.window == WindowSettings(
        max_records=2000, duration_seconds=600.0, slices=4, sample_size=5_000
    )
    assert settings.reference.bins == 20
    assert settings.drift.method == "psi"
    assert settings.drift.correction == "bonferroni"
    assert settings.models["fraud"].features == {"zip": "categorical"}


def test_env_variable_beats_the_yaml_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _write(tmp_path, "window:\n  max_records: 500\n  slices: 4\n")
    monkeypatch.setenv("DRIFT_EXPORTER_WINDOW__MAX_RECORDS", "2000")
    settings = load_settings(path)
    assert settings.window.max_records == 2000
    # Only the overridden key changes: the file's other keys in the same section survive.
    assert settings.window.slices == 4


def test_env_variable_applies_without_a_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRIFT_EXPORTER_EVALUATION_INTERVAL_SECONDS", "2.5")
    assert load_settings().evaluation_interval_seconds == 2.5


def test_explicit_overrides_beat_env_and_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _write(tmp_path, "port: 7000\nmin_records: 10\n")
    monkeypatch.setenv("DRIFT_EXPORTER_PORT", "8000")
    monkeypatch.setenv("DRIFT_EXPORTER_MIN_RECORDS", "20")
    settings = load_settings(path, port=9000)
    assert settings.port == 9000
    # Not overridden explicitly: the environment still beats the file.
    assert settings.min_records == 20


def test_explicit_overrides_beat_env_without_a_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRIFT_EXPORTER_PORT", "8000")
    assert load_settings(port=9001).port == 9001


# errors


def test_unknown_top_level_key_in_yaml_is_a_config_error_naming_the_key(tmp_path: Path) -> None:
    path = _write(tmp_path, "evaluation_interval: 10\n")
    with pytest.raises(ConfigError, match="evaluation_interval"):
        load_settings(path)


def test_unknown_nested_key_in_yaml_is_a_config_error_naming_the_key(tmp_path: Path) -> None:
    path = _write(tmp_path, "window:\n  max_record: 10\n")
    with pytest.raises(ConfigError, match="max_record"):
        load_settings(path)


def test_window_with_neither_bound_is_a_config_error(tmp_path: Path) -> None:
    path = _write(tmp_path, "window:\n  max_records: null\n  duration_seconds: null\n")
    with pytest.raises(ConfigError, match="window"):
        load_settings(path)


def test_window_with_only_an_age_bound_is_accepted(tmp_path: Path) -> None:
    path = _write(tmp_path, "window:\n  max_records: null\n  duration_seconds: 60\n")
    window = load_settings(path).window
    assert window.max_records is None
    assert window.duration_seconds == 60.0


def test_missing_config_file_is_a_config_error_naming_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yml"
    with pytest.raises(ConfigError, match=r"nope\.yml"):
        load_settings(missing)


def test_out_of_range_value_is_a_config_error_naming_the_key(tmp_path: Path) -> None:
    path = _write(tmp_path, "port: 70000\n")
    with pytest.raises(ConfigError, match="port"):
        load_settings(path)


def test_malformed_yaml_is_a_config_error(tmp_path: Path) -> None:
    path = _write(tmp_path, "window: [unclosed\n")
    with pytest.raises(ConfigError):
        load_settings(path)


def test_invalid_env_value_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRIFT_EXPORTER_PORT", "not-a-port")
    with pytest.raises(ConfigError, match="port"):
        load_settings()


# per-model settings


def test_min_records_for_uses_the_model_declaration_else_the_global_default() -> None:
    settings = Settings(min_records=500, models={"fraud": {"min_records": 50}, "churn": {}})
    assert settings.min_records_for("fraud") == 50
    assert settings.min_records_for("churn") == 500
    assert settings.min_records_for("never-configured") == 500


def test_model_for_an_unconfigured_model_declares_nothing() -> None:
    declarations = Settings().model_for("anything")
    assert declarations.features == {}
    assert declarations.prediction_type is None
    assert declarations.min_records is None


def test_default_labels_and_concept_drift_sections() -> None:
    settings = Settings()
    assert settings.labels == LabelSettings(
        max_pending=100_000, max_age_seconds=86_400.0, window_max_labels=10_000, min_labels=100
    )
    detectors = settings.concept_drift.detector_settings()
    # the measured defaults (bench/bench_detectors.py), one-sided standardized Page-Hinkley
    assert detectors == DetectorSettings()
    assert (detectors.page_hinkley_direction, detectors.page_hinkley_standardize) == ("up", True)
    assert (detectors.page_hinkley_delta, detectors.page_hinkley_threshold) == (0.25, 40.0)
    assert (detectors.page_hinkley_alpha, detectors.ddm_warm_start) == (1.0, 2_000)


def test_concept_drift_settings_mirror_every_detector_setting() -> None:
    assert set(ConceptDriftSettings.model_fields) == set(DetectorSettings.__dataclass_fields__)


@pytest.mark.parametrize(
    ("line", "where"),
    [
        ("page_hinkley_direction: down", "concept_drift.page_hinkley_direction"),
        ("page_hinkley_standardize: maybe", "concept_drift.page_hinkley_standardize"),
        ("page_hinkley_alpha: 1.5", "concept_drift.page_hinkley_alpha"),
    ],
)
def test_a_bad_concept_drift_key_is_a_config_error_naming_it(
    tmp_path: Path, line: str, where: str
) -> None:
    path = tmp_path / "config.yml"
    path.write_text(f"concept_drift:\n  {line}\n")
    with pytest.raises(ConfigError, match=where.replace(".", r"\W+")):
        load_settings(path)


def test_page_hinkley_direction_and_standardize_load_from_yaml_and_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "config.yml"
    path.write_text("concept_drift: {page_hinkley_direction: both}\n")
    monkeypatch.setenv("DRIFT_EXPORTER_CONCEPT_DRIFT__PAGE_HINKLEY_STANDARDIZE", "false")
    detectors = load_settings(path).concept_drift.detector_settings()
    assert (detectors.page_hinkley_direction, detectors.page_hinkley_standardize) == (
        "both",
        False,
    )


def test_ground_truth_keys_load_from_yaml_and_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config.yml"
    config.write_text(
        "labels: {max_pending: 50, max_age_seconds: 60, window_max_labels: 20, min_labels: 5}\n"
        "concept_drift: {page_hinkley_threshold: 100, ddm_warm_start: 30}\n"
        "models:\n"
        "  credit: {task: classification, positive_class: 'yes', decision_threshold: 0.3,"
        " min_labels: 7}\n"
    )
    monkeypatch.setenv("DRIFT_EXPORTER_LABELS__MAX_PENDING", "60")
    settings = load_settings(config)
    assert settings.labels.max_pending == 60
    assert settings.labels.window_max_labels == 20
    assert settings.concept_drift.page_hinkley_threshold == 100.0
    assert settings.concept_drift.detector_settings().ddm_warm_start == 30
    credit = settings.model_for("credit")
    assert (credit.task, credit.positive_class, credit.decision_threshold) == (
        "classification",
        "yes",
        0.3,
    )
    assert settings.min_labels_for("credit") == 7
    assert settings.min_labels_for("other") == 5


@pytest.mark.parametrize(
    "text",
    [
        "labels: {max_pending: 0}\n",
        "labels: {max_age_seconds: .inf}\n",
        "concept_drift: {adwin_delta: 1.5}\n",
        "concept_drift: {page_hinkley_alpha: 0}\n",
        "models: {m: {task: ranking}}\n",
        "labels: {min_label: 3}\n",
    ],
)
def test_invalid_ground_truth_settings_are_config_errors(tmp_path: Path, text: str) -> None:
    config = tmp_path / "config.yml"
    config.write_text(text)
    with pytest.raises(ConfigError):
        load_settings(config)


# auth.token_file


def test_an_unreadable_token_file_is_a_config_error_naming_key_and_path(tmp_path: Path) -> None:
    missing, directory, binary = tmp_path / "missing", tmp_path / "dir", tmp_path / "binary"
    directory.mkdir()
    binary.write_bytes(b"\xff")
    expected = {
        missing: "cannot read: No such file or directory",
        directory: "cannot read: Is a directory",
        binary: r"cannot read: not UTF-8 text \(byte 0\)",
    }
    for path, problem in expected.items():
        with pytest.raises(ConfigError, match=rf"^auth\.token_file {path}: {problem}$"):
            load_token(AuthSettings(token_file=path))


def test_a_token_file_is_read_stripped(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("  s3cret\n", encoding="utf-8")
    assert load_token(AuthSettings(token_file=path)) == b"s3cret"


# DRIFT_EXPORTER_* variables that name no key


def test_a_misspelt_top_level_variable_is_a_config_error_suggesting_the_right_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DRIFT_EXPORTER_EVALUATION_INTERVAL_SECOND", "5")
    with pytest.raises(ConfigError) as raised:
        load_settings()
    assert str(raised.value) == (
        "unknown environment variable DRIFT_EXPORTER_EVALUATION_INTERVAL_SECOND"
        " (did you mean DRIFT_EXPORTER_EVALUATION_INTERVAL_SECONDS?)"
    )


@pytest.mark.parametrize(
    ("given", "suggested"),
    [
        ("DRIFT_EXPORTER_WINDOW_MAX_RECORDS", "DRIFT_EXPORTER_WINDOW__MAX_RECORDS"),
        ("DRIFT_EXPORTER_WINDOW__MAX_RECORD", "DRIFT_EXPORTER_WINDOW__MAX_RECORDS"),
        ("DRIFT_EXPORTER_LOGLEVEL", "DRIFT_EXPORTER_LOG_LEVEL"),
        ("drift_exporter_min_record", "DRIFT_EXPORTER_MIN_RECORDS"),
        ("DRIFT_EXPORTER_MODELS__credit__MIN_RECORD", "DRIFT_EXPORTER_MODELS__CREDIT__MIN_RECORDS"),
    ],
)
def test_a_close_misspelling_gets_the_nearest_valid_name_including_nested_forms(
    given: str, suggested: str
) -> None:
    with pytest.raises(ConfigError, match=rf"^unknown environment variable {given} \(did you "):
        check_environment({given: "1"})
    with pytest.raises(ConfigError, match=rf"\(did you mean {suggested}\?\)$"):
        check_environment({given: "1"})


@pytest.mark.parametrize(
    "name", ["DRIFT_EXPORTER_FROBNICATE", "DRIFT_EXPORTER_", "DRIFT_EXPORTER_PORT__HOST"]
)
def test_a_variable_naming_nothing_near_a_key_gets_no_suggestion(name: str) -> None:
    with pytest.raises(ConfigError) as raised:
        check_environment({name: "1"})
    assert str(raised.value) == f"unknown environment variable {name}"


def test_every_unknown_variable_is_named_and_no_value_is_shown() -> None:
    environ = {"DRIFT_EXPORTER_AUTH__TOKN": "s3cret-value", "DRIFT_EXPORTER_PROT": "8000"}
    with pytest.raises(ConfigError) as raised:
        check_environment(environ)
    message = str(raised.value)
    assert "DRIFT_EXPORTER_AUTH__TOKN (did you mean DRIFT_EXPORTER_AUTH__TOKEN?)" in message
    assert "DRIFT_EXPORTER_PROT (did you mean DRIFT_EXPORTER_PORT?)" in message
    assert "s3cret" not in message and "8000" not in message
    assert "\n" not in message


def test_every_key_and_section_key_is_a_valid_variable_name() -> None:
    names = []
    for key, field in Settings.model_fields.items():
        names.append(f"DRIFT_EXPORTER_{key.upper()}")
        section = field.annotation
        if isinstance(section, type) and issubclass(section, BaseModel):
            names.extend(
                f"DRIFT_EXPORTER_{key.upper()}__{sub.upper()}" for sub in section.model_fields
            )
    assert "DRIFT_EXPORTER_WINDOW__MAX_RECORDS" in names
    check_environment(dict.fromkeys(names, "1"))  # raises on any unknown name


def test_valid_nested_lowercase_and_per_model_variables_still_load(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DRIFT_EXPORTER_WINDOW__MAX_RECORDS", "2000")
    monkeypatch.setenv("drift_exporter_min_records", "20")
    monkeypatch.setenv("DRIFT_EXPORTER_REFERENCE", '{"bins": 7}')
    monkeypatch.setenv("DRIFT_EXPORTER_MODELS__credit__MIN_RECORDS", "5")
    monkeypatch.setenv("DRIFT_EXPORTER_MODELS__credit__FEATURES__zip", "categorical")
    monkeypatch.setenv("DRIFT_EXPORTER_AUTH__TOKEN", "s3cret")
    settings = load_settings()
    assert settings.window.max_records == 2000
    assert settings.min_records == 20
    assert settings.reference.bins == 7
    assert settings.models["credit"].min_records == 5
    assert settings.models["credit"].features == {"zip": "categorical"}
    assert settings.auth.token is not None


# logging


def test_log_format_defaults_to_text_and_reads_json_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert Settings().log_format == "text"
    assert Settings().log_level == "info"
    monkeypatch.setenv("DRIFT_EXPORTER_LOG_FORMAT", "json")
    assert load_settings().log_format == "json"


def test_an_unknown_log_format_is_a_config_error_naming_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="log_format"):
        load_settings(_write(tmp_path, "log_format: xml\n"))
