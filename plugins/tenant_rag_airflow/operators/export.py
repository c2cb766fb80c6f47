"""``ExportOperator``: bring the customer's pages to ``exports/<space>/`` (Confluence) or locate them (directory).

The window comes from ``tenant_rag.runs.windows.plan_export`` (data interval for scheduled and backfill runs,
since the last successful export for manual ones, everything on the first run or with ``full_refresh``). The stats
carry ``export_dir`` (where detection reads), the plan and ``as_of`` (where the next manual run's window starts).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow.sdk.exceptions import AirflowRescheduleException

from tenant_rag.config import ConfluenceExportConfig, DirectoryExportConfig
from tenant_rag.directory_source import directory_source
from tenant_rag.documents import iter_page_files
from tenant_rag.runs.lease import acquire_lease
from tenant_rag.runs.windows import last_export_as_of, plan_export
from tenant_rag.settings import settings
from tenant_rag.state import load_state
from tenant_rag_airflow.operators.base import TenantRagStageOperator
from tenant_rag_airflow.run_lease import holder_probe

if TYPE_CHECKING:
    from airflow.sdk import Context

    from tenant_rag_airflow.hooks.confluence import ConfluenceHook

DRY_RUN_DIR = "dry_run_customer"


def lease_recheck_seconds() -> float:
    """Seconds between two looks at a held lease (``TENANT_RAG_LEASE_RECHECK_SECONDS``, default 30)."""
    return settings().lease_recheck_seconds


def lease_wait_in_task_seconds() -> float:
    """How long a run waits for the lease inside its task before it is rescheduled
    (``TENANT_RAG_LEASE_WAIT_IN_TASK_SECONDS``, default 60; 0 reschedules at once)."""
    return settings().lease_wait_in_task_seconds


def _run_type(context: Context) -> str:
    run_type = getattr(context.get("dag_run"), "run_type", None) or "manual"
    return str(getattr(run_type, "value", run_type))


def _run_after(context: Context) -> datetime:
    value = getattr(context.get("dag_run"), "run_after", None)
    return value if isinstance(value, datetime) else datetime.now(UTC)


class ExportOperator(TenantRagStageOperator):
    """Export the customer's configured Confluence spaces (or resolve its Markdown folder)."""

    template_fields: Sequence[str] = (*TenantRagStageOperator.template_fields, "confluence_conn_id")
    stage = "export"

    def __init__(self, *, confluence_conn_id: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.confluence_conn_id = confluence_conn_id

    @cached_property
    def confluence_hook(self) -> ConfluenceHook:
        from tenant_rag_airflow.hooks.confluence import ConfluenceHook

        export = self.config.export
        assert isinstance(export, ConfluenceExportConfig)
        return ConfluenceHook(self.confluence_conn_id or export.conn_id, default_base_url=export.base_url)

    def run_stage(self, context: Context) -> tuple[dict[str, Any], None]:
        export = self.config.export  # a missing folder or broken config fails here, before the lease is written
        self._take_run_lease(context)
        if not self.run_options(context).dry_run:
            self._heal(context)
        if isinstance(export, DirectoryExportConfig):
            return self._resolve_directory(context, export), None
        return self._export_confluence(context, export), None

    def _take_run_lease(self, context: Context) -> None:
        """One run per customer at a time: while another run is active, look again every recheck interval, in the
        task for up to ``lease_wait_in_task_seconds()``, then rescheduled (no worker slot held).

        Waiting in the task first keeps reschedules rare: Airflow 3 can mark a task failed when it is rescheduled
        again before the scheduler has processed the executor's report of its previous attempt (a busy scheduler
        and a short recheck interval), so a reschedule every few seconds is what not to do.
        """
        deadline = time.monotonic() + lease_wait_in_task_seconds()
        probe = holder_probe(context["ti"])
        while (holder := acquire_lease(self.customer_dir, context["run_id"], probe)) is not None:
            wait = lease_recheck_seconds()
            in_task = time.monotonic() + wait <= deadline
            self.log.info(
                "customer %s: run %s is still active (last heartbeat %s); checking again in %.0fs%s",
                self.customer_id,
                holder.run_id,
                holder.heartbeat_at.isoformat(),
                wait,
                "" if in_task else " (rescheduled)",
            )
            if not in_task:
                raise AirflowRescheduleException(reschedule_date=datetime.now(UTC) + timedelta(seconds=wait))
            time.sleep(wait)

    def _heal(self, context: Context) -> None:
        """With the lease held: remove stale staging folders and reconcile state.json with the live generation."""
        from tenant_rag.runs.housekeeping import live_index, reconcile_state, sweep_stale_staging

        staging = self.staging(context).root
        sweep_stale_staging(staging.parent, keep={staging.name})  # each removal is logged
        reconcile_state(self.customer_dir, self.customer_id, lambda: live_index(self.config, self.database_url()))

    def _resolve_directory(self, context: Context, export: DirectoryExportConfig) -> dict[str, Any]:
        folder = directory_source(self.customer_dir, export.path)
        present = sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
        options = self.run_options(context, available=present)
        spaces = options.space_keys or list(export.space_keys or present)
        pages = sum(1 for _ in iter_page_files(folder, spaces))  # never through a link
        return {
            "source": "directory",
            "mode": "full",
            "reason": "directory source: the folder is the export",
            "export_dir": str(folder.resolve()),
            "spaces": spaces,
            "pages": pages,
            "as_of": datetime.now(UTC).isoformat(),
            "dry_run": options.dry_run,
        }

    def _export_confluence(self, context: Context, export: ConfluenceExportConfig) -> dict[str, Any]:
        from tenant_rag.export import export_customer

        options = self.run_options(context)
        state = load_state(self.customer_dir, self.customer_id)
        spaces = options.space_keys or list(export.space_keys)
        exports = self.customer_dir / "exports"
        plan = plan_export(
            run_type=_run_type(context),
            data_interval_start=context.get("data_interval_start"),
            data_interval_end=context.get("data_interval_end"),
            run_after=_run_after(context),
            full_refresh=options.full_refresh,
            has_index=state.last_success_time is not None,
            never_exported_spaces=[space for space in spaces if not (exports / space).is_dir()],
            previous_as_of=last_export_as_of(state.run_history),
        )
        self.log.info("customer %s: %s export (%s)", self.customer_id, plan.mode, plan.reason)
        target = self.customer_dir
        if options.dry_run:
            from tenant_rag.runs.dry_run import shadow_customer_dir

            target = shadow_customer_dir(self.customer_dir, Path(self.staging(context).root) / DRY_RUN_DIR)
            self.log.info("dry run: exporting into the scratch copy %s", target)
        started = datetime.now(UTC)
        hook = self.confluence_hook
        with self.progress_reporter(unit="pages", write_state=not options.dry_run) as progress:
            result = export_customer(
                self.config,
                target,
                credentials=hook.get_conn(),
                window=plan.window,
                space_keys=spaces,
                base_url=hook.base_url,
                progress=progress,
            )
        return {
            **dict(result or {}),
            **plan.as_stats(),
            "source": "confluence",
            "export_dir": str(target / "exports"),
            "spaces": spaces,
            "as_of": (plan.window_end or started).isoformat(),
            "dry_run": options.dry_run,
        }
