"""Prometheus's cost for a fleet of sidecars: head series and rule time (issue 14).

    python bench/bench_fleet_rules.py --synthetic-bins [--quick] [--evaluations 6]
        [--interval 15] [--sidecars 50] [--models 10] [--features 50] [--json FILE]

The fleet: `--sidecars` replicas, each running a sidecar that exposes the same `--models`
models of `--features` features (4/5 numeric, 1/5 categorical with 5-20 categories, a numeric
prediction), simulated by one Python process serving each replica's static /metrics body on its
own loopback port (fleet_prometheus.Targets), so each is its own `instance`.

The bodies come from a real sidecar: `drift-exporter serve` is started with two template models,
a classifier and a regressor, with a reference of 5,000 labelled rows and 2,000 labelled records
of traffic (drift in every fifth numeric feature, 1 % missing values, 1 % unseen categories),
evaluated once and scraped once. Each fleet model copies one template model's block (they
alternate) under its own name, with seeded noise per replica on counts and statistics
(fleet_bodies.py says exactly what varies). The fleet contract's families (per-bin window and
reference counts, the data-quality counts, the noise z) are taken from the sidecar when it
exports them; on a branch where it does not, `--synthetic-bins` adds them per the contract from
the template models' reference profiles (`GET /v1/models/{model}/reference`) and their own
ratios, and the output says so; without the flag such a branch is an error.

Then Debian's `prometheus` runs over the fleet with the shipped prometheus.yml and every rule
file in deploy/prometheus/rules/ as it is at run time (pooled rules included once they are
there), scrape and evaluation interval `--interval`, until each rule group has run
`--evaluations` times after every target was scraped whole. Reported from Prometheus itself:
head series (`prometheus_tsdb_head_series`), scraped and recorded series per model (`count by
(model)`), samples scraped per target, `prometheus_rule_group_last_duration_seconds` of each
group at each evaluation (mean and max over the run), `prometheus_rule_evaluation_failures_total`
(any failure makes the bench exit 1), Prometheus's RSS (now and peak, /proc) and CPU.

Baseline, in the same run: the same fleet without the four bin families (everything else the
same, the data-quality counts and the z included). Ratios are fleet with bins / baseline.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common
import fleet_bodies
import fleet_prometheus

SIDECARS, MODELS, FEATURES = 50, 10, 50
EVALUATIONS, INTERVAL_SECONDS = 6, 15.0
QUICK = {"sidecars": 5, "models": 2, "evaluations": 3, "interval": 5.0}
REFERENCE_ROWS, WINDOW_RECORDS = 5_000, 2_000
TEMPLATE_MODELS = {"fleet-clf": "classification", "fleet-reg": "regression"}
SEED = 20_261_214


def layout(features: int) -> tuple[list[str], dict[str, int]]:
    """Numeric feature names, and categorical ones with their category counts (5 to 20)."""
    categorical = features // 5
    numeric = [f"f{j:02d}" for j in range(features - categorical)]
    spread = max(categorical - 1, 1)
    return numeric, {f"c{j}": 5 + round(15 * j / spread) for j in range(categorical)}


def records(
    seed: int, rows: int, features: int, task: str, *, traffic: bool
) -> list[dict[str, Any]]:
    """Labelled records; traffic drifts every fifth numeric feature by 0.3 sd and has 1 %
    missing numeric values, 1 % unseen categories, a latency and a timestamp."""
    rng = np.random.default_rng(seed)
    numeric, categorical = layout(features)
    columns: dict[str, list[Any]] = {}
    for j, name in enumerate(numeric):
        values = rng.normal(0.3 if traffic and j % 5 == 0 else 0.0, 1.0 + 0.02 * j, rows).round(4)
        listed: list[Any] = values.tolist()
        if traffic:
            for i in np.flatnonzero(rng.random(rows) < 0.01):
                listed[i] = None
        columns[name] = listed
    for name, count in categorical.items():
        weights = 1.0 / np.arange(1, count + 1)
        values = rng.choice([f"v{i}" for i in range(count)], rows, p=weights / weights.sum())
        if traffic:
            values[rng.random(rows) < 0.01] = "unseen"
        columns[name] = values.tolist()
    if task == "classification":
        predictions = rng.random(rows).round(4)
        labels = (rng.random(rows) < predictions).astype(int).tolist()
    else:
        predictions = rng.normal(10.0, 2.0, rows).round(3)
        labels = (predictions + rng.normal(0.0, 1.0, rows)).round(3).tolist()
    out = []
    now = time.time()
    for i, (prediction, label) in enumerate(zip(predictions.tolist(), labels, strict=True)):
        record: dict[str, Any] = {
            "features": {name: values[i] for name, values in columns.items()},
            "prediction": prediction,
            "label": label,
        }
        if traffic:
            record.update(timestamp=now - (rows - i) * 0.01, latency_seconds=0.01 + i % 7 * 0.003)
        out.append(record)
    return out


def capture(features: int, seed: int) -> tuple[fleet_bodies.Template, int]:
    """A real sidecar's exposition of the template models, and its series count."""
    import httpx

    config = {
        "min_records": 100,
        "evaluation_interval_seconds": 3_600,
        "models": {model: {"task": task} for model, task in TEMPLATE_MODELS.items()},
    }
    bins = {}
    with common.running_server(config, ready_timeout=120.0) as server:
        for k, (model, task) in enumerate(TEMPLATE_MODELS.items()):
            reference = records(seed + k, REFERENCE_ROWS, features, task, traffic=False)
            common.upload_reference(server.base, model, common.json_body(reference))
            traffic = records(seed + 100 + k, WINDOW_RECORDS, features, task, traffic=True)
            for url in (f"/v1/models/{model}/predictions", f"/v1/models/{model}/evaluate"):
                body = common.json_body(traffic) if url.endswith("predictions") else b""
                response = httpx.post(
                    server.base + url,
                    content=body,
                    headers={"content-type": "application/json"},
                    timeout=300,
                )
                if response.status_code >= 300:
                    raise RuntimeError(f"POST {url}: {response.status_code} {response.text[:300]}")
            summary = httpx.get(f"{server.base}/v1/models/{model}/reference", timeout=60).json()
            bins[model] = fleet_bodies.ColumnBins(
                {column["name"]: _bins(column) for column in summary["features"]},
                _bins(summary["prediction"]) if summary.get("prediction") else None,
            )
        text = httpx.get(f"{server.base}/metrics", timeout=60).text
    return fleet_bodies.Template(fleet_bodies.parse_exposition(text), bins), len(
        [line for line in text.splitlines() if line and not line.startswith("#")]
    )


def _bins(column: dict[str, Any]) -> tuple[int, ...]:
    """A profile summary's reference counts per bin (categorical: the overflow bin last)."""
    if "bin_counts" in column:
        return tuple(column["bin_counts"])
    return (*column["category_counts"], column["other_count"])


def fleet_models(args: argparse.Namespace) -> list[str]:
    return [f"fleet-{i:02d}" for i in range(args.models)]


def bodies(
    template: fleet_bodies.Template, args: argparse.Namespace, *, bins: bool
) -> tuple[list[bytes], dict[str, int]]:
    """Every sidecar's body, and the series of one body by group of families."""
    fleet = fleet_bodies.FleetBodies(
        template,
        fleet_models(args),
        seed=args.seed,
        synthetic=args.synthetic_bins,
        bins=bins,
        alpha=common.bench_settings().drift.alpha,
    )
    texts = [fleet.render(sidecar) for sidecar in range(args.sidecars)]
    groups = {"total": fleet_bodies.series_count(texts[0])}
    for family in fleet_bodies.parse_exposition(texts[0]):
        key = (
            "bins"
            if family.name in fleet_bodies.BIN_FAMILIES
            else "counts and z"
            if family.name in fleet_bodies.CONTRACT_FAMILIES
            else "existing"
        )
        groups[key] = groups.get(key, 0) + len(family.samples)
    return [text.encode() for text in texts], groups


def run(
    name: str, template: fleet_bodies.Template, args: argparse.Namespace, *, bins: bool
) -> tuple[fleet_prometheus.Measurement, dict[str, int]]:
    started = time.perf_counter()
    payloads, groups = bodies(template, args, bins=bins)
    print(
        f"{name}: {args.sidecars} bodies of {groups['total']:,} series "
        f"({sum(map(len, payloads)) / len(payloads) / 2**20:.1f} MiB each) rendered in "
        f"{time.perf_counter() - started:.1f} s; load {common.load_average()}",
        flush=True,
    )
    targets = fleet_prometheus.Targets(payloads)
    try:
        result = fleet_prometheus.measure(
            targets.addresses, fleet_models(args), groups["total"], args.interval, args.evaluations
        )
    finally:
        targets.close()
    print(
        f"{name}: {'' if result.complete else 'NOT ALL GROUPS REACHED '}"
        f"{args.evaluations} evaluations over {result.wall_seconds:.0f} s, "
        f"head series {result.head_series:,}; load {result.load_average}",
        flush=True,
    )
    return result, groups


def rule_files() -> str:
    """The rule files Prometheus will load, their rules, and how many record a `:pooled` series."""
    import yaml

    parts, pooled = [], 0
    for path in sorted((fleet_prometheus.PROMETHEUS_DIR / "rules").glob("*.yml")):
        rules = [
            rule
            for group in yaml.safe_load(path.read_text()).get("groups") or []
            for rule in group.get("rules") or []
        ]
        pooled += sum(":pooled" in rule.get("record", "") for rule in rules)
        parts.append(f"{path.name} ({len(rules)})")
    return f"{', '.join(parts)}; {pooled} of them record a :pooled series"


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else float("nan")


def _ratio(subject: float, baseline: float) -> str:
    return f"{subject / baseline:.2f}x" if baseline else "-"


def report(
    args: argparse.Namespace,
    runs: dict[str, tuple[fleet_prometheus.Measurement, dict[str, int]]],
) -> list[list[str]]:
    """Print the comparison; return the rows of the main table."""
    (base, base_groups), (fleet, fleet_groups) = runs["baseline"], runs["bins"]
    interval_cpu = [
        m.cpu_seconds / (m.wall_seconds / args.interval) if m.wall_seconds else float("nan")
        for m in (base, fleet)
    ]
    groups = sorted(set(base.evaluations) | set(fleet.evaluations))
    rule_sum = [
        sum(_mean(m.durations(g)) for g in groups if g in m.evaluations) for m in (base, fleet)
    ]
    rule_max = [
        max((max(m.durations(g)) for g in groups if g in m.evaluations), default=0.0)
        for m in (base, fleet)
    ]

    def per_model(m: fleet_prometheus.Measurement, index: int) -> float:
        return _mean([float(v[index]) for k, v in m.per_model.items() if k.startswith("fleet-")])

    rows = [
        ["series per body", f"{base_groups['total']:,}", f"{fleet_groups['total']:,}"],
        ["head series", f"{base.head_series:,}", f"{fleet.head_series:,}"],
        ["scraped series per model", f"{per_model(base, 0):,.0f}", f"{per_model(fleet, 0):,.0f}"],
        ["recorded series per model", f"{per_model(base, 1):,.0f}", f"{per_model(fleet, 1):,.0f}"],
        *[
            [label, *(f"{fn(m.samples_per_target):,}" for m in (base, fleet))]
            for label, fn in (("samples per target, min", min), ("samples per target, max", max))
        ],
        [
            "scrape duration per target, max",
            *(common.fmt_seconds(max(m.scrape_seconds)) for m in (base, fleet)),
        ],
        ["rule time per evaluation, sum of group means", *map(common.fmt_seconds, rule_sum)],
        ["slowest group evaluation", *map(common.fmt_seconds, rule_max)],
        ["Prometheus CPU per interval", *map(common.fmt_seconds, interval_cpu)],
        ["Prometheus RSS at the end", *(f"{m.rss_bytes / 2**20:,.0f} MiB" for m in (base, fleet))],
        ["Prometheus peak RSS", *(f"{m.peak_rss_bytes / 2**20:,.0f} MiB" for m in (base, fleet))],
    ]
    for row in rows:
        numbers = [float(cell.split()[0].replace(",", "")) for cell in row[1:3]]
        scale = [1e-3 if "ms" in cell else 1e-6 if "us" in cell else 1.0 for cell in row[1:3]]
        row.append(_ratio(numbers[1] * scale[1], numbers[0] * scale[0]))
    common.print_table(["figure", "baseline (no bin families)", "fleet with bins", "ratio"], rows)
    print()
    group_rows = []
    for g in groups:
        cells = [g, str(fleet.rules_per_group.get(g, base.rules_per_group.get(g, 0)))]
        means = []
        for m in (base, fleet):
            durations = m.durations(g) if g in m.evaluations else []
            means.append(_mean(durations))
            slowest = max(durations, default=0.0)
            cells.append(f"{common.fmt_seconds(means[-1])} / {common.fmt_seconds(slowest)}")
        cells.append(_ratio(means[1], means[0]))
        cells.append(" / ".join(f"{m.missed.get(g, 0):g}" for m in (base, fleet)))
        cells.append(" / ".join(str(len(m.evaluations.get(g, []))) for m in (base, fleet)))
        cells.append(str(int(_mean([float(w) for _, _, w in fleet.evaluations.get(g, [])]))))
        group_rows.append(cells)
    common.print_table(
        [
            "rule group",
            "rules",
            "baseline mean / max",
            "with bins mean / max",
            "ratio",
            "missed (baseline / bins)",
            "evaluations",
            "samples out",
        ],
        group_rows,
    )
    print()
    common.print_table(
        ["model", "scraped series (all sidecars)", "recorded series"],
        [[model, f"{s:,}", f"{r:,}"] for model, (s, r) in sorted(fleet.per_model.items())],
    )
    return rows


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sidecars", type=int, default=SIDECARS)
    parser.add_argument("--models", type=int, default=MODELS)
    parser.add_argument("--features", type=int, default=FEATURES)
    parser.add_argument("--evaluations", type=int, default=EVALUATIONS)
    parser.add_argument("--interval", type=float, default=INTERVAL_SECONDS, help="seconds")
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"{QUICK['sidecars']} sidecars x {QUICK['models']} models, "
        f"{QUICK['evaluations']} evaluations {QUICK['interval']:g} s apart",
    )
    parser.add_argument(
        "--synthetic-bins",
        action="store_true",
        help="add the fleet contract's families the sidecar does not export yet",
    )
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--json", help="write the measurements here")
    common.add_summary_argument(parser)
    args = parser.parse_args(argv)
    if args.quick:
        for key, value in QUICK.items():
            if getattr(args, key) == parser.get_default(key):
                setattr(args, key, value)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_arguments(argv)
    print(f"# Prometheus cost of a fleet (issue 14)\n{common.machine_line()}")
    numeric, categorical = layout(args.features)
    print(
        f"fleet: {args.sidecars} sidecars x {args.models} models x {args.features} features "
        f"({len(numeric)} numeric, {len(categorical)} categorical with "
        f"{min(categorical.values(), default=0)}-{max(categorical.values(), default=0)} "
        f"categories + overflow); interval {args.interval:g} s, {args.evaluations} evaluations",
        flush=True,
    )
    template, captured = capture(args.features, args.seed)
    missing = template.missing_contract_families()
    print(
        f"template: {captured:,} series of {', '.join(template.models)} captured from "
        "drift-exporter serve; contract families "
        + (
            f"SYNTHETIC (--synthetic-bins; the sidecar on this branch exports none of: "
            f"{', '.join(missing)})"
            if missing and args.synthetic_bins
            else "from the sidecar"
        ),
        flush=True,
    )
    if missing and not args.synthetic_bins:
        print(f"error: the sidecar exports none of {', '.join(missing)}; pass --synthetic-bins")
        return 2
    print(f"rules: {rule_files()}", flush=True)
    runs = {
        "baseline": run("baseline", template, args, bins=False),
        "bins": run("with bins", template, args, bins=True),
    }
    print()
    rows = report(args, runs)
    failures = {
        f"{name}: {group}": count
        for name, (m, _) in runs.items()
        for group, count in m.failures.items()
        if count
    }
    if args.json:
        document = {
            "arguments": vars(args),
            "machine": common.machine_line(),
            "synthetic": sorted(missing) if args.synthetic_bins else [],
            "runs": {name: {"series": g, **dataclasses.asdict(m)} for name, (m, g) in runs.items()},
        }
        Path(args.json).write_text(json.dumps(document, indent=2))
    summary = common.Summary("fleet_rules")
    summary.add(
        f"Prometheus, {args.sidecars} sidecars x {args.models} models x {args.features} features",
        f"{rows[1][2]} head series, rule time {rows[7][2]}, RSS {rows[10][2]}",
        f"no bin families: {rows[1][1]} series, {rows[7][1]}, {rows[10][1]}",
        f"series {rows[1][3]}, rule time {rows[7][3]}",
        "no rule evaluation failure",
        common.yes_no(not failures),
    )
    summary.write(args.summary_json)
    if failures:
        print(f"\nFAIL: rule evaluation failures: {failures}")
        return 1
    print("\nrule evaluation failures: 0 in both runs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
