"""Demo traffic for the example model server: the reference to the sidecar, then applicants to
`POST /predict` at a steady pace, fifteen years older after a while.

The model server's DriftMiddleware forwards every exchange to the sidecar, so this drives the
whole client path: model server -> DriftLogger -> sidecar -> /metrics.

    python -m examples.traffic --sidecar http://127.0.0.1:9808 --model-server http://127.0.0.1:8000

With `--no-reference` nothing is uploaded: the sidecar loads the model's reference at start
(`models.<name>.reference`, as docker-compose.yml's sidecar does), and the traffic waits until
its /readyz says it is loaded.
"""

from __future__ import annotations

import argparse
import sys
import time

import httpx

from examples.model_server import applicants, as_rows, reference_records


def wait_until_up(url: str, deadline: float, probe: str = "/healthz") -> None:
    """Until `url` answers 200 on `probe`; exit with a message at the deadline."""
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}{probe}", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    sys.exit(f"traffic: {url}{probe} did not answer 200")


def wait_until_ready(url: str, model: str, deadline: float) -> None:
    """Until the sidecar's /readyz is 200 (every configured reference loaded); then `model`
    must be one of its models, or the traffic would only be rejected."""
    wait_until_up(url, deadline, "/readyz")
    listed = httpx.get(f"{url}/v1/models", timeout=10)
    listed.raise_for_status()
    if model not in {entry["model"] for entry in listed.json()["models"]}:
        sys.exit(
            f"traffic: --no-reference, but {url} has no reference for {model!r}: set "
            f"models.{model}.reference in its config, or drop --no-reference to upload one"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sidecar", default="http://127.0.0.1:9808")
    parser.add_argument("--model-server", default="http://127.0.0.1:8000")
    parser.add_argument("--model", default="credit-risk")
    parser.add_argument("--records-per-second", type=float, default=100.0)
    parser.add_argument("--drift-after-seconds", type=float, default=60.0)
    parser.add_argument("--duration-seconds", type=float, help="stop after this long")
    parser.add_argument(
        "--no-reference",
        action="store_true",
        help="upload no reference: the sidecar loads the model's at start from its config",
    )
    args = parser.parse_args(argv)

    started = time.monotonic()
    wait_until_up(args.sidecar, started + 120)
    wait_until_up(args.model_server, started + 120)
    if args.no_reference:
        wait_until_ready(args.sidecar, args.model, started + 120)
        print(f"traffic: the sidecar loaded the reference for {args.model!r} at start", flush=True)
    else:
        reference = httpx.put(
            f"{args.sidecar}/v1/models/{args.model}/reference",
            json={"records": reference_records()},
            timeout=60,
        )
        reference.raise_for_status()
        print(f"traffic: reference for {args.model!r} uploaded", flush=True)

    tick = 0.5
    batch = max(1, int(args.records_per_second * tick))
    started = time.monotonic()
    seed = 1
    announced = False
    with httpx.Client(base_url=args.model_server, timeout=10) as client:
        while args.duration_seconds is None or time.monotonic() - started < args.duration_seconds:
            drifted = time.monotonic() - started >= args.drift_after_seconds
            if drifted and not announced:
                print("traffic: applicants are now fifteen years older (age drift)", flush=True)
                announced = True
            rows = as_rows(applicants(seed, batch, age_shift=15.0 if drifted else 0.0))
            seed += 1
            try:
                client.post("/predict", json={"instances": rows}).raise_for_status()
            except httpx.HTTPError as error:
                print(f"traffic: {error}", file=sys.stderr, flush=True)
            time.sleep(tick)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
