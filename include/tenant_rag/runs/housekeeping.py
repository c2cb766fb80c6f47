"""What the first task of a run cleans up after a run that was killed (``kill -9``, OOM, lost worker).

- ``sweep_stale_staging``: a killed run's staging folder stays forever once its retry runs under a new run id
  (only a successful run removes its own). Folders untouched for longer than
  ``TENANT_RAG_STAGING_MAX_AGE_SECONDS`` (default one day) are removed, except the ones named in ``keep`` (the
  current run's, the live lease holder's).
- ``reconcile_state``: a kill while the last task records the run leaves ``state.json`` at ``building`` (not
  ready for queries) although the store's active generation is complete and live. The next run puts the state
  back in line with what the store serves (``live_index``).
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tenant_rag.config import CustomerConfig
from tenant_rag.settings import settings
from tenant_rag.state import CustomerState, RAGStatus, load_state, update_state

log = logging.getLogger(__name__)


def staging_max_age() -> timedelta:
    """``TENANT_RAG_STAGING_MAX_AGE_SECONDS`` (default one day)."""
    return timedelta(seconds=settings().staging_max_age_seconds)


def _last_touched(folder: Path) -> datetime:
    """Newest modification time of the folder or any folder below it (files are written by rename into them)."""
    newest = folder.stat().st_mtime
    for root, _dirs, _files in os.walk(folder):
        newest = max(newest, Path(root).stat().st_mtime)
    return datetime.fromtimestamp(newest, UTC)


def sweep_stale_staging(
    base: Path, keep: Collection[str], max_age: timedelta | None = None, now: datetime | None = None
) -> list[Path]:
    """Remove the run folders under ``base`` idle for longer than ``max_age`` and not named in ``keep``."""
    if not base.is_dir():
        return []
    max_age = staging_max_age() if max_age is None else max_age
    now = now or datetime.now(UTC)
    removed = []
    for folder in sorted(base.iterdir()):
        if folder.name in keep or not folder.is_dir() or folder.is_symlink():
            continue
        try:
            idle = now - _last_touched(folder)
        except FileNotFoundError:  # removed meanwhile
            continue
        if idle > max_age:
            shutil.rmtree(folder, ignore_errors=True)
            log.info("removed stale staging folder %s (idle for %s)", folder, idle)
            removed.append(folder)
    return removed


@dataclass(frozen=True)
class LiveIndex:
    """What the store's active generation serves."""

    generation: int
    embedding_model: str
    dimensions: int
    documents: int
    chunks: int


def live_index(config: CustomerConfig, database_url: str) -> LiveIndex | None:
    """The customer's active generation and its counts (None when the store has none)."""
    from tenant_rag.db import admin_connection
    from tenant_rag.store.generations import active_of, list_generations
    from tenant_rag.store.reader import generation_counts
    from tenant_rag.store.schema import store_names

    names = store_names(config)
    with admin_connection(database_url, customer_id=config.customer_id, action="read the live generation") as conn:
        active = active_of(list_generations(conn, names))
        if active is None:
            return None
        counts = generation_counts(conn, names, active.number)
    return LiveIndex(
        generation=active.number,
        embedding_model=active.signature.embedding_model,
        dimensions=active.signature.dimensions,
        documents=counts["documents"],
        chunks=counts["chunks"],
    )


def reconcile_state(customer_dir: Path, customer_id: str, read_live: Callable[[], LiveIndex | None]) -> bool:
    """If ``state.json`` says ``building`` but a generation is live, say ``ready`` with its counts.

    ``read_live`` (e.g. ``live_index`` bound to the customer) is called only when the state says ``building``.
    Call this only while holding the customer's run lease, before the run reports progress: then no other run can
    be building. Returns whether the state was changed.
    """
    if load_state(customer_dir, customer_id).status != RAGStatus.BUILDING:
        return False
    live = read_live()
    if live is None:
        return False
    changed = False

    def mutate(state: CustomerState) -> CustomerState:
        nonlocal changed
        if state.status != RAGStatus.BUILDING:
            return state
        changed = True
        return state.model_copy(
            update={
                "status": RAGStatus.READY,
                "is_ready_for_queries": True,
                "progress": None,
                "total_indexed_documents": live.documents,
                "total_indexed_chunks": live.chunks,
                "embedding_model": live.embedding_model,
                "embedding_dimensions": live.dimensions,
            }
        )

    update_state(customer_dir, mutate, customer_id)
    if changed:
        log.warning(
            "customer %s: state.json said building after an interrupted run; generation %d is live, state is ready",
            customer_id,
            live.generation,
        )
    return changed
