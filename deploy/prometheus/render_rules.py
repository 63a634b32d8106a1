#!/usr/bin/env python3
"""Render the alerts' runbook links from one setting: the runbook's base URL.

The alerts' source is the monitoring mixin in deploy/mixin (jsonnet); `rules/drift_alerts.yml`
is its render. This script renders that file with `_config.runbookBaseUrl` set to the given
base (everything else at its default) through deploy/mixin/render.py, so every alert links
`<base>#alert-name-<alert name in lower case>` (the anchor GitHub gives the runbook heading
`## Alert Name: <AlertName>`). The checked-in file is the render with the default base;
`tests/deploy/test_runbook_links.py` proves it. For the job selector and the deployment labels
as well, use deploy/mixin/render.py --config.

    python3 deploy/prometheus/render_rules.py                     # the default base, in place
    python3 deploy/prometheus/render_rules.py --runbook-base-url https://wiki.example.com/drift
    python3 deploy/prometheus/render_rules.py --check             # exit 1 unless already rendered
    python3 deploy/prometheus/render_rules.py --runbook-base-url URL --output /tmp/drift_alerts.yml

Needs PyYAML and go-jsonnet's Python binding (`pip install gojsonnet`). Exit status: 0 done,
1 `--check` found a difference, 2 bad arguments or a mixin that does not render (the message
says which alert).
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

#: Where the runbook lives unless told otherwise: the repository's own copy on GitHub.
DEFAULT_RUNBOOK_BASE_URL = (
    "https://github.com/drift-exporter/drift-exporter/blob/main/docs/runbook.md"
)
#: The alert rules this script renders by default.
RULES = Path(__file__).resolve().parent / "rules" / "drift_alerts.yml"
MIXIN_RENDER = Path(__file__).resolve().parents[1] / "mixin" / "render.py"


def _load_mixin() -> ModuleType:
    spec = importlib.util.spec_from_file_location("drift_mixin_render", MIXIN_RENDER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


mixin = _load_mixin()
RenderError = mixin.RenderError
check_base = mixin.check_base
runbook_url = mixin.runbook_url


def render(base: str) -> str:
    """drift_alerts.yml as the mixin renders it with every `runbook_url` under `base`."""
    check_base(base)
    rendered: str = mixin.render_rule_files({"runbookBaseUrl": base})[RULES.name]
    return rendered


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Render drift_alerts.yml with every runbook_url under one base URL."
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
        rendered = render(args.runbook_base_url)
        text = args.rules.read_text(encoding="utf-8") if args.check else None
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
    if mixin.write_atomic(target, rendered):
        print(f"render_rules: {target}: runbook links under {args.runbook_base_url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
