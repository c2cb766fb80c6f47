"""``UpsertOperator``: the only stage that writes the customer's store (atomic page swaps, deletions, switch).

Its trigger rule is ``none_failed``: it runs when the embed task was skipped because nothing needed embedding (a
run with only deletions, or nothing to do), never after a failure. It first checks that its run still holds the
customer's run lease (taken by the export task).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tenant_rag.runs.lease import check_lease
from tenant_rag_airflow.operators.base import TenantRagStageOperator

if TYPE_CHECKING:
    from airflow.sdk import Context

    from tenant_rag.pipeline.stats import UpsertStats


class UpsertOperator(TenantRagStageOperator):
    """Write the staged pages and vectors into the customer's store and apply deletions."""

    ui_color = "#e8f5e9"
    stage = "upsert"

    def run_stage(self, context: Context) -> tuple[UpsertStats, None]:
        from tenant_rag.pipeline.upsert import upsert_changes

        options = self.run_options(context)
        check_lease(self.customer_dir, context["run_id"])
        with self.progress_reporter(unit="pages", write_state=not options.dry_run) as progress:
            stats = upsert_changes(
                self.config,
                self.customer_dir,
                self.staging(context),
                options,
                database_url=self.database_url(),
                progress=progress,
            )
        return stats, None
