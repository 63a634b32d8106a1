"""Run every benchmark, one child process each, then print a summary table for the README.

    python bench/run_all.py [--alibi-python PATH] [--only ingest,scrape]

Each benchmark's full output is printed as it runs; the closing table (Markdown) collects the
one-line results, headed by the date, the machine (`nproc`, the CPU model from /proc/cpuinfo),
the Python version and the versions that matter. Nothing is asserted: a benchmark that misses
its target says "no" in the table and the run still exits 0; only a benchmark that crashes
makes the exit status non-zero.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common

HERE = Path(__file__).resolve().parent
BENCHES = {
    "ingest": "bench_ingest.py",
    "evaluation": "bench_evaluation.py",
    "scrape": "bench_scrape.py",
    "memory": "bench_memory.py",
    "load": "bench_load.py",
    # Per-kernel timings against scipy; its output only (no summary rows), when present.
    "kernels": "bench_stats_kernels.py",
}
PACKAGES = (
    "drift-exporter",
    "numpy",
    "scipy",
    "fastapi",
    "uvicorn",
    "pydantic",
    "prometheus-client",
    "orjson",
    "httpx",
    "evidently",
    "nannyml",
    "pandas",
    "alibi-detect",
)


def versions() -> str:
    found = []
    for package in PACKAGES:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            found.append(f"{package} {importlib.metadata.version(package)}")
    return ", ".join(found)


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", help="comma-separated subset of: " + ", ".join(BENCHES))
    parser.add_argument(
        "--alibi-python",
        default=os.environ.get("DRIFT_BENCH_ALIBI_PYTHON"),
        help="interpreter with alibi-detect, passed to bench_evaluation.py",
    )
    args = parser.parse_args(argv)
    chosen = args.only.split(",") if args.only else list(BENCHES)
    chosen = [name for name in chosen if name not in BENCHES or (HERE / BENCHES[name]).exists()]
    unknown = set(chosen) - set(BENCHES)
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")

    started = time.perf_counter()
    header = [
        f"date: {time.strftime('%Y-%m-%d %H:%M %Z')}",
        f"machine: {common.nproc()} cores (nproc), {common.cpu_model()}",
        f"python: {sys.version.split()[0]}",
        f"versions: {versions()}",
        f"load average at start: {load_average()}",
    ]
    print("# drift-exporter benchmarks")
    for line in header:
        print(line)
    print(flush=True)

    rows: list[dict[str, str]] = []
    failures: list[str] = []
    timings: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="drift-bench-") as workdir:
        for name in chosen:
            summary_file = Path(workdir) / f"{name}.json"
            if name == "kernels":
                command = [sys.executable, "-m", "bench.bench_stats_kernels"]
            else:
                command = [sys.executable, str(HERE / BENCHES[name])]
                command += ["--summary-json", str(summary_file)]
            if name == "evaluation" and args.alibi_python:
                command += ["--alibi-python", args.alibi_python]
            shown = " ".join(
                ["python", *command[1:2]] if name != "kernels" else ["python", *command[1:]]
            )
            print(f"\n{'=' * 100}\n$ {shown.replace(str(HERE.parent) + '/', '')}\n", flush=True)
            bench_started = time.perf_counter()
            try:
                completed = subprocess.run(command, timeout=900, cwd=HERE.parent)
                code = completed.returncode
            except subprocess.TimeoutExpired:
                code = -1
            timings[name] = time.perf_counter() - bench_started
            if code != 0:
                failures.append(f"{name} (exit {code})")
            if summary_file.exists():
                rows.extend(json.loads(summary_file.read_text())["rows"])

    print(f"\n{'=' * 100}\n")
    print("## Summary (paste into README.md)\n")
    for line in header:
        print(f"- {line}")
    print(f"- load average at end: {load_average()}")
    print(
        "- run times: "
        + ", ".join(f"{name} {seconds:.0f} s" for name, seconds in timings.items())
        + f"; total {time.perf_counter() - started:.0f} s"
    )
    print()
    common.print_table(
        ["target", "drift-exporter", "baseline (same run, same data)", "ratio", "goal", "met"],
        [
            [row["target"], row["measured"], row["baseline"], row["ratio"], row["goal"], row["met"]]
            for row in rows
        ],
    )
    if failures:
        print(f"\nfailed: {', '.join(failures)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
