"""``EmbedBatchesOperator``: embed a group of batches listed by the chunk task (mapped, in the shared pool).

The DAG maps it over the chunk task's return value (``.partial(pool="embedding_api").expand(batch_indexes=...)``),
so batches run in parallel up to the pool's slots, shared by every customer. A batch whose vectors already exist
in staging (a retried task) is skipped by the library, so retries never pay twice. Each finished batch leaves a
marker in staging; the count of markers is the stage's progress across all mapped tasks.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tenant_rag_airflow.constants import TASK_CHUNK
from tenant_rag_airflow.operators.base import TenantRagStageOperator

if TYPE_CHECKING:
    from airflow.sdk import Context

    from tenant_rag.embedding.base import Embedder
    from tenant_rag_airflow.hooks.gemini import GeminiHook

DONE_MARKERS = "embed_done"


class EmbedBatchesOperator(TenantRagStageOperator):
    """Embed ``batch_indexes`` of the run's staging folder with the customer's configured model."""

    template_fields: Sequence[str] = (
        *TenantRagStageOperator.template_fields,
        "batch_indexes",
        "embedding_conn_id",
        "chunk_task_id",
    )
    ui_color = "#fff3e0"
    stage = "embed"

    def __init__(
        self,
        *,
        batch_indexes: list[int],
        embedding_conn_id: str | None = None,
        chunk_task_id: str = TASK_CHUNK,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.batch_indexes = batch_indexes
        self.embedding_conn_id = embedding_conn_id
        self.chunk_task_id = chunk_task_id

    @cached_property
    def gemini_hook(self) -> GeminiHook:
        from tenant_rag_airflow.hooks.gemini import GeminiHook

        return GeminiHook(self.embedding_conn_id or self.config.rag.embedding_conn_id)

    def build_embedder(self) -> Embedder:
        from tenant_rag.config import GEMINI_MODEL
        from tenant_rag.embedding import get_embedder

        rag = self.config.rag
        if rag.embedding_model == GEMINI_MODEL:
            hook = self.gemini_hook
            return get_embedder(rag, api_key=hook.api_key, base_url=hook.base_url, customer_id=self.customer_id)
        return get_embedder(rag, customer_id=self.customer_id)

    def run_stage(self, context: Context) -> tuple[dict[str, Any], None]:
        from tenant_rag.pipeline.embed import embed_batch
        from tenant_rag.pipeline.stats import batch_embed_stats, sum_embed_stats

        indexes = [int(i) for i in self.batch_indexes]
        staging = self.staging(context)
        total = int(self.upstream_stats(context, self.chunk_task_id).get("embed_batches") or len(indexes))
        markers = Path(staging.root) / DONE_MARKERS
        markers.mkdir(parents=True, exist_ok=True)
        embedder = self.build_embedder()
        batches = []
        with self.progress_reporter(unit="batches (all embed tasks)", total=total) as progress:
            progress(sum(1 for _ in markers.iterdir()), total)
            for index in indexes:
                batches.append(batch_embed_stats(embed_batch(self.config, staging, index, embedder)))
                (markers / str(index)).touch()
                progress(sum(1 for _ in markers.iterdir()), total)
        stats = sum_embed_stats(batches, tasks=1)
        return {**stats, "first_batch": indexes[0] if indexes else None, "model": embedder.model_id}, None
