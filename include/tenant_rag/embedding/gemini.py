"""Gemini embeddings (``gemini-embedding-001``) through google-genai's public client, with a timeout and retries.

The ``google.genai.Client`` is built with ``HttpOptions`` that add ``timeout`` (milliseconds) and
``HttpRetryOptions``: exponential backoff with jitter on 408, 429 and 5xx and on connection errors and timeouts,
for ``max_retries`` retries after the first attempt. The key goes in the ``x-goog-api-key`` header, never in a URL.

Documents are embedded with task type ``RETRIEVAL_DOCUMENT``, queries with ``RETRIEVAL_QUERY``; exactly
``batch_size`` (<= 100) texts go in one ``batchEmbedContents`` request (LangChain's ``GoogleGenerativeAIEmbeddings``
is not used: it has no timeout or retry option, and its batching guesses tokens as twice the words and punctuation
and so splits a batch of 100 ~1,000-character chunks into three or four requests). Should the service refuse a
batch as too large (HTTP 400 naming tokens or size), it is split in half and retried, so the call count stays
ceil(n / batch_size) unless the service itself says otherwise. Vectors are L2-normalised here because the service
returns unit vectors only at its full 3,072 dimensions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from tenant_rag.config import GEMINI_MODEL
from tenant_rag.constants import GEMINI_CONN_ID
from tenant_rag.embedding.base import (
    CallCounter,
    EmbeddingError,
    EmbeddingUnavailableError,
    empty_matrix,
    iter_batches,
    normalize_rows,
)

if TYPE_CHECKING:
    from google.genai import Client

RETRYABLE_STATUSES = (408, 429, 500, 502, 503, 504)
MAX_BATCH = 100
MAX_DIMENSIONS = 3072
DOCUMENT_TASK = "RETRIEVAL_DOCUMENT"
QUERY_TASK = "RETRIEVAL_QUERY"


class GeminiEmbedder(CallCounter):
    """``Embedder`` for Gemini; ``calls`` counts requests answered (retries of one request count once)."""

    def __init__(
        self,
        *,
        api_key: str | None,
        dimensions: int = 768,
        batch_size: int = MAX_BATCH,
        base_url: str | None = None,
        timeout_s: float = 60.0,
        max_retries: int = 6,
        retry_initial_delay_s: float = 1.0,
        retry_max_delay_s: float = 30.0,
        customer_id: str = "",
        conn_id: str = GEMINI_CONN_ID,
        model: str = GEMINI_MODEL,
    ) -> None:
        super().__init__()
        self.model = model
        self.dimensions = dimensions
        self.model_id = f"{model}@{dimensions}"
        self.customer_id = customer_id
        self.base_url = base_url
        self.timeout_s = timeout_s
        self.attempts = max_retries + 1
        if not api_key:
            raise self._permanent(
                f"no API key: set the password of the Airflow Connection {conn_id!r} "
                "(or the GOOGLE_API_KEY environment variable)"
            )
        if not 1 <= batch_size <= MAX_BATCH:
            raise self._permanent(f"batch_size must be between 1 and {MAX_BATCH}, got {batch_size}")
        if not 1 <= dimensions <= MAX_DIMENSIONS:
            raise self._permanent(f"dimensions must be between 1 and {MAX_DIMENSIONS}, got {dimensions}")
        if timeout_s <= 0 or max_retries < 0:
            raise self._permanent(f"timeout_s must be > 0 and max_retries >= 0 (got {timeout_s}, {max_retries})")
        self.batch_size = batch_size
        self._client = _build_client(
            api_key=api_key,
            base_url=base_url,
            timeout_s=timeout_s,
            attempts=self.attempts,
            initial_delay_s=retry_initial_delay_s,
            max_delay_s=retry_max_delay_s,
        )

    # -- Embedder ------------------------------------------------------------------------------------------
    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return empty_matrix(self.dimensions)
        return np.vstack([self._request(list(batch), DOCUMENT_TASK) for batch in iter_batches(texts, self.batch_size)])

    def embed_query(self, text: str) -> np.ndarray:
        return self._request([text], QUERY_TASK)[0]

    def close(self) -> None:
        self._client.close()

    # -- internals -----------------------------------------------------------------------------------------
    def _request(self, texts: list[str], task_type: str) -> np.ndarray:
        """One ``batchEmbedContents`` call for ``texts``; halves the batch when the service says it is too large."""
        from google.genai import errors as genai_errors
        from google.genai import types as genai_types

        config = genai_types.EmbedContentConfig(task_type=task_type, output_dimensionality=self.dimensions)
        contents = [genai_types.Content(parts=[genai_types.Part(text=text)]) for text in texts]
        try:
            result = self._client.models.embed_content(model=self.model, contents=contents, config=config)
            vectors = [list(embedding.values or []) for embedding in result.embeddings or []]
        except genai_errors.ClientError as exc:
            if len(texts) > 1 and _too_large(exc):
                half = len(texts) // 2
                return np.vstack([self._request(texts[:half], task_type), self._request(texts[half:], task_type)])
            raise self._translate(exc) from exc
        except Exception as exc:
            raise self._translate(exc) from exc
        self._count(len(texts))
        return self._checked(vectors, len(texts))

    def _checked(self, vectors: list[list[float]], expected: int) -> np.ndarray:
        matrix = np.asarray(vectors, dtype=np.float32)
        if matrix.ndim != 2 or matrix.shape != (expected, self.dimensions):
            raise self._permanent(
                f"the service returned vectors of shape {matrix.shape} for {expected} texts at "
                f"{self.dimensions} dimensions"
            )
        return normalize_rows(matrix)

    def _permanent(self, message: str) -> EmbeddingError:
        return EmbeddingError(message, customer_id=self.customer_id, model_id=self.model_id)

    def _translate(self, exc: Exception) -> Exception:
        """One exception type per outcome: permanent (``EmbeddingError``) or retries exhausted (unavailable)."""
        import httpx
        from google.genai import errors as genai_errors

        cause: BaseException = exc
        while cause.__cause__ is not None and not isinstance(cause, genai_errors.APIError | httpx.HTTPError):
            cause = cause.__cause__
        where = self.base_url or "the Gemini API"
        if isinstance(cause, genai_errors.APIError):
            detail = f"HTTP {cause.code} {cause.status or ''}: {cause.message or ''}".strip()
            if cause.code in RETRYABLE_STATUSES:
                return EmbeddingUnavailableError(
                    f"{where} still failing after {self.attempts} attempts ({detail})",
                    customer_id=self.customer_id,
                    model_id=self.model_id,
                )
            return self._permanent(f"{where} refused the request ({detail})")
        if isinstance(cause, httpx.TimeoutException):
            return EmbeddingUnavailableError(
                f"{where} did not answer within {self.timeout_s:g} s on any of {self.attempts} attempts",
                customer_id=self.customer_id,
                model_id=self.model_id,
            )
        if isinstance(cause, httpx.TransportError):
            return EmbeddingUnavailableError(
                f"cannot reach {where} after {self.attempts} attempts ({type(cause).__name__}: {cause})",
                customer_id=self.customer_id,
                model_id=self.model_id,
            )
        return self._permanent(f"unexpected failure ({type(cause).__name__}: {cause})")


def _too_large(exc: Exception) -> bool:
    """A 400 that refuses the request's size (tokens, payload), not its content or key."""
    message = str(getattr(exc, "message", "") or exc).lower()
    return getattr(exc, "code", None) in (400, 413) and any(
        word in message for word in ("token", "too large", "payload", "size", "exceeds")
    )


def _build_client(
    *,
    api_key: str,
    base_url: str | None,
    timeout_s: float,
    attempts: int,
    initial_delay_s: float,
    max_delay_s: float,
) -> Client:
    """A Gemini Developer API client (not Vertex AI) with a timeout and a retry policy."""
    from google.genai import Client, types

    retry = types.HttpRetryOptions(
        attempts=attempts,
        initial_delay=initial_delay_s,
        max_delay=max_delay_s,
        exp_base=2.0,
        jitter=initial_delay_s,
        http_status_codes=list(RETRYABLE_STATUSES),
    )
    http_options = types.HttpOptions(base_url=base_url, timeout=max(1, round(timeout_s * 1000)), retry_options=retry)
    return Client(api_key=api_key, vertexai=False, http_options=http_options)
