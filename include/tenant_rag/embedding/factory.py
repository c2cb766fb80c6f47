"""``get_embedder``: the embedder a customer's ``RAGConfig`` asks for, with the Gemini key and URL resolved.

The Gemini API key comes from the ``api_key`` argument (the Airflow hook passes the Connection's password), else
from the ``AIRFLOW_CONN_<EMBEDDING_CONN_ID>`` variable (password or ``extra.api_key``; its host, when it is an
http(s) URL, is the base URL), else from ``GOOGLE_API_KEY`` / ``GEMINI_API_KEY``. ``TENANT_RAG_GEMINI_BASE_URL``
points every Gemini embedder at another endpoint (a proxy, or the local fake server in tests).
"""

from __future__ import annotations

import json
import os
from typing import Any
from urllib.parse import unquote, urlparse

from tenant_rag.config import GEMINI_MODEL, OFFLINE_MODEL, RAGConfig
from tenant_rag.embedding.base import Embedder, EmbeddingError

BASE_URL_ENV = "TENANT_RAG_GEMINI_BASE_URL"
API_KEY_ENVS = ("GOOGLE_API_KEY", "GEMINI_API_KEY")


def embedding_model_id(rag: RAGConfig) -> str:
    """The id stored with every vector: model name plus dimension for models whose dimension is configurable."""
    if rag.embedding_model == OFFLINE_MODEL:
        return OFFLINE_MODEL
    return f"{rag.embedding_model}@{rag.dimensions}"


def _connection_fields(conn_id: str) -> dict[str, Any]:
    """Password/host/extra of an ``AIRFLOW_CONN_*`` variable (JSON or URI form); empty when it is not set."""
    raw = os.environ.get(f"AIRFLOW_CONN_{conn_id.upper()}", "").strip()
    if not raw:
        return {}
    if raw.startswith("{"):
        try:
            data = json.loads(raw)
        except json.JSONDecodeError:
            return {}
        return data if isinstance(data, dict) else {}
    parsed = urlparse(raw)
    extra = {key: value for key, value in (pair.split("=", 1) for pair in parsed.query.split("&") if "=" in pair)}
    return {
        "password": unquote(parsed.password) if parsed.password else None,
        "host": parsed.hostname,
        "extra": {key: unquote(value) for key, value in extra.items()},
    }


def resolve_gemini_credentials(
    rag: RAGConfig, api_key: str | None, base_url: str | None
) -> tuple[str | None, str | None]:
    """(api key, base URL) from the arguments, the embedding Connection's variable, then the environment."""
    conn = _connection_fields(rag.embedding_conn_id)
    raw_extra = conn.get("extra")
    if isinstance(raw_extra, str):  # Airflow also stores ``extra`` as a JSON string
        try:
            raw_extra = json.loads(raw_extra)
        except json.JSONDecodeError:
            raw_extra = None
    extra: dict[str, Any] = raw_extra if isinstance(raw_extra, dict) else {}
    key = api_key or conn.get("password") or extra.get("api_key")
    key = key or next((os.environ[name] for name in API_KEY_ENVS if os.environ.get(name)), None)
    host = conn.get("host") or ""
    conn_url = host if isinstance(host, str) and host.startswith(("http://", "https://")) else None
    url = base_url or extra.get("base_url") or conn_url or os.environ.get(BASE_URL_ENV) or None
    return key, url


def get_embedder(
    rag: RAGConfig,
    *,
    api_key: str | None = None,
    base_url: str | None = None,
    timeout_s: float = 60.0,
    max_retries: int = 6,
    customer_id: str = "",
    retry_initial_delay_s: float = 1.0,
    retry_max_delay_s: float = 30.0,
) -> Embedder:
    """A ready embedder for ``rag.embedding_model``; raises ``EmbeddingError`` naming the customer if it cannot."""
    if rag.embedding_model == OFFLINE_MODEL:
        from tenant_rag.embedding.offline import WordLlamaEmbedder

        return WordLlamaEmbedder(batch_size=rag.embedding_batch_size, customer_id=customer_id)
    if rag.embedding_model == GEMINI_MODEL:
        from tenant_rag.embedding.gemini import GeminiEmbedder

        key, url = resolve_gemini_credentials(rag, api_key, base_url)
        return GeminiEmbedder(
            api_key=key,
            dimensions=rag.dimensions,
            batch_size=rag.embedding_batch_size,
            base_url=url,
            timeout_s=timeout_s,
            max_retries=max_retries,
            retry_initial_delay_s=retry_initial_delay_s,
            retry_max_delay_s=retry_max_delay_s,
            customer_id=customer_id,
            conn_id=rag.embedding_conn_id,
        )
    raise EmbeddingError(
        f"unknown embedding model {rag.embedding_model!r}; use {OFFLINE_MODEL!r} or {GEMINI_MODEL!r}",
        customer_id=customer_id,
    )
