"""What every embedder offers, the errors it raises, and the helpers they share (normalisation, batching)."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from tenant_rag.errors import PermanentError, TenantRagError


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors; counts the model/API calls it makes."""

    model_id: str
    dimensions: int
    calls: int
    texts_embedded: int

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_query(self, text: str) -> np.ndarray: ...


def _describe(message: str, customer_id: str, model_id: str) -> str:
    who = f"customer {customer_id!r}" if customer_id else "an unnamed customer"
    return f"embedding for {who} with {model_id or 'an embedding model'} failed: {message}"


class EmbeddingError(PermanentError):
    """A failure no retry can fix: missing or rejected API key, a request the service refuses (4xx but 429)."""

    def __init__(self, message: str, *, customer_id: str = "", model_id: str = "") -> None:
        self.customer_id = customer_id
        self.model_id = model_id
        super().__init__(_describe(message, customer_id, model_id))


class EmbeddingUnavailableError(TenantRagError):
    """The service kept failing (429, 5xx, timeouts) after the whole retry budget; a later run may succeed."""

    def __init__(self, message: str, *, customer_id: str = "", model_id: str = "") -> None:
        self.customer_id = customer_id
        self.model_id = model_id
        super().__init__(_describe(message, customer_id, model_id))


def normalize_rows(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm as float32. A row of zeros (or NaNs) becomes the uniform unit vector.

    pgvector's cosine distance is undefined for zero vectors, so no such row may reach the store.
    """
    matrix = np.asarray(vectors, dtype=np.float32)
    if matrix.ndim != 2:
        raise ValueError(f"expected a 2-d array of vectors, got shape {matrix.shape}")
    matrix = np.nan_to_num(matrix, nan=0.0, posinf=0.0, neginf=0.0)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    degenerate = (norms[:, 0] == 0.0) | ~np.isfinite(norms[:, 0])
    safe = np.where(norms == 0.0, 1.0, norms)
    result = (matrix / safe).astype(np.float32, copy=False)
    if degenerate.any() and matrix.shape[1]:
        result[degenerate] = np.float32(1.0 / np.sqrt(matrix.shape[1]))
    return np.ascontiguousarray(result)


def iter_batches(texts: Sequence[str], size: int) -> Iterator[list[str]]:
    """Consecutive slices of at most ``size`` texts."""
    if size < 1:
        raise ValueError(f"batch size must be at least 1, got {size}")
    for start in range(0, len(texts), size):
        yield list(texts[start : start + size])


class CallCounter:
    """Thread-safe ``calls`` / ``texts_embedded`` bookkeeping shared by the concrete embedders."""

    def __init__(self) -> None:
        self._count_lock = threading.Lock()
        self.calls = 0
        self.texts_embedded = 0

    def _count(self, texts: int) -> None:
        with self._count_lock:
            self.calls += 1
            self.texts_embedded += texts


def empty_matrix(dimensions: int) -> np.ndarray:
    return np.zeros((0, dimensions), dtype=np.float32)
