"""The API docs, Swagger UI at /docs and ReDoc at /redoc, with their scripts and styles served
by the sidecar itself, so the pages render on a network without internet access.

FastAPI's own docs pages load Swagger UI and ReDoc from a CDN; the app turns them off
(`docs_url=None, redoc_url=None`) and these routes take their place at the same paths, as in
FastAPI's "self-hosting JavaScript and CSS for docs" recipe. The files come from the installed
`fastapi-offline` package (Swagger UI 5 and ReDoc 2 builds), mounted by `create_app` at
`STATIC_URL` with `static_files()`. The page paths are the ones `exporter.api.auth` guards under
`auth.protect_reads`; the static files, like the CDN's, are open: they are the libraries' code,
not this sidecar's.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

#: Where the Swagger UI and ReDoc files are served.
STATIC_URL = "/docs/static"
SWAGGER_UI_PATH = "/docs"
OAUTH2_REDIRECT_PATH = "/docs/oauth2-redirect"
REDOC_PATH = "/redoc"

router = APIRouter(include_in_schema=False)
# As FastAPI's own docs routes answer: HEAD too.
_GET_AND_HEAD = ["GET", "HEAD"]


def static_files() -> StaticFiles:
    """The `static/` folder of the installed fastapi-offline package: swagger-ui-bundle.js,
    swagger-ui.css, redoc.standalone.js and favicon.png. Raises at start-up if it is missing."""
    return StaticFiles(packages=[("fastapi_offline", "static")])


def _root_path(request: Request) -> str:
    """The prefix a reverse proxy mounts the app under (uvicorn --root-path), as FastAPI's own
    docs pages use it."""
    return str(request.scope.get("root_path", "")).rstrip("/")


@router.api_route(SWAGGER_UI_PATH, methods=_GET_AND_HEAD, response_class=HTMLResponse)
async def swagger_ui(request: Request) -> HTMLResponse:
    app = request.app
    root = _root_path(request)
    return get_swagger_ui_html(
        openapi_url=root + app.openapi_url,
        title=f"{app.title} - Swagger UI",
        swagger_js_url=f"{root}{STATIC_URL}/swagger-ui-bundle.js",
        swagger_css_url=f"{root}{STATIC_URL}/swagger-ui.css",
        swagger_favicon_url=f"{root}{STATIC_URL}/favicon.png",
        oauth2_redirect_url=root + OAUTH2_REDIRECT_PATH,
        init_oauth=app.swagger_ui_init_oauth,
        swagger_ui_parameters=app.swagger_ui_parameters,
    )


@router.api_route(OAUTH2_REDIRECT_PATH, methods=_GET_AND_HEAD, response_class=HTMLResponse)
async def swagger_ui_oauth2_redirect() -> HTMLResponse:
    return get_swagger_ui_oauth2_redirect_html()


@router.api_route(REDOC_PATH, methods=_GET_AND_HEAD, response_class=HTMLResponse)
async def redoc(request: Request) -> HTMLResponse:
    app = request.app
    root = _root_path(request)
    return get_redoc_html(
        openapi_url=root + app.openapi_url,
        title=f"{app.title} - ReDoc",
        redoc_js_url=f"{root}{STATIC_URL}/redoc.standalone.js",
        redoc_favicon_url=f"{root}{STATIC_URL}/favicon.png",
        with_google_fonts=False,
    )
