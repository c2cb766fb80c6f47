"""Resolve a database connection id to a libpq URL without importing Airflow.

Order: ``AIRFLOW_CONN_<ID>`` (URI or JSON, the same variables Airflow reads), then ``TENANT_RAG_DATABASE_URL``,
then the embedded server (started when ``start_embedded``). Inside Airflow the hook turns its Connection into a
URL with ``database_url`` as well; ``resolve_database_url`` serves the CLI, the API service and tests.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qs, quote, unquote, urlencode, urlparse

from tenant_rag.connections import ConnectionEnvError, ConnectionLike, conn_env_var, connection_from_env
from tenant_rag.constants import DATABASE_URL_ENV, DB_CONN_ID
from tenant_rag.errors import DatabaseNotConfiguredError
from tenant_rag.settings import settings


def database_url(conn: ConnectionLike, *, database: str | None = None) -> str:
    """A ``postgresql://`` libpq URL for a connection; a host starting with '/' is a socket dir (``?host=``).

    ``database`` overrides the connection's schema; of the extra only ``sslmode`` and ``options`` are kept.
    """
    user = quote(conn.login or "", safe="")
    password = conn.password
    auth = f"{user}:{quote(password, safe='')}@" if password else (f"{user}@" if user else "")
    query = {str(k): str(v) for k, v in conn.extra_dejson.items() if k in ("sslmode", "options")}
    host = conn.host
    netloc_host = ""
    if host and host.startswith("/"):
        query["host"] = host
    elif host:
        netloc_host = host + (f":{conn.port}" if conn.port else "")
    url = f"postgresql://{auth}{netloc_host}/{quote(database or conn.schema or 'postgres', safe='')}"
    return url + (f"?{urlencode(query, quote_via=quote)}" if query else "")


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


def resolve_database_url(conn_id: str = DB_CONN_ID, *, start_embedded: bool = True) -> str:
    """The URL for ``conn_id`` from the environment, else the embedded server's."""
    conn = connection_from_env(conn_id)
    if conn is not None:
        if conn.conn_type not in (None, "postgres"):
            raise ConnectionEnvError(f"{conn_env_var(conn_id)}: conn_type {conn.conn_type!r} is not postgres")
        return database_url(conn)
    configured = settings().database_url
    if configured is not None:
        return configured.get_secret_value()
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
