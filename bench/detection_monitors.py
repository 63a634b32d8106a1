"""The three monitors of the detection benchmark, each judging the same windows.

Every monitor answers, per window, one boolean per feature (flagged as drifted or not) and one
score per feature (bench/detection_scores.py: >= 1 where the monitor flags at its defaults,
larger = more evidence of drift), for the matched false-alarm comparison.

* `DriftExporter`: the real pipeline at the settings object's defaults. The reference profile
  is built as PUT /reference builds it (`decode_reference` + `build_profile`, via
  common.build_reference_profile); the window's records go as JSON through
  `decode_predictions` into a `ModelWindow` (window.slices batches, an injected clock stepping
  window.duration_seconds / window.slices between them: records arriving evenly over the
  window, as steady traffic does); then `window.snapshot()` and
  `evaluate(snapshot, settings.drift, settings.min_records_for(model), now)`; a feature is
  flagged when its report's `drifted` is True (None, not judged, counts as not flagged).
* `Evidently`: `DataDriftPreset()` at its defaults decides each column with
  `get_stattest(reference, current, type, None)` (its default test for the column) at the
  test's default threshold. Running the whole `Report` renders plotly widgets for 10-20 s per
  window, so the bench calls those same two functions, as `ValueDriftCalculation.calculate`
  does, and checks on the first windows that the full Report gives the same scores
  (`check_against_report`).
* `NannyML`: `UnivariateDriftCalculator(column_names, treat_as_categorical, chunk_size=n)`
  with its default methods (Jensen-Shannon) and thresholds (reference chunks' mean + 3 sd),
  fitted on the reference; each window is one chunk; flagged = the chunk's `alert`. Runs in
  this interpreter when nannyml imports, else in `--nannyml-python` (see bench_detection.py).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import tempfile
import warnings
from pathlib import Path
from typing import Any

import common
import detection_scores as scoring
import numpy as np
from detection_data import Columns, Population, reference_rows, window_rows

MODEL = "bench-detection"


def records_body(columns: Columns, names: list[str], start: int, stop: int) -> bytes:
    import orjson

    lists = [columns[name][start:stop].tolist() for name in names]
    return orjson.dumps(
        {
            "records": [
                {"features": dict(zip(names, row, strict=True))} for row in zip(*lists, strict=True)
            ]
        }
    )


class DriftExporter:
    """drift-exporter through its ingest, window and evaluation code, no HTTP."""

    name = "drift-exporter"

    def __init__(self, population: Population, settings: Any) -> None:
        self.population = population
        self.settings = settings
        self.profiles: dict[int, Any] = {}

    def fit(self, draw: int, reference: Columns) -> None:
        body = records_body(
            reference, self.population.names, 0, len(reference[self.population.names[0]])
        )
        self.profiles[draw] = common.build_reference_profile(MODEL, body, self.settings)

    def judge(self, draw: int, window: Columns) -> tuple[np.ndarray, bool, np.ndarray]:
        """(flags, judged, scores) of one window; a feature not judged scores NaN."""
        from exporter.evaluation.evaluator import evaluate
        from exporter.window.model import ModelWindow

        settings = self.settings
        names = self.population.names
        rows = len(window[names[0]])
        parts = settings.window.slices if settings.window.duration_seconds else 1
        step = (settings.window.duration_seconds or 0.0) / parts
        now = [0.0]
        model_window = ModelWindow(self.profiles[draw], settings, lambda: now[0])
        for k in range(parts):
            start, stop = rows * k // parts, rows * (k + 1) // parts
            if stop > start:
                now[0] = k * step
                model_window.append(
                    common.decode_batch(records_body(window, names, start, stop), settings)
                )
        report = evaluate(
            model_window.snapshot(), settings.drift, settings.min_records_for(MODEL), now[0]
        )
        by_name = {column.name: column for column in report.features}
        flags = np.array([name in by_name and by_name[name].drifted is True for name in names])
        scores = np.array([self.score(by_name.get(name)) for name in names])
        return flags, report.status == "ok", scores

    def score(self, column: Any) -> float:
        """The column's score under the settings' method (detection_scores), NaN if not judged."""
        from exporter.evaluation.decision import deciding_statistic, effect_floor

        if column is None or column.drifted is None:
            return math.nan
        drift = self.settings.drift
        if drift.method == "pvalue":
            test = next(s for s in column.statistics if s.name in ("ks", "chi2"))
            psi = column.statistic("psi")
            return scoring.exporter_pvalue_score(
                test.adjusted_pvalue,
                drift.alpha,
                None if psi is None else psi.value,
                effect_floor("psi", drift),
            )
        deciding = column.statistic(deciding_statistic(column.kind, drift.method))
        return scoring.exporter_score(deciding.value, deciding.threshold)


class Evidently:
    """Evidently's DataDriftPreset decision per column, at its defaults."""

    name = "Evidently"

    def __init__(self, population: Population) -> None:
        import evidently
        import pandas as pd

        self.version = evidently.__version__
        self.population = population
        self.pd = pd
        self.references: dict[int, Any] = {}

    def fit(self, draw: int, reference: Columns) -> None:
        self.references[draw] = self.pd.DataFrame(reference)

    def judge(self, draw: int, window: Columns) -> tuple[np.ndarray, bool, np.ndarray]:
        """(flags, judged, scores) of one window: each column's test at its threshold."""
        columns = self.scores(draw, window)
        flags = np.array([s["drifted"] for s in columns])
        scores = np.array(
            [scoring.evidently_score(s["test"], s["score"], s["threshold"]) for s in columns]
        )
        return flags, True, scores

    def scores(self, draw: int, window: Columns) -> list[dict[str, Any]]:
        from evidently.legacy.calculations.stattests.registry import get_stattest
        from evidently.legacy.core import ColumnType
        from evidently.legacy.options.data_drift import DataDriftOptions

        options = DataDriftOptions()
        reference = self.references[draw]
        current = self.pd.DataFrame(window)
        out = []
        for feature in self.population.features:
            kind = ColumnType.Categorical if feature.categorical else ColumnType.Numerical
            ref, cur = reference[feature.name], current[feature.name]
            test = get_stattest(
                ref, cur, kind, options.get_feature_stattest_func(feature.name, kind.value)
            )
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result = test(ref, cur, kind, options.get_threshold(feature.name, kind.value))
            out.append(
                {
                    "method": test.display_name,
                    "test": test.name,
                    "score": float(result.drift_score),
                    "threshold": float(result.actual_threshold),
                    "drifted": bool(result.drifted),
                }
            )
        return out

    def check_against_report(self, draw: int, window: Columns) -> list[str]:
        """Differences between `scores` and a full `Report([DataDriftPreset()])` run."""
        from evidently import DataDefinition, Dataset, Report
        from evidently.presets import DataDriftPreset

        features = self.population.features
        definition = DataDefinition(
            numerical_columns=[f.name for f in features if not f.categorical],
            categorical_columns=[f.name for f in features if f.categorical],
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = (
                Report([DataDriftPreset()])
                .run(
                    Dataset.from_pandas(self.pd.DataFrame(window), data_definition=definition),
                    Dataset.from_pandas(self.references[draw], data_definition=definition),
                )
                .dict()
            )
        full = {
            m["config"]["column"]: m["value"]
            for m in result["metrics"]
            if m["config"].get("type", "").endswith("ValueDrift")
        }
        ours = self.scores(draw, window)
        return [
            f"{f.name}: report {full.get(f.name)} vs direct {s['score']}"
            for f, s in zip(features, ours, strict=True)
            if full.get(f.name) is None
            or not np.isclose(full[f.name], s["score"], rtol=1e-9, atol=1e-12)
        ]


# --------------------------------------------------------------------------- NannyML


def nannyml_flags(job: dict[str, Any]) -> dict[str, Any]:
    """Flags and scores of every window of `job` (one dataset, one n), in this interpreter.

    job: dataset, n, seed, references, reference_rows, windows {scenario: count}. Windows
    w = r, r + R, r + 2R, ... of each scenario use reference draw r; for each draw one
    calculator is fitted (chunk_size = n) and all of its windows are calculated in one call,
    one chunk each."""
    os.environ.setdefault("NML_DISABLE_USAGE_LOGGING", "1")  # no calls home: the bench is offline
    import nannyml
    import pandas as pd
    from detection_data import population

    pop = population(job["dataset"])
    n, draws = job["n"], job["references"]
    categorical = [f.name for f in pop.features if f.categorical]
    flags = {
        s: np.zeros((count, len(pop.features)), dtype=bool) for s, count in job["windows"].items()
    }
    scores = {s: np.zeros(f.shape) for s, f in flags.items()}
    below = {s: np.zeros(f.shape, dtype=bool) for s, f in flags.items()}
    prints = []
    for r in range(draws):
        reference = pd.DataFrame(reference_rows(pop, job["seed"], r, job["reference_rows"]))
        order = [(s, w) for s, count in job["windows"].items() for w in range(r, count, draws)]
        if not order:
            continue
        frames = []
        for s, w in order:
            columns, _ = window_rows(pop, job["seed"], n, s, w)
            frames.append(pd.DataFrame(columns))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            calculator = nannyml.UnivariateDriftCalculator(
                column_names=pop.names, treat_as_categorical=categorical, chunk_size=n
            )
            calculator.fit(reference)
            result = calculator.calculate(pd.concat(frames, ignore_index=True))
        table = result.filter(period="analysis").to_df()
        methods = {c[1] for c in table.columns if c[-1] == "alert"}
        if len(table) != len(order):
            raise RuntimeError(f"NannyML made {len(table)} chunks of {len(order)} windows")
        if len(methods) != 1:
            raise RuntimeError(f"NannyML used {sorted(methods)}, expected one method a column")
        (method,) = methods
        for i, (s, w) in enumerate(order):
            flags[s][w] = [bool(table[(name, method, "alert")].iloc[i]) for name in pop.names]
            scores[s][w] = [
                scoring.nannyml_score(
                    float(table[(name, method, "value")].iloc[i]),
                    _threshold(table[(name, method, "lower_threshold")].iloc[i]),
                    _threshold(table[(name, method, "upper_threshold")].iloc[i]),
                )
                for name in pop.names
            ]
            below[s][w] = [
                table[(name, method, "value")].iloc[i]
                < (_threshold(table[(name, method, "lower_threshold")].iloc[i]) or -math.inf)
                for name in pop.names
            ]
        prints.append(sorted(methods))
    return {
        "flags": {s: f.tolist() for s, f in flags.items()},
        "scores": {s: v.tolist() for s, v in scores.items()},
        # windows alarmed by a value under the lower threshold (closer to the reference than
        # the reference's own chunks), per scenario
        "below_lower": {s: int(b.any(axis=1).sum()) for s, b in below.items()},
        "version": nannyml.__version__,
        "methods": sorted({m for p in prints for m in p}),
    }


def _threshold(value: Any) -> float | None:
    """A NannyML threshold cell: None (or NaN) where the method has no such threshold."""
    return None if value is None or not math.isfinite(float(value)) else float(value)


def run_nannyml(job: dict[str, Any], python: str | None) -> dict[str, Any]:
    """`nannyml_flags` here when nannyml imports, else in the interpreter `python`."""
    try:
        import nannyml  # noqa: F401
    except ImportError:
        if not python:
            raise
    else:
        return nannyml_flags(job)
    with tempfile.TemporaryDirectory(prefix="bench-detection-") as tmp:
        job_file, out_file = Path(tmp) / "job.json", Path(tmp) / "flags.json"
        job_file.write_text(json.dumps(job))
        script = Path(__file__).resolve().parent / "bench_detection.py"
        completed = subprocess.run(
            [python, str(script), "--nannyml-worker", str(job_file), str(out_file)],
            capture_output=True,
            text=True,
            timeout=3_600,
            env={**os.environ, "NML_DISABLE_USAGE_LOGGING": "1"},
        )
        if completed.returncode != 0:
            raise RuntimeError(f"{python} failed:\n{completed.stderr[-2000:]}")
        result: dict[str, Any] = json.loads(out_file.read_text())
    result["where"] = python
    return result


def nannyml_worker(job_file: str, out_file: str) -> int:
    """Entry point of the NannyML interpreter: the job in, the flags out, as JSON files."""
    job = json.loads(Path(job_file).read_text())
    Path(out_file).write_text(json.dumps(nannyml_flags(job)))
    return 0
