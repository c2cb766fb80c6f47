"""``RecordStateOperator``: the last task of every run, on success and on failure (trigger rule ``all_done``).

It pulls every stage's ``stats`` and ``error`` XComs, asks Airflow for the run's task states, and folds them into
``state.json`` (status, counts, durations, errors, last run id, run history). It reads only the XComs of task
instances that ran in this try: a re-run interval may map fewer ``embed`` instances, and the removed ones (like
instances that did not run again) keep their old XComs.
On success it removes the run's staging folder and, when the index changed (pages written or deleted, or a
generation switched live), publishes the Asset ``tenant-rag://<customer_id>/index`` with the headline stats as
the event's extra. The event goes through an ``AssetAlias`` outlet, so a run that changed nothing, a failed run
and a dry run publish no event, and DAGs scheduled on the Asset run only after a real change. A failed run
leaves the state ``failed`` with the error and then fails this task too, so the DAG run is marked failed; a dry
run writes nothing at all, not even its own failure (its report is this task's return value and log). In every
case it releases the customer's run lease.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

from airflow.sdk import Asset, AssetAlias
from airflow.sdk.exceptions import AirflowFailException

from tenant_rag.runs.dry_run import dry_run_report
from tenant_rag.runs.lease import release_lease
from tenant_rag.runs.record import RunRecord
from tenant_rag.runs.state_merge import apply_run, build_run_record, failed_tasks, map_indexes_in
from tenant_rag.state import update_state
from tenant_rag_airflow.constants import (
    ASSET_GROUP,
    ERROR_XCOM_KEY,
    PIPELINE_TASKS,
    STATS_XCOM_KEY,
    TASK_CHUNK,
    TASK_DETECT,
    TASK_EMBED,
    TASK_UPSERT,
    asset_name,
    asset_uri,
)
from tenant_rag_airflow.operators.base import TenantRagStageOperator, compact

if TYPE_CHECKING:
    from airflow.sdk import Context

    from tenant_rag.pipeline.stats import RunStats

#: What the index Asset's events carry of the run record.
ASSET_EXTRA_FIELDS = {"run_id", "run_type", "status", "finished_at", "export", "counts", "durations_s"}


def index_alias(customer_id: str) -> AssetAlias:
    return AssetAlias(name=f"{asset_name(customer_id)}__alias", group=ASSET_GROUP)


def index_asset(customer_id: str) -> Asset:
    return Asset(uri=asset_uri(customer_id), name=asset_name(customer_id), group=ASSET_GROUP)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, Mapping):
        return [value]
    return [item for item in value if item is not None]


def _pull(ti: Any, task_id: str, key: str, task_states: Mapping[str, str]) -> list[Any]:
    """A stage's XComs ``key`` from the instances that ran in this try: the stats of the successful ones, the
    errors of the failed ones. An instance that did not run now (``upstream_failed`` after a clear, or a mapped
    instance ``removed`` because the re-run mapped fewer) still has its XComs of an earlier try: they are skipped."""
    wanted = ("success",) if key == STATS_XCOM_KEY else ("failed",)
    if task_id != TASK_EMBED:
        return _as_list(ti.xcom_pull(task_ids=task_id, key=key)) if task_states.get(task_id) in wanted else []
    indexes = map_indexes_in(task_states, task_id, wanted)
    return _as_list(ti.xcom_pull(task_ids=task_id, key=key, map_indexes=indexes)) if indexes else []


class RecordStateOperator(TenantRagStageOperator):
    """Merge the run's XCom stats into state.json and publish the index Asset."""

    template_fields: Sequence[str] = TenantRagStageOperator.template_fields
    ui_color = "#ede7f6"
    stage = "record_state"

    def __init__(self, *, stage_task_ids: Sequence[str] = PIPELINE_TASKS, **kwargs: Any) -> None:
        kwargs.setdefault("outlets", [index_alias(kwargs["customer_id"])])
        super().__init__(**kwargs)
        self.stage_task_ids = stage_task_ids

    def execute(self, context: Context) -> dict[str, Any]:
        try:
            return self._record(context)
        finally:
            if release_lease(self.customer_dir, context["run_id"]):
                self.log.info("customer %s: run lease released", self.customer_id)

    def _record(self, context: Context) -> dict[str, Any]:
        from tenant_rag.pipeline.stats import EmbedStats, sum_embed_stats

        ti = context["ti"]
        dag_run = context.get("dag_run")
        task_states = dict(ti.get_task_states(dag_id=ti.dag_id, run_ids=[ti.run_id]).get(ti.run_id, {}))
        stages: dict[str, dict[str, Any] | None] = {}
        errors: list[dict[str, Any]] = []
        for task_id in self.stage_task_ids:
            stats = [dict(s) for s in _pull(ti, task_id, STATS_XCOM_KEY, task_states) if isinstance(s, Mapping)]
            if task_id == TASK_EMBED:
                stages[task_id] = dict(sum_embed_stats(cast("list[EmbedStats]", stats), tasks=len(stats)))
            else:
                stages[task_id] = stats[0] if stats else None
            errors += [dict(e) for e in _pull(ti, task_id, ERROR_XCOM_KEY, task_states)]
        finished = datetime.now(UTC)
        run_type = getattr(dag_run, "run_type", None) or "manual"
        record = build_run_record(
            run_id=context["run_id"],
            run_type=str(getattr(run_type, "value", run_type)),
            logical_date=context.get("logical_date"),
            started_at=getattr(dag_run, "start_date", None),
            finished_at=finished,
            params=compact(dict(context.get("params") or {})),
            stages=stages,
            merged=self._merge(context["run_id"], stages),
            task_states=task_states,
            task_errors=errors,
            failed=failed_tasks(task_states, self.task_id),
        )
        if record.dry_run:
            return self._finish_dry_run(context, record)
        self._write_state(record, finished)
        if record.status == "failed":
            raise AirflowFailException(
                f"customer {self.customer_id!r}: run {context['run_id']} failed: {record.error}; "
                "state.json says failed, the previous index stays live"
            )
        self._cleanup_staging(context)
        if record.counts.index_changed():
            extra = record.model_dump(mode="json", include=ASSET_EXTRA_FIELDS)
            context["outlet_events"][index_alias(self.customer_id)].add(index_asset(self.customer_id), extra=extra)
            self.log.info("customer %s: index published as %s", self.customer_id, asset_uri(self.customer_id))
        else:
            self.log.info(
                "customer %s: index unchanged, no event for %s", self.customer_id, asset_uri(self.customer_id)
            )
        return record.model_dump(mode="json", include={"run_id", "status", "counts", "durations_s"})

    def _finish_dry_run(self, context: Context, record: RunRecord) -> dict[str, Any]:
        """A dry run writes nothing, not even a failure: the customer's state and index are untouched."""
        if record.status == "failed":
            raise AirflowFailException(f"customer {self.customer_id!r}: dry run failed: {record.error}")
        self._cleanup_staging(context)
        self.log.info("dry run for customer %s (nothing written):\n%s", self.customer_id, dry_run_report(record))
        return record.model_dump(mode="json")

    def _merge(self, run_id: str, stages: Mapping[str, Mapping[str, Any] | None]) -> RunStats | None:
        """The run's figures (the same as an in-process run's) from the stage stats we have; None without
        detection."""
        from tenant_rag.pipeline.stats import ChunkStats, DetectStats, EmbedStats, UpsertStats, merge_stats

        detect = stages.get(TASK_DETECT)
        if not detect:
            return None
        embed = stages.get(TASK_EMBED)
        return merge_stats(
            self.customer_id,
            run_id,
            cast("DetectStats", detect),
            cast("ChunkStats | None", stages.get(TASK_CHUNK) or None),
            cast("EmbedStats", embed) if embed and embed.get("tasks") else None,
            cast("UpsertStats | None", stages.get(TASK_UPSERT) or None),
        )

    def _write_state(self, record: RunRecord, finished: datetime) -> None:
        from tenant_rag.config import DEFAULT_DIMENSIONS
        from tenant_rag.index_cache import read_index_cache
        from tenant_rag.naming import generate_collection_name

        model: str
        try:
            config = self.config
            collection, model = config.collection_name, config.rag.embedding_model
            dimensions = config.rag.dimensions
        except Exception:  # a config broken mid-run must not stop the failure from being recorded
            collection, model = generate_collection_name(self.customer_id), ""
            dimensions = DEFAULT_DIMENSIONS.get(model, 0)
        cache = read_index_cache(self.customer_dir)
        totals = None
        if cache and cache.get("generation") is not None:
            pages = cache.get("pages") or {}
            totals = (len(pages), sum(int(p.get("chunks") or 0) for p in pages.values()))
        update_state(
            self.customer_dir,
            lambda state: apply_run(
                state,
                record,
                collection_name=collection,
                embedding_model=model,
                embedding_dimensions=dimensions,
                index_totals=totals,
                finished_at=finished,
            ),
            self.customer_id,
        )

    def _cleanup_staging(self, context: Context) -> None:
        try:
            self.staging(context).cleanup()
        except Exception:
            self.log.warning("could not remove the staging folder", exc_info=True)
