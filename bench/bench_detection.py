"""Detection benchmark (issue 13): false alarms and detection rates, drift-exporter against
Evidently and NannyML at their defaults, on the same windows.

    python bench/bench_detection.py                       # the README tables: 25 min at load 10-14
    python bench/bench_detection.py --quick               # smoke run: 1.5 min idle, 4 min at load 6
    python bench/bench_detection.py --drift-config '{"alpha": 0.01}' --monitors drift-exporter
    python bench/bench_detection.py --json results.json

Datasets (bench/detection_data.py): a synthetic 20-feature set (normal, lognormal, integer
counts; 3-, 10- and 50-category Zipf features) and scikit-learn's bundled sets, at window
sizes n = 200, 1,000 and 5,000. The reference is a separate draw of --reference-rows rows;
--references draws are made and window w is judged against draw w mod R, so the rates are not
those of one lucky or unlucky reference. Scenarios: no drift; a mean shift of 0.1, 0.2 and 0.5
sd and a category-mass move of 5, 10 and 20 % in one feature at a time (rotating over the
features); half of the features moved at once.

drift-exporter is judged through its real pipeline with `Settings()` as it is today (plus
--settings / --drift-config overrides), so a change of the defaults changes these results
with no edit here. Every window of a cell is judged by drift-exporter; the peers, slower,
judge the first --peer-windows of the same windows. Seeded: the same arguments give the same
windows and the same table. Verdicts per target are computed from the results (PASS / FAIL
with the numbers), never asserted.

Matched false-alarm rate (the ROC view): the peers reach their detection at 15-100 % false
alarms, drift-exporter at <= 1 %, which says nothing about which one sees better. So each
monitor also gives every window a score (bench/detection_scores.py; checked on every window
to reproduce its own flags), every monitor is cut at the quantile of its own no-drift scores
that leaves --matched-rate (1 %) of them alarming (the peers judge --peer-null-windows no-drift
windows for it), and detection at that cut is compared, with binomial 95 % intervals.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common
import detection_report as report
import detection_scores as scoring
import numpy as np
from detection_data import DATASETS, SCENARIOS, Population, population, reference_rows, window_rows

WINDOW_SIZES = (200, 1_000, 5_000)
DEFAULT_DATASETS = ("synthetic", "diabetes")
PEERS = ("Evidently", "NannyML")


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--null-windows",
        type=int,
        default=200,
        help="no-drift windows per n, drift-exporter (the false-alarm cells)",
    )
    parser.add_argument(
        "--peer-null-windows",
        type=int,
        default=200,
        help="no-drift windows per n judged by the peers (the matched false-alarm cut's quantile)",
    )
    parser.add_argument(
        "--windows", type=int, default=25, help="windows per drift cell, drift-exporter"
    )
    parser.add_argument(
        "--peer-windows",
        type=int,
        default=25,
        help="windows per drift cell judged by the peers: the first of the same windows",
    )
    parser.add_argument(
        "--matched-rate",
        type=float,
        default=0.01,
        help="family-wise false-alarm rate every monitor is re-thresholded to (the ROC view)",
    )
    parser.add_argument("--references", type=int, default=3, help="reference draws per dataset")
    parser.add_argument("--reference-rows", type=int, default=10_000)
    parser.add_argument("--sizes", default=",".join(map(str, WINDOW_SIZES)), help="window sizes n")
    parser.add_argument(
        "--datasets",
        default=",".join(DEFAULT_DATASETS),
        help=f"comma-separated, of {', '.join(DATASETS)}",
    )
    parser.add_argument(
        "--scenarios",
        default=",".join(SCENARIOS),
        help="comma-separated: none, half, 'mean D sd', 'mass P %%'",
    )
    parser.add_argument("--monitors", default="drift-exporter,Evidently,NannyML")
    parser.add_argument(
        "--settings",
        default="{}",
        help="JSON overrides of Settings(), e.g. '{\"min_records\": 100}'",
    )
    parser.add_argument("--drift-config", default="{}", help="JSON overrides of the drift section")
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="LABEL=JSON",
        help="also run drift-exporter with these Settings overrides, as LABEL",
    )
    parser.add_argument(
        "--nannyml-python",
        default=os.environ.get("DRIFT_BENCH_NANNYML_PYTHON"),
        help="interpreter with nannyml, if this one lacks it",
    )
    parser.add_argument(
        "--evidently-check",
        type=int,
        default=2,
        help="windows re-run through the full Evidently Report to check the scores",
    )
    parser.add_argument("--floor-sd", type=float, default=0.0, help="effect floor, mean shifts")
    parser.add_argument("--floor-mass", type=float, default=0.0, help="effect floor, mass moves")
    parser.add_argument("--seed", type=int, default=20_261_207)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: synthetic set, 20 / 10 windows (peers 20 / 5), 2 references",
    )
    parser.add_argument("--json", help="write every cell, the settings and the verdicts here")
    parser.add_argument("--nannyml-worker", nargs=2, help=argparse.SUPPRESS)
    if "--quick" in (sys.argv[1:] if argv is None else argv):
        parser.set_defaults(
            null_windows=20,
            windows=10,
            peer_windows=5,
            peer_null_windows=20,
            references=2,
            datasets="synthetic",
            evidently_check=1,
        )
    return parser.parse_args(argv)


def build_settings(overrides: dict[str, Any], drift: dict[str, Any]) -> Any:
    """Settings() at today's defaults, with the overrides; DRIFT_EXPORTER_* variables ignored."""
    merged = dict(overrides)
    if drift:
        merged["drift"] = {**merged.get("drift", {}), **drift}
    return common.bench_settings(**merged)


def json_option(option: str, text: str) -> dict[str, Any]:
    """A JSON object given on the command line; a clear error naming the option otherwise."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise SystemExit(f"{option}: not JSON ({error}): {text!r}") from None
    if not isinstance(value, dict):
        raise SystemExit(f"{option}: expected a JSON object, got {text!r}")
    return value


def split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def windows_for(config: dict[str, Any], scenario: str, ours: bool) -> int:
    """Windows of a cell: the peers judge the first of drift-exporter's windows (no-drift
    windows: --peer-null-windows of them, which may be more than drift-exporter's)."""
    if scenario == "none":
        return config["null_windows"] if ours else config["peer_null_windows"]
    return config["windows"] if ours else min(config["windows"], config["peer_windows"])


def judge_cells(
    pop: Population, monitor: Any, sizes: list[int], scenarios: list[str], config: dict[str, Any]
) -> tuple[dict[str, dict[str, Any]], float]:
    """Every window of every (n, scenario) cell through `monitor`; (cells, seconds per window)."""
    ours = monitor.name.startswith("drift-exporter")
    draws = config["references"]
    started, count = time.perf_counter(), 0
    for r in range(draws):
        monitor.fit(r, reference_rows(pop, config["seed"], r, config["reference_rows"]))
    out: dict[str, dict[str, Any]] = {}
    for n in sizes:
        out[str(n)] = {}
        for scenario in scenarios:
            windows = windows_for(config, scenario, ours)
            flags = np.zeros((windows, len(pop.features)), dtype=bool)
            scores = np.zeros((windows, len(pop.features)))
            judged = np.zeros(windows, dtype=bool)
            moved = []
            for w in range(windows):
                columns, shifted = window_rows(pop, config["seed"], n, scenario, w)
                flags[w], judged[w], scores[w] = monitor.judge(w % draws, columns)
                scoring.check_scores(
                    monitor.name, f"{pop.name} n={n} {scenario} window {w}", flags[w], scores[w]
                )
                moved.append(sorted(shifted))
                count += 1
            out[str(n)][scenario] = report.summarise(flags, moved, judged, scores)
    return out, (time.perf_counter() - started) / max(count, 1)


def judge_nannyml(
    pop: Population,
    sizes: list[int],
    scenarios: list[str],
    config: dict[str, Any],
    python: str | None,
) -> tuple[dict[str, dict[str, Any]], float, dict[str, Any]]:
    from detection_monitors import run_nannyml

    started, out, meta = time.perf_counter(), {}, {}
    counts = {s: windows_for(config, s, ours=False) for s in scenarios}
    for n in sizes:
        job = {
            "dataset": pop.name,
            "n": n,
            "seed": config["seed"],
            "references": config["references"],
            "reference_rows": config["reference_rows"],
            "windows": counts,
        }
        result = run_nannyml(job, python)
        meta = {k: v for k, v in result.items() if k not in ("flags", "scores", "below_lower")}
        out[str(n)] = {}
        for scenario in scenarios:
            windows = counts[scenario]
            shape = (windows, len(pop.features))
            flags = np.array(result["flags"][scenario], dtype=bool).reshape(shape)
            scores = np.array(result["scores"][scenario], dtype=np.float64).reshape(shape)
            for w in range(windows):  # NannyML alerts strictly above (below) its thresholds
                where = f"{pop.name} n={n} {scenario} window {w}"
                scoring.check_scores("NannyML", where, flags[w], scores[w], strict=True)
            moved = [
                sorted(window_rows(pop, config["seed"], n, scenario, w)[1]) for w in range(windows)
            ]
            cell = report.summarise(flags, moved, np.ones(windows, dtype=bool), scores)
            cell["below_lower"] = result["below_lower"][scenario]
            out[str(n)][scenario] = cell
    seconds = (time.perf_counter() - started) / max(sum(counts.values()) * len(sizes), 1)
    return out, seconds, meta


def monitors_for(args: argparse.Namespace, pop: Population, settings: Any) -> list[Any]:
    from detection_monitors import DriftExporter, Evidently

    wanted = split(args.monitors)
    monitors: list[Any] = []
    if "drift-exporter" in wanted:
        monitors.append(DriftExporter(pop, settings))
    for variant in args.variant:
        label, _, overrides = variant.partition("=")
        merged = {
            **json_option("--settings", args.settings),
            **json_option(f"--variant {label}", overrides),
        }
        extra = DriftExporter(
            pop, build_settings(merged, json_option("--drift-config", args.drift_config))
        )
        extra.name = f"drift-exporter {label}"
        monitors.append(extra)
    if "Evidently" in wanted:
        monitors.append(Evidently(pop))
    return monitors


def run(args: argparse.Namespace) -> dict[str, Any]:
    """The whole benchmark; the JSON document (cells, settings, timings, notes)."""
    settings = build_settings(
        json_option("--settings", args.settings), json_option("--drift-config", args.drift_config)
    )
    sizes = [int(n) for n in split(args.sizes)]
    keys = (
        "null_windows",
        "windows",
        "peer_null_windows",
        "peer_windows",
        "references",
        "reference_rows",
        "seed",
        "matched_rate",
    )
    config = {k: getattr(args, k) for k in keys}
    results: dict[str, Any] = {}
    seconds: dict[str, dict[str, float]] = {}
    notes: list[str] = []
    versions: dict[str, str] = {}
    for name in split(args.datasets):
        pop = population(name)
        scenarios = [s for s in split(args.scenarios) if pop.applies(s)]
        results[name], seconds[name] = {}, {}
        for monitor in monitors_for(args, pop, settings):
            print(f"  {name}: {monitor.name} ...", file=sys.stderr, flush=True)
            results[name][monitor.name], seconds[name][monitor.name] = judge_cells(
                pop, monitor, sizes, scenarios, config
            )
            if monitor.name == "Evidently":
                versions["evidently"] = monitor.version
                for w in range(min(args.evidently_check, windows_for(config, "none", False))):
                    columns, _ = window_rows(pop, config["seed"], sizes[0], "none", w)
                    differences = monitor.check_against_report(w % config["references"], columns)
                    notes.append(
                        f"Evidently full Report vs direct, {name} window {w}: "
                        + ("same scores" if not differences else "; ".join(differences))
                    )
        if "NannyML" in split(args.monitors):
            print(f"  {name}: NannyML ...", file=sys.stderr, flush=True)
            try:
                cells, per_window, meta = judge_nannyml(
                    pop, sizes, scenarios, config, args.nannyml_python
                )
            except ImportError as error:
                notes.append(
                    f"NannyML not run: {error}; give --nannyml-python (see bench/README.md)"
                )
            else:
                results[name]["NannyML"], seconds[name]["NannyML"] = cells, per_window
                versions["nannyml"] = meta["version"]
                below = {
                    f"n={n} {s}": c["below_lower"]
                    for n, by_s in cells.items()
                    for s, c in by_s.items()
                    if c["below_lower"]
                }
                notes.append(
                    f"NannyML, {name}: windows alarmed by a value under the lower threshold: "
                    + (", ".join(f"{k}: {v}" for k, v in below.items()) or "none")
                )
                notes.append(
                    f"NannyML methods: {', '.join(meta['methods'])}"
                    + (f"; ran in {meta['where']}" if "where" in meta else "")
                )
    ours = [m for m in next(iter(results.values()), {}) if m.startswith("drift-exporter")]
    peers = [p for p in PEERS if any(p in r for r in results.values())]
    matched = {
        dataset: {m: scoring.matched_cells(by_n, args.matched_rate) for m, by_n in by_m.items()}
        for dataset, by_m in results.items()
    }
    return {
        "machine": common.machine_line(),
        "config": {
            **config,
            "sizes": sizes,
            "datasets": split(args.datasets),
            "scenarios": split(args.scenarios),
            "floor_sd": args.floor_sd,
            "floor_mass": args.floor_mass,
        },
        "settings": {
            "min_records": settings.min_records,
            "drift": settings.drift.model_dump(),
            "window": settings.window.model_dump(),
            "reference": settings.reference.model_dump(),
            "variants": args.variant,
        },
        "versions": versions,
        "seconds_per_window": seconds,
        "results": results,
        "matched": matched,
        "verdicts": [
            v
            for m in ours
            for v in [
                *report.verdicts(results, m, peers, args.floor_sd, args.floor_mass),
                report.matched_verdict(
                    matched, m, peers, args.matched_rate, args.floor_sd, args.floor_mass
                ),
            ]
        ],
        "notes": notes,
    }


def print_document(document: dict[str, Any]) -> None:
    config, settings = document["config"], document["settings"]
    print(f"# Detection benchmark  ({document['machine']})")
    print(
        f"windows per cell: drift-exporter {config['null_windows']} without drift, "
        f"{config['windows']} with; peers {config['peer_null_windows']} without, at most "
        f"{config['peer_windows']} with (the first of the same windows); "
        f"{config['references']} reference draws of "
        f"{config['reference_rows']:,} rows; seed {config['seed']}"
    )
    print(
        f"drift-exporter settings: min_records {settings['min_records']}; drift {settings['drift']}"
    )
    if settings["variants"]:
        print(f"variants: {'; '.join(settings['variants'])}")
    print()
    headers, rows = report.table_rows(document["results"], config["scenarios"])
    common.print_table(headers, rows)
    print()
    print(
        f"At a matched false-alarm rate: every monitor cut at the quantile of its own family-wise "
        f"scores on the no-drift windows that leaves {report.percent(config['matched_rate'])} of "
        f"them alarming (peers: {config['peer_null_windows']} no-drift windows, drift-exporter "
        f"{config['null_windows']}); detection = the moved feature's score above the cut, "
        f"[Wilson 95 %]; 'true' = 95 % interval of the cut's real false-alarm rate"
    )
    print()
    headers, rows = report.matched_table(document["matched"], config["scenarios"])
    common.print_table(headers, rows)
    print()
    for dataset, by_monitor in document["seconds_per_window"].items():
        print(
            f"seconds per window, {dataset}: "
            + ", ".join(f"{m} {common.fmt_seconds(s)}" for m, s in by_monitor.items())
        )
    for note in document["notes"]:
        print(note)
    print()
    for v in document["verdicts"]:
        detail = "; ".join(v["failures"][:6]) + (" ..." if len(v["failures"]) > 6 else "")
        print(
            f"{v['status']}  [{v['monitor']}] {v['target']} ({v['checked']} cells)"
            + (f": {detail}" if detail else "")
        )
        if v.get("wins"):
            print(f"      above the better peer beyond the interval: {'; '.join(v['wins'])}")


def main(argv: list[str] | None = None) -> int:
    args = parse_arguments(argv)
    if args.nannyml_worker:
        from detection_monitors import nannyml_worker

        return nannyml_worker(*args.nannyml_worker)
    from threadpoolctl import threadpool_limits

    started = time.perf_counter()
    # One BLAS thread, as the sidecar runs (exporter/blas.py): on 2 cores an idle BLAS pool
    # spins on the core the evaluation needs. Results do not depend on it, only the time.
    with threadpool_limits(limits=1, user_api="blas"):
        document = run(args)
    document["seconds"] = time.perf_counter() - started
    print_document(document)
    print(f"\n{document['seconds']:.0f} s in all")
    if args.json:
        Path(args.json).write_text(json.dumps(document, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
