"""The API docs pages (/docs, /redoc) reference only this sidecar's own URLs, and every file they
reference is served from the installed package with the right content type: nothing comes from
a CDN, so the pages work without internet access. Auth treats the pages as before."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from exporter.app import create_app
from exporter.settings import Settings

TOKEN = "docs-token-0123456789"
GOOD = {"authorization": f"Bearer {TOKEN}"}
#: Any absolute or protocol-relative URL: a page that works offline has none.
OTHER_ORIGIN = re.compile(r"(?:https?:)?//[\w.-]", re.IGNORECASE)
#: Media types by extension; `.js` is either of the two names browsers accept as script.
CONTENT_TYPES = {
    ".js": ("text/javascript", "application/javascript"),
    ".css": ("text/css",),
    ".png": ("image/png",),
    ".json": ("application/json",),
}


class References(HTMLParser):
    """The URLs a page loads: `src` of scripts, `href` of links, `spec-url` of ReDoc's tag."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        wanted = {"script": "src", "link": "href", "redoc": "spec-url"}.get(tag)
        for name, value in attrs:
            if name == wanted and value:
                self.urls.append(value)


def references(html: str) -> list[str]:
    parser = References()
    parser.feed(html)
    # Swagger UI gets its document URL in the inline script: `url: '/openapi.json'`.
    parser.urls += re.findall(r"\burl: '([^']+)'", html)
    return parser.urls


@pytest.fixture
def client() -> Iterator[TestClient]:
    with TestClient(create_app(Settings(), run_scheduler=False)) as test_client:
        yield test_client


@pytest.mark.parametrize("page", ["/docs", "/redoc", "/docs/oauth2-redirect"])
def test_the_docs_pages_name_no_other_origin(client: TestClient, page: str) -> None:
    response = client.get(page)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert OTHER_ORIGIN.findall(response.text) == []


@pytest.mark.parametrize(
    ("page", "expected"),
    [
        (
            "/docs",
            {
                "/docs/static/swagger-ui-bundle.js",
                "/docs/static/swagger-ui.css",
                "/docs/static/favicon.png",
                "/openapi.json",
            },
        ),
        (
            "/redoc",
            {"/docs/static/redoc.standalone.js", "/docs/static/favicon.png", "/openapi.json"},
        ),
    ],
)
def test_every_file_a_docs_page_loads_is_served_here_with_its_content_type(
    client: TestClient, page: str, expected: set[str]
) -> None:
    urls = references(client.get(page).text)
    assert set(urls) == expected
    for url in urls:
        assert urlsplit(url).netloc == "" and url.startswith("/"), url
        response = client.get(url)
        assert response.status_code == 200, url
        media_type = response.headers["content-type"].split(";")[0].strip()
        extension = url[url.rfind(".") :]
        assert media_type in CONTENT_TYPES[extension], (url, media_type)
        assert len(response.content) > 1_000, url


def test_the_served_files_are_swagger_ui_and_redoc(client: TestClient) -> None:
    # The bundles' own global names, as the pages' inline scripts use them.
    assert b"SwaggerUIBundle" in client.get("/docs/static/swagger-ui-bundle.js").content
    assert b".swagger-ui" in client.get("/docs/static/swagger-ui.css").content
    assert b"Redoc" in client.get("/docs/static/redoc.standalone.js").content
    assert client.get("/docs/static/favicon.png").content.startswith(b"\x89PNG\r\n\x1a\n")


def test_unknown_or_escaping_static_paths_are_404(client: TestClient) -> None:
    assert client.get("/docs/static/nope.js").status_code == 404
    assert client.get("/docs/static/../../app.py").status_code == 404
    assert client.get("/docs/static/%2e%2e/__init__.py").status_code == 404


def test_the_docs_answer_head_and_stay_out_of_the_openapi_document(client: TestClient) -> None:
    for page in ("/docs", "/redoc", "/docs/oauth2-redirect"):
        assert client.head(page).status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert not [path for path in paths if path.startswith(("/docs", "/redoc"))]


def test_behind_a_path_prefix_the_pages_load_the_files_under_it() -> None:
    app = create_app(Settings(), run_scheduler=False)
    with TestClient(app, root_path="/drift") as client:
        urls = references(client.get("/docs").text)
        assert "/drift/docs/static/swagger-ui-bundle.js" in urls
        for url in urls:
            assert url.startswith("/drift/"), url
            assert client.get(url).status_code == 200, url


def test_protected_reads_cover_the_docs_pages_but_not_the_library_files() -> None:
    settings = Settings(auth={"token": TOKEN, "protect_reads": True})
    with TestClient(create_app(settings, run_scheduler=False)) as client:
        for page in ("/docs", "/redoc", "/docs/oauth2-redirect", "/openapi.json"):
            assert client.get(page).status_code == 401, page
            assert client.get(page, headers=GOOD).status_code == 200, page
        # Swagger UI's and ReDoc's own files, public like the CDN copies they replace: they
        # say nothing about this sidecar's API.
        assert client.get("/docs/static/swagger-ui-bundle.js").status_code == 200


def test_with_a_token_but_open_reads_the_docs_stay_open() -> None:
    settings = Settings(auth={"token": TOKEN})
    with TestClient(create_app(settings, run_scheduler=False)) as client:
        for page in ("/docs", "/redoc", "/openapi.json", "/docs/static/swagger-ui.css"):
            assert client.get(page).status_code == 200, page
