"""Resolve a database connection id to a libpq URL without importing Airflow.

Order: ``AIRFLOW_CONN_<ID>`` (URI or JSON, the same variables Airflow reads), then ``TENANT_RAG_DATABASE_URL``,
then the embedded server (started when ``start_embedded``). Inside Airflow the hook resolves Connections itself
and hands the library a URL; this module serves the CLI, the API service and tests.
"""

from __future__ import annotations

import json
import os
from urllib.parse import parse_qs, quote, unquote, urlencode, urlparse

from tenant_rag.errors import DatabaseNotConfiguredError, TenantRagError

DATABASE_URL_ENV = "TENANT_RAG_DATABASE_URL"


def conn_env_var(conn_id: str) -> str:
    return f"AIRFLOW_CONN_{conn_id.upper()}"


def connection_fields_to_url(
    *,
    host: str | None,
    login: str | None,
    password: str | None,
    schema: str | None,
    port: int | None,
    extra: dict[str, object] | None = None,
) -> str:
    """A postgresql:// URL from Airflow-style connection fields (a host starting with '/' is a socket dir)."""
    user = quote(login or "", safe="")
    auth = f"{user}:{quote(password, safe='')}@" if password else (f"{user}@" if user else "")
    query: dict[str, str] = {str(k): str(v) for k, v in (extra or {}).items() if k in ("sslmode", "options")}
    netloc_host = ""
    if host and host.startswith("/"):
        query["host"] = host
    elif host:
        netloc_host = host + (f":{port}" if port else "")
    url = f"postgresql://{auth}{netloc_host}/{quote(schema or 'postgres', safe='')}"
    return url + (f"?{urlencode(query, quote_via=quote)}" if query else "")


def url_from_airflow_env(value: str) -> str:
    """Convert an ``AIRFLOW_CONN_*`` value (JSON or URI) to a libpq URL."""
    value = value.strip()
    if value.startswith("{"):
        data = json.loads(value)
        return connection_fields_to_url(
            host=data.get("host"),
            login=data.get("login"),
            password=data.get("password"),
            schema=data.get("schema"),
            port=data.get("port"),
            extra=data.get("extra") or {},
        )
    parsed = urlparse(value)
    if parsed.scheme not in ("postgres", "postgresql"):
        raise TenantRagError(f"connection URI scheme {parsed.scheme!r} is not postgres")
    host = unquote(parsed.hostname or "") if parsed.hostname else None
    if parsed.netloc and "%2f" in parsed.netloc.lower():
        host = unquote(parsed.netloc.rsplit("@", 1)[-1])
    return connection_fields_to_url(
        host=host,
        login=unquote(parsed.username or "") or None,
        password=unquote(parsed.password) if parsed.password else None,
        schema=parsed.path.lstrip("/") or None,
        port=parsed.port if host and not host.startswith("/") else None,
    )


def airflow_conn_json(url: str) -> str:
    """The ``AIRFLOW_CONN_*`` JSON value (conn_type postgres) for a libpq URL; a socket dir becomes the host."""
    parsed = urlparse(url)
    host = parse_qs(parsed.query).get("host", [parsed.hostname or ""])[0]
    fields = {
        "conn_type": "postgres",
        "host": host,
        "login": parsed.username or "postgres",
        "password": unquote(parsed.password) if parsed.password else None,
        "schema": parsed.path.lstrip("/") or "postgres",
        "port": parsed.port,
    }
    return json.dumps({k: v for k, v in fields.items() if v})


def resolve_database_url(conn_id: str = "tenant_rag_db", *, start_embedded: bool = True) -> str:
    """The URL for ``conn_id`` from the environment, else the embedded server's."""
    env_value = os.environ.get(conn_env_var(conn_id))
    if env_value:
        return url_from_airflow_env(env_value)
    if os.environ.get(DATABASE_URL_ENV):
        return os.environ[DATABASE_URL_ENV]
    from tenant_rag import embedded_pg

    running = embedded_pg.running_url()
    if running:
        return running
    if not start_embedded:
        raise DatabaseNotConfiguredError(
            conn_id,
            f"no database for connection {conn_id!r}: set {conn_env_var(conn_id)} or {DATABASE_URL_ENV}, "
            "or start the embedded server (python -m tenant_rag db start)",
        )
    return embedded_pg.start().url
