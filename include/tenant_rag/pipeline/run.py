"""``run_update``: every stage of the pipeline in one process (the Airflow DAG runs each stage as its own task)."""

from __future__ import annotations

import time
from pathlib import Path

from tenant_rag.config import CustomerConfig
from tenant_rag.embedding.base import Embedder
from tenant_rag.pipeline.chunk import chunk_changes
from tenant_rag.pipeline.detect import detect_changes
from tenant_rag.pipeline.embed import embed_batch
from tenant_rag.pipeline.staging import ProgressCallback, new_run_id, staging_for
from tenant_rag.pipeline.stats import RunStats, batch_embed_stats, merge_stats, sum_embed_stats
from tenant_rag.pipeline.upsert import PAGES_PER_TRANSACTION, upsert_changes
from tenant_rag.runs.options import RunOptions


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
) -> RunStats:
    """Every stage in this process; returns the merged stats. The embedder is only built when needed.

    ``writers`` connections write the pages at once (default ``TENANT_RAG_UPSERT_WRITERS``, 2)."""
    options = options or RunOptions()
    run_id = run_id or new_run_id()
    staging = staging_for(customer_dir, run_id)
    staging.cleanup()
    started = time.perf_counter()
    try:
        detect = detect_changes(config, customer_dir, export_dir, staging, options, database_url=database_url)
        if options.dry_run:
            return finish(merge_stats(config.customer_id, run_id, detect), started)
        chunked = chunk_changes(config, export_dir, staging, database_url=database_url, progress=progress)
        embeds = []
        batches = int(chunked["embed_batches"])
        if batches and embedder is None:
            embedder = _default_embedder(config)
        for index in range(batches):
            assert embedder is not None  # built above when there is a batch
            embeds.append(batch_embed_stats(embed_batch(config, staging, index, embedder)))
            if progress:
                progress("embed", index + 1, batches)
        embed = sum_embed_stats(embeds, tasks=1)
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
        return finish(merge_stats(config.customer_id, run_id, detect, chunked, embed, upsert), started)
    finally:
        staging.cleanup()


def finish(stats: RunStats, started: float) -> RunStats:
    stats["duration_s"] = round(time.perf_counter() - started, 3)
    return stats
