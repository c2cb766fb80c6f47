"""``/docs``: Swagger UI served from this app, so the page works offline (no CDN, no external host).

FastAPI's documented self-hosting recipe: the app is built with ``docs_url=None, redoc_url=None``; ``/docs`` renders
``get_swagger_ui_html`` with the JavaScript, CSS and favicon at ``/docs/assets/`` (a ``StaticFiles`` mount on the
Swagger UI distribution shipped by the ``swagger-ui-bundle-v2`` package). Every URL in the page is prefixed with the
request's ``root_path``, as FastAPI does for its own docs, so the page works standalone (``/docs``) and mounted in
Airflow's api-server (``/tenant-rag/docs``). Without the package ``/docs`` answers 503 naming it; the API itself is
unaffected.
"""

from __future__ import annotations

import logging
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse, PlainTextResponse, Response
from fastapi.staticfiles import StaticFiles

DOCS_URL = "/docs"
ASSETS_URL = "/docs/assets"
OAUTH2_REDIRECT_URL = "/docs/oauth2-redirect"
PACKAGE = "swagger-ui-bundle-v2"
log = logging.getLogger(__name__)


def swagger_ui_dir() -> Path | None:
    """The Swagger UI ``dist`` folder of the installed bundle, or None when the package is missing."""
    try:
        from swagger_ui_bundle import swagger_ui_path
    except ImportError:
        return None
    path = Path(str(swagger_ui_path))
    return path if (path / "swagger-ui-bundle.js").is_file() else None


def install_docs(app: FastAPI) -> None:
    """Add ``/docs``, its OAuth2 redirect page and ``/docs/assets/`` (the app must have ``docs_url=None``)."""
    assets = swagger_ui_dir()
    if assets is not None:
        app.mount(ASSETS_URL, StaticFiles(directory=assets), name="swagger-ui-assets")
    else:
        log.warning("%s is not installed: /docs answers 503 (the API works)", PACKAGE)

    @app.get(DOCS_URL, include_in_schema=False)
    async def swagger_ui(request: Request) -> Response:
        if assets is None:
            return PlainTextResponse(f"API docs unavailable: install {PACKAGE} (requirements.txt)", status_code=503)
        root = request.scope.get("root_path", "").rstrip("/")
        return get_swagger_ui_html(
            openapi_url=root + (app.openapi_url or "/openapi.json"),
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{root}{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_URL}/favicon-32x32.png",
            oauth2_redirect_url=root + OAUTH2_REDIRECT_URL,
        )

    @app.get(OAUTH2_REDIRECT_URL, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()
