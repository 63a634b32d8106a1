"""Peak RSS with 10 models x 50 numeric features and full 100,000-record windows.

    python bench/bench_memory.py [--skip-http]

1. Store API, in a fresh subprocess: import everything the server imports, note the RSS (the
   baseline), then for each of 10 models build the profile of a 10,000-row x 50-feature
   reference (decode_reference + build_profile, as PUT /reference does) and
   `WindowStore.set_reference` it, then fill its window (`window.max_records` 100,000) with
   100 batches of 1,000 records through `decode_predictions` + `WindowStore.append`; then one
   evaluation of every model and one `ReportBoard.publish`. Peak RSS is
   `resource.getrusage(RUSAGE_SELF).ru_maxrss`, read after each step. Last, apart from the
   target, the peak after one model's reference is replaced by a 50,000-row one (an upload's
   parse is transient, but it is part of the peak).
2. The real server: `drift-exporter serve` with the same settings, the same references and
   traffic over HTTP, POST /evaluate for every model, one GET /metrics; VmRSS / VmHWM (peak)
   from /proc/PID/status, against the server's own RSS right after it became ready. The
   processes below the server are measured too (the evaluation worker; with the forkserver
   start method also the fork server and multiprocessing's resource tracker): what each adds
   to the machine's memory beside the server (`descendants_kib`), sampled every 10 ms with the
   server's RSS; the peak of that sum is the figure held to the target.

Target: peak RSS <= 256 MB. The ratio printed is peak / baseline of the same process.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common

MODELS = 10
FEATURES = 50
WINDOW_RECORDS = 100_000
REFERENCE_ROWS = 10_000
LARGE_REFERENCE_ROWS = 50_000
BATCH_POOL = 10  # distinct 1,000-record bodies, cycled: window memory does not depend on values
TARGET_BYTES = 256 * 1024 * 1024
MIB = 1024 * 1024
BASELINE_STEP = "+ exporter, FastAPI, uvicorn, ...: everything imported (baseline)"


def private_kib(pid: int) -> dict[str, int]:
    """Pss and private (USS) memory of a process, in KiB, from /proc/PID/smaps_rollup."""
    values = {"Pss": 0, "Private": 0}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key == "Pss":
            values["Pss"] = int(rest.split()[0])
        elif key in ("Private_Clean", "Private_Dirty"):
            values["Private"] += int(rest.split()[0])
    return values


def model_name(i: int) -> str:
    return f"wide-{i:02d}"


def reference_body(i: int, rows: int = REFERENCE_ROWS) -> bytes:
    return common.json_body(
        common.records_from_columns(common.wide_columns(3_000 + i, rows, FEATURES))
    )


def batch_pool() -> list[bytes]:
    columns = common.wide_columns(4_000, BATCH_POOL * common.BATCH_RECORDS, FEATURES, drifted=True)
    return common.batch_bodies(common.records_from_columns(columns))


def settings_overrides() -> dict[str, Any]:
    return {"min_records": 100, "window": {"max_records": WINDOW_RECORDS}}


# --------------------------------------------------------------------------- the child process


def child() -> None:
    """Runs in a fresh interpreter; prints one JSON line of (step, VmRSS KiB, peak KiB)."""
    import gc

    import numpy  # noqa: F401
    import orjson  # noqa: F401

    steps: list[tuple[str, int, int, int]] = []

    def note(step: str) -> None:
        gc.collect()
        now = common.vm_kib()
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        steps.append((step, now["VmRSS"], now["RssAnon"], peak))

    note("python + numpy + orjson")
    import scipy.stats  # noqa: F401

    note("+ scipy.stats")
    import exporter.app
    import exporter.cli  # noqa: F401  (uvicorn, FastAPI, pydantic, prometheus_client, routers)
    from exporter.evaluation.evaluator import evaluate
    from exporter.prometheus.board import ReportBoard
    from exporter.window.store import WindowStore

    note(BASELINE_STEP)
    settings = common.bench_settings(**settings_overrides())
    pool = batch_pool()
    note("after generating the bench's traffic bodies")
    store = WindowStore(settings)
    for i in range(MODELS):
        body = reference_body(i)
        store.set_reference(common.build_reference_profile(model_name(i), body, settings))
        del body
    note(f"{MODELS} references profiled ({REFERENCE_ROWS:,} rows x {FEATURES} features each)")
    started = time.perf_counter()
    for i in range(MODELS):
        model = model_name(i)
        for k in range(WINDOW_RECORDS // common.BATCH_RECORDS):
            store.get(model).append(common.decode_batch(pool[k % len(pool)], settings))
    fill_seconds = time.perf_counter() - started
    records = [store.get(model_name(i)).records for i in range(MODELS)]
    note(f"windows filled ({min(records):,}-{max(records):,} records each)")
    reports = [
        evaluate(store.get(model).snapshot(), settings.drift, settings.min_records, time.time())
        for model, _ in store.windows()
    ]
    note("one evaluation of every model")
    board = ReportBoard()
    board.publish(reports)
    note(f"ReportBoard.publish ({len(board.rendered.text) // 1024} KiB of exposition)")
    target_peak = steps[-1][3]
    big = reference_body(0, LARGE_REFERENCE_ROWS)
    store.set_reference(common.build_reference_profile(model_name(0), big, settings))
    del big
    note(f"extra: model 0's reference replaced by a {LARGE_REFERENCE_ROWS:,}-row one")
    print(
        json.dumps(
            {
                "steps": steps,
                "target_peak": target_peak,
                "fill_seconds": fill_seconds,
                "records": records,
            }
        )
    )


# --------------------------------------------------------------------------- the real server


def process_role(pid: int) -> str:
    """What a process below the server is (a fork server's children share its command line)."""
    command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    if "resource_tracker" in command:
        return "resource tracker"
    if common.children_of(pid):
        return "fork server"
    return "evaluation worker"


def descendants_kib(server: Any) -> dict[int, tuple[str, int, dict[str, int]]]:
    """What each process below the server adds to the machine's memory: its private memory
    (USS), except for a process with children of its own (the fork server), whose whole
    anonymous memory counts, since its children share it copy-on-write and their USS leaves
    it out. Pages shared with the server itself (a worker forked from it) are in the server's
    RSS already; shared libraries are mapped from the same files by all of them."""
    found = {}
    for pid in server.descendant_pids():
        try:
            vm = common.vm_kib(pid)
            private = private_kib(pid)
            parent = bool(common.children_of(pid))
            role = process_role(pid)
        except (OSError, ValueError, KeyError):
            continue
        added = max(private["Private"], vm["RssAnon"]) if parent else private["Private"]
        found[pid] = (role, added, {**vm, **private})
    return found


class TotalSampler:
    """Samples the server's RSS plus what the processes below it add (`descendants_kib`) every
    few ms, in a thread: the peak of the sum is what the sidecar needs of the machine at once."""

    def __init__(self, server: Any, every: float = 0.01) -> None:
        import threading

        self._server = server
        self._every = every
        self._stop = threading.Event()
        self.peak_total = 0
        self.peak_children_private = 0
        self.at_peak = (0, 0)
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> TotalSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                rss = common.vm_kib(self._server.pid)["VmRSS"]
            except (OSError, ValueError, KeyError):
                continue
            children = sum(added for _, added, _ in descendants_kib(self._server).values())
            if rss + children > self.peak_total:
                self.peak_total = rss + children
                self.at_peak = (rss, children)
            self.peak_children_private = max(self.peak_children_private, children)
            self._stop.wait(self._every)


def through_server() -> dict[str, Any]:
    with (
        common.running_server(
            settings_overrides() | {"evaluation_interval_seconds": 3_600}
        ) as server,
        TotalSampler(server) as sampler,
    ):
        result = _drive_server(server)
    result["peak_total"] = sampler.peak_total
    result["peak_worker_private"] = sampler.peak_children_private
    result["at_peak"] = sampler.at_peak
    return result


def _drive_server(server: Any) -> dict[str, Any]:
    import asyncio

    import httpx

    pool = batch_pool()
    ready = server.memory_kib()
    for i in range(MODELS):
        common.upload_reference(server.base, model_name(i), reference_body(i))
    after_references = server.memory_kib()

    async def fill() -> None:
        headers = {"content-type": "application/json"}
        async with httpx.AsyncClient(base_url=server.base, timeout=60) as client:

            async def one_model(i: int) -> None:
                for k in range(WINDOW_RECORDS // common.BATCH_RECORDS):
                    response = await client.post(
                        f"/v1/models/{model_name(i)}/predictions",
                        content=pool[k % len(pool)],
                        headers=headers,
                    )
                    response.raise_for_status()

            for first in range(0, MODELS, 4):  # 4 models at a time, 4 connections
                await asyncio.gather(*(one_model(i) for i in range(first, min(first + 4, MODELS))))

    started = time.perf_counter()
    asyncio.run(fill())
    fill_seconds = time.perf_counter() - started
    after_fill = server.memory_kib()
    with httpx.Client(base_url=server.base, timeout=120) as client:
        for i in range(MODELS):
            client.post(f"/v1/models/{model_name(i)}/evaluate").raise_for_status()
        text = client.get("/metrics").text
        windows = [m["window_records"] for m in client.get("/v1/models").json()["models"]]
    final = server.memory_kib()
    processes = descendants_kib(server)
    return {
        "processes": processes,
        "ready": ready,
        "after_references": after_references,
        "after_fill": after_fill,
        "final": final,
        "fill_seconds": fill_seconds,
        "windows": windows,
        "metrics_kib": len(text) // 1024,
    }


# --------------------------------------------------------------------------- main


def mib(kib: int) -> str:
    return f"{kib / 1024:,.1f} MiB"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skip-http", action="store_true", help="only the store-API measurement")
    parser.add_argument(
        "--http-only", action="store_true", help="only the real server (what the worker changes)"
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    common.add_summary_argument(parser)
    args = parser.parse_args(argv)
    if args.child:
        child()
        return 0

    print(f"# Memory benchmark  ({common.machine_line()})")
    print(
        f"{MODELS} models x {FEATURES} numeric features + prediction, window.max_records "
        f"{WINDOW_RECORDS:,} (slices 12, sample_size 5,000), references of {REFERENCE_ROWS:,} rows"
    )
    peak_kib = baseline_kib = 0
    if not args.http_only:
        completed = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--child"],
            capture_output=True,
            text=True,
            timeout=900,
        )
        if completed.returncode != 0:
            print(completed.stderr[-3000:])
            return 1
        result = json.loads(completed.stdout.strip().splitlines()[-1])
        steps = result["steps"]
        baseline_kib = next(rss for step, rss, _, _ in steps if step == BASELINE_STEP)
        peak_kib = result["target_peak"]
        print()
        print("Store API in a fresh subprocess (ru_maxrss is the peak so far):")
        common.print_table(
            ["step", "RSS now", "of which anonymous", "peak RSS", "peak / baseline"],
            [
                [step, mib(rss), mib(anon), mib(peak), f"{peak / baseline_kib:.2f}"]
                for step, rss, anon, peak in steps
            ],
        )
        print(
            f"filling {MODELS} x {WINDOW_RECORDS:,} records in-process took "
            f"{result['fill_seconds']:.1f} s; windows hold {min(result['records']):,}-"
            f"{max(result['records']):,} records (a full ring of 12 slices keeps between 11/12 and "
            "all of max_records)"
        )
        met = "met" if peak_kib * 1024 <= TARGET_BYTES else "NOT met"
        print(
            f"peak RSS {mib(peak_kib)} = baseline {mib(baseline_kib)} + "
            f"{mib(peak_kib - baseline_kib)} for the models (target <= 256 MiB: {met})"
        )

    server: dict[str, Any] | None = None
    if not args.skip_http:
        server = through_server()
        print()
        print("The real server over HTTP (VmHWM is the kernel's peak RSS of the server process):")
        common.print_table(
            ["step", "VmRSS", "VmHWM (peak)", "peak / ready"],
            [
                [
                    name,
                    mib(values["VmRSS"]),
                    mib(values["VmHWM"]),
                    f"{values['VmHWM'] / server['ready']['VmRSS']:.2f}",
                ]
                for name, values in (
                    ("ready, no models (baseline)", server["ready"]),
                    (f"{MODELS} references uploaded", server["after_references"]),
                    (
                        f"windows filled over HTTP ({server['fill_seconds']:.1f} s)",
                        server["after_fill"],
                    ),
                    ("after POST /evaluate x10 and GET /metrics", server["final"]),
                )
            ],
        )
        windows = server["windows"]
        print(
            f"server windows: {min(windows):,}-{max(windows):,} records; "
            f"/metrics {server['metrics_kib']} KiB"
        )
        for pid, (role, added, values) in sorted(server["processes"].items()):
            print(
                f"{role} (pid {pid}, below the server): RSS {mib(values['VmRSS'])}, peak "
                f"{mib(values['VmHWM'])}, anonymous {mib(values['RssAnon'])}, private "
                f"{mib(values['Private'])} at the end; adds {mib(added)}"
            )
        print(
            "Peak of server RSS + what the processes below it add, sampled every 10 ms: "
            f"{mib(server['peak_total'])} (server {mib(server['at_peak'][0])} + the others "
            f"{mib(server['at_peak'][1])})"
        )

    summary = common.Summary("memory")
    if not args.http_only:
        summary.add(
            "peak RSS, 10 models x 50 features, 100k-record windows (store API)",
            mib(peak_kib),
            f"imports only {mib(baseline_kib)}",
            f"{peak_kib / baseline_kib:.2f}x baseline",
            "<= 256 MiB",
            common.yes_no(peak_kib * 1024 <= TARGET_BYTES),
        )
    if server:
        peak = server["final"]["VmHWM"]
        summary.add(
            "peak RSS, same, real server over HTTP",
            mib(peak),
            f"server ready {mib(server['ready']['VmRSS'])}",
            f"{peak / server['ready']['VmRSS']:.2f}x ready",
            "<= 256 MiB",
            common.yes_no(peak * 1024 <= TARGET_BYTES),
        )
        total = server["peak_total"]
        summary.add(
            "peak of server RSS + the evaluation processes' memory (sampled)",
            mib(total),
            f"evaluation processes at most {mib(server['peak_worker_private'])}",
            f"{total / server['ready']['VmRSS']:.2f}x ready",
            "<= 256 MiB",
            common.yes_no(total * 1024 <= TARGET_BYTES),
        )
    summary.write(args.summary_json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
