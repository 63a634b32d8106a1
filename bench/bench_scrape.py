"""GET /metrics latency at ~4,000 drift series while ingest and evaluation run.

    python bench/bench_scrape.py [--scrapes 500] [--rate 50]

Setup: `drift-exporter serve` in a child process with 10 models x 50 numeric features (+ a
numeric prediction) and min_records 100, so every drift gauge is published: about 4,100
per-feature statistic and quality series. The references have 10,000 rows each; reference
size does not change what /metrics renders.

Two servers, because evaluation (a scheduler thread in the server, the evaluation worker
process beside it) shares the server's GIL and the machine's cores:

* evaluation between scrapes: the models are evaluated once (POST /evaluate) and the interval
  is an hour, so no evaluation runs while scraping: the cost of the scrape path itself;
* evaluation back-to-back: the interval (0.25 s) is shorter than one cycle over the 10 models,
  so an evaluation is always running: the worst case, which the default 15 s interval hits for
  the share of time one cycle takes (printed).

Each server goes through three phases of `--scrapes` scrapes, `--rate` per second on average,
over one keep-alive connection, each followed by a GET /healthz on a second connection (the
same event loop, no metrics: what any request waits at that moment): no ingest; 20,000
records/s of 1,000-record batches round-robin over the 10 models from a separate load process;
and that load process posting flat out from 4 connections. Scrapes arrive at random (seeded
exponential gaps), not on a fixed beat: a fixed beat against the load's fixed beat would
sample the same few moments of each batch over and over, and p99 would swing with the phase
the two beats happened to start in (4.4-8.2 ms between identical runs at 250 fixed-beat
scrapes).

Baseline, in this process on reports built the same way: prometheus_client's generate_latest()
rendering the same drift families on every scrape, from `drift_families.DriftCollector` (what
a custom collector does when it renders per scrape). drift-exporter renders them once per
evaluation (`ReportBoard.publish`) and per scrape renders only the live counters, also timed
in-process. Target: /metrics p99 <= 25 ms and no scrape over 250 ms, at 20,000 records/s
ingest with back-to-back evaluation. The load process and the scraper share the machine's
cores with the server.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import gzip
import http.client
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common

MODELS = 10
FEATURES = 50
REFERENCE_ROWS = 10_000
MIN_RECORDS = 100
#: The scheduler never runs again within a phase: models are evaluated once by POST /evaluate.
IDLE_EVALUATION_INTERVAL = 3_600.0
#: Shorter than one cycle of the 10 models, so an evaluation is always running.
BUSY_EVALUATION_INTERVAL = 0.25
STEADY_RECORDS_PER_SECOND = 20_000
STEADY_PHASE = f"ingest {STEADY_RECORDS_PER_SECOND:,} rec/s"
#: (name, load records/s or None for no load, load connections); 0 records/s = flat out.
PHASES = (
    ("no ingest", None, 0),
    (STEADY_PHASE, STEADY_RECORDS_PER_SECOND, 1),
    ("ingest flat out, 4 connections", 0.0, 4),
)
TARGET_P99_SECONDS = 0.025
TARGET_MAX_SECONDS = 0.250


def model_name(i: int) -> str:
    return f"wide-{i:02d}"


def reference_body(i: int) -> bytes:
    return common.json_body(
        common.records_from_columns(common.wide_columns(1_000 + i, REFERENCE_ROWS, FEATURES))
    )


def traffic_bodies(i: int, batches: int) -> list[bytes]:
    columns = common.wide_columns(2_000 + i, batches * common.BATCH_RECORDS, FEATURES, drifted=True)
    return common.batch_bodies(common.records_from_columns(columns))


# --------------------------------------------------------------------------- the load process


async def _load(base: str, rate: float, seconds: float, connections: int) -> None:
    """POST batches round-robin to every model: at `rate` records/s, or flat out if rate <= 0."""
    import httpx

    bodies = [(model_name(i), body) for i in range(MODELS) for body in traffic_bodies(i, 3)]
    headers = {"content-type": "application/json"}
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    interval = common.BATCH_RECORDS / rate if rate > 0 else 0.0
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60.0) as client:
        started = time.perf_counter()
        stop_at = started + seconds
        sent = 0

        async def worker(offset: int) -> None:
            nonlocal sent
            i = offset
            while (now := time.perf_counter()) < stop_at:
                if interval:
                    due = started + sent * interval
                    if due > now:
                        await asyncio.sleep(due - now)
                        continue
                sent += 1
                model, body = bodies[i % len(bodies)]
                await client.post(f"/v1/models/{model}/predictions", content=body, headers=headers)
                i += connections

        await asyncio.gather(*(worker(k) for k in range(connections)))
    print(f"{sent * common.BATCH_RECORDS / (time.perf_counter() - started):.0f}", flush=True)


def start_load(base: str, rate: float, seconds: float, connections: int) -> subprocess.Popen[str]:
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--load",
        base,
        "--load-rate",
        str(rate),
        "--load-seconds",
        str(seconds),
        "--load-connections",
        str(connections),
    ]
    return subprocess.Popen(command, stdout=subprocess.PIPE, text=True)


# --------------------------------------------------------------------------- scraping


class Connection:
    """One keep-alive HTTP/1.1 connection, timing each GET from send to the last body byte.

    It asks for gzip as Prometheus does, and the timing includes inflating the body."""

    def __init__(self, base: str) -> None:
        host, port = base.removeprefix("http://").split(":")
        self._connection = http.client.HTTPConnection(host, int(port), timeout=30)

    def get(self, path: str) -> tuple[float, bytes]:
        started = time.perf_counter()
        self._connection.request("GET", path, headers={"Accept-Encoding": "gzip"})
        response = self._connection.getresponse()
        body = response.read()
        if response.getheader("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        elapsed = time.perf_counter() - started
        if response.status != 200:
            raise RuntimeError(f"GET {path}: {response.status}")
        return elapsed, body

    def close(self) -> None:
        self._connection.close()


def scrape_phase(base: str, scrapes: int, rate: float, seed: int) -> dict[str, Any]:
    metrics, health = Connection(base), Connection(base)
    scrape_times: list[float] = []
    health_times: list[float] = []
    size = 0
    arrivals = random.Random(seed)
    # This process's own cyclic GC would otherwise land inside timed scrapes now and then (a
    # full pass over the modules it imported takes tens of ms): the scraper's pauses are not
    # the server's latency. Each scrape's objects are freed by reference counting anyway.
    gc.collect()
    gc.disable()
    due = time.perf_counter()
    try:
        for _ in range(scrapes):
            due += arrivals.expovariate(rate)
            pause = due - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            elapsed, body = metrics.get("/metrics")
            scrape_times.append(elapsed)
            size = len(body)
            health_times.append(health.get("/healthz")[0])
    finally:
        gc.enable()
        metrics.close()
        health.close()
    return {"scrape": scrape_times, "health": health_times, "bytes": size}


def series_counts(text: str) -> tuple[int, int]:
    samples = [line for line in text.splitlines() if line and not line.startswith("#")]
    drift = [
        line
        for line in samples
        if line.startswith(("drift_feature_", "drift_prediction_"))
        and not line.startswith("drift_feature_drifted")
    ]
    return len(samples), len(drift)


def wait_for_drift_gauges(base: str, expected: int, timeout: float = 60.0) -> str:
    connection = Connection(base)
    deadline = time.monotonic() + timeout
    try:
        while True:
            text = connection.get("/metrics")[1].decode()
            if text.count("drift_feature_psi{") >= expected:
                return text
            if time.monotonic() > deadline:
                raise RuntimeError(f"drift gauges did not appear in {timeout} s")
            time.sleep(0.2)
    finally:
        connection.close()


def evaluation_mean(text: str) -> float | None:
    total = count = 0.0
    for line in text.splitlines():
        if line.startswith("drift_evaluation_duration_seconds_sum"):
            total += float(line.rsplit(" ", 1)[1])
        elif line.startswith("drift_evaluation_duration_seconds_count"):
            count += float(line.rsplit(" ", 1)[1])
    return total / count if count else None


# --------------------------------------------------------------------------- in-process baseline


def in_process_renders(scrapes: int) -> dict[str, Any]:
    """generate_latest() of the drift families per scrape vs what the server does per scrape."""
    from prometheus_client import CollectorRegistry
    from prometheus_client.exposition import generate_latest

    from exporter.evaluation.evaluator import evaluate
    from exporter.prometheus.board import ReportBoard, evaluation_duration_histogram
    from exporter.prometheus.collectors import LiveCollector, RejectionCounter
    from exporter.prometheus.drift_families import DriftCollector
    from exporter.prometheus.text import render_text
    from exporter.window.store import WindowStore

    settings = common.bench_settings(
        min_records=MIN_RECORDS, window={"max_records": common.WINDOW_RECORDS}
    )
    store = WindowStore(settings)
    reports = {}
    live_registry = CollectorRegistry(auto_describe=False)
    live_registry.register(LiveCollector(store, RejectionCounter()))
    evaluation_registry = CollectorRegistry(auto_describe=False)
    duration = evaluation_duration_histogram(evaluation_registry)
    for i in range(MODELS):
        model = model_name(i)
        store.set_reference(common.build_reference_profile(model, reference_body(i), settings))
        for body in traffic_bodies(i, 2):
            store.get(model).append(common.decode_batch(body, settings))
        report = evaluate(store.get(model).snapshot(), settings.drift, MIN_RECORDS, time.time())
        duration.labels(model).observe(0.01)
        reports[model] = report
    board = ReportBoard(evaluation_registry)
    board.publish(reports.values())

    registry = CollectorRegistry(auto_describe=False)
    registry.register(DriftCollector(reports))
    per_scrape = common.repeat_timed(lambda: generate_latest(registry), repeat=scrapes, warmup=3)
    served = common.repeat_timed(
        lambda: render_text(live_registry.collect()) + board.rendered.text, repeat=scrapes, warmup=3
    )
    publish = common.repeat_timed(lambda: board.publish(reports.values()), repeat=10, warmup=1)
    return {
        "generate_latest": per_scrape,
        "served": served,
        "publish": common.median(publish),
        "text": generate_latest(registry).decode(),
    }


# --------------------------------------------------------------------------- main


def stats_row(name: str, timings: list[float], baseline_p50: float | None) -> list[str]:
    p50 = common.percentile(timings, 50)
    return [
        name,
        common.fmt_seconds(p50),
        common.fmt_seconds(common.percentile(timings, 90)),
        common.fmt_seconds(common.percentile(timings, 99)),
        common.fmt_seconds(max(timings)),
        "-" if baseline_p50 is None else f"{p50 / baseline_p50:.3f}",
    ]


def run_server(label: str, interval: float, scrapes: int, rate: float) -> dict[str, Any]:
    """Start a server, load the 10 models, scrape through the three ingest phases."""
    import httpx

    config = {
        "evaluation_interval_seconds": interval,
        "min_records": MIN_RECORDS,
        "window": {"max_records": common.WINDOW_RECORDS},
    }
    result: dict[str, Any] = {"phases": {}, "loads": {}}
    with common.running_server(config) as server:
        setup_started = time.perf_counter()
        for i in range(MODELS):
            common.upload_reference(server.base, model_name(i), reference_body(i))
        with httpx.Client(base_url=server.base, timeout=60) as client:
            for i in range(MODELS):
                for body in traffic_bodies(i, 2):
                    client.post(
                        f"/v1/models/{model_name(i)}/predictions",
                        content=body,
                        headers={"content-type": "application/json"},
                    ).raise_for_status()
            if interval >= IDLE_EVALUATION_INTERVAL:
                for i in range(MODELS):  # publish once; the scheduler will not run again
                    client.post(f"/v1/models/{model_name(i)}/evaluate").raise_for_status()
        text = wait_for_drift_gauges(server.base, MODELS * FEATURES)
        result["setup"] = time.perf_counter() - setup_started
        result["samples"], result["series"] = series_counts(text)
        phase_seconds = scrapes / rate + 2.0
        for seed, (name, load_rate, connections) in enumerate(PHASES):
            load = None
            if load_rate is not None:
                load = start_load(server.base, load_rate, phase_seconds, connections)
                time.sleep(1.0)  # let the load reach its pace before timing scrapes
            result["phases"][name] = scrape_phase(server.base, scrapes, rate, seed)
            if load is not None:
                out, _ = load.communicate(timeout=phase_seconds + 60)
                lines = out.strip().splitlines()
                result["loads"][name] = float(lines[-1]) if lines else float("nan")
        final = Connection(server.base)
        text = final.get("/metrics")[1].decode()
        final.close()
    result["bytes"] = len(text.encode())
    result["mean_evaluation"] = evaluation_mean(text)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scrapes", type=int, default=500, help="scrapes per phase")
    parser.add_argument("--rate", type=float, default=50.0, help="mean scrapes per second")
    parser.add_argument("--load", help=argparse.SUPPRESS)
    parser.add_argument("--load-rate", type=float, default=0.0, help=argparse.SUPPRESS)
    parser.add_argument("--load-seconds", type=float, default=10.0, help=argparse.SUPPRESS)
    parser.add_argument("--load-connections", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument(
        "--back-to-back-only",
        action="store_true",
        help="only the server with back-to-back evaluation (the target's case; half the time)",
    )
    common.add_summary_argument(parser)
    args = parser.parse_args(argv)
    if args.load:
        asyncio.run(_load(args.load, args.load_rate, args.load_seconds, args.load_connections))
        return 0

    print(f"# /metrics benchmark  ({common.machine_line()})")
    baseline = in_process_renders(args.scrapes)
    _, baseline_series = series_counts(baseline["text"])
    gen_p50 = common.percentile(baseline["generate_latest"], 50)

    servers = tuple(
        (label, interval)
        for label, interval in (
            ("evaluation between scrapes", IDLE_EVALUATION_INTERVAL),
            ("evaluation back-to-back", BUSY_EVALUATION_INTERVAL),
        )
        if not args.back_to_back_only or interval == BUSY_EVALUATION_INTERVAL
    )
    results: dict[str, dict[str, Any]] = {}
    for label, interval in servers:
        results[label] = run_server(label, interval, args.scrapes, args.rate)
        if "series" in results[label]:
            print(
                f"{label}: /metrics has {results[label]['samples']:,} samples, "
                f"{results[label]['series']:,} of them per-feature/prediction drift statistics "
                f"and quality ratios ({baseline_series:,} in the in-process baseline); "
                f"setup {results[label]['setup']:.1f} s"
            )

    print()
    rows = [
        stats_row(
            "generate_latest() of drift families (in-process)", baseline["generate_latest"], gen_p50
        ),
        stats_row("drift-exporter per-scrape work (in-process)", baseline["served"], gen_p50),
    ]
    for label, result in results.items():
        for name, phase in result["phases"].items():
            rows.append(stats_row(f"/metrics, {label}, {name}", phase["scrape"], gen_p50))
            rows.append(stats_row(f"/healthz, {label}, {name}", phase["health"], gen_p50))
    common.print_table(
        ["what (HTTP unless in-process)", "p50", "p90", "p99", "max", "p50 / generate_latest p50"],
        rows,
    )
    print()
    busy = results["evaluation back-to-back"]
    cycle = busy["mean_evaluation"] * MODELS if busy["mean_evaluation"] else None
    print(
        f"{args.scrapes} scrapes per phase, {args.rate:g}/s on average at random moments, over "
        "keep-alive (http.client), each "
        f"followed by a /healthz; /metrics body {busy['bytes'] / 1024:.0f} KiB. "
        f"Rendering the drift families (once per evaluation cycle, in the evaluation worker) takes "
        f"{common.fmt_seconds(baseline['publish'])} for these 10 reports."
    )
    if cycle:
        print(
            f"One evaluation cycle of the 10 models takes ~{common.fmt_seconds(cycle)} on the "
            f"server under this load (mean {common.fmt_seconds(busy['mean_evaluation'])} per "
            f"model): at the default 15 s interval evaluation runs {cycle / 15:.0%} of "
            "the time, so about that share of scrapes sees the back-to-back figures."
        )
    for label, result in results.items():
        for name, achieved in result["loads"].items():
            print(f"ingest accepted during '{label}, {name}': {achieved:,.0f} records/s")
    print(
        "The load process and this scraper share the machine's cores with the server; "
        "/healthz shows the latency any request sees at the same moment."
    )

    summary = common.Summary("scrape")
    gen_p99 = common.percentile(baseline["generate_latest"], 99)
    for label, phase, load in (
        ("evaluation between scrapes", "no ingest", "no ingest"),
        (
            "evaluation between scrapes",
            STEADY_PHASE,
            f"ingest {STEADY_RECORDS_PER_SECOND // 1000}k rec/s",
        ),
        (
            "evaluation back-to-back",
            STEADY_PHASE,
            f"ingest {STEADY_RECORDS_PER_SECOND // 1000}k rec/s",
        ),
    ):
        if label not in results:
            continue
        result = results[label]
        timings = result["phases"][phase]["scrape"]
        p50, p99 = common.percentile(timings, 50), common.percentile(timings, 99)
        slowest = max(timings)
        summary.add(
            f"/metrics, {result['series']:,} series, {load}, {label}",
            f"p50 {common.fmt_seconds(p50)}, p99 {common.fmt_seconds(p99)}, "
            f"max {common.fmt_seconds(slowest)}",
            f"generate_latest p50 {common.fmt_seconds(gen_p50)}, p99 {common.fmt_seconds(gen_p99)}",
            f"p50 {p50 / gen_p50:.2f}x",
            "p99 <= 25 ms, max <= 250 ms",
            common.yes_no(p99 <= TARGET_P99_SECONDS and slowest <= TARGET_MAX_SECONDS),
        )
    summary.write(args.summary_json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
