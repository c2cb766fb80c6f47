"""Offline default embedder: WordLlama ``l2_supercat`` at 256 dimensions, weights shipped in the wheel.

The model is loaded once per process (lazily, under a lock) from the ``wordllama`` package folder with downloads
disabled, so nothing ever reaches the network. WordLlama averages token embeddings, which makes it fast on CPU.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from tenant_rag.config import OFFLINE_MODEL
from tenant_rag.embedding.base import CallCounter, EmbeddingError, empty_matrix, iter_batches, normalize_rows

if TYPE_CHECKING:
    from wordllama.inference import WordLlamaInference

WORDLLAMA_CONFIG = "l2_supercat"
WORDLLAMA_DIMENSIONS = 256
MAX_CHARS = 32_000  # an average of word vectors gains nothing past this; it bounds padding memory per call
_GROUP = 32  # texts padded together inside the model

_model: WordLlamaInference | None = None
_model_lock = threading.Lock()
_embed_lock = threading.Lock()


def load_wordllama() -> WordLlamaInference:
    """The process-wide WordLlama model, loaded on first use from the installed package (never downloaded)."""
    global _model  # noqa: PLW0603 - one model per process, by design
    if _model is None:
        with _model_lock:
            if _model is None:
                try:
                    import wordllama
                    from wordllama import WordLlama

                    package_dir = Path(wordllama.__file__).parent
                    _model = WordLlama.load(
                        config=WORDLLAMA_CONFIG,
                        dim=WORDLLAMA_DIMENSIONS,
                        cache_dir=package_dir,
                        disable_download=True,
                    )
                except (ImportError, FileNotFoundError, ValueError) as exc:
                    raise EmbeddingError(
                        f"cannot load the offline model from the installed 'wordllama' package ({exc}); "
                        "reinstall it from requirements.txt",
                        model_id=OFFLINE_MODEL,
                    ) from exc
    return _model


class WordLlamaEmbedder(CallCounter):
    """``Embedder`` backed by WordLlama; one call is counted per batch of at most ``batch_size`` texts."""

    model_id = OFFLINE_MODEL
    dimensions = WORDLLAMA_DIMENSIONS

    def __init__(self, *, batch_size: int = 100, customer_id: str = "") -> None:
        super().__init__()
        self.batch_size = batch_size
        self.customer_id = customer_id

    def _embed(self, texts: list[str]) -> np.ndarray:
        """One counted call. Texts go through the model sorted by length in small groups (less padding, bounded
        memory) and come back in their original order."""
        model = load_wordllama()
        clipped = [text[:MAX_CHARS] for text in texts]
        order = sorted(range(len(clipped)), key=lambda index: len(clipped[index]))
        with _embed_lock:  # one shared tokenizer and matrix per process
            vectors = model.embed([clipped[index] for index in order], norm=False, batch_size=_GROUP)
        result = np.empty_like(vectors)
        result[order] = vectors
        self._count(len(texts))
        return normalize_rows(result)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return empty_matrix(self.dimensions)
        return np.vstack([self._embed(batch) for batch in iter_batches(texts, self.batch_size)])

    def embed_query(self, text: str) -> np.ndarray:
        return self._embed([text])[0]
