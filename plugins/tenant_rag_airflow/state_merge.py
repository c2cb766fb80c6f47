"""Fold one DAG run's task stats (from XCom) into the customer's ``state.json``: pure functions, no Airflow.

The run record keeps the headline counts in the same shape as ``tenant_rag.pipeline.merge_stats`` (what the CLI's
in-process run reports), plus the export plan, per-stage stats and durations, task states, errors and warnings
(pages indexed, but cleaned first). On failure the state says ``failed`` with the error, while
``is_ready_for_queries`` keeps its previous value: the last good index is still live and queryable.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from tenant_rag.state import CustomerState, RAGStatus, append_run

FAILED_STATES = frozenset({"failed", "upstream_failed"})
EXPORT_PLAN_KEYS = ("source", "mode", "reason", "window_start", "window_end", "as_of")
HISTORY_KEYS = (
    "run_id",
    "run_type",
    "status",
    "dry_run",
    "logical_date",
    "finished_at",
    "duration_s",
    "export",
    "counts",
    "error",
)
COUNT_KEYS = (
    "pages_total",
    "pages_added",
    "pages_updated",
    "pages_unchanged",
    "pages_deleted",
    "pages_to_delete",
    "pages_written",
    "parents",
    "chunks",
    "chunks_embedded",
    "chunks_reused",
    "embed_batches",
    "embedding_calls",
    "tokens_est",
    "switched",
    "generation",
)


def aggregate_embed(parts: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """One stats dict for the mapped embed tasks (sums, plus the slowest task's duration as wall time)."""
    parts = [p for p in parts if isinstance(p, Mapping)]
    summed = {key: sum(float(p.get(key) or 0) for p in parts) for key in ("texts", "calls", "tokens_est")}
    durations = [float(p.get("duration_s") or 0) for p in parts]
    return {
        "tasks": len(parts),
        "batches": sum(int(p.get("batches") or 0) for p in parts),
        "batches_skipped": sum(int(p.get("batches_skipped") or 0) for p in parts),
        "texts": int(summed["texts"]),
        "calls": int(summed["calls"]),
        "tokens_est": int(summed["tokens_est"]),
        "duration_s": round(sum(durations), 3),
        "wall_s": round(max(durations, default=0.0), 3),
    }


def map_indexes_in(task_states: Mapping[str, str], task_id: str, states: Sequence[str]) -> list[int]:
    """Map indexes of the mapped task ``task_id`` whose instance is in one of ``states`` in this run.

    Airflow keys a mapped instance ``<task_id>_<map_index>`` in the run's task states. A re-run interval that maps
    fewer instances leaves the others ``removed``, with their old XComs still stored; an instance that did not run
    this time (``upstream_failed`` after a clear) keeps its old XComs too. Only instances that ran now count.
    """
    pattern = re.compile(rf"^{re.escape(task_id)}_(\d+)$")
    found = (pattern.match(key) for key, state in task_states.items() if state in states)
    return sorted(int(match.group(1)) for match in found if match)


def index_changed(counts: Mapping[str, Any]) -> bool:
    """Whether a run changed what queries see: pages written or deleted, or a generation switched live."""
    return bool(counts.get("pages_written") or counts.get("pages_deleted") or counts.get("switched"))


def failed_tasks(task_states: Mapping[str, str], own_task_id: str) -> list[str]:
    return sorted(task for task, state in task_states.items() if task != own_task_id and state in FAILED_STATES)


def build_run_record(
    *,
    run_id: str,
    run_type: str,
    logical_date: datetime | None,
    started_at: datetime | None,
    finished_at: datetime,
    params: Mapping[str, Any],
    stages: Mapping[str, Mapping[str, Any] | None],
    merged: Mapping[str, Any],
    task_states: Mapping[str, str],
    task_errors: Sequence[Mapping[str, Any]],
    failed: Sequence[str],
) -> dict[str, Any]:
    export = dict(stages.get("export") or {})
    dry_run = bool(params.get("dry_run"))
    errors: list[dict[str, Any]] = [dict(e) for e in task_errors]
    errors += [{"stage": "export", **_as_error(e)} for e in export.get("errors") or []]
    errors += [{"stage": "pages", **_as_error(e)} for e in merged.get("errors") or []]
    if failed and not task_errors:
        errors.insert(0, {"task_id": failed[0], "message": f"task(s) {', '.join(failed)} failed; see their logs"})
    status = "failed" if failed else ("dry_run" if dry_run else "success")
    error = None
    if failed:
        first = next((e for e in task_errors), None)
        error = (
            f"{first.get('task_id')}: {first.get('message')}"
            if first
            else f"task(s) {', '.join(failed)} failed; see their logs"
        )
    durations = {name: (stats or {}).get("duration_s") for name, stats in stages.items() if stats}
    return {
        "run_id": run_id,
        "run_type": run_type,
        "status": status,
        "dry_run": dry_run,
        "params": dict(params),
        "logical_date": logical_date.isoformat() if logical_date else None,
        "started_at": started_at.isoformat() if started_at else None,
        "finished_at": finished_at.isoformat(),
        "duration_s": round((finished_at - started_at).total_seconds(), 3) if started_at else None,
        "export": {key: export.get(key) for key in EXPORT_PLAN_KEYS if key in export},
        "counts": {key: merged.get(key) for key in COUNT_KEYS if key in merged},
        "durations_s": durations,
        "stages": {name: dict(stats) for name, stats in stages.items() if stats},
        "task_states": dict(task_states),
        "failed_tasks": list(failed),
        "errors": errors[:50],
        "warnings": [{"stage": "pages", **_as_error(w)} for w in merged.get("warnings") or []][:50],
        "error": error,
        "preview": merged.get("pages"),
    }


def _as_error(item: Any) -> dict[str, Any]:
    return dict(item) if isinstance(item, Mapping) else {"message": str(item)}


def apply_run(
    state: CustomerState,
    record: Mapping[str, Any],
    *,
    collection_name: str,
    embedding_model: str,
    embedding_dimensions: int,
    index_totals: tuple[int, int] | None,
    finished_at: datetime,
) -> CustomerState:
    """The state after a (non-dry) run described by ``record``."""
    history_entry = {key: record.get(key) for key in HISTORY_KEYS}
    update: dict[str, Any] = {
        "rag_collection_name": collection_name,
        "last_run_id": record["run_id"],
        "last_run_stats": dict(record),
        "last_index_time": finished_at,
        "progress": None,
        "run_history": append_run(state.run_history, history_entry),
    }
    if record["status"] == "failed":
        update.update(status=RAGStatus.FAILED, last_error=record.get("error"))
        return state.model_copy(update=update)
    live = index_totals is not None
    update.update(
        status=RAGStatus.READY if live else RAGStatus.FAILED,
        last_error=None if live else "the run succeeded but no index generation is live yet",
        last_success_time=finished_at,
        is_ready_for_queries=live or state.is_ready_for_queries,
        embedding_model=embedding_model,
        embedding_dimensions=embedding_dimensions,
    )
    if index_totals is not None:
        update.update(total_indexed_documents=index_totals[0], total_indexed_chunks=index_totals[1])
    return state.model_copy(update=update)
