"""The README's configuration reference is a config the sidecar accepts, key for key."""

from __future__ import annotations

import re
from pathlib import Path

from exporter.settings import Settings, load_settings

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_configuration_block_loads_and_its_defaults_are_the_real_ones(
    tmp_path: Path,
) -> None:
    text = README.read_text()
    section = text[text.index("## Configuration") :]
    block = re.search(r"```yaml\n(.*?)```", section, re.S)
    assert block is not None
    config = tmp_path / "config.yml"
    config.write_text(block.group(1))
    loaded = load_settings(config)
    defaults = Settings()
    # Everything but the example per-model declarations is documented at its default value.
    assert loaded.model_dump(exclude={"models"}) == defaults.model_dump(exclude={"models"})
    assert loaded.models["credit"].task == "classification"
