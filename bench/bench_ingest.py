"""Ingest throughput through the real HTTP server, as a ratio of the in-process floor.

    python bench/bench_ingest.py [--seconds 20] [--concurrency 4]

Measured in one run, on the same pre-serialised 1,000-record JSON batches:

* floor: `decode_predictions(body, "application/json", 100000)` then `ModelWindow.append(batch)`
  on a window built from the same reference profile: orjson parse, the batch shape check,
  per-feature arrays and the histogram update, no HTTP. The best the server could do.
* pydantic, per record: `PredictionRecord.model_validate(record)` for every record after
  orjson, and `PredictionsRequest.model_validate_json(body)`: the price of validating records
  one model at a time, as a FastAPI body parameter would, against the batch check above.
* HTTP: `drift-exporter serve` in a child process (one uvicorn worker, evaluation running at the
  default 15 s interval), POST /v1/models/{model}/predictions from several concurrent
  keep-alive connections of an httpx.AsyncClient in this process. The client shares the cores
  with the server, so the CPU each side used is printed too.

The headline ratio is HTTP / floor records per second. Timings are printed, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common

TRAFFIC_RECORDS = 50_000  # 50 distinct batches, cycled
TARGET_RECORDS_PER_SECOND = 300_000
TARGET_RATIO = 0.5


def measure_floor(bodies: list[bytes], settings: object, profile: object, rounds: int) -> float:
    """Records per second of decode + append, best of `rounds` passes over every batch."""
    import time as _time

    from exporter.window.model import ModelWindow

    window = ModelWindow(profile, settings, _time.time)  # type: ignore[arg-type]

    def one_pass() -> None:
        for body in bodies:
            window.append(common.decode_batch(body, settings))

    timings = common.repeat_timed(one_pass, repeat=rounds, warmup=1)
    return common.BATCH_RECORDS * len(bodies) / min(timings)


def measure_decode_only(bodies: list[bytes], settings: object, rounds: int) -> float:
    def one_pass() -> None:
        for body in bodies:
            common.decode_batch(body, settings)

    timings = common.repeat_timed(one_pass, repeat=rounds, warmup=1)
    return common.BATCH_RECORDS * len(bodies) / min(timings)


def measure_pydantic(bodies: list[bytes], rounds: int) -> tuple[float, float]:
    """(per-record BaseModel after orjson, whole-body model_validate_json) records per second."""
    import orjson

    from exporter.api.schemas import PredictionRecord, PredictionsRequest

    validate = PredictionRecord.model_validate

    def per_record() -> None:
        for body in bodies:
            records = orjson.loads(body)["records"]
            [validate(record) for record in records]

    def whole_body() -> None:
        for body in bodies:
            PredictionsRequest.model_validate_json(body)

    records = common.BATCH_RECORDS * len(bodies)
    per_record_rate = records / min(common.repeat_timed(per_record, repeat=rounds, warmup=1))
    whole_body_rate = records / min(common.repeat_timed(whole_body, repeat=rounds, warmup=1))
    return per_record_rate, whole_body_rate


async def _drive(
    base: str, model: str, bodies: list[bytes], seconds: float, concurrency: int, warmup: int
) -> tuple[int, int, float, list[int]]:
    """POST bodies round-robin from `concurrency` tasks for `seconds`.

    Returns (records accepted, requests, wall seconds, unexpected status codes).
    """
    import httpx

    url = f"{base}/v1/models/{model}/predictions"
    headers = {"content-type": "application/json"}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=60.0) as client:
        for body in bodies[:warmup]:
            (await client.post(url, content=body, headers=headers)).raise_for_status()
        accepted = 0
        requests = 0
        failures: list[int] = []
        stop_at = 0.0

        async def worker(offset: int) -> None:
            nonlocal accepted, requests
            i = offset
            while time.perf_counter() < stop_at:
                response = await client.post(url, content=bodies[i % len(bodies)], headers=headers)
                if response.status_code == 202:
                    accepted += common.BATCH_RECORDS
                else:
                    failures.append(response.status_code)
                requests += 1
                i += concurrency

        started = time.perf_counter()
        stop_at = started + seconds
        await asyncio.gather(*(worker(k) for k in range(concurrency)))
        elapsed = time.perf_counter() - started
    return accepted, requests, elapsed, failures


def scrape_value(text: str, prefix: str) -> float | None:
    for line in text.splitlines():
        if line.startswith(prefix):
            return float(line.rsplit(" ", 1)[1])
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="HTTP measurement length")
    parser.add_argument("--concurrency", type=int, default=4, help="concurrent client connections")
    parser.add_argument("--rounds", type=int, default=5, help="passes for the in-process figures")
    common.add_summary_argument(parser)
    args = parser.parse_args(argv)

    import httpx

    print(f"# Ingest benchmark  ({common.machine_line()})")
    settings = common.bench_settings(window={"max_records": common.WINDOW_RECORDS})
    reference = common.records_from_columns(
        common.columnar_workload(common.SEED, common.REFERENCE_ROWS)
    )
    reference_body = common.json_body(reference)
    traffic = common.records_from_columns(
        common.columnar_workload(common.SEED + 1, TRAFFIC_RECORDS, drifted=True)
    )
    bodies = common.batch_bodies(traffic)
    print(
        f"workload: reference {common.REFERENCE_ROWS:,} rows x {len(common.FEATURES)} features "
        f"({len(common.NUMERIC)} numeric, {len(common.CATEGORICAL)} categorical) + prediction; "
        f"{len(bodies)} distinct batches of {common.BATCH_RECORDS:,} records "
        f"(~{len(bodies[0]) / 1024:.0f} KiB each); window max_records {common.WINDOW_RECORDS:,}"
    )

    # In-process reference points, on the same batches and the same profile.
    profile = common.build_reference_profile(common.MODEL, reference_body, settings)
    floor_before = measure_floor(bodies, settings, profile, args.rounds)
    decode_only = measure_decode_only(bodies, settings, args.rounds)
    per_record, whole_body = measure_pydantic(bodies, max(2, args.rounds // 2))

    # The real server.
    config = {"window": {"max_records": common.WINDOW_RECORDS}}
    with common.running_server(config) as server:
        common.upload_reference(server.base, common.MODEL, reference_body)
        client_cpu_0 = common.cpu_seconds_self()
        server_cpu_0 = server.cpu_seconds()
        accepted, requests, elapsed, failures = asyncio.run(
            _drive(server.base, common.MODEL, bodies, args.seconds, args.concurrency, warmup=10)
        )
        client_cpu = common.cpu_seconds_self() - client_cpu_0
        server_cpu = server.cpu_seconds() - server_cpu_0
        metrics = httpx.get(f"{server.base}/metrics", timeout=30).text
    # Again after the HTTP run; the better of the two is the floor (a burst of other load on
    # the machine can only make a figure worse, so the best is the least disturbed).
    floor_after = measure_floor(bodies, settings, profile, args.rounds)
    floor = max(floor_before, floor_after)
    total = scrape_value(metrics, f'drift_records_total{{model="{common.MODEL}"}}')
    evaluations = scrape_value(
        metrics, f'drift_evaluation_duration_seconds_count{{model="{common.MODEL}"}}'
    )
    http = accepted / elapsed

    print()
    common.print_table(
        ["path", "records/s", "ratio to floor", "what it does"],
        [
            [
                "floor (in-process)",
                common.fmt_rate(floor),
                "1.00",
                f"decode_predictions + ModelWindow.append (before HTTP "
                f"{common.fmt_rate(floor_before)}, after {common.fmt_rate(floor_after)})",
            ],
            [
                "batch check only",
                common.fmt_rate(decode_only),
                f"{decode_only / floor:.2f}",
                "decode_predictions (orjson + shape check)",
            ],
            [
                "pydantic per record",
                common.fmt_rate(per_record),
                f"{per_record / floor:.2f}",
                "orjson + PredictionRecord.model_validate each record (no append)",
            ],
            [
                "pydantic whole body",
                common.fmt_rate(whole_body),
                f"{whole_body / floor:.2f}",
                "PredictionsRequest.model_validate_json (no append)",
            ],
            [
                f"HTTP, {args.concurrency} clients",
                common.fmt_rate(http),
                f"{http / floor:.2f}",
                "POST /predictions to drift-exporter serve",
            ],
        ],
    )
    print()
    print(
        f"HTTP: {requests:,} requests, {accepted:,} records in {elapsed:.1f} s; "
        f"{len(failures)} non-202 responses{' ' + str(sorted(set(failures))) if failures else ''}; "
        f"server counted {total:,.0f} records in total (incl. 10 warm-up batches); "
        f"{evaluations or 0:.0f} evaluation(s) ran on the server's default 15 s interval."
    )
    print(
        f"CPU over the HTTP run: server {server_cpu:.1f} s ({server_cpu / elapsed:.2f} cores), "
        f"client {client_cpu:.1f} s ({client_cpu / elapsed:.2f} cores) of the "
        f"{common.nproc()} this machine has: the client shares the cores with the server, so "
        "the HTTP figure is a lower bound for a server with the cores to itself."
    )
    print(
        f"Server CPU per 1,000-record request: {server_cpu / max(requests, 1) * 1e3:.2f} ms, "
        f"against {common.BATCH_RECORDS / floor * 1e3:.2f} ms for decode + append in-process: "
        f"{(server_cpu / max(requests, 1) - common.BATCH_RECORDS / floor) * 1e3:.2f} ms per "
        "request go to HTTP, ASGI, FastAPI and the evaluator thread."
    )
    print(
        f"pydantic per record is {decode_only / per_record:.1f}x slower than the batch check it "
        f"replaces ({whole_body and decode_only / whole_body:.1f}x for whole-body "
        "model_validate_json): the reason ingest checks the batch's shape instead."
    )
    print(
        f"ratio HTTP/floor = {http / floor:.2f} (target >= {TARGET_RATIO}); "
        f"HTTP = {common.fmt_rate(http)} records/s (target >= {TARGET_RECORDS_PER_SECOND:,})"
    )

    summary = common.Summary("ingest")
    summary.add(
        "ingest over HTTP, 1,000-record batches",
        f"{common.fmt_rate(http)} rec/s",
        f"floor {common.fmt_rate(floor)} rec/s",
        f"{http / floor:.2f} of floor",
        f">= 300,000 rec/s and >= {TARGET_RATIO} of floor",
        common.yes_no(http >= TARGET_RECORDS_PER_SECOND and http / floor >= TARGET_RATIO),
    )
    summary.add(
        "batch check vs pydantic per record",
        f"{common.fmt_rate(decode_only)} rec/s",
        f"pydantic {common.fmt_rate(per_record)} rec/s",
        f"{decode_only / per_record:.1f}x faster",
        "(reference point)",
        "-",
    )
    summary.write(args.summary_json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
