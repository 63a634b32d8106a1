"""One evaluation of every statistic for a 5,000-record window, against drift libraries.

    python bench/bench_evaluation.py [--repeat 30] [--alibi-python PATH]

drift-exporter: `evaluator.evaluate(snapshot, drift, min_records, now)` on a snapshot of
a ModelWindow holding the 5,000 traffic records (snapshot excluded), and `window.snapshot()` plus
`evaluate` together. Every statistic: PSI, KS (+ p-value, BH-corrected), Jensen-Shannon and
normalized Wasserstein for the 5 numeric features and the prediction; PSI, chi-squared and
Jensen-Shannon for the 3 categorical features; plus the data-quality ratios.

Baselines on the same data (reference 50,000 rows, window 5,000 rows, 8 features + prediction),
each optional; a missing one prints how to install it and the rest still run:

* Evidently 0.7 `Report([DataDriftPreset()]).run(current, reference)`, including
  `Dataset.from_pandas` (the pandas frames themselves are built outside the timing).
* NannyML `UnivariateDriftCalculator` (kolmogorov_smirnov + jensen_shannon for continuous
  columns, chi2 + jensen_shannon for categorical ones), `calculate()` on one 5,000-row chunk;
  the one-off `fit()` on the reference is printed apart.
* alibi-detect `TabularDrift` (KS per numeric feature, chi-squared per categorical one,
  Bonferroni), `predict()` on the window; the constructor is printed apart. alibi-detect 0.13
  needs numpy < 2, which drift-exporter cannot use, so it usually lives in another virtualenv:
  `--alibi-python /path/to/venv/bin/python` (or DRIFT_BENCH_ALIBI_PYTHON) times it there on the
  same seeded data; the data's fingerprint is compared to show it is the same.

Ratios are "their time / our evaluate() time". Target: Evidently >= 100x ours.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common

# Third-party telemetry off: the libraries must not try to phone home from a benchmark.
os.environ.setdefault("NML_DISABLE_USAGE_LOGGING", "1")
os.environ.setdefault("DO_NOT_TRACK", "1")

INSTALL = {
    "evidently": "pip install 'evidently==0.7.*' 'pandas<3'",
    "nannyml": "pip install 'nannyml>=0.13'",
    "alibi-detect": "pip install 'alibi-detect>=0.12' (needs numpy<2: use a separate virtualenv "
    "and --alibi-python)",
}
TARGET_EVIDENTLY_FACTOR = 100


def frames() -> tuple[Any, Any]:
    import pandas as pd

    reference = pd.DataFrame(common.columnar_workload(common.SEED, common.REFERENCE_ROWS))
    current = pd.DataFrame(
        common.columnar_workload(common.SEED + 1, common.WINDOW_RECORDS, drifted=True)
    )
    return reference, current


# --------------------------------------------------------------------------- drift-exporter


class Ours:
    """The window, its snapshot and the settings, built once; timed before and after the
    libraries so a burst of load from elsewhere on the machine shows as a gap between the two."""

    def __init__(self) -> None:
        from exporter.window.model import ModelWindow

        self.settings = common.bench_settings(window={"max_records": common.WINDOW_RECORDS})
        reference = common.records_from_columns(
            common.columnar_workload(common.SEED, common.REFERENCE_ROWS)
        )
        self.profile = common.build_reference_profile(
            common.MODEL, common.json_body(reference), self.settings
        )
        self.window = ModelWindow(self.profile, self.settings, time.time)
        traffic = common.records_from_columns(
            common.columnar_workload(common.SEED + 1, common.WINDOW_RECORDS, drifted=True)
        )
        for body in common.batch_bodies(traffic):
            self.window.append(common.decode_batch(body, self.settings))
        self.snapshot = self.window.snapshot()

    def evaluate(self, snapshot: Any) -> Any:
        from exporter.evaluation.evaluator import evaluate

        settings = self.settings
        return evaluate(snapshot, settings.drift, settings.min_records, 0.0)

    def measure(self, repeat: int) -> dict[str, float]:
        """Timed with BLAS on one thread, as the server runs it (exporter/blas.py); the peers
        keep the library default."""
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1, user_api="blas"):
            evaluate_times = common.repeat_timed(
                lambda: self.evaluate(self.snapshot), repeat=repeat, warmup=2
            )
            both_times = common.repeat_timed(
                lambda: self.evaluate(self.window.snapshot()), repeat=repeat, warmup=2
            )
            snapshot_times = common.repeat_timed(self.window.snapshot, repeat=repeat, warmup=2)
        return {
            "evaluate": common.median(evaluate_times),
            "snapshot_evaluate": common.median(both_times),
            "snapshot": common.median(snapshot_times),
        }

    def describe(self) -> dict[str, Any]:
        report = self.evaluate(self.snapshot)
        columns = [*report.features, *([report.prediction] if report.prediction else [])]
        return {
            "status": report.status,
            "records": self.snapshot.records,
            "statistics": sum(len(column.statistics) for column in columns),
            "drifted": [column.name for column in report.features if column.drifted],
            "ks": [(column.name, column.statistic("ks")) for column in columns],
        }

    def ks_pvalue_cost(self, repeat: int = 10) -> tuple[float, list[str]]:
        """Seconds of one evaluation spent in scipy.stats.kstwo.sf (the KS p-values), by
        re-running it on the evaluation's own statistics and sample sizes."""
        import numpy as np
        from scipy import stats

        total = 0.0
        parts = []
        samples = {column.name: column for column in self.profile.columns}
        names = [column.name for column in self.profile.columns]
        windows = dict(zip(names, self.snapshot.columns, strict=True))
        for name, result in self.describe()["ks"]:
            if result is None:
                continue
            m = len(samples[name].sample_sorted)
            n = len(windows[name].sample)
            effective = np.round(m * n / (m + n))
            statistic = result.value
            seconds = common.median(
                common.repeat_timed(
                    lambda d=statistic, n_e=effective: stats.kstwo.sf(d, n_e),
                    repeat=repeat,
                    warmup=1,
                )
            )
            total += seconds
            parts.append(f"{name} D={result.value:.3f} {common.fmt_seconds(seconds)}")
        return total, parts


# --------------------------------------------------------------------------- baselines


def measure_evidently(repeat: int) -> dict[str, Any]:
    import evidently
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    reference, current = frames()
    definition = DataDefinition(
        numerical_columns=[*common.NUMERIC, "prediction"],
        categorical_columns=list(common.CATEGORICAL),
    )

    def run() -> Any:
        report = Report([DataDriftPreset()])
        return report.run(
            Dataset.from_pandas(current, data_definition=definition),
            Dataset.from_pandas(reference, data_definition=definition),
        )

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        timings = common.repeat_timed(run, repeat=repeat, warmup=1)
        result = run().dict()
    methods = sorted(
        {
            metric["config"].get("method", "")
            for metric in result["metrics"]
            if metric["config"].get("type", "").endswith("ValueDrift")
        }
    )
    return {"time": common.median(timings), "version": evidently.__version__, "methods": methods}


def measure_nannyml(repeat: int) -> dict[str, Any]:
    import nannyml

    reference, current = frames()
    columns = [*common.FEATURES, "prediction"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        started = time.perf_counter()
        calculator = nannyml.UnivariateDriftCalculator(
            column_names=columns,
            treat_as_categorical=list(common.CATEGORICAL),
            continuous_methods=["kolmogorov_smirnov", "jensen_shannon"],
            categorical_methods=["chi2", "jensen_shannon"],
            chunk_size=common.WINDOW_RECORDS,
        )
        calculator.fit(reference)
        fit = time.perf_counter() - started
        timings = common.repeat_timed(
            lambda: calculator.calculate(current), repeat=repeat, warmup=1
        )
    return {"time": common.median(timings), "fit": fit, "version": nannyml.__version__}


def alibi_in_this_interpreter(repeat: int) -> dict[str, Any]:
    """TabularDrift on the workload; importable from an interpreter without drift-exporter."""
    import importlib.metadata

    import numpy as np
    from alibi_detect.cd import TabularDrift

    reference = common.columnar_workload(common.SEED, common.REFERENCE_ROWS)
    current = common.columnar_workload(common.SEED + 1, common.WINDOW_RECORDS, drifted=True)
    fingerprint = common.workload_fingerprint(reference) + common.workload_fingerprint(current)
    names = [*common.FEATURES, "prediction"]
    categorical = {names.index(name): None for name in common.CATEGORICAL}
    # Categories as integer codes from the reference (unseen live categories get a new code).
    codes = {
        name: {key: i for i, key in enumerate(np.unique(reference[name]))}
        for name in common.CATEGORICAL
    }

    def matrix(columns: dict[str, Any]) -> Any:
        parts = []
        for name in names:
            if name in codes:
                index = codes[name]
                parts.append(
                    np.array([index.get(v, len(index)) for v in columns[name]], dtype=float)
                )
            else:
                parts.append(columns[name].astype(float))
        return np.column_stack(parts)

    x_reference, x_current = matrix(reference), matrix(current)
    started = time.perf_counter()
    detector = TabularDrift(x_reference, p_val=0.05, categories_per_feature=categorical)
    init = time.perf_counter() - started
    timings = common.repeat_timed(
        lambda: detector.predict(x_current, return_p_val=True, return_distance=True),
        repeat=repeat,
        warmup=1,
    )
    return {
        "time": common.median(timings),
        "init": init,
        "version": importlib.metadata.version("alibi-detect"),
        "numpy": np.__version__,
        "fingerprint": fingerprint,
    }


def measure_alibi(repeat: int, python: str | None) -> dict[str, Any]:
    try:
        import alibi_detect  # noqa: F401
    except ImportError:
        if not python:
            raise
    else:
        result = alibi_in_this_interpreter(repeat)
        result["where"] = "this interpreter"
        return result
    completed = subprocess.run(
        [python, str(Path(__file__).resolve()), "--alibi-only", "--repeat", str(repeat)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    if completed.returncode != 0:
        raise RuntimeError(f"{python} failed:\n{completed.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    result["where"] = f"{python} (numpy {result['numpy']})"
    return result


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=30, help="timed runs of evaluate()")
    parser.add_argument("--baseline-repeat", type=int, default=3, help="timed runs per library")
    parser.add_argument(
        "--alibi-python",
        default=os.environ.get("DRIFT_BENCH_ALIBI_PYTHON"),
        help="interpreter with alibi-detect installed, when this one lacks it",
    )
    parser.add_argument("--alibi-only", action="store_true", help=argparse.SUPPRESS)
    common.add_summary_argument(parser)
    args = parser.parse_args(argv)

    if args.alibi_only:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            print(json.dumps(alibi_in_this_interpreter(args.repeat)))
        return 0

    print(f"# Evaluation benchmark  ({common.machine_line()})")
    print(
        f"workload: reference {common.REFERENCE_ROWS:,} rows, window {common.WINDOW_RECORDS:,} "
        f"records; {len(common.NUMERIC)} numeric + {len(common.CATEGORICAL)} categorical "
        "features + a numeric prediction"
    )
    ours = Ours()
    described = ours.describe()
    print(
        f"drift-exporter: {described['statistics']} statistics over {described['records']:,} "
        f"records (status {described['status']}); drifted: "
        f"{', '.join(described['drifted']) or 'none'}"
    )
    before = ours.measure(args.repeat)
    notes: list[str] = []
    results: dict[str, dict[str, Any] | None] = {}
    fingerprint = common.workload_fingerprint(
        common.columnar_workload(common.SEED, common.REFERENCE_ROWS)
    ) + common.workload_fingerprint(
        common.columnar_workload(common.SEED + 1, common.WINDOW_RECORDS, drifted=True)
    )

    for name, measure in (
        ("evidently", lambda: measure_evidently(args.baseline_repeat)),
        ("nannyml", lambda: measure_nannyml(args.baseline_repeat)),
        ("alibi-detect", lambda: measure_alibi(args.baseline_repeat, args.alibi_python)),
    ):
        try:
            results[name] = measure()
        except ImportError as error:
            results[name] = None
            notes.append(f"{name} not installed: {INSTALL[name]}  ({error})")
        except Exception as error:  # a baseline's own failure must not hide the others
            results[name] = None
            notes.append(f"{name} failed: {type(error).__name__}: {str(error)[:300]}")

    after = ours.measure(args.repeat)
    best = min((before, after), key=lambda run: run["evaluate"])
    baseline = best["evaluate"]
    ks_cost, ks_parts = ours.ks_pvalue_cost()
    rows: list[list[str]] = [
        [
            "drift-exporter evaluate()",
            common.fmt_seconds(baseline),
            "1",
            f"every statistic, snapshot excluded (runs: {common.fmt_seconds(before['evaluate'])}"
            f" before, {common.fmt_seconds(after['evaluate'])} after the libraries)",
        ],
        [
            "drift-exporter snapshot()+evaluate()",
            common.fmt_seconds(best["snapshot_evaluate"]),
            f"{best['snapshot_evaluate'] / baseline:.2f}",
            f"snapshot() alone {common.fmt_seconds(best['snapshot'])}",
        ],
    ]
    evidently = results["evidently"]
    if evidently:
        rows.append(
            [
                f"Evidently {evidently['version']} DataDriftPreset",
                common.fmt_seconds(evidently["time"]),
                f"{evidently['time'] / baseline:,.0f}",
                "one test per column: " + ", ".join(evidently["methods"]),
            ]
        )
    nanny = results["nannyml"]
    if nanny:
        rows.append(
            [
                f"NannyML {nanny['version']} UnivariateDriftCalculator",
                common.fmt_seconds(nanny["time"]),
                f"{nanny['time'] / baseline:,.1f}",
                f"calculate() one chunk; fit() once {common.fmt_seconds(nanny['fit'])}",
            ]
        )
    alibi = results["alibi-detect"]
    if alibi:
        same = "same data" if alibi["fingerprint"] == fingerprint else "DIFFERENT data (numpy RNG)"
        rows.append(
            [
                f"alibi-detect {alibi['version']} TabularDrift",
                common.fmt_seconds(alibi["time"]),
                f"{alibi['time'] / baseline:,.1f}",
                f"predict(); init {common.fmt_seconds(alibi['init'])}; {same}",
            ]
        )
        notes.append(f"alibi-detect ran in {alibi['where']}")

    print()
    common.print_table(["what", "median time", "x ours", "notes"], rows)
    print()
    for note in notes:
        print(note)
    print(
        f"scipy.stats.kstwo.sf (ks_2samp(method='asymp')) on the same KS statistics would take "
        f"{common.fmt_seconds(ks_cost)} ({ks_cost / baseline:.0%} of evaluate()): "
        f"{'; '.join(ks_parts)}; evaluate() uses the Kolmogorov limit instead where p < 0.01 "
        "(exporter.stats.two_sample), so it spends almost none of that."
    )
    print(
        "drift-exporter compares against a bounded sample of the reference (reference.sample_size "
        "10,000) for KS/Wasserstein and precomputed bins for the rest; the libraries read the "
        "full 50,000-row reference on every call."
    )

    summary = common.Summary("evaluation")
    if evidently:
        factor = evidently["time"] / baseline
        summary.add(
            "one evaluation, 5,000-record window",
            common.fmt_seconds(baseline),
            f"Evidently {common.fmt_seconds(evidently['time'])}",
            f"1/{factor:,.0f} of Evidently",
            f"<= 1/{TARGET_EVIDENTLY_FACTOR} of Evidently",
            common.yes_no(factor >= TARGET_EVIDENTLY_FACTOR),
        )
    else:
        summary.add(
            "one evaluation, 5,000-record window",
            common.fmt_seconds(baseline),
            "Evidently not installed",
            "-",
            f"<= 1/{TARGET_EVIDENTLY_FACTOR} of Evidently",
            "-",
        )
    for name, label in (
        ("nannyml", "NannyML per chunk"),
        ("alibi-detect", "alibi-detect TabularDrift"),
    ):
        result = results[name]
        summary.add(
            f"one evaluation vs {label}",
            common.fmt_seconds(baseline),
            f"{common.fmt_seconds(result['time'])}" if result else "not measured",
            f"1/{result['time'] / baseline:,.1f}" if result else "-",
            "(reference point)",
            "-",
        )
    summary.write(args.summary_json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
