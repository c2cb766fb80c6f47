"""``ConfluenceHook``: Confluence credentials and site URL from an Airflow Connection.

Cloud uses the account e-mail as login and an API token as password (HTTP basic); Server/Data Center uses a
personal access token (bearer): leave the login empty and put the token in the password, or set
``{"auth": "bearer"}`` in the extra. The host may carry the whole base URL (``https://acme.atlassian.net/wiki``);
otherwise the URL is built from host, port and schema (the path), and a customer's ``export.base_url`` is the
fallback.

A connection that cannot work as configured (no token, basic auth without a login, an unknown ``extra.auth``)
raises ``ConfluenceConnectionError``, a ``ConnectionConfigError`` (permanent): the export task fails at once
instead of retrying with backoff, and the message names the connection and the field to fix (never the secret).
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook

from tenant_rag.connections import ConnectionConfigError
from tenant_rag.constants import CONFLUENCE_CONN_ID
from tenant_rag.urls import public_url

if TYPE_CHECKING:
    from airflow.sdk import Connection

    from tenant_rag.export import ConfluenceCredentials

_AUTH_MODES = ("basic", "bearer")


class ConfluenceConnectionError(ConnectionConfigError):
    """The Confluence Connection is misconfigured: a retry cannot fix it, editing the Connection can."""


class ConfluenceHook(BaseHook):
    """Resolve ``confluence_conn_id`` into ``ConfluenceCredentials`` and a base URL for the exporter."""

    # registered with Airflow (and labelled in the Connections form) by provider_info.CONFLUENCE_CONNECTION
    conn_name_attr = "confluence_conn_id"
    default_conn_name = CONFLUENCE_CONN_ID
    conn_type = "confluence"
    hook_name = "Confluence (tenantrag)"

    def __init__(self, confluence_conn_id: str = default_conn_name, *, default_base_url: str | None = None) -> None:
        super().__init__()
        self.confluence_conn_id = confluence_conn_id
        self.default_base_url = default_base_url

    @cached_property
    def connection(self) -> Connection:
        return self.get_connection(self.confluence_conn_id)

    @property
    def auth_mode(self) -> str:
        extra = self.connection.extra_dejson
        mode = str(extra.get("auth") or ("basic" if self.connection.login else "bearer")).lower()
        if mode not in _AUTH_MODES:
            raise ConfluenceConnectionError(
                f"connection {self.confluence_conn_id!r}: extra.auth is {mode!r}; use one of {', '.join(_AUTH_MODES)}"
            )
        return mode

    @property
    def base_url(self) -> str | None:
        """The site URL the connection names, else ``default_base_url`` (the customer's config)."""
        conn = self.connection
        explicit = conn.extra_dejson.get("base_url")
        if explicit:
            return str(explicit).rstrip("/")
        host = conn.host or ""
        if host.startswith(("http://", "https://")):
            return host.rstrip("/")
        if host:
            port = f":{conn.port}" if conn.port else ""
            scheme = "http" if conn.extra_dejson.get("insecure") else "https"
            path = f"/{conn.schema.strip('/')}" if conn.schema else ""
            return f"{scheme}://{host}{port}{path}"
        return self.default_base_url

    def get_conn(self) -> ConfluenceCredentials:
        """The exporter's credentials (built once per hook)."""
        return self.credentials

    @cached_property
    def credentials(self) -> ConfluenceCredentials:
        from tenant_rag.export import ConfluenceCredentials

        conn = self.connection
        secret = conn.password or conn.extra_dejson.get("token")
        if not secret:
            raise ConfluenceConnectionError(
                f"connection {self.confluence_conn_id!r} has no password: put the Cloud API token or the "
                "Server/DC personal access token there"
            )
        if self.auth_mode == "bearer":
            return ConfluenceCredentials(bearer_token=secret)
        if not conn.login:
            raise ConfluenceConnectionError(
                f"connection {self.confluence_conn_id!r}: basic auth needs the account e-mail as login"
            )
        return ConfluenceCredentials(username=conn.login, api_token=secret)

    def test_connection(self) -> tuple[bool, str]:
        """Run a one-result CQL search with the credentials (the UI's Test button; Cloud and Server alike)."""
        import httpx

        base = self.base_url
        if not base:
            return False, "no base URL: set the connection's host to the site URL"
        conn = self.connection
        secret = conn.password or ""
        try:
            mode = self.auth_mode
        except ConfluenceConnectionError as exc:
            return False, str(exc)
        if mode == "bearer":
            kwargs: dict[str, Any] = {"headers": {"Authorization": f"Bearer {secret}"}}
        else:
            kwargs = {"auth": (conn.login or "", secret)}
        try:
            response = httpx.get(
                f"{base}/rest/api/content/search", params={"cql": "type=page", "limit": 1}, timeout=15.0, **kwargs
            )
        except httpx.HTTPError as exc:
            return False, f"{public_url(base)}: {exc}"
        if response.status_code == 200:
            return True, f"connected to {public_url(base)}"
        return False, f"{public_url(base)}: HTTP {response.status_code} {response.reason_phrase}"
