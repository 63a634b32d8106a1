"""Read the Grafana dashboards in deploy/grafana/dashboards as data.

A plain helper module (no tests here). The deploy tests use it to check the
dashboards' structure; the end-to-end tests use ``dashboard_queries`` to run
every panel query against a live Prometheus::

    from dashboards import dashboard_queries          # tests/deploy on sys.path
    for title, expr in dashboard_queries(path, model="demo", time_range="10m"):
        ...  # GET /api/v1/query?query=expr

``POOLED_RULES`` names the pooled recording rules of issue 14's fleet contract, which the
fleet panels read; ``selectors`` splits a query into its series selectors.

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

#: The pooled recording rules of the fleet contract (issue 14; deploy/prometheus/rules/
#: drift_pooled.yml): every replica's window together, `sum without (instance, pod)`.
POOLED_RULES = frozenset(
    {
        "model_feature:drift_window_records:pooled",
        *(
            f"model_feature:drift_feature_{metric}:pooled"
            for metric in (
                "psi",
                "jensen_shannon",
                "chi2_statistic",
                "valid_records",
                "psi_critical",
                "jensen_shannon_critical",
                "missing_ratio",
                "type_mismatch_ratio",
                "unseen_category_ratio",
                "out_of_range_ratio",
            )
        ),
        "model:drift_prediction_psi:pooled",
        "model:drift_prediction_psi_critical:pooled",
        *(f"model:drift_performance_{m}:pooled" for m in ("accuracy", "mae", "mse", "rmse")),
        "model:drift_labelled_window_records:pooled",
        "model_feature:drift_feature_psi:pooled_drifted",
        "model_feature:drift_feature_psi:pooled_drifted_since",
    }
)

# $name, ${name}, ${name:format} and the legacy [[name]].
_VARIABLE = re.compile(
    r"\$\{(?P<braced>\w+)(?::\w+)?\}|\$(?P<plain>\w+)(?![\w])|\[\[(?P<legacy>\w+)\]\]"
)
# A series selector: a metric or rule name and its matchers, e.g. drift_window_records{job=~"$job"}.
_SELECTOR = re.compile(r"(?<![\w:])(?P<name>[a-zA-Z_:][\w:]*)\{(?P<matchers>[^}]*)\}")
_MATCHER = re.compile(r'\s*(?P<label>\w+)\s*(?P<op>=~|!~|!=|=)\s*"(?P<value>(?:[^"\\]|\\.)*)"\s*,?')


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


def selectors(expr: str) -> list[tuple[str, dict[str, tuple[str, str]]]]:
    """(name, {label: (operator, value)}) of every series selector with matchers in expr.

    >>> selectors('sum(rate(x{job=~"$job", model="m"}[1m])) / y{a!="b"}')
    [('x', {'job': ('=~', '$job'), 'model': ('=', 'm')}), ('y', {'a': ('!=', 'b')})]
    """
    found = []
    for match in _SELECTOR.finditer(expr):
        body = match.group("matchers")
        matchers = {
            m.group("label"): (m.group("op"), m.group("value")) for m in _MATCHER.finditer(body)
        }
        if _MATCHER.sub("", body).strip():
            raise ValueError(f"cannot parse the matchers {{{body}}} in {expr!r}")
        found.append((match.group("name"), matchers))
    return found


def substitute(
    expr: str,
    *,
    model: str = ".+",
    feature: str = ".+",
    job: str = ".+",
    instance: str = ".+",
    cluster: str = ".*",
    namespace: str = ".*",
    rate_interval: str = "1m",
    interval: str = "15s",
    time_range: str = "1h",
) -> str:
    """Replace Grafana's variables in a query by the given values.

    ``$model``, ``$feature``, ``$job``, ``$instance``, ``$cluster`` and ``$namespace``
    appear inside ``=~"..."`` matchers, so pass a regular expression (a plain name is
    one). The defaults are the dashboards' "All": ``.*`` for the deployment labels, which
    also matches series without them. An unknown variable raises ValueError rather than
    reaching Prometheus as a literal ``$``.
    """
    values = {
        "model": model,
        "feature": feature,
        "job": job,
        "instance": instance,
        "cluster": cluster,
        "namespace": namespace,
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
    job: str = ".+",
    instance: str = ".+",
    cluster: str = ".*",
    namespace: str = ".*",
    rate_interval: str = "1m",
    interval: str = "15s",
    time_range: str = "1h",
    include_annotations: bool = False,
) -> list[tuple[str, str]]:
    """(panel title, PromQL) for every panel target, variables substituted.

    Substitutes ``$model``, ``$feature``, ``$job``, ``$instance``, ``$cluster``,
    ``$namespace``, ``$__rate_interval``, ``$__interval`` and ``$__range`` with the
    keyword arguments. With ``include_annotations``, Prometheus annotation queries
    are added with the title ``annotation: <name>``.
    """
    dashboard = load_dashboard(path)
    options = {
        "model": model,
        "feature": feature,
        "job": job,
        "instance": instance,
        "cluster": cluster,
        "namespace": namespace,
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
