"""Bounded load: concurrent producers, a scraper every 0.5 s and the evaluator, on one server.

    python bench/bench_load.py [--seconds 20] [--producers 4] [--max-batches 10000]

`drift-exporter serve` (one uvicorn worker) runs as a child process on a free loopback port
with `evaluation_interval_seconds: 1`, so the evaluator thread really competes with ingest and
scrapes. The workload is bench/common.py's: a 50,000-row, 8-feature reference, and drifted
traffic as pre-serialised 1,000-record JSON batches.

1. At rest: the reference is uploaded, the window filled, the first evaluations published;
   then /metrics is scraped back to back with nothing else running (the baseline).
2. Under load: `--producers` threads, each on its own keep-alive connection, POST batches as
   fast as they are answered until `--seconds` have passed or `--max-batches` batches were sent
   (both bounds always apply); one scraper GETs /metrics every 0.5 s and times each scrape;
   the evaluator runs every second.
3. Consistency: `drift_records_total{model}` must equal the warm-up records plus every record
   acknowledged with 202 (the `accepted` counts summed): nothing lost, nothing counted twice.
   A request with no answer (a timeout, a reset) would make that unknowable, so it fails the
   check too, as does a counter that goes backwards between two scrapes.

Printed: accepted records/s; scrape p50 / p99 / max under load against at rest (the ratio is
what travels between machines); evaluations run and their mean duration under load against at
rest; the server's peak RSS (VmHWM, reset after warm-up where the kernel allows it) against its
RSS at rest; MATCH or MISMATCH. Exit status 1 on MISMATCH. Only 127.0.0.1 is contacted.
`run_load(LoadConfig(...))` is the reusable core; tests/integration/test_load_consistency.py
runs a three-second version of it.
"""

from __future__ import annotations

import argparse
import re
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common

MODEL = common.MODEL
MIB = 1024.0


@dataclass(frozen=True)
class LoadConfig:
    """What to run: the bounds on time and count, the workload, the server's settings."""

    seconds: float = 20.0
    producers: int = 4
    max_batches: int = 10_000
    scrape_interval_seconds: float = 0.5
    reference_rows: int = common.REFERENCE_ROWS
    distinct_batches: int = 20
    window_records: int = 10_000
    evaluation_interval_seconds: float = 1.0
    warmup_batches: int = 10
    rest_scrapes: int = 60
    request_timeout_seconds: float = 60.0


@dataclass
class LoadResult:
    """What one run measured; `consistent` is the verdict on the record count."""

    config: LoadConfig
    elapsed_seconds: float
    batches_sent: int
    acknowledged_records: int
    warmup_records: int
    counted_records: int
    listed_records: int
    non_202: list[int]
    unanswered: list[str]
    counter_went_backwards: bool
    scrape_seconds_load: list[float]
    scrape_seconds_rest: list[float]
    scrape_failures: list[str]
    evaluations_load: int
    evaluation_seconds_load: float
    evaluation_seconds_rest: float
    evaluation_success: float | None
    rss_rest_kib: int
    peak_startup_kib: int
    peak_rss_kib: int
    peak_was_reset: bool
    server_cpu_seconds: float
    client_cpu_seconds: float

    @property
    def expected_records(self) -> int:
        return self.warmup_records + self.acknowledged_records

    @property
    def consistent(self) -> bool:
        return (
            self.counted_records == self.expected_records
            and self.listed_records == self.expected_records
            and not self.unanswered
            and not self.counter_went_backwards
        )

    @property
    def records_per_second(self) -> float:
        return self.acknowledged_records / self.elapsed_seconds if self.elapsed_seconds else 0.0


# --------------------------------------------------------------------------- /metrics parsing

_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$")


def sample_value(text: str, name: str, labels: str = "") -> float | None:
    """The value of the series `name{labels}` (labels as exposed, e.g. `model="m"`)."""
    wanted = f"{{{labels}}}" if labels else None
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if match and match.group(1) == name and match.group(2) == wanted:
            return float(match.group(3))
    return None


def _evaluations(text: str) -> tuple[float, float]:
    labels = f'model="{MODEL}"'
    count = sample_value(text, "drift_evaluation_duration_seconds_count", labels) or 0.0
    total = sample_value(text, "drift_evaluation_duration_seconds_sum", labels) or 0.0
    return count, total


# --------------------------------------------------------------------------- the run


def _reset_peak_rss(pid: int) -> bool:
    """Reset VmHWM to the current RSS (Linux: 5 > /proc/PID/clear_refs); False if not allowed."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _wait_for_evaluations(client: Any, at_least: float, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while True:
        text = client.get("/metrics").text
        if _evaluations(text)[0] >= at_least or time.monotonic() > deadline:
            return text
        time.sleep(0.1)


def run_load(config: LoadConfig) -> LoadResult:
    """Start a server, load it as `config` says, and return what was measured."""
    import httpx

    reference = common.records_from_columns(
        common.columnar_workload(common.SEED, config.reference_rows)
    )
    reference_body = common.json_body(reference)
    del reference
    traffic = common.records_from_columns(
        common.columnar_workload(
            common.SEED + 1, config.distinct_batches * common.BATCH_RECORDS, drifted=True
        )
    )
    bodies = common.batch_bodies(traffic)
    del traffic
    server_config = {
        "evaluation_interval_seconds": config.evaluation_interval_seconds,
        "window": {"max_records": config.window_records},
    }
    timeout = config.request_timeout_seconds
    with common.running_server(server_config) as server:
        common.upload_reference(server.base, MODEL, reference_body)
        with httpx.Client(base_url=server.base, timeout=timeout) as client:
            # Warm-up: fill the window, let the evaluator publish twice, scrape at rest.
            warmup_records = 0
            for body in bodies[: config.warmup_batches]:
                response = client.post(
                    f"/v1/models/{MODEL}/predictions",
                    content=body,
                    headers={"content-type": "application/json"},
                )
                response.raise_for_status()
                warmup_records += response.json()["accepted"]
            _wait_for_evaluations(client, 2, timeout=10 * config.evaluation_interval_seconds)
            rest_scrapes = []
            for _ in range(config.rest_scrapes):
                started = time.perf_counter()
                client.get("/metrics").raise_for_status()
                rest_scrapes.append(time.perf_counter() - started)
            count_after_rest, total_after_rest = _evaluations(client.get("/metrics").text)
            evaluation_seconds_rest = total_after_rest / max(count_after_rest, 1.0)
            at_rest = server.memory_kib()
            rss_rest, peak_startup = at_rest["VmRSS"], at_rest["VmHWM"]
            peak_was_reset = _reset_peak_rss(server.pid)

            outcome = _drive(server, bodies, config)

            text = client.get("/metrics").text
            count_after_load, total_after_load = _evaluations(text)
            counted = sample_value(text, "drift_records_total", f'model="{MODEL}"')
            success = sample_value(text, "drift_evaluation_success", f'model="{MODEL}"')
            models = client.get("/v1/models").json()["models"]
            listed = next((m["records_total"] for m in models if m["model"] == MODEL), -1)
        memory = server.memory_kib()
    evaluations_load = int(count_after_load - count_after_rest)
    return LoadResult(
        config=config,
        elapsed_seconds=outcome["elapsed"],
        batches_sent=outcome["sent"],
        acknowledged_records=outcome["acknowledged"],
        warmup_records=warmup_records,
        counted_records=-1 if counted is None else int(counted),
        listed_records=int(listed),
        non_202=outcome["non_202"],
        unanswered=outcome["unanswered"],
        counter_went_backwards=outcome["backwards"],
        scrape_seconds_load=outcome["scrapes"],
        scrape_seconds_rest=rest_scrapes,
        scrape_failures=outcome["scrape_failures"],
        evaluations_load=evaluations_load,
        evaluation_seconds_load=(total_after_load - total_after_rest) / max(evaluations_load, 1),
        evaluation_seconds_rest=evaluation_seconds_rest,
        evaluation_success=success,
        rss_rest_kib=rss_rest,
        peak_startup_kib=peak_startup,
        peak_rss_kib=memory["VmHWM"],
        peak_was_reset=peak_was_reset,
        server_cpu_seconds=outcome["server_cpu"],
        client_cpu_seconds=outcome["client_cpu"],
    )


def _drive(server: common.Server, bodies: list[bytes], config: LoadConfig) -> dict[str, Any]:
    """Producers and the scraper, in threads, until the time or the batch budget runs out."""
    import httpx

    base = server.base
    lock = threading.Lock()
    stop = threading.Event()
    state: dict[str, Any] = {
        "sent": 0,
        "acknowledged": 0,
        "non_202": [],
        "unanswered": [],
        "scrapes": [],
        "scrape_failures": [],
        "backwards": False,
    }
    deadline = time.perf_counter() + config.seconds
    headers = {"content-type": "application/json"}
    url = f"/v1/models/{MODEL}/predictions"

    def claim() -> int | None:
        with lock:
            if state["sent"] >= config.max_batches or time.perf_counter() >= deadline:
                return None
            state["sent"] += 1
            return int(state["sent"])

    def producer(offset: int) -> None:
        with httpx.Client(base_url=base, timeout=config.request_timeout_seconds) as client:
            while (number := claim()) is not None:
                body = bodies[(number + offset) % len(bodies)]
                try:
                    response = client.post(url, content=body, headers=headers)
                except httpx.HTTPError as error:
                    with lock:
                        state["unanswered"].append(f"{type(error).__name__}: {error}")
                    continue
                with lock:
                    if response.status_code == 202:
                        state["acknowledged"] += int(response.json()["accepted"])
                    else:
                        state["non_202"].append(response.status_code)

    def scraper() -> None:
        last_total = -1.0
        with httpx.Client(base_url=base, timeout=config.request_timeout_seconds) as client:
            tick = time.perf_counter()
            while not stop.is_set():
                started = time.perf_counter()
                try:
                    response = client.get("/metrics")
                    seconds = time.perf_counter() - started
                    if response.status_code != 200:
                        state["scrape_failures"].append(f"status {response.status_code}")
                    else:
                        state["scrapes"].append(seconds)
                        total = sample_value(
                            response.text, "drift_records_total", f'model="{MODEL}"'
                        )
                        if total is not None:
                            state["backwards"] |= total < last_total
                            last_total = total
                except httpx.HTTPError as error:
                    state["scrape_failures"].append(f"{type(error).__name__}: {error}")
                tick += config.scrape_interval_seconds
                stop.wait(max(0.0, tick - time.perf_counter()))

    server_cpu_0 = server.cpu_seconds()
    client_cpu_0 = common.cpu_seconds_self()
    scraping = threading.Thread(target=scraper, name="scraper")
    producing = [
        threading.Thread(target=producer, args=(k * 7,), name=f"producer-{k}")
        for k in range(config.producers)
    ]
    started = time.perf_counter()
    scraping.start()
    for thread in producing:
        thread.start()
    for thread in producing:
        thread.join(config.seconds + 2 * config.request_timeout_seconds)
    elapsed = time.perf_counter() - started
    stop.set()
    scraping.join(config.request_timeout_seconds + 1)
    state["elapsed"] = elapsed
    state["server_cpu"] = server.cpu_seconds() - server_cpu_0
    state["client_cpu"] = common.cpu_seconds_self() - client_cpu_0
    return state


# --------------------------------------------------------------------------- output


def report(result: LoadResult) -> None:
    config = result.config
    load, rest = result.scrape_seconds_load, result.scrape_seconds_rest
    p50_load, p99_load = common.percentile(load, 50), common.percentile(load, 99)
    p50_rest, p99_rest = common.percentile(rest, 50), common.percentile(rest, 99)
    print()
    common.print_table(
        ["figure", "under load", "at rest (baseline)", "ratio load / rest"],
        [
            [
                "scrape p50",
                common.fmt_seconds(p50_load),
                common.fmt_seconds(p50_rest),
                f"{p50_load / p50_rest:.2f}",
            ],
            [
                "scrape p99",
                common.fmt_seconds(p99_load),
                common.fmt_seconds(p99_rest),
                f"{p99_load / p99_rest:.2f}",
            ],
            [
                "scrape max",
                common.fmt_seconds(max(load)),
                common.fmt_seconds(max(rest)),
                f"{max(load) / max(rest):.2f}",
            ],
            [
                "evaluation, mean",
                common.fmt_seconds(result.evaluation_seconds_load),
                common.fmt_seconds(result.evaluation_seconds_rest),
                f"{result.evaluation_seconds_load / result.evaluation_seconds_rest:.2f}",
            ],
            [
                "server RSS (peak under load / at rest)",
                f"{result.peak_rss_kib / MIB:.1f} MiB",
                f"{result.rss_rest_kib / MIB:.1f} MiB",
                f"{result.peak_rss_kib / result.rss_rest_kib:.2f}",
            ],
        ],
    )
    print()
    print(
        f"load: {config.producers} producers, {result.batches_sent:,} batches of "
        f"{common.BATCH_RECORDS:,} records in {result.elapsed_seconds:.1f} s "
        f"(bounds: {config.seconds:g} s, {config.max_batches:,} batches); "
        f"accepted {common.fmt_rate(result.records_per_second)} records/s; "
        f"{len(result.non_202)} non-202 responses"
        f"{' ' + str(sorted(set(result.non_202))) if result.non_202 else ''}; "
        f"{len(result.unanswered)} unanswered."
    )
    print(
        f"scrapes: {len(load)} under load every {config.scrape_interval_seconds:g} s "
        f"({len(result.scrape_failures)} failed), {len(rest)} back to back at rest."
    )
    print(
        f"evaluator: {result.evaluations_load} evaluations during the load "
        f"(interval {config.evaluation_interval_seconds:g} s), "
        f"drift_evaluation_success {result.evaluation_success}."
    )
    peak = "VmHWM, reset after the warm-up" if result.peak_was_reset else "VmHWM since start"
    print(
        f"memory: peak under load {result.peak_rss_kib / MIB:.1f} MiB ({peak}; "
        f"window.max_records {config.window_records:,}); {result.rss_rest_kib / MIB:.1f} MiB "
        f"at rest; peak before the load {result.peak_startup_kib / MIB:.1f} MiB (the "
        f"{config.reference_rows:,}-row reference upload is parsed whole)."
    )
    print(
        f"CPU during the load: server {result.server_cpu_seconds:.1f} s "
        f"({result.server_cpu_seconds / result.elapsed_seconds:.2f} cores), client "
        f"{result.client_cpu_seconds:.1f} s of the {common.nproc()} cores this machine has."
    )
    verdict = "MATCH" if result.consistent else "MISMATCH"
    print(
        f"{verdict}: drift_records_total {result.counted_records:,}, /v1/models records_total "
        f"{result.listed_records:,}; expected {result.expected_records:,} "
        f"= {result.warmup_records:,} warm-up + {result.acknowledged_records:,} acknowledged "
        f"with 202; counter monotonic across scrapes: {not result.counter_went_backwards}."
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="load duration bound")
    parser.add_argument("--producers", type=int, default=4, help="concurrent producer threads")
    parser.add_argument("--max-batches", type=int, default=10_000, help="batch count bound")
    common.add_summary_argument(parser)
    args = parser.parse_args(argv)
    config = LoadConfig(
        seconds=args.seconds, producers=args.producers, max_batches=args.max_batches
    )
    print(f"# Load benchmark  ({common.machine_line()})")
    print(
        f"workload: reference {config.reference_rows:,} rows x {len(common.FEATURES)} features "
        f"+ prediction; {config.distinct_batches} distinct batches of {common.BATCH_RECORDS:,} "
        f"records; window.max_records {config.window_records:,}; evaluation every "
        f"{config.evaluation_interval_seconds:g} s"
    )
    result = run_load(config)
    report(result)

    load, rest = result.scrape_seconds_load, result.scrape_seconds_rest
    summary = common.Summary("load")
    summary.add(
        f"load: {config.producers} producers + scraper + evaluator",
        f"{common.fmt_rate(result.records_per_second)} rec/s",
        "-",
        "-",
        "drift_records_total = records acknowledged",
        common.yes_no(result.consistent),
    )
    summary.add(
        "scrape p99 under load",
        common.fmt_seconds(common.percentile(load, 99)),
        f"at rest {common.fmt_seconds(common.percentile(rest, 99))}",
        f"{common.percentile(load, 99) / common.percentile(rest, 99):.2f}x",
        "(reference point)",
        "-",
    )
    summary.write(args.summary_json)
    return 0 if result.consistent else 1


if __name__ == "__main__":
    sys.exit(main())
