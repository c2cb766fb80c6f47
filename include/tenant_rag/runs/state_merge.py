"""Fold one run into the customer's ``state.json``: the ``RunRecord`` built from its stages, then the state after it.

The DAG's ``record_state`` task builds the record from its tasks' stats and states; ``CustomerRAGManager`` from the
stats of its in-process run. On failure the state says ``failed`` with the error, while ``is_ready_for_queries``
keeps its previous value: the last good index is still live and queryable.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tenant_rag.runs.record import RunRecord
from tenant_rag.state import CustomerState, RAGStatus, append_run

if TYPE_CHECKING:
    from tenant_rag.pipeline.stats import RunStats

FAILED_STATES = frozenset({"failed", "upstream_failed"})
#: Errors and warnings kept in a record (the rest is counted in one last entry).
MAX_LISTED = 20


def map_indexes_in(task_states: Mapping[str, str], task_id: str, states: Sequence[str]) -> list[int]:
    """Map indexes of the mapped task ``task_id`` whose instance is in one of ``states`` in this run.

    Airflow keys a mapped instance ``<task_id>_<map_index>`` in the run's task states. A re-run interval that maps
    fewer instances leaves the others ``removed``, with their old XComs still stored; an instance that did not run
    this time (``upstream_failed`` after a clear) keeps its old XComs too. Only instances that ran now count.
    """
    pattern = re.compile(rf"^{re.escape(task_id)}_(\d+)$")
    found = (pattern.match(key) for key, state in task_states.items() if state in states)
    return sorted(int(match.group(1)) for match in found if match)


def failed_tasks(task_states: Mapping[str, str], own_task_id: str) -> list[str]:
    return sorted(task for task, state in task_states.items() if task != own_task_id and state in FAILED_STATES)


def _as_error(item: Any) -> dict[str, Any]:
    return dict(item) if isinstance(item, Mapping) else {"message": str(item)}


def _bounded(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if len(items) <= MAX_LISTED:
        return items
    return [*items[:MAX_LISTED], {"message": f"... {len(items) - MAX_LISTED} more"}]


def build_run_record(
    *,
    run_id: str,
    run_type: str,
    logical_date: datetime | None,
    started_at: datetime | None,
    finished_at: datetime,
    params: Mapping[str, Any],
    stages: Mapping[str, Mapping[str, Any] | None],
    merged: RunStats | None,
    task_states: Mapping[str, str],
    task_errors: Sequence[Mapping[str, Any]],
    failed: Sequence[str],
) -> RunRecord:
    """The record of a run: ``stages`` by stage name (``export`` holds the export plan), ``merged`` the run's
    figures (None when detection never ran), ``failed`` the tasks (or steps) that failed with ``task_errors``."""
    export = dict(stages.get("export") or {})
    dry_run = bool(params.get("dry_run"))
    errors: list[dict[str, Any]] = [dict(e) for e in task_errors]
    errors += [{"stage": "export", **_as_error(e)} for e in export.get("errors") or []]
    errors += [{"stage": "pages", **_as_error(e)} for e in (merged["errors"] if merged else [])]
    error = None
    if failed:
        first = next(iter(task_errors), None)
        error = (
            f"{first.get('task_id')}: {first.get('message')}"
            if first
            else f"task(s) {', '.join(failed)} failed; see their logs"
        )
        if not task_errors:
            errors.insert(0, {"task_id": failed[0], "message": error})
    return RunRecord.model_validate(
        {
            "run_id": run_id,
            "run_type": run_type,
            "status": "failed" if failed else ("dry_run" if dry_run else "success"),
            "dry_run": dry_run,
            "params": dict(params),
            "logical_date": logical_date,
            "started_at": started_at,
            "finished_at": finished_at,
            "duration_s": round((finished_at - started_at).total_seconds(), 3) if started_at else None,
            "export": export,
            "counts": merged or {},
            "durations_s": {name: stats.get("duration_s") for name, stats in stages.items() if stats},
            "stages": {name: dict(stats) for name, stats in stages.items() if stats},
            "task_states": dict(task_states),
            "failed_tasks": list(failed),
            "errors": _bounded(errors),
            "warnings": _bounded([{"stage": "pages", **_as_error(w)} for w in (merged["warnings"] if merged else [])]),
            "error": error,
            "preview": merged.get("pages") if merged else None,
        }
    )


def apply_run(
    state: CustomerState,
    record: RunRecord,
    *,
    collection_name: str,
    embedding_model: str,
    embedding_dimensions: int,
    index_totals: tuple[int, int] | None,
    finished_at: datetime,
) -> CustomerState:
    """The state after a (non-dry) run described by ``record``; ``index_totals`` are the live index's
    (documents, chunks), None when no generation is live."""
    update: dict[str, Any] = {
        "rag_collection_name": collection_name,
        "last_run_id": record.run_id,
        "last_run_stats": record,
        "last_index_time": finished_at,
        "progress": None,
        "run_history": append_run(state.run_history, record.summary()),
    }
    if record.status == "failed":
        update.update(status=RAGStatus.FAILED, last_error=record.error)
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
    counts = record.counts
    if counts.pages_restricted is not None and not record.dry_run:  # this run read every exported page's readers
        update.update(
            pages_restricted=counts.pages_restricted,
            pages_permissions_unknown=counts.pages_permissions_unknown or 0,
            permissions_synced_at=finished_at,
        )
    return state.model_copy(update=update)
