"""The FastAPI application factory.

``create_app()`` is cheap: it reads settings and registers routes; the database, the RAG core and Airflow are
reached only when a request needs them. That lets the Airflow plugin build the app at import time and lets tests
build one app per test with their own settings.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from tenant_rag import __version__
from tenant_rag.api import routes_customers, routes_index, routes_ops, routes_pages
from tenant_rag.api.docs import install_docs
from tenant_rag.api.errors import install_error_handlers
from tenant_rag.api.limits import BodySizeLimitMiddleware
from tenant_rag.api.metrics import RequestMetricsMiddleware
from tenant_rag.api.services import Services
from tenant_rag.api.settings import ApiSettings
from tenant_rag.logmask import install_access_log_masking
from tenant_rag.settings import settings as environment

DESCRIPTION = """
Query each customer's Confluence index, read its indexing status, and manage indexing runs (through Airflow).

**Auth.** Send a key as `X-API-Key: <key>` or `Authorization: Bearer <key>`. A customer key works only for its
customer; for any other customer id the answer is exactly the one for an unknown id (404). Admin routes need the
admin key. Keys are created with `python -m tenant_rag create-key <customer>` (shown once, stored hashed).

**Status pages.** `/v1/customers/{id}/status/page` and `/v1/admin/status/page` are HTML for browsers: without a
key they show a sign-in form that POSTs the key to the sibling `login` route, which keeps it in an HttpOnly cookie.
Keys are never accepted in URLs (`?key=` answers 400).
"""

TAGS = [
    {"name": "customers", "description": "query and status of one customer; the customer list (admin)"},
    {"name": "index", "description": "indexing runs through Airflow; dropping an index (admin)"},
    {"name": "status pages", "description": "HTML pages for browsers"},
    {"name": "operations", "description": "health, readiness and Prometheus metrics"},
]


def create_app(
    settings: ApiSettings | None = None, *, database_url_factory: Callable[[], str] | None = None
) -> FastAPI:
    """Build the API. ``database_url_factory`` supplies the database URL on first use (the Airflow plugin)."""
    settings = settings or environment().api
    services = Services(settings, database_url_factory=database_url_factory)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        services.close()

    app = FastAPI(
        title="tenant-rag API",
        version=__version__,
        description=DESCRIPTION,
        openapi_tags=TAGS,
        lifespan=lifespan,
        docs_url=None,  # served from local assets by install_docs (offline; no CDN)
        redoc_url=None,  # ReDoc would load from a CDN
    )
    app.state.services = services
    install_error_handlers(app)
    app.include_router(routes_customers.router)
    app.include_router(routes_index.router)
    app.include_router(routes_pages.router)
    app.include_router(routes_ops.router)
    install_docs(app)
    app.add_middleware(RequestMetricsMiddleware, metrics=services.metrics)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes)  # outermost: before parsing
    return app


def api_server(settings: ApiSettings | None = None, *, host: str | None = None, port: int | None = None) -> Any:
    """A ``uvicorn.Server`` for the API whose access log masks secret query values (``serve`` runs it)."""
    import uvicorn

    settings = settings or environment().api
    config = uvicorn.Config(
        create_app(settings),
        host=host or settings.host,
        port=port if port is not None else settings.port,
        log_level="info",
        proxy_headers=False,
        # longer than a load balancer's idle timeout is not needed, but uvicorn's 5 s default lets a client
        # reuse a connection the server is closing at that instant (an empty ReadError under load)
        timeout_keep_alive=30,
    )
    install_access_log_masking()  # after uvicorn.Config has configured its loggers
    return uvicorn.Server(config)


def serve(settings: ApiSettings | None = None, *, host: str | None = None, port: int | None = None) -> None:
    """Run the API with uvicorn (blocking)."""
    server = api_server(settings, host=host, port=port)
    server.run()
    if not server.started:
        raise SystemExit(3)  # uvicorn's exit status when the server could not start (port in use, ...)
