"""Airflow plugin: serve the tenant-rag API inside Airflow's API server under ``/tenant-rag``.

Airflow does not protect plugin apps with its own auth; the tenant-rag app checks its own API keys. The app is
built on the first request (a lazy ASGI wrapper), so loading this plugin in the scheduler, DAG processor or workers
costs one small import. Settings come from the ``TENANT_RAG_API_*`` environment; the database URL from
``AIRFLOW_CONN_TENANT_RAG_DB`` / ``TENANT_RAG_DATABASE_URL`` or else the Airflow Connection ``tenant_rag_db``, and the
Airflow REST base URL defaults to this API server's ``[api] base_url``. Without any of them the data routes answer
503 naming the Connection to create; nothing falls back to an embedded database.

API keys never belong in URLs (the app refuses them), and in case one is pasted anyway the mount masks secret query
values in the request scope before anything else reads it, so the API server's access log (Airflow's
``http.access`` middleware logs the scope's query string after the response) shows ``***``; uvicorn's own access
logger gets the ``tenant_rag.logmask`` filter as well.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from airflow.plugins_manager import AirflowPlugin

from tenant_rag.constants import DB_CONN_ID
from tenant_rag.logmask import install_access_log_masking, mask_scope_query

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Receive, Scope, Send

URL_PREFIX = "/tenant-rag"


def _database_url() -> str:
    """The vector store's URL: environment first (as outside Airflow), else the Airflow Connection.

    Never an embedded database: serving an empty index from a private server would hide the missing Connection.
    Raises ``DatabaseNotConfiguredError`` (the app answers 503 with its message and logs it once).
    """
    from tenant_rag.connections import connection_from_env
    from tenant_rag.dsn import database_url, resolve_database_url
    from tenant_rag.errors import DatabaseNotConfiguredError
    from tenant_rag.settings import settings

    if connection_from_env(DB_CONN_ID) is not None or settings().database_url is not None:
        return resolve_database_url(DB_CONN_ID, start_embedded=False)
    try:
        from airflow.models.connection import Connection

        conn = Connection.get_connection_from_secrets(DB_CONN_ID)
    except Exception as exc:  # AirflowNotFoundException, or a secrets backend / metadata database failure
        raise DatabaseNotConfiguredError(DB_CONN_ID, missing_connection_message(exc)) from exc
    return database_url(conn)


def missing_connection_message(cause: BaseException) -> str:
    return (
        f"tenant-rag API: the Airflow Connection {DB_CONN_ID!r} (the vector store's PostgreSQL) could not be read "
        f"({type(cause).__name__}: {str(cause)[:200]}). Create it, e.g. 'airflow connections add {DB_CONN_ID} "
        f"--conn-uri postgresql://user:password@host:5432/dbname', or set AIRFLOW_CONN_TENANT_RAG_DB or "
        "TENANT_RAG_DATABASE_URL for the API server. Inside Airflow the API never starts an embedded database."
    )


def _airflow_base_url() -> str | None:
    from tenant_rag.settings import settings

    if "airflow_base_url" in settings().api.model_fields_set:  # TENANT_RAG_API_AIRFLOW_BASE_URL
        return None
    try:
        from airflow.configuration import conf

        base = conf.get("api", "base_url", fallback="") or ""
    except Exception:
        return None
    base = base.rstrip("/")
    return base if base.startswith(("http://", "https://")) else None


def build_app() -> Any:
    """The tenant-rag FastAPI app configured for running inside Airflow's API server."""
    from tenant_rag.api.app import create_app
    from tenant_rag.settings import api_settings

    overrides: dict[str, Any] = {"start_embedded_db": False}
    base_url = _airflow_base_url()
    if base_url:
        overrides["airflow_base_url"] = base_url
    return create_app(api_settings(**overrides), database_url_factory=_database_url)


class LazyApp:
    """An ASGI app that builds the real one on its first request."""

    def __init__(self) -> None:
        self._app: ASGIApp | None = None
        self._lock = threading.Lock()

    @property
    def app(self) -> ASGIApp:
        with self._lock:
            if self._app is None:
                self._app = build_app()
            return self._app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            mask_scope_query(scope)  # the same dict the server and its access-log middleware log from
        await self.app(scope, receive, send)


install_access_log_masking()
tenant_rag_api = LazyApp()


class TenantRagApiPlugin(AirflowPlugin):
    name = "tenant_rag_api"
    fastapi_apps = [  # noqa: RUF012 (AirflowPlugin declares these as class attributes)
        {"app": tenant_rag_api, "url_prefix": URL_PREFIX, "name": "tenant-rag query, status and index API"}
    ]
