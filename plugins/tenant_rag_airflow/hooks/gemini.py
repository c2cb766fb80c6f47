"""``GeminiHook``: the embedding API key (and optional endpoint) from an Airflow Connection.

The hook reads the Connection; ``tenant_rag.embedding.factory.gemini_credentials`` decides what it means: the key
is the password (or ``extra.api_key``), else ``GOOGLE_API_KEY`` (or ``GEMINI_API_KEY``); ``extra.base_url`` or a
host that is an http(s) URL, else ``TENANT_RAG_GEMINI_BASE_URL``, points the client at another endpoint (a proxy,
or the local fake server in tests).
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from airflow.sdk import BaseHook
from airflow.sdk.exceptions import AirflowNotFoundException

from tenant_rag.connections import ConnectionConfigError
from tenant_rag.constants import API_KEY_ENVS, GEMINI_CONN_ID

if TYPE_CHECKING:
    from airflow.sdk import Connection

    from tenant_rag.embedding.factory import GeminiCredentials


class MissingApiKeyError(ConnectionConfigError):
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

    @cached_property
    def credentials(self) -> GeminiCredentials:
        """The key and endpoint (see ``gemini_credentials``: the Connection first, then the environment)."""
        from tenant_rag.embedding.factory import gemini_credentials

        return gemini_credentials(self.connection)

    @property
    def api_key(self) -> str:
        key = self.credentials.api_key
        if not key:
            raise MissingApiKeyError(
                f"no Gemini API key: set the password of Airflow connection {self.gemini_conn_id!r} "
                f"or the {API_KEY_ENVS[0]} environment variable"
            )
        return key

    @property
    def base_url(self) -> str | None:
        return self.credentials.base_url

    def get_conn(self) -> str:
        """The API key (clients are built by ``tenant_rag.embedding.get_embedder``)."""
        return self.api_key
