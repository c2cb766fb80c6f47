"""The indexing pipeline as separately callable stages: detect -> chunk -> embed (per batch) -> upsert.

Each stage may run in its own process (the Airflow DAG wraps each in a task): state passes only through files in a
run-scoped staging folder (``staging_for``) and through the small JSON-serialisable stats dict each stage returns.
``run_update`` runs them all in one process. Nothing is written to the database before ``upsert_changes``, and a
dry run writes nothing at all (beyond its own staging folder, which ``run_update`` removes).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from tenant_rag.config import CustomerConfig
from tenant_rag.embedding.base import Embedder
from tenant_rag.pipeline.chunk import chunk_changes
from tenant_rag.pipeline.detect import detect_changes
from tenant_rag.pipeline.embed import EmbedderMismatchError, embed_batch
from tenant_rag.pipeline.staging import ProgressCallback, RunOptions, Staging, new_run_id, staging_for
from tenant_rag.pipeline.upsert import PAGES_PER_TRANSACTION, upsert_changes

__all__ = [
    "EmbedderMismatchError",
    "ProgressCallback",
    "RunOptions",
    "Staging",
    "chunk_changes",
    "detect_changes",
    "embed_batch",
    "merge_stats",
    "new_run_id",
    "run_update",
    "staging_for",
    "upsert_changes",
]


def _default_embedder(config: CustomerConfig) -> Embedder:
    from tenant_rag.embedding.factory import get_embedder

    return get_embedder(config.rag, customer_id=config.customer_id)


def run_update(
    config: CustomerConfig,
    customer_dir: Path,
    export_dir: Path,
    options: RunOptions | None = None,
    *,
    database_url: str,
    embedder: Embedder | None = None,
    run_id: str | None = None,
    progress: ProgressCallback | None = None,
    pages_per_transaction: int = PAGES_PER_TRANSACTION,
    writers: int | None = None,
) -> dict[str, Any]:
    """Every stage in this process; returns the merged stats. The embedder is only built when needed.

    ``writers`` connections write the pages at once (default ``TENANT_RAG_UPSERT_WRITERS``, 2)."""
    options = options or RunOptions()
    run_id = run_id or new_run_id()
    staging = staging_for(customer_dir, run_id)
    staging.cleanup()
    started = time.perf_counter()
    try:
        detect = detect_changes(config, customer_dir, export_dir, staging, options, database_url=database_url)
        stats = merge_stats(config, run_id, detect)
        if options.dry_run:
            return finish(stats, started)
        chunked = chunk_changes(config, export_dir, staging, database_url=database_url, progress=progress)
        stats = merge_stats(config, run_id, detect, chunked)
        embeds = []
        batches = int(chunked["embed_batches"])
        if batches and embedder is None:
            embedder = _default_embedder(config)
        for index in range(batches):
            assert embedder is not None  # built above when there is a batch
            embeds.append(embed_batch(config, staging, index, embedder))
            if progress:
                progress("embed", index + 1, batches)
        upsert = upsert_changes(
            config,
            customer_dir,
            staging,
            options,
            database_url=database_url,
            progress=progress,
            pages_per_transaction=pages_per_transaction,
            writers=writers,
        )
        return finish(merge_stats(config, run_id, detect, chunked, embeds, upsert), started)
    finally:
        staging.cleanup()


def merge_stats(
    config: CustomerConfig,
    run_id: str,
    detect: dict[str, Any],
    chunked: dict[str, Any] | None = None,
    embeds: list[dict[str, Any]] | None = None,
    upsert: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One stats dict for a run out of the stages' dicts (the stages' own keys are kept under ``stages``)."""
    chunked = chunked or {}
    embeds = embeds or []
    upsert = upsert or {}
    errors = [*detect.get("errors", []), *chunked.get("errors", []), *upsert.get("errors", [])]
    return {
        "run_id": run_id,
        "customer_id": config.customer_id,
        "dry_run": bool(detect.get("dry_run")),
        "generation": detect.get("generation"),
        "target_status": detect.get("target_status"),
        "switched": bool(upsert.get("switched", False)),
        "pages_total": detect.get("pages_total", 0),
        "pages_added": detect.get("new", 0),
        "pages_updated": detect.get("changed", 0),
        "pages_unchanged": detect.get("unchanged", 0),
        "pages_deleted": upsert.get("pages_deleted", 0) if upsert else 0,
        "pages_to_delete": detect.get("deleted", 0),
        "pages_written": upsert.get("pages_written", 0),
        "deletion_ratio": detect.get("deletion_ratio", 0.0),
        "deletion_blocked": detect.get("deletion_blocked"),
        "parents": chunked.get("parents", 0),
        "chunks": chunked.get("children", 0),
        "chunks_embedded": sum(int(e.get("texts", 0)) for e in embeds if not e.get("skipped")),
        "chunks_reused": chunked.get("reused", 0),
        "embed_batches": chunked.get("embed_batches", 0),
        "embedding_calls": sum(int(e.get("calls", 0)) for e in embeds),
        "tokens_est": sum(int(e.get("tokens_est", 0)) for e in embeds),
        "errors": errors,
        "warnings": list(chunked.get("warnings", [])),
        "durations_s": {
            "detect": detect.get("duration_s", 0.0),
            "chunk": chunked.get("duration_s", 0.0),
            "embed": round(sum(float(e.get("duration_s", 0.0)) for e in embeds), 3),
            "upsert": upsert.get("duration_s", 0.0),
        },
        "pages": detect.get("pages"),
    }


def finish(stats: dict[str, Any], started: float) -> dict[str, Any]:
    stats["duration_s"] = round(time.perf_counter() - started, 3)
    if stats.get("pages") is None:
        stats.pop("pages", None)
    return stats
