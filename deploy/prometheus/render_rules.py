#!/usr/bin/env python3
"""Render the alerts' runbook links from one setting: the runbook's base URL.

`rules/drift_alerts.yml` stays the single source of the alerts. This script rewrites only its
`runbook_url` annotations, each to `<base>#alert-name-<alert name in lower case>` (the anchor
GitHub gives the runbook heading `## Alert Name: <AlertName>`), and leaves every other byte as
it is. The checked-in file is the render with the default base;
`tests/deploy/test_runbook_links.py` proves it.

    python3 deploy/prometheus/render_rules.py                     # the default base, in place
    python3 deploy/prometheus/render_rules.py --runbook-base-url https://wiki.example.com/drift
    python3 deploy/prometheus/render_rules.py --check             # exit 1 unless already rendered
    python3 deploy/prometheus/render_rules.py --runbook-base-url URL --output /tmp/drift_alerts.yml

Standard library and PyYAML only. Exit status: 0 done, 1 `--check` found a difference,
2 bad arguments or a rule file this script cannot render (the message says which alert).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

#: Where the runbook lives unless told otherwise: the repository's own copy on GitHub.
DEFAULT_RUNBOOK_BASE_URL = (
    "https://github.com/drift-exporter/drift-exporter/blob/main/docs/runbook.md"
)
#: The alert rules this script renders by default.
RULES = Path(__file__).resolve().parent / "rules" / "drift_alerts.yml"

_ALERT = re.compile(r"^\s*(?:-\s+)?alert:\s*(?P<name>.+?)\s*$")
_RUNBOOK_URL = re.compile(r"^(?P<indent>\s*)runbook_url:(?P<value>.*?)(?P<ending>\r?\n?)$")


class RenderError(ValueError):
    """A base URL or a rule file that cannot be rendered; the message says what and where."""


def runbook_url(base: str, alert: str) -> str:
    """The link of one alert: the base, then the anchor of its `## Alert Name:` heading."""
    return f"{base}#alert-name-{alert.lower()}"


def check_base(base: str) -> str:
    """The base URL, if usable: non-empty, no anchor, no whitespace, no template braces."""
    if not base:
        raise RenderError("--runbook-base-url is empty")
    if "#" in base:
        raise RenderError(f"--runbook-base-url {base!r} has an anchor ('#'): give the page only")
    if any(character.isspace() for character in base):
        raise RenderError(f"--runbook-base-url {base!r} contains whitespace")
    if "{{" in base or "}}" in base:
        # Annotation values are Go templates in Prometheus: braces would be evaluated.
        raise RenderError(f"--runbook-base-url {base!r} contains template braces")
    return base


def render(text: str, base: str) -> str:
    """`text` (an alert rule file) with every `runbook_url` pointing under `base`.

    Each `runbook_url:` line is given to the alert named last before it; the result is parsed
    back and every alert must then carry exactly its own link, so a layout this line-based
    rewrite does not understand (a multi-line value, an alert without the annotation) is
    refused, never written half-right.
    """
    check_base(base)
    lines = text.splitlines(keepends=True)
    alert: str | None = None
    for number, line in enumerate(lines, start=1):
        named = _ALERT.match(line)
        if named is not None:
            alert = str(yaml.safe_load(named.group("name")))
            continue
        link = _RUNBOOK_URL.match(line)
        if link is None:
            continue
        if alert is None:
            raise RenderError(f"line {number}: runbook_url before any alert")
        written = link.group("value").split(" #")[0].strip()
        if not written or written[0] in ">|":
            raise RenderError(
                f"line {number} (alert {alert}): runbook_url spans several lines; "
                "write it on one line"
            )
        value = json.dumps(runbook_url(base, alert))  # a JSON string is a YAML scalar
        lines[number - 1] = f"{link.group('indent')}runbook_url: {value}{link.group('ending')}"
    rendered = "".join(lines)
    _verify(rendered, base)
    return rendered


def _verify(rendered: str, base: str) -> None:
    try:
        document: Any = yaml.safe_load(rendered)
    except yaml.YAMLError as error:
        raise RenderError(f"the rendered rules are not YAML: {error}") from None
    for group in (document or {}).get("groups", []):
        for index, rule in enumerate(group.get("rules", [])):
            if "alert" not in rule:
                continue
            alert = rule["alert"]
            where = f"group {group.get('name')!r}, rules[{index}] (alert {alert})"
            found = (rule.get("annotations") or {}).get("runbook_url")
            if found is None:
                raise RenderError(f"{where}: no runbook_url annotation")
            if found != runbook_url(base, alert):
                raise RenderError(f"{where}: runbook_url rendered as {found!r}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Point every alert's runbook_url at the runbook under one base URL."
    )
    parser.add_argument(
        "--runbook-base-url",
        default=DEFAULT_RUNBOOK_BASE_URL,
        help=f"the runbook page, without an anchor (default: {DEFAULT_RUNBOOK_BASE_URL})",
    )
    parser.add_argument(
        "--rules", type=Path, default=RULES, help=f"the alert rule file (default: {RULES})"
    )
    parser.add_argument("--output", type=Path, help="write the render here instead of over --rules")
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 if the rule file differs from its render",
    )
    args = parser.parse_args(argv)
    try:
        text = args.rules.read_text(encoding="utf-8")
        rendered = render(text, args.runbook_base_url)
    except (OSError, RenderError) as error:
        print(f"render_rules: {error}", file=sys.stderr)
        return 2
    if args.check:
        if rendered != text:
            print(
                f"render_rules: {args.rules} is not the render with --runbook-base-url "
                f"{args.runbook_base_url}; run without --check to write it",
                file=sys.stderr,
            )
            return 1
        return 0
    target: Path = args.output or args.rules
    if target.exists() and target.read_text(encoding="utf-8") == rendered:
        return 0
    # Atomic: a reloading Prometheus never reads a half-written file. The temporary file is
    # created 0600; give it the mode the target had (or 0644) so Prometheus can still read it.
    mode = target.stat().st_mode & 0o777 if target.exists() else 0o644
    with tempfile.NamedTemporaryFile(
        "w", encoding="utf-8", dir=target.parent, prefix=f".{target.name}.", delete=False
    ) as handle:
        handle.write(rendered)
    os.chmod(handle.name, mode)
    os.replace(handle.name, target)
    print(f"render_rules: {target}: runbook links under {args.runbook_base_url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
