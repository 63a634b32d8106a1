"""Liveness, readiness, the index page and /metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse

from exporter import __version__
from exporter.api.deps import BoardDep, SchedulerDep
from exporter.api.encoding import gzip_preferred
from exporter.prometheus.collectors import CONTENT_TYPE
from exporter.prometheus.compression import gzip_with_suffix
from exporter.prometheus.text import render_text

router = APIRouter(tags=["health"])

_INDEX = f"""<!doctype html>
<html><head><title>drift-exporter</title></head><body>
<h1>drift-exporter {__version__}</h1>
<ul>
<li><a href="/metrics">/metrics</a>: drift gauges for Prometheus</li>
<li><a href="/v1/models">/v1/models</a>: monitored models</li>
<li><a href="/docs">/docs</a>: the HTTP API</li>
<li><a href="/healthz">/healthz</a> and <a href="/readyz">/readyz</a>: probes</li>
</ul></body></html>
"""


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def index() -> str:
    return _INDEX


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """Alive: the process answers HTTP."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    responses={
        503: {
            "description": "The evaluator is not running, or a configured reference is not "
            "loaded yet (`references` names each such model: `loading` or why it failed)."
        }
    },
)
async def readyz(request: Request, scheduler: SchedulerDep) -> Response:
    """Ready: configuration loaded, the evaluation worker running and every reference the
    config names (`models.<name>.reference`) loaded."""
    if not scheduler.running:
        return JSONResponse({"status": "evaluator not running"}, status_code=503)
    references = request.app.state.references
    pending = {} if references is None else references.pending()
    if pending:
        return JSONResponse(
            {"status": "references not loaded", "references": pending}, status_code=503
        )
    return JSONResponse({"status": "ready"})


@router.get("/metrics", response_class=Response)
async def metrics(request: Request, board: BoardDep) -> Response:
    """Live counters rendered now, then the drift families rendered at the last evaluation.

    gzip (what Prometheus asks for) splices the live part onto the drift families' deflate
    stream made at evaluation time, so a scrape compresses only the live part."""
    live = render_text(request.app.state.registry.collect())
    rendered = board.rendered
    if gzip_preferred(request.headers.get("accept-encoding")):
        return Response(
            gzip_with_suffix(live, rendered),
            media_type=CONTENT_TYPE,
            headers={"Content-Encoding": "gzip", "Vary": "Accept-Encoding"},
        )
    return Response(
        live + rendered.text, media_type=CONTENT_TYPE, headers={"Vary": "Accept-Encoding"}
    )
