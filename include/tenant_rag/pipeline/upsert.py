"""Stage 4: write the staged pages (atomic swaps per batch of pages), apply deletions, switch generations.

This is the only stage that writes to the database. It is safe to re-run after a crash: pages already swapped are
swapped again to the same rows, and change detection of the next run sees whatever did commit. A page the database
refuses (``ROW_REFUSALS``) is a per-page error, like an unreadable file: the other pages are written and it keeps its
old rows, if any.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from tenant_rag.changes import ChangePlan, kept_paths
from tenant_rag.config import CustomerConfig
from tenant_rag.db import admin_connection, dedicated_connection, ensure_vector_types
from tenant_rag.index_cache import write_index_cache
from tenant_rag.pipeline.staging import ProgressCallback, Staging
from tenant_rag.pipeline.stats import UpsertStats
from tenant_rag.runs.options import RunOptions
from tenant_rag.settings import settings
from tenant_rag.store.generations import Target, activate, active_of, list_generations, register_target
from tenant_rag.store.names import StoreNames
from tenant_rag.store.parallel_writer import PAGES_PER_TRANSACTION, BatchLimits, ParallelPageWriter
from tenant_rag.store.reader import iter_indexed_pages
from tenant_rag.store.registry import claim
from tenant_rag.store.schema import create_store, role_exists, store_names
from tenant_rag.store.writer import (
    ChunkRow,
    DocumentRow,
    PageRows,
    ParentRow,
    analyze_generation,
    delete_pages,
)
from tenant_rag.text_analysis import ChunkTerms

# A run that rewrote at least this share of the live generation's pages refreshes its statistics itself (VACUUM
# ANALYZE); smaller edits leave that to autovacuum: the planner's row count then lags by under 5 %, while the
# VACUUM ANALYZE of a 19k-chunk store was half of a 1 % edit's time.
ANALYZE_SHARE = 0.05


class _Vectors:
    """Vectors by their staged location (``["e", batch, row]`` or ``["r", part, row]``), a file at a time.

    Files are loaded on first use and only the most recent ``CACHED_FILES`` are kept: the chunk stage assigned
    batches in page order, so the upsert reads them in order too and memory stays flat however many there are.
    Every embedding batch must exist before anything is written (checked up front).
    """

    CACHED_FILES = 3  # the embedding batches either side of a boundary and the current reused part

    def __init__(self, staging: Staging, config: CustomerConfig, batches: int) -> None:
        self.staging = staging
        self.files: OrderedDict[tuple[str, int], np.ndarray] = OrderedDict()
        for batch in range(batches):
            path = staging.vectors(batch)
            if not path.exists():
                raise FileNotFoundError(
                    f"customer {config.customer_id!r}: embedding batch {batch} has no vectors ({path}); "
                    "run embed_batch for every batch before upsert_changes"
                )

    def __getitem__(self, location: list[Any]) -> np.ndarray:
        kind, number, row = location[0], int(location[1]), int(location[2])
        key = (kind, number)
        array = self.files.get(key)
        if array is None:
            path = self.staging.vectors(number) if kind == "e" else self.staging.reused(number)
            array = self.staging.load_array(path)
            self.files[key] = array
            while len(self.files) > self.CACHED_FILES:
                self.files.popitem(last=False)
        else:
            self.files.move_to_end(key)
        return array[row].copy()  # not a view: a row must not keep its whole file alive in the writer's queue


def _page_rows(record: dict[str, Any], vectors: _Vectors, model_id: str) -> PageRows:
    doc = dict(record["document"])
    if "readers" not in doc:
        raise ValueError(
            f"page {doc.get('page_id')!r}: staged without its readers; the chunk stage of this run predates this "
            "version: re-run the run from its chunk task"
        )
    if doc["last_modified"]:
        doc["last_modified"] = datetime.fromisoformat(doc["last_modified"])
    document = DocumentRow(**doc)
    parents = [ParentRow(page_id=document.page_id, **parent) for parent in record["parents"]]
    chunks = []
    for child in record["children"]:
        fields = dict(child)
        location = fields.pop("vector", None)
        lexical = fields.pop("lexical", None)
        if location is None or lexical is None:
            raise ValueError(
                f"page {document.page_id!r}: staged child {fields.get('chunk_id')!r} has no vector location or terms; "
                "the chunk stage of this run predates this version: re-run the run from its chunk task"
            )
        chunks.append(
            ChunkRow(
                page_id=document.page_id,
                space_key=document.space_key,
                model_id=model_id,
                embedding=vectors[location],
                lexical=ChunkTerms(**lexical),
                **fields,
            )
        )
    return PageRows(document, parents, chunks)


def _blocking_errors(plan: ChangePlan, page_errors: list[dict[str, Any]], active_paths: set[str]) -> list[str]:
    """Files in error whose page the live generation still serves (a switch now would drop them)."""
    files = kept_paths(plan.errors) | kept_paths(page_errors)
    return sorted(files & active_paths)


def needs_analyze(target: Target, written: int, deleted: int, indexed_before: int) -> bool:
    """Whether this run's writes call for a VACUUM ANALYZE now: always for a generation being built, else when
    they touched at least ``ANALYZE_SHARE`` of the pages indexed before the run."""
    if not (written or deleted):
        return False
    if target.status != "active" or indexed_before <= 0:
        return True
    return written + deleted >= ANALYZE_SHARE * indexed_before


def upsert_changes(
    config: CustomerConfig,
    customer_dir: Path,
    staging: Staging,
    options: RunOptions,
    *,
    database_url: str,
    progress: ProgressCallback | None = None,
    pages_per_transaction: int = PAGES_PER_TRANSACTION,
    writers: int | None = None,
) -> UpsertStats:
    """Write the staged pages (``writers`` connections at once, default ``TENANT_RAG_UPSERT_WRITERS``), apply the
    deletions, analyse, and activate a generation this run built."""
    started = time.perf_counter()
    changes = staging.read_json(staging.upsert_plan)  # not changes.json: it lists every page
    if changes["options"].get("dry_run") or options.dry_run:
        return {
            "pages_written": 0,
            "pages_deleted": 0,
            "parents": 0,
            "chunks": 0,
            "switched": False,
            "errors": [],
            "dry_run": True,
            "duration_s": 0.0,
        }
    names = store_names(config)
    target = Target.from_dict(changes["target"])
    total = int(changes["pages_to_write"])
    plan = ChangePlan.from_dict(changes["plan"])  # deletions and errors only
    chunk_stats = staging.read_json(staging.chunk_stats)
    vectors = _Vectors(staging, config, int(chunk_stats.get("embed_batches") or 0))
    tally = {"pages": 0, "parents": 0, "chunks": 0}

    def batch_done(batch: Sequence[PageRows]) -> None:
        tally["pages"] += len(batch)
        tally["parents"] += sum(len(p.parents) for p in batch)
        tally["chunks"] += sum(len(p.chunks) for p in batch)
        if progress:
            progress("upsert", tally["pages"], total)

    def connect() -> AbstractContextManager[Any]:
        return dedicated_connection(database_url, customer_id=config.customer_id, action="writing the index")

    with admin_connection(database_url, customer_id=config.customer_id, action="writing the index") as conn:
        ensure_vector_types(conn, create=True)
        claim(conn, names)  # before any write: refused when another customer owns the schema or role
        if target.status != "active" or not role_exists(conn, names):  # new generation, or a role lost by hand
            create_store(conn, names)
            register_target(conn, names, target)
        batches = max(1, -(-total // pages_per_transaction))  # more writers than batches would idle
        parallel = min(writers if writers is not None else settings().upsert_writers, batches)
        limits = BatchLimits(pages=pages_per_transaction)
        with ParallelPageWriter(
            conn, names, target.generation, writers=parallel, connect=connect, on_done=batch_done, limits=limits
        ) as writer:
            for record in staging.iter_jsonl(staging.chunks):
                writer.add(_page_rows(record, vectors, target.signature.model_id))
        refused = sorted((page.to_error() for page in writer.refused), key=lambda error: error["page_id"])
        written, parents, chunks = tally["pages"], tally["parents"], tally["chunks"]
        deleted = delete_pages(conn, names, target.generation, plan.deleted)
        if needs_analyze(target, written, deleted, plan.indexed_total):
            analyze_generation(conn, names, target.generation)
        page_errors = chunk_stats.get("errors", []) + refused
        switched, blocking = _maybe_switch(conn, names, target, plan, page_errors, options)
        live = active_of(list_generations(conn, names))
        write_index_cache(
            customer_dir,
            iter_indexed_pages(conn, names, live.number) if live else (),
            generation=live.number if live else None,
            model_id=live.signature.model_id if live else None,
            dimensions=live.signature.dimensions if live else None,
        )
    return {
        "pages_written": written,
        "pages_deleted": deleted,
        "parents": parents,
        "chunks": chunks,
        "switched": switched,
        "switch_blocked_by": blocking,
        "errors": refused,
        "generation": target.generation,
        "live_generation": live.number if live else None,
        "dry_run": False,
        "duration_s": round(time.perf_counter() - started, 3),
    }


def _maybe_switch(
    conn: Any,
    names: StoreNames,
    target: Target,
    plan: ChangePlan,
    page_errors: list[dict[str, Any]],
    options: RunOptions,
) -> tuple[bool, list[str]]:
    """Activate a generation built by this run, unless that would drop pages whose files are in error (unreadable,
    or refused by the database)."""
    if target.status == "active":
        return False, []
    blocking: list[str] = []
    if target.replaces is not None:
        live_paths = {page.rel_path for page in iter_indexed_pages(conn, names, target.replaces)}
        blocking = _blocking_errors(plan, page_errors, live_paths)
    if blocking and not options.force_delete:
        return False, blocking
    activate(conn, names, target.generation)
    return True, []
