"""The data behind the status endpoints and pages: a customer's state, index size and time series."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import psycopg

from tenant_rag.api.directory import CustomerEntry
from tenant_rag.api.models import CustomerSummary, PermissionsStatus, StatusResponse
from tenant_rag.api.services import Services
from tenant_rag.errors import DatabaseNotConfiguredError, TenantRagError
from tenant_rag.naming import dag_id_for
from tenant_rag.runs.record import RunSummary
from tenant_rag.state import CustomerState

RUN_HISTORY_SHOWN = 20


def build_status(services: Services, entry: CustomerEntry, *, fresh: bool = False) -> StatusResponse:
    state = services.directory.state(entry)
    return StatusResponse(
        customer_id=entry.customer_id,
        display_name=entry.display_name,
        dag_id=dag_id_for(entry.customer_id),
        status=str(state.status),
        is_ready_for_queries=state.is_ready_for_queries,
        config_error=entry.error,
        embedding_model=state.embedding_model or (entry.config.rag.embedding_model if entry.config else None),
        embedding_dimensions=state.embedding_dimensions or (entry.config.rag.dimensions if entry.config else None),
        last_index_time=state.last_index_time,
        last_success_time=state.last_success_time,
        total_indexed_documents=state.total_indexed_documents,
        total_indexed_chunks=state.total_indexed_chunks,
        last_error=state.last_error,
        last_run_id=state.last_run_id,
        last_run_stats=state.last_run_stats,
        progress=state.progress.model_dump(mode="json") if state.progress else None,
        run_history=state.run_history[-RUN_HISTORY_SHOWN:],
        index=services.index_size(entry, state, fresh=fresh),
        permissions=PermissionsStatus(
            mode=entry.config.rag.permissions if entry.config else None,
            pages_restricted=state.pages_restricted,
            pages_permissions_unknown=state.pages_permissions_unknown,
            synced_at=state.permissions_synced_at,
        ),
    )


def summary(services: Services, entry: CustomerEntry) -> CustomerSummary:
    state = services.directory.state(entry)
    return CustomerSummary(
        customer_id=entry.customer_id,
        display_name=entry.display_name,
        status=str(state.status),
        is_ready_for_queries=state.is_ready_for_queries,
        total_indexed_documents=state.total_indexed_documents,
        total_indexed_chunks=state.total_indexed_chunks,
        last_success_time=state.last_success_time,
        config_error=entry.error,
    )


def run_stats(state: CustomerState, run_id: str) -> dict[str, Any] | None:
    """The record of ``run_id`` (the whole one of the last run, else its run history entry), if it was recorded."""
    last = state.last_run_stats
    run: RunSummary | None = last if last is not None and last.run_id == run_id else None
    run = run or next((entry for entry in reversed(state.run_history) if entry.run_id == run_id), None)
    return run.model_dump(mode="json") if run is not None else None


def _parse_time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int | float):
        return datetime.fromtimestamp(float(value), tz=UTC)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def pages_series(state: CustomerState) -> list[tuple[datetime, float]]:
    """(time, pages in the index) after each recorded run, oldest first: the totals are rebuilt backwards from the
    current count with each successful run's pages added and deleted."""
    points: list[tuple[datetime, float]] = []
    total = state.total_indexed_documents
    for run in reversed(state.run_history):
        if run.finished_at is None:
            continue
        when = run.finished_at if run.finished_at.tzinfo else run.finished_at.replace(tzinfo=UTC)
        points.append((when, float(max(total, 0))))
        if run.status == "success":
            total = total - run.counts.pages_added + run.counts.pages_deleted
    if not points and state.last_success_time is not None:
        points.append((state.last_success_time, float(state.total_indexed_documents)))
    return sorted(points)


def latency_series(services: Services, entry: CustomerEntry) -> list[tuple[datetime, float]]:
    """(time, latency in ms) of the customer's recent queries from the core's query history, oldest first."""
    if entry.config is None:
        return []
    try:
        history = services.query_manager().history(entry.config, services.settings.history_points)
    except DatabaseNotConfiguredError:
        raise
    except (TenantRagError, psycopg.Error, OSError):  # database unreachable: an empty plot, not an error page
        return []
    points = []
    for item in history:
        when = _parse_time(item.get("asked_at"))
        latency = item.get("latency_ms")
        if when is not None and isinstance(latency, int | float):
            points.append((when, float(latency)))
    return sorted(points)
