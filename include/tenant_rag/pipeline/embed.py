"""Stage 3: embed one batch of texts listed by the chunk stage and save its vectors (idempotent per batch)."""

from __future__ import annotations

import time

import numpy as np

from tenant_rag.config import CustomerConfig
from tenant_rag.embedding.base import Embedder
from tenant_rag.pipeline.staging import Staging
from tenant_rag.pipeline.stats import EmbedBatchStats
from tenant_rag.store.generations import Target

TOKENS_PER_CHAR = 0.25


class EmbedderMismatchError(ValueError):
    """The embedder given to a run is not the model the customer's index is being built with."""


def check_embedder(config: CustomerConfig, target: Target, embedder: Embedder) -> None:
    sig = target.signature
    if embedder.model_id != sig.model_id or int(embedder.dimensions) != sig.dimensions:
        raise EmbedderMismatchError(
            f"customer {config.customer_id!r}: the embedder is {embedder.model_id!r} ({embedder.dimensions} dims) "
            f"but rag.embedding_model asks for {sig.model_id!r} ({sig.dimensions} dims)"
        )


def embed_batch(config: CustomerConfig, staging: Staging, batch_index: int, embedder: Embedder) -> EmbedBatchStats:
    """Embed ``embed/texts_<batch_index>.json`` into ``embed/vectors_<batch_index>.npy``.

    A batch whose vectors file already exists (a retried task) is not embedded again.
    """
    started = time.perf_counter()
    target = Target.from_dict(staging.read_json(staging.target))  # not changes.json: it lists every page
    batch = staging.read_json(staging.texts(batch_index))
    texts: list[str] = batch["texts"]
    out = staging.vectors(batch_index)
    dims = target.signature.dimensions
    if out.exists():
        existing = staging.load_array(out)
        if existing.shape == (len(texts), dims):
            return {
                "batch": batch_index,
                "texts": len(texts),
                "calls": 0,
                "tokens_est": 0,
                "skipped": True,
                "duration_s": 0.0,
            }
    check_embedder(config, target, embedder)
    calls_before = embedder.calls
    vectors = np.asarray(embedder.embed_documents(texts), dtype=np.float32)
    if vectors.shape != (len(texts), dims) or not np.isfinite(vectors).all():
        raise ValueError(
            f"customer {config.customer_id!r}: embedder {embedder.model_id!r} returned shape {vectors.shape} "
            f"(or non-finite values) for batch {batch_index}; expected ({len(texts)}, {dims})"
        )
    staging.save_array(out, vectors)
    return {
        "batch": batch_index,
        "texts": len(texts),
        "calls": embedder.calls - calls_before,
        "tokens_est": int(sum(len(text) for text in texts) * TOKENS_PER_CHAR),
        "skipped": False,
        "duration_s": round(time.perf_counter() - started, 3),
    }
