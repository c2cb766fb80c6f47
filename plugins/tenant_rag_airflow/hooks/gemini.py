"""``GeminiHook``: the embedding API key (and optional endpoint) from an Airflow Connection.

The key is the Connection's password (or ``extra.api_key``); without a Connection, ``GOOGLE_API_KEY`` (or
``GEMINI_API_KEY``). A host that is an http(s) URL, or ``extra.base_url``, points the client at another endpoint
(a proxy, or the local fake server in tests).
"""

from __future__ import annotations

import os
from functools import cached_property
from typing import TYPE_CHECKING

from airflow.sdk import BaseHook
from airflow.sdk.exceptions import AirflowNotFoundException

from tenant_rag.errors import PermanentError
from tenant_rag_airflow.constants import GEMINI_CONN_ID

if TYPE_CHECKING:
    from airflow.sdk import Connection

API_KEY_ENVS = ("GOOGLE_API_KEY", "GEMINI_API_KEY")


class MissingApiKeyError(PermanentError, ValueError):
    """No key in the Connection nor in the environment: a retry cannot fix this."""


class GeminiHook(BaseHook):
    # registered with Airflow (and labelled in the Connections form) by provider_info.GEMINI_CONNECTION
    conn_name_attr = "gemini_conn_id"
    default_conn_name = GEMINI_CONN_ID
    conn_type = "google_genai"
    hook_name = "Google Gemini API (embeddings)"

    def __init__(self, gemini_conn_id: str = default_conn_name) -> None:
        super().__init__()
        self.gemini_conn_id = gemini_conn_id

    @cached_property
    def connection(self) -> Connection | None:
        """The Connection, or None when it is not defined (the environment key is then used)."""
        try:
            return self.get_connection(self.gemini_conn_id)
        except AirflowNotFoundException:
            return None

    @property
    def api_key(self) -> str:
        conn = self.connection
        if conn is not None:
            key = conn.password or conn.extra_dejson.get("api_key")
            if key:
                return str(key)
        for name in API_KEY_ENVS:
            if os.environ.get(name):
                return os.environ[name]
        raise MissingApiKeyError(
            f"no Gemini API key: set the password of Airflow connection {self.gemini_conn_id!r} "
            f"or the {API_KEY_ENVS[0]} environment variable"
        )

    @property
    def base_url(self) -> str | None:
        conn = self.connection
        if conn is None:
            return None
        explicit = conn.extra_dejson.get("base_url")
        if explicit:
            return str(explicit)
        host = conn.host or ""
        return host if host.startswith(("http://", "https://")) else None

    def get_conn(self) -> str:
        """The API key (clients are built by ``tenant_rag.embedding.get_embedder``)."""
        return self.api_key
