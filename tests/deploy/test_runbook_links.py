"""Runbook links: one base URL (the mixin's `_config.runbookBaseUrl`), rendered into the alert
rules by deploy/prometheus/render_rules.py, which delegates to deploy/mixin/render.py.

The checked-in drift_alerts.yml must be the render with the default base; every alert's link
must land on its `## Alert Name: <AlertName>` heading in docs/runbook.md; and rendering with
another base must change nothing but the base.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from deploy_support import PROMETHEUS_DIR, RULES_DIR, RUNBOOK, alert_rules, load_script

ALERTS_FILE = RULES_DIR / "drift_alerts.yml"
SCRIPT = PROMETHEUS_DIR / "render_rules.py"
OTHER_BASE = "https://wiki.example.com/ml/drift-runbook"


renderer = load_script(SCRIPT, "render_rules")


def _github_anchor(heading: str) -> str:
    """The id GitHub gives a Markdown heading: lower case, punctuation dropped, spaces to -."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _runbook_alert_anchors() -> dict[str, str]:
    headings = re.findall(r"^## (Alert Name: (\w+))$", RUNBOOK.read_text(), re.MULTILINE)
    return {alert: _github_anchor(heading) for heading, alert in headings}


def _without_runbook_urls(document: Any) -> Any:
    for group in document["groups"]:
        for rule in group["rules"]:
            rule.get("annotations", {}).pop("runbook_url", None)
    return document


def test_the_default_base_is_the_repository_runbook() -> None:
    assert renderer.DEFAULT_RUNBOOK_BASE_URL == (
        "https://github.com/drift-exporter/drift-exporter/blob/main/docs/runbook.md"
    )
    # ... and the mixin's default, which the script's default must follow
    assert renderer.mixin.evaluate()["config"]["runbookBaseUrl"] == (
        renderer.DEFAULT_RUNBOOK_BASE_URL
    )


def test_the_checked_in_alert_rules_equal_their_render_with_the_default_base() -> None:
    text = ALERTS_FILE.read_text()
    assert renderer.render(renderer.DEFAULT_RUNBOOK_BASE_URL) == text, (
        "drift_alerts.yml is not rendered: run python3 deploy/prometheus/render_rules.py"
    )


def test_every_alert_links_its_runbook_heading() -> None:
    anchors = _runbook_alert_anchors()
    rules = alert_rules()
    assert rules
    for rule in rules:
        alert = rule["alert"]
        base, _, anchor = rule["annotations"]["runbook_url"].partition("#")
        assert base == renderer.DEFAULT_RUNBOOK_BASE_URL, alert
        assert alert in anchors, f"docs/runbook.md has no heading '## Alert Name: {alert}'"
        assert anchor == anchors[alert] == f"alert-name-{alert.lower()}", alert


def test_rendering_with_another_base_changes_only_the_base() -> None:
    text = ALERTS_FILE.read_text()
    rendered = renderer.render(OTHER_BASE)
    before, after = text.splitlines(), rendered.splitlines()
    assert len(before) == len(after)
    changed = [(old, new) for old, new in zip(before, after, strict=True) if old != new]
    assert len(changed) == sum("runbook_url:" in line for line in before) > 0
    default = renderer.DEFAULT_RUNBOOK_BASE_URL
    for old, new in changed:
        assert new == old.replace(default, OTHER_BASE), (old, new)
    # Parsed, the rules are the same but for the links, which keep their anchors.
    old_rules, new_rules = yaml.safe_load(text), yaml.safe_load(rendered)
    for old_rule, new_rule in zip(
        (r for g in old_rules["groups"] for r in g["rules"] if "alert" in r),
        (r for g in new_rules["groups"] for r in g["rules"] if "alert" in r),
        strict=True,
    ):
        old_url, new_url = (
            old_rule["annotations"]["runbook_url"],
            new_rule["annotations"]["runbook_url"],
        )
        assert new_url.split("#") == [OTHER_BASE, old_url.split("#")[1]]
    assert _without_runbook_urls(old_rules) == _without_runbook_urls(new_rules)
    # And back: rendering is a function of the base alone.
    assert renderer.render(default) == text


@pytest.mark.parametrize(
    ("base", "complaint"),
    [
        ("", "empty"),
        ("https://example.com/runbook#top", "anchor"),
        ("https://example.com/run book", "whitespace"),
        ("https://example.com/{{$labels.model}}", "template braces"),
    ],
)
def test_an_unusable_base_is_refused_saying_why(base: str, complaint: str) -> None:
    with pytest.raises(renderer.RenderError, match=complaint):
        renderer.render(base)


def test_an_alert_without_a_runbook_url_is_refused_by_name() -> None:
    document = yaml.safe_load("""groups:
  - name: g
    rules:
      - alert: HasOne
        expr: vector(1)
        annotations:
          runbook_url: https://wiki.example.com/ml/drift-runbook#alert-name-hasone
      - alert: LacksOne
        expr: vector(1)
        annotations:
          summary: Nothing to link.
""")
    with pytest.raises(
        renderer.RenderError, match=r"x.yml: .*rules\[1\] \(alert LacksOne\): no runbook_url"
    ):
        renderer.mixin.check_runbook_links("x.yml", document, OTHER_BASE)


def test_a_link_not_rendered_from_the_base_is_refused_by_name() -> None:
    # e.g. a runbook_url written as a literal in the jsonnet instead of from _config
    document = {
        "groups": [
            {
                "name": "g",
                "rules": [
                    {
                        "alert": "Literal",
                        "expr": "vector(1)",
                        "annotations": {"runbook_url": "docs/runbook.md#alert-name-literal"},
                    }
                ],
            }
        ]
    }
    with pytest.raises(renderer.RenderError, match=r"\(alert Literal\): runbook_url rendered as"):
        renderer.mixin.check_runbook_links("x.yml", document, OTHER_BASE)


def test_the_script_checks_renders_in_place_and_keeps_the_file_mode(tmp_path: Path) -> None:
    rules = tmp_path / "drift_alerts.yml"
    rules.write_text(ALERTS_FILE.read_text())
    rules.chmod(0o644)

    def run(*arguments: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(SCRIPT), "--rules", str(rules), *arguments],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    assert run("--check").returncode == 0
    assert run("--check", "--runbook-base-url", OTHER_BASE).returncode == 1
    written = run("--runbook-base-url", OTHER_BASE)
    assert written.returncode == 0, written.stderr
    assert f"{OTHER_BASE}#alert-name-modeldriftfeatureshift" in rules.read_text()
    assert rules.stat().st_mode & 0o777 == 0o644
    assert run("--check", "--runbook-base-url", OTHER_BASE).returncode == 0
    refused = run("--runbook-base-url", "https://example.com/runbook#top")
    assert refused.returncode == 2 and "anchor" in refused.stderr
    output = tmp_path / "rendered.yml"
    assert run("--output", str(output)).returncode == 0
    assert output.read_text() == ALERTS_FILE.read_text()
