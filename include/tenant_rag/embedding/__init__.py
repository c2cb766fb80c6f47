"""Pluggable text embedders: the offline WordLlama default and Gemini through google-genai.

Import ``get_embedder`` from ``tenant_rag.embedding.factory``; this package module stays light (no model or HTTP
client is imported until an embedder is built).
"""

from __future__ import annotations

from tenant_rag.embedding.base import (
    Embedder,
    EmbeddingError,
    EmbeddingUnavailableError,
    iter_batches,
    normalize_rows,
)
from tenant_rag.embedding.factory import embedding_model_id, get_embedder

__all__ = [
    "Embedder",
    "EmbeddingError",
    "EmbeddingUnavailableError",
    "embedding_model_id",
    "get_embedder",
    "iter_batches",
    "normalize_rows",
]
