"""The query path's embedders: one per (model, dimension, credentials), shared by every customer that uses it."""

from __future__ import annotations

import hashlib
import threading

from tenant_rag.config import RAGConfig
from tenant_rag.embedding.base import Embedder

_embedders: dict[tuple[str, ...], Embedder] = {}
_embedders_lock = threading.Lock()


def shared_embedder(rag: RAGConfig, customer_id: str) -> Embedder:
    """One query embedder per (model, dimension, credentials), shared by every customer that uses it.

    The key includes a digest of the resolved API key and base URL, so a rotated key or a moved endpoint gets
    a new client instead of a stale one.
    """
    from tenant_rag.config import GEMINI_MODEL
    from tenant_rag.embedding.factory import embedding_model_id, get_embedder, resolve_gemini_credentials

    key: tuple[str, ...] = (embedding_model_id(rag), str(rag.dimensions))
    if rag.embedding_model == GEMINI_MODEL:
        api_key, base_url = resolve_gemini_credentials(rag, None, None)
        key += (hashlib.sha256(f"{api_key}\x00{base_url}".encode()).hexdigest(),)
    with _embedders_lock:
        embedder = _embedders.get(key)
        if embedder is None:
            embedder = get_embedder(rag, customer_id=customer_id)
            _embedders[key] = embedder
        return embedder


def clear_shared_embedders() -> None:
    with _embedders_lock:
        _embedders.clear()
