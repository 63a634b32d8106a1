"""The reference documents are the sidecar's contract: config, routes and metrics.

docs/configuration.md's block is a config the sidecar accepts, key for key, at the real
defaults (and the README's short block too); the README's HTTP API table and docs/api.md name
every route the app serves; docs/metrics.md names every metric family /metrics exposes (the
golden exposition of tests/integration, which that suite proves equal to the real output, plus
the snapshot counters that appear only with a state directory) and no metric that does not
exist, and the README's short metrics table names only metrics that exist.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from exporter.app import create_app
from exporter.errors import REJECT_REASONS
from exporter.prometheus.collectors import PersistenceCollector
from exporter.prometheus.references import ReferenceCollector
from exporter.settings import Settings, load_settings
from exporter.truth.concept import DETECTORS
from exporter.window.counters import INVALID_REASONS
from exporter.window.persistence import StateDirectory
from exporter.window.references import ReferenceLoader
from exporter.window.store import WindowStore

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
CONFIGURATION = ROOT / "docs" / "configuration.md"
API = ROOT / "docs" / "api.md"
METRICS = ROOT / "docs" / "metrics.md"
GOLDEN = ROOT / "tests" / "integration" / "golden" / "metrics_seeded.txt"
#: `drift_prediction_<x>`: a family of names written as a prefix and a placeholder.
PLACEHOLDER = re.compile(r"`(drift_[a-z0-9_]*_)<[a-z]+>`")
METRIC_NAME = re.compile(r"`(drift_[a-z0-9_]+)`")


def _section(title: str) -> str:
    """The text under `## <title>` up to the next second-level heading."""
    text = README.read_text()
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : None if end == -1 else end]


def _exposed_metric_families(tmp_path: Path) -> set[str]:
    golden = GOLDEN.read_text()
    names = set(re.findall(r"^# TYPE (\S+) ", golden, re.M))
    state = StateDirectory(tmp_path / "state")
    state.stats.last_snapshot_at = 1_800_000_000.0  # the gauge appears after the first snapshot
    settings = Settings(models={"m": {"reference": str(tmp_path / "m.profile")}})
    loader = ReferenceLoader(settings, WindowStore(settings))  # with a configured reference
    for family in [*PersistenceCollector(state).collect(), *ReferenceCollector(loader).collect()]:
        # prometheus_client strips `_total` from a counter family's name; the exposition has it.
        names.add(f"{family.name}_total" if family.type == "counter" else family.name)
    return names


def _documented(name: str, literal: set[str], prefixes: set[str]) -> bool:
    """Named in full, or as `<prefix><x>` where some name in full ends in `_<x>`."""
    if name in literal:
        return True
    for prefix in prefixes:
        suffix = name.removeprefix(prefix)
        if suffix != name and any(other.endswith(f"_{suffix}") for other in literal):
            return True
    return False


def _yaml_block(text: str) -> str:
    block = re.search(r"```yaml\n(.*?)```", text, re.S)
    assert block is not None
    return block.group(1)


def _leaf_keys(value: object, prefix: str = "") -> set[str]:
    """Dotted paths of every leaf in a nested mapping."""
    if not isinstance(value, dict):
        return {prefix}
    keys: set[str] = set()
    for key, inner in value.items():
        keys |= _leaf_keys(inner, f"{prefix}.{key}" if prefix else str(key))
    return keys


def test_the_configuration_reference_names_every_key_at_its_real_default(
    tmp_path: Path,
) -> None:
    text = _yaml_block(CONFIGURATION.read_text())
    config = tmp_path / "config.yml"
    config.write_text(text)
    loaded = load_settings(config)
    defaults = Settings()
    # Everything but the example per-model declarations is documented at its default value.
    assert loaded.model_dump(exclude={"models"}) == defaults.model_dump(exclude={"models"})
    assert loaded.models["credit"].task == "classification"
    written = _leaf_keys(yaml.safe_load(text))
    every = _leaf_keys(defaults.model_dump(exclude={"models"}))
    assert not every - written, f"keys docs/configuration.md does not name: {every - written}"


def test_the_readme_configuration_example_loads_at_the_real_defaults(tmp_path: Path) -> None:
    config = tmp_path / "config.yml"
    config.write_text(_yaml_block(_section("Configuration")))
    loaded = load_settings(config)
    assert loaded.model_dump() == Settings().model_dump()
    assert "docs/configuration.md" in _section("Configuration")


def test_the_readme_states_the_environment_variable_form_of_every_key() -> None:
    section = _section("Configuration")
    assert "`DRIFT_EXPORTER_<KEY>`" in section
    assert "joined with `__`" in section
    assert "`DRIFT_EXPORTER_WINDOW__MAX_RECORDS=2000`" in section


@pytest.mark.parametrize("where", ["README", "docs/api.md"])
def test_the_api_tables_name_every_route_the_app_serves(where: str) -> None:
    schema = create_app(Settings(), run_scheduler=False).openapi()
    routes = {
        f"{method.upper()} {path}" for path, item in schema["paths"].items() for method in item
    }
    section = _section("HTTP API") if where == "README" else API.read_text()
    missing = sorted(route for route in routes if f"`{route}`" not in section)
    assert not missing, f"routes the {where} HTTP API table does not name: {missing}"
    documented = set(re.findall(r"`((?:GET|PUT|POST|DELETE) /v1/[^`]+)`", section))
    assert documented <= routes, f"documented but not served: {sorted(documented - routes)}"


def test_the_metrics_reference_names_every_exposed_metric_and_no_other(
    tmp_path: Path,
) -> None:
    exposed = _exposed_metric_families(tmp_path)
    section = METRICS.read_text()
    literal = set(METRIC_NAME.findall(section))
    prefixes = set(PLACEHOLDER.findall(section))
    missing = sorted(name for name in exposed if not _documented(name, literal, prefixes))
    assert not missing, f"metrics the README's Metrics section does not name: {missing}"
    unknown = sorted(literal - exposed)
    assert not unknown, f"the README names metrics /metrics does not expose: {unknown}"
    for prefix in prefixes:
        assert any(name.startswith(prefix) for name in exposed), prefix


def test_the_readme_names_only_metrics_that_exist(tmp_path: Path) -> None:
    exposed = _exposed_metric_families(tmp_path)
    named = set(METRIC_NAME.findall(_section("Metrics")))
    assert named, "the README names no metric"
    assert not named - exposed, (
        f"the README names metrics /metrics does not expose: {named - exposed}"
    )
    assert "docs/metrics.md" in _section("Metrics")


def test_the_metrics_reference_lists_every_label_value_set() -> None:
    section = METRICS.read_text()
    for values in (REJECT_REASONS, INVALID_REASONS, DETECTORS):
        assert ", ".join(values) in section, values


def test_the_quick_start_is_two_commands_that_set_up_the_same_venv() -> None:
    block = re.search(r"```sh\n(.*?)```", _section("Quick start"), re.S)
    assert block is not None
    commands = [line.split("#")[0].strip() for line in block.group(1).splitlines()]
    assert commands == ["bash scripts/demo", "bash .ci/run"]
    for script in ("scripts/demo", ".ci/run"):
        text = (ROOT / script).read_text()
        assert "source scripts/venv.sh" in text, script
        assert "pkill" not in text and "killall" not in text, script
    assert "exec drift-exporter demo" in (ROOT / "scripts/demo").read_text()
