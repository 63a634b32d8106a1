"""Read the Grafana dashboards in deploy/grafana/dashboards as data.

A plain helper module (no tests here). The deploy tests use it to check the
dashboards' structure; the end-to-end tests use ``dashboard_queries`` to run
every panel query against a live Prometheus::

    from dashboards import dashboard_queries          # tests/deploy on sys.path
    for title, expr in dashboard_queries(path, model="demo", time_range="10m"):
        ...  # GET /api/v1/query?query=expr

Import it by path from elsewhere (``importlib.util.spec_from_file_location``)
or as ``tests.deploy.dashboards`` when the repository root is on ``sys.path``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

DASHBOARD_DIR = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "dashboards"

# $name, ${name}, ${name:format} and the legacy [[name]].
_VARIABLE = re.compile(
    r"\$\{(?P<braced>\w+)(?::\w+)?\}|\$(?P<plain>\w+)(?![\w])|\[\[(?P<legacy>\w+)\]\]"
)


def load_dashboard(path: str | Path) -> dict[str, Any]:
    """The dashboard JSON as a dict."""
    with open(path, encoding="utf-8") as handle:
        dashboard: dict[str, Any] = json.load(handle)
    return dashboard


def iter_panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, rows included, with the panels of collapsed rows flattened in."""
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def query_panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel that queries a datasource (everything but rows)."""
    return (panel for panel in iter_panels(dashboard) if panel.get("type") != "row")


def substitute(
    expr: str,
    *,
    model: str = ".+",
    feature: str = ".+",
    rate_interval: str = "1m",
    interval: str = "15s",
    time_range: str = "1h",
) -> str:
    """Replace Grafana's variables in a query by the given values.

    ``$model`` and ``$feature`` appear inside ``=~"..."`` matchers, so pass a
    regular expression (a plain model name is one). An unknown variable raises
    ValueError rather than reaching Prometheus as a literal ``$``.
    """
    values = {
        "model": model,
        "feature": feature,
        "__rate_interval": rate_interval,
        "__interval": interval,
        "__range": time_range,
    }

    def replace(match: re.Match[str]) -> str:
        name = match.group("braced") or match.group("plain") or match.group("legacy")
        if name not in values:
            raise ValueError(f"unknown dashboard variable ${name} in {expr!r}")
        return values[name]

    return _VARIABLE.sub(replace, expr)


def dashboard_queries(
    path: str | Path,
    *,
    model: str = ".+",
    feature: str = ".+",
    rate_interval: str = "1m",
    interval: str = "15s",
    time_range: str = "1h",
    include_annotations: bool = False,
) -> list[tuple[str, str]]:
    """(panel title, PromQL) for every panel target, variables substituted.

    Substitutes ``$model``, ``$feature``, ``$__rate_interval``, ``$__interval``
    and ``$__range`` with the keyword arguments. With ``include_annotations``,
    Prometheus annotation queries are added with the title ``annotation: <name>``.
    """
    dashboard = load_dashboard(path)
    options = {
        "model": model,
        "feature": feature,
        "rate_interval": rate_interval,
        "interval": interval,
        "time_range": time_range,
    }
    queries: list[tuple[str, str]] = []
    for panel in query_panels(dashboard):
        for target in panel.get("targets", []):
            if target.get("hide"):
                continue
            queries.append((panel.get("title", ""), substitute(target["expr"], **options)))
    if include_annotations:
        for annotation in dashboard.get("annotations", {}).get("list", []):
            if annotation.get("expr"):
                title = f"annotation: {annotation.get('name', '')}"
                queries.append((title, substitute(annotation["expr"], **options)))
    return queries


def dashboard_paths() -> list[Path]:
    """The shipped dashboards, sorted."""
    return sorted(DASHBOARD_DIR.glob("*.json"))
