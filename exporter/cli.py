"""`drift-exporter serve|demo|profile`: arguments -> Settings -> create_app -> uvicorn."""

from __future__ import annotations

import argparse
import logging
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any

import uvicorn

from exporter import __version__
from exporter.app import create_app
from exporter.listen import Address, write_exposure
from exporter.logs import configure_logging
from exporter.process import tune_for_serving
from exporter.profile_command import add_profile_commands, check_config, run_profile
from exporter.settings import DEFAULT_PORT, ConfigError, Settings, load_settings

#: The demo judges drift on a smaller, faster window so it shows within a couple of minutes.
DEMO_SETTINGS: dict[str, Any] = {
    "evaluation_interval_seconds": 5,
    "min_records": 500,
    "window": {"max_records": 3_000, "duration_seconds": 600, "slices": 12},
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="drift-exporter", description="A Prometheus sidecar that watches ML models for drift."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    for name, summary in (
        ("serve", "run the sidecar"),
        ("demo", "run the sidecar with a built-in demo model whose traffic drifts part-way"),
    ):
        command = commands.add_parser(name, help=summary, description=summary)
        command.add_argument("--config", type=Path, help="YAML config file")
        command.add_argument("--host", help="address to listen on (default 0.0.0.0)")
        command.add_argument("--port", type=int, help=f"port to listen on (default {DEFAULT_PORT})")
        command.add_argument(
            "--state-dir", type=Path, help="snapshot references and windows here; restore at start"
        )
        if name == "serve":
            command.add_argument(
                "--check-config",
                action="store_true",
                help="load and validate the config and read every configured reference, "
                "print one line and exit (0 when OK, 2 otherwise); no server is started",
            )
        if name == "demo":
            command.add_argument("--records-per-second", type=float, default=200.0)
            command.add_argument("--drift-after-seconds", type=float, default=60.0)
            command.add_argument(
                "--duration-seconds",
                type=float,
                help="stop after this long (default: run until ^C)",
            )
    add_profile_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "profile":
        return run_profile(args)
    overrides: dict[str, Any] = {}
    if args.command == "demo":
        overrides.update(DEMO_SETTINGS)
    if args.host is not None:
        overrides["host"] = args.host
    if args.port is not None:
        overrides["port"] = args.port
    if args.state_dir is not None:
        overrides["state_dir"] = args.state_dir
    if args.command == "serve" and args.check_config:
        return check_config(args.config, overrides)
    try:
        settings = load_settings(args.config, **overrides)
        app = create_app(settings)  # reads auth.token_file: an unreadable one is a ConfigError
    except ConfigError as error:
        print(f"drift-exporter: {error}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings.log_format)  # once, for the whole process
    logging.getLogger("httpx").setLevel(logging.WARNING)  # the demo's own requests are noise
    exposure = write_exposure(settings)
    if exposure is not None:
        logging.getLogger(__name__).warning(exposure, extra={"event": "writes_exposed"})
    tune_for_serving()
    server = uvicorn.Server(_uvicorn_config(app, settings, settings.host, settings.port))
    sockets = _listeners(app, settings)
    if args.command == "demo":
        return _run_demo(server, settings, args, sockets)
    server.run(sockets=sockets)
    return 0


def _uvicorn_config(app: Any, settings: Settings, host: str, port: int) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=settings.log_level,
        log_config=None,  # its loggers go through configure_logging's handler
        workers=1,
        access_log=False,
        timeout_graceful_shutdown=int(settings.shutdown_timeout_seconds),
        ssl_certfile=settings.tls.cert_file,
        ssl_keyfile=settings.tls.key_file,
    )


def _listeners(app: Any, settings: Settings) -> list[socket.socket] | None:
    """Both listeners' sockets for one server (TLS applies to both), bound by uvicorn's own
    `Config.bind_socket` (which logs each address, or the error and exits 3); None without
    `ingest_listen`, leaving uvicorn to bind `host`/`port` as it always has."""
    ingest = settings.ingest_address
    if ingest is None:
        return None
    main = _uvicorn_config(app, settings, settings.host, settings.port).bind_socket()
    writes = _uvicorn_config(app, settings, ingest.host, ingest.port).bind_socket()
    logging.getLogger(__name__).info(
        "writes on the ingest listener %s; reads, /metrics and probes on both", ingest
    )
    return [main, writes]


def _local_url(address: Address) -> str:
    """`http://` and `address`, its wildcard host as 127.0.0.1 (which it includes)."""
    host = "127.0.0.1" if address.host in ("0.0.0.0", "::") else address.host
    return f"http://{Address(host, address.port)}"


def _run_demo(
    server: uvicorn.Server,
    settings: Settings,
    args: argparse.Namespace,
    sockets: list[socket.socket] | None,
) -> int:
    from exporter.demo import DEMO_MODEL, DemoTraffic

    base = _local_url(Address(settings.host, settings.port))
    ingest = settings.ingest_address  # the demo's model server writes where a real one would
    traffic = DemoTraffic(
        base if ingest is None else _local_url(ingest),
        records_per_second=args.records_per_second,
        drift_after_seconds=args.drift_after_seconds,
    )
    print(
        f"drift-exporter demo on {base}\n"
        f"  metrics:      {base}/metrics\n"
        f"  drift report: {base}/v1/models/{DEMO_MODEL}/drift\n"
        f"  models:       {base}/v1/models\n"
        f"  API docs:     {base}/docs\n"
        f"Traffic: {args.records_per_second:g} records/s, drift injected after "
        f"{args.drift_after_seconds:g} s; "
        f"evaluation every {settings.evaluation_interval_seconds:g} s.",
        flush=True,
    )

    def send_once_serving() -> None:
        # Not before: traffic to a server still starting would only be refused.
        while not server.started and not traffic.stop.is_set():
            time.sleep(0.05)
        traffic.run()

    sender = threading.Thread(target=send_once_serving, name="demo-traffic", daemon=True)
    sender.start()

    def finish() -> None:
        # Traffic first, so its last batches reach a server that still answers.
        traffic.stop.set()
        sender.join(5)
        server.should_exit = True

    if args.duration_seconds is not None:
        timer = threading.Timer(args.duration_seconds, finish)
        timer.daemon = True
        timer.start()
    try:
        server.run(sockets=sockets)
    finally:
        traffic.stop.set()
        sender.join(5)
    return 0
