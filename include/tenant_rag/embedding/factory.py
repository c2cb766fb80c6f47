"""``get_embedder``: the embedder a customer's ``RAGConfig`` asks for, with the Gemini key and URL resolved.

The Gemini API key and endpoint come from the arguments (the Airflow hook passes what ``gemini_credentials`` found
in its Connection), else ``gemini_credentials`` of the ``AIRFLOW_CONN_<EMBEDDING_CONN_ID>`` variable: the
password or ``extra.api_key``, else ``GOOGLE_API_KEY`` / ``GEMINI_API_KEY``; ``extra.base_url`` or an http(s)
host, else ``TENANT_RAG_GEMINI_BASE_URL`` (a proxy, or the local fake server in tests).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tenant_rag.config import GEMINI_MODEL, OFFLINE_MODEL, RAGConfig
from tenant_rag.connections import ConnectionLike, connection_from_env
from tenant_rag.embedding.base import Embedder, EmbeddingError
from tenant_rag.settings import settings


def embedding_model_id(rag: RAGConfig) -> str:
    """The id stored with every vector: model name plus dimension for models whose dimension is configurable."""
    if rag.embedding_model == OFFLINE_MODEL:
        return OFFLINE_MODEL
    return f"{rag.embedding_model}@{rag.dimensions}"


@dataclass(frozen=True)
class GeminiCredentials:
    """The Gemini API key (never in ``repr``, so never in a log line) and the endpoint, None for Google's own."""

    api_key: str | None = field(repr=False)
    base_url: str | None


def gemini_credentials(conn: ConnectionLike | None) -> GeminiCredentials:
    """Key and endpoint from the embedding Connection (None when it is not defined), then the environment.

    Key: the password, ``extra.api_key``, then ``GOOGLE_API_KEY`` / ``GEMINI_API_KEY``. Endpoint: ``extra.base_url``,
    the host when it is an http(s) URL, then ``TENANT_RAG_GEMINI_BASE_URL``.
    """
    extra = conn.extra_dejson if conn is not None else {}
    key = (conn.password if conn is not None else None) or extra.get("api_key")
    environment = settings()
    if not key and environment.google_api_key is not None:
        key = environment.google_api_key.get_secret_value()
    host = (conn.host if conn is not None else None) or ""
    host_url = host if host.startswith(("http://", "https://")) else None
    url = extra.get("base_url") or host_url or environment.gemini_base_url
    return GeminiCredentials(api_key=str(key) if key else None, base_url=str(url) if url else None)


def resolve_gemini_credentials(
    rag: RAGConfig, api_key: str | None, base_url: str | None
) -> tuple[str | None, str | None]:
    """(api key, base URL): the arguments, else ``gemini_credentials`` of the embedding Connection's variable."""
    found = gemini_credentials(connection_from_env(rag.embedding_conn_id))
    return api_key or found.api_key, base_url or found.base_url


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

        # a caller with a key (the Airflow hook) has resolved the Connection itself: nothing is looked up again
        key, url = (api_key, base_url) if api_key else resolve_gemini_credentials(rag, None, base_url)
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
