"""Airflow-style connections without Airflow: what the library reads of one, and ``AIRFLOW_CONN_<ID>`` parsed once.

Inside Airflow a hook hands its ``Connection`` to the library functions that take a ``ConnectionLike``
(``dsn.database_url``, ``embedding.factory.gemini_credentials``); outside it (the CLI, the API service, tests) the
same functions get the ``ConnectionFields`` that ``connection_from_env`` parses from the variable Airflow itself
would read, in either of Airflow's forms: JSON (``{"conn_type": ..., "host": ..., "extra": {...}}``) or URI
(``type://login:password@host:port/schema?key=value``, a ``%2F``-quoted host being a Unix-socket directory).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import parse_qsl, unquote, urlparse

from tenant_rag.errors import PermanentError


class ConnectionLike(Protocol):
    """The fields of an Airflow ``Connection`` the library reads (Airflow's own class has them all)."""

    @property
    def host(self) -> str | None: ...

    @property
    def login(self) -> str | None: ...

    @property
    def password(self) -> str | None: ...

    @property
    def schema(self) -> str | None: ...

    @property
    def port(self) -> int | None: ...

    @property
    def extra_dejson(self) -> dict[str, Any]: ...


class ConnectionConfigError(PermanentError, ValueError):
    """A connection that cannot work as configured: no retry fixes it, editing the connection does.

    The message names the connection and the field to fix, never a secret. The hooks raise their own kinds of it.
    """


class ConnectionEnvError(ConnectionConfigError):
    """An ``AIRFLOW_CONN_*`` variable that is not a connection in JSON or URI form (its value is never shown)."""


@dataclass(frozen=True)
class ConnectionFields:
    """A connection read from the environment; a ``ConnectionLike``. ``conn_type`` is normalised as Airflow does."""

    conn_type: str | None = None
    host: str | None = None
    login: str | None = None
    password: str | None = field(default=None, repr=False)
    schema: str | None = None
    port: int | None = None
    extra: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def extra_dejson(self) -> dict[str, Any]:
        return dict(self.extra)


def conn_env_var(conn_id: str) -> str:
    return f"AIRFLOW_CONN_{conn_id.upper()}"


def connection_from_env(conn_id: str) -> ConnectionFields | None:
    """The connection ``conn_id`` from its ``AIRFLOW_CONN_*`` variable; None when the variable is unset or empty."""
    name = conn_env_var(conn_id)
    value = os.environ.get(name, "").strip()
    return parse_connection(value, name=name) if value else None


def parse_connection(value: str, *, name: str) -> ConnectionFields:
    """One ``AIRFLOW_CONN_*`` value (JSON or URI); ``ConnectionEnvError`` naming ``name`` when it is neither."""
    value = value.strip()
    if value.startswith("{"):
        try:
            data = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ConnectionEnvError(f"{name} is not valid JSON (line {exc.lineno}, column {exc.colno})") from None
        if not isinstance(data, dict):
            raise ConnectionEnvError(f"{name} must be a JSON object")
        return ConnectionFields(
            conn_type=_conn_type(data.get("conn_type")),
            host=data.get("host") or None,
            login=data.get("login") or None,
            password=data.get("password") or None,
            schema=data.get("schema") or None,
            port=_port(data.get("port"), name),
            extra=_extra(data.get("extra"), name),
        )
    parsed = urlparse(value)
    if not parsed.scheme or "://" not in value:
        raise ConnectionEnvError(f"{name} is neither a JSON object nor a connection URI (type://...)")
    try:
        port = parsed.port
    except ValueError:
        raise ConnectionEnvError(f"{name} has a port that is not a number") from None
    query = dict(parse_qsl(parsed.query, keep_blank_values=True))
    extra = _extra(query.pop("__extra__"), name) if "__extra__" in query else query
    return ConnectionFields(
        conn_type=_conn_type(parsed.scheme),
        host=_uri_host(parsed.netloc, parsed.hostname, port),
        login=unquote(parsed.username) if parsed.username else None,
        password=unquote(parsed.password) if parsed.password else None,
        schema=unquote(parsed.path.lstrip("/")) or None,
        port=port,
        extra=extra,
    )


def _port(value: object, name: str) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(str(value))
    except ValueError:
        raise ConnectionEnvError(f"{name} has a port that is not a number") from None


def _conn_type(value: object) -> str | None:
    """Airflow's spelling: ``postgresql`` is ``postgres``, dashes are underscores."""
    if not value:
        return None
    conn_type = str(value).replace("-", "_")
    return "postgres" if conn_type == "postgresql" else conn_type


def _uri_host(netloc: str, hostname: str | None, port: int | None) -> str | None:
    """The URI's host; a quoted path (``%2Ftmp%2Fpg``, a socket directory) keeps its case and slashes."""
    host_port = netloc.rpartition("@")[2]
    if "%2f" in host_port.lower():
        return unquote(host_port.rsplit(":", 1)[0] if port is not None else host_port)
    return unquote(hostname) if hostname else None


def _extra(value: object, name: str) -> dict[str, Any]:
    """``extra`` as a dict: Airflow stores it as an object or as a JSON string."""
    if value in (None, ""):
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise ConnectionEnvError(f"{name}: extra is not valid JSON") from None
    if not isinstance(value, dict):
        raise ConnectionEnvError(f"{name}: extra must be a JSON object")
    return value
