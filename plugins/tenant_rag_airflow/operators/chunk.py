"""``DetectChangesOperator`` and ``ChunkOperator``: the first two stages after the export.

Detection compares the export with the customer's index (database reads only) and writes ``changes.json`` into the
run's staging folder; chunking splits new and changed pages, reuses stored vectors by text hash and lists the
batches still to embed. The chunk task's return value is the list of batch groups the embed task is mapped over
(at most ``MAX_EMBED_TASKS`` groups, so a huge first build stays under Airflow's ``max_map_length``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tenant_rag_airflow.constants import MAX_EMBED_TASKS, TASK_DETECT, TASK_EXPORT
from tenant_rag_airflow.operators.base import TenantRagStageOperator

if TYPE_CHECKING:
    from airflow.sdk import Context


def group_batches(batch_count: int, max_groups: int = MAX_EMBED_TASKS) -> list[list[int]]:
    """Batch indexes ``0..batch_count-1`` in at most ``max_groups`` contiguous groups of near-equal size."""
    if batch_count <= 0:
        return []
    groups = min(batch_count, max(1, max_groups))
    size, extra = divmod(batch_count, groups)
    result, start = [], 0
    for group in range(groups):
        length = size + (1 if group < extra else 0)
        result.append(list(range(start, start + length)))
        start += length
    return result


class DetectChangesOperator(TenantRagStageOperator):
    """Classify exported pages as new / changed / unchanged / deleted against the index."""

    template_fields: Sequence[str] = (*TenantRagStageOperator.template_fields, "export_task_id")
    stage = "detect_changes"

    def __init__(self, *, export_task_id: str = TASK_EXPORT, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.export_task_id = export_task_id

    def run_stage(self, context: Context) -> tuple[dict[str, Any], None]:
        from tenant_rag.pipeline.detect import detect_changes

        export = self.upstream_stats(context, self.export_task_id)
        options = self.run_options(context, available=export.get("spaces"))
        staging = self.staging(context)
        # no page counter inside detection: the heartbeat shows it is alive
        with self.progress_reporter(
            unit="pages",
            total=int(export.get("pages_listed") or export.get("pages") or 0),
            write_state=not options.dry_run,
        ) as progress:
            stats = detect_changes(
                self.config,
                self.customer_dir,
                Path(export["export_dir"]),
                staging,
                options,
                database_url=self.database_url(),
            )
            progress(stats["pages_total"], stats["pages_total"])
        self.log.info(
            "customer %s: %s new, %s changed, %s unchanged, %s deleted%s",
            self.customer_id,
            stats["new"],
            stats["changed"],
            stats["unchanged"],
            stats["deleted"],
            " (dry run)" if options.dry_run else "",
        )
        return {**stats, "staging": str(staging.root)}, None


class ChunkOperator(TenantRagStageOperator):
    """Chunk new and changed pages; return the embedding batch groups to map the embed task over."""

    template_fields: Sequence[str] = (
        *TenantRagStageOperator.template_fields,
        "export_task_id",
        "detect_task_id",
        "max_embed_tasks",
    )
    stage = "chunk"

    def __init__(
        self,
        *,
        export_task_id: str = TASK_EXPORT,
        detect_task_id: str = TASK_DETECT,
        max_embed_tasks: int = MAX_EMBED_TASKS,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.export_task_id = export_task_id
        self.detect_task_id = detect_task_id
        self.max_embed_tasks = max_embed_tasks

    def run_stage(self, context: Context) -> tuple[dict[str, Any], list[list[int]]]:
        from tenant_rag.pipeline.chunk import chunk_changes

        export = self.upstream_stats(context, self.export_task_id)
        detect = self.upstream_stats(context, self.detect_task_id)
        dry_run = self.run_options(context, available=export.get("spaces")).dry_run
        to_chunk = int(detect.get("new", 0)) + int(detect.get("changed", 0))
        with self.progress_reporter(
            unit="pages", total=0 if dry_run else to_chunk, write_state=not dry_run
        ) as progress:
            stats = chunk_changes(
                self.config,
                Path(export["export_dir"]),
                self.staging(context),
                database_url=self.database_url(),
                progress=progress,
            )
        groups = group_batches(stats["embed_batches"], int(self.max_embed_tasks))
        return {**stats, "embed_tasks": len(groups)}, groups
