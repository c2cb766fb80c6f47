"""``CustomerRAGManager``: build, update, query, describe and drop one customer's index (``rag_factory`` caches them).

Every build/update records its ``RunRecord`` in the customer's ``state.json`` (building -> ready / failed, counts,
model, last run, run history, last error) the way the DAG's ``record_state`` task does. A failed run leaves the
previous generation live, so the customer stays queryable.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tenant_rag.config import CustomerConfig
from tenant_rag.db import admin_connection, tenant_password
from tenant_rag.dsn import resolve_database_url
from tenant_rag.embedding.base import Embedder
from tenant_rag.index_cache import cache_path
from tenant_rag.permissions import Identity
from tenant_rag.pipeline.run import run_update
from tenant_rag.pipeline.staging import new_run_id
from tenant_rag.pipeline.stats import RunStats
from tenant_rag.query import CustomerQueryManager, IndexNotReadyError, QueryResult
from tenant_rag.retriever import TenantRetriever
from tenant_rag.runs.options import RunOptions
from tenant_rag.runs.progress import ProgressReporter
from tenant_rag.runs.record import RunRecord
from tenant_rag.runs.state_merge import apply_run, build_run_record
from tenant_rag.state import CustomerState, RAGStatus, load_state, update_state
from tenant_rag.store.generations import active_of, list_generations
from tenant_rag.store.reader import generation_counts
from tenant_rag.store.schema import create_store, drop_store, schema_exists, store_names

log = logging.getLogger(__name__)

PROGRESS_EVERY_S = 2.0


class CustomerRAGManager:
    def __init__(
        self,
        config: CustomerConfig,
        *,
        customer_dir: Path,
        database_url: str | None = None,
        embedder: Embedder | None = None,
    ) -> None:
        self.config = config
        self.customer_dir = Path(customer_dir)
        self._database_url = database_url
        self.embedder = embedder
        self.names = store_names(config)

    @property
    def database_url(self) -> str:
        if self._database_url is None:
            self._database_url = resolve_database_url(self.config.rag.db_conn_id)
        return self._database_url

    @property
    def query_manager(self) -> CustomerQueryManager:
        return _query_manager(self.database_url)

    def build_index(self, export_path: Path | str, options: RunOptions | None = None) -> RunStats:
        """Process every page of the export (vectors of unchanged texts are still reused)."""
        return self._run(Path(export_path), replace(options or RunOptions(), full_refresh=True))

    def update_index(self, export_path: Path | str, options: RunOptions | None = None) -> RunStats:
        """Process only what changed since the last run."""
        return self._run(Path(export_path), options or RunOptions())

    def _update_state(self, mutate: Callable[[CustomerState], CustomerState]) -> CustomerState | None:
        if not self.customer_dir.is_dir():
            return None
        return update_state(self.customer_dir, mutate, self.config.customer_id)

    def _run(self, export_path: Path, options: RunOptions) -> RunStats:
        run_id = new_run_id()
        started = datetime.now(UTC)
        if not options.dry_run:
            self._update_state(
                lambda s: s.model_copy(
                    update={
                        "status": RAGStatus.BUILDING,
                        "last_run_id": run_id,
                        "progress": None,
                        "rag_collection_name": self.config.collection_name,
                    }
                )
            )
        writes_state = not options.dry_run and self.customer_dir.is_dir()
        try:
            with ProgressReporter(
                stage="detect",
                unit="pages",
                log=log,
                customer_dir=self.customer_dir if writes_state else None,
                customer_id=self.config.customer_id,
                interval=PROGRESS_EVERY_S,
            ) as progress:
                stats = run_update(
                    self.config,
                    self.customer_dir,
                    export_path,
                    options,
                    database_url=self.database_url,
                    embedder=self.embedder,
                    run_id=run_id,
                    progress=progress,
                )
        except Exception as exc:
            if not options.dry_run:
                error = {"task_id": "run_update", "type": type(exc).__name__, "message": f"{type(exc).__name__}: {exc}"}
                self._record(self._run_record(run_id, options, started, None, [error]), live=None)
            raise
        if not options.dry_run:
            self._record(self._run_record(run_id, options, started, stats, []), live=self._live_summary())
        return stats

    def _run_record(
        self,
        run_id: str,
        options: RunOptions,
        started: datetime,
        stats: RunStats | None,
        errors: list[dict[str, Any]],
    ) -> RunRecord:
        return build_run_record(
            run_id=run_id,
            run_type="manual",
            logical_date=None,
            started_at=started,
            finished_at=datetime.now(UTC),
            params=options.to_dict(),
            stages={},
            merged=stats,
            task_states={},
            task_errors=errors,
            failed=[error["task_id"] for error in errors],
        )

    def _live_summary(self) -> dict[str, Any]:
        with admin_connection(
            self.database_url, customer_id=self.config.customer_id, action="reading the index"
        ) as conn:
            generations = list_generations(conn, self.names)
            live = active_of(generations)
            counts = generation_counts(conn, self.names, live.number) if live else {}
        return {"live": live, "counts": counts, "building": [g.number for g in generations if g.status == "building"]}

    def _record(self, record: RunRecord, live: dict[str, Any] | None) -> None:
        """Fold the run into state.json; ``live`` is what the database holds after a successful run."""
        generation = live["live"] if live else None
        rag = self.config.rag
        self._update_state(
            lambda state: apply_run(
                state,
                record,
                collection_name=self.config.collection_name,
                embedding_model=generation.signature.model_id if generation else rag.embedding_model,
                embedding_dimensions=generation.signature.dimensions if generation else rag.dimensions,
                index_totals=(
                    (live["counts"].get("documents", 0), live["counts"].get("chunks", 0))
                    if live and generation
                    else None
                ),
                finished_at=record.finished_at or datetime.now(UTC),
            )
        )

    def get_retriever(
        self,
        top_k: int | None = None,
        mode: str | None = None,
        space_keys: list[str] | None = None,
        identity: Identity | None = None,
    ) -> TenantRetriever:
        return TenantRetriever(
            query_manager=self.query_manager,
            config=self.config,
            top_k=top_k,
            mode=mode,
            space_keys=space_keys,
            identity=identity,
        )

    def query(
        self,
        question: str,
        top_k: int = 3,
        mode: str | None = None,
        space_keys: list[str] | None = None,
        identity: Identity | None = None,
    ) -> QueryResult:
        return self.query_manager.query(
            self.config, question, top_k=top_k, mode=mode, space_keys=space_keys, identity=identity
        )

    def get_stats(self) -> dict[str, Any]:
        """What the database holds for the customer, next to its state.json."""
        summary = self._live_summary()
        live = summary["live"]
        state = load_state(self.customer_dir, self.config.customer_id) if self.customer_dir.is_dir() else None
        return {
            "customer_id": self.config.customer_id,
            "collection_name": self.config.collection_name,
            "tenant_role": self.names.role,
            "generation": live.number if live else None,
            "embedding_model": live.signature.model_id if live else None,
            "embedding_dimensions": live.signature.dimensions if live else None,
            "text_search_config": live.signature.text_search_config if live else None,
            "building_generations": summary["building"],
            "documents": summary["counts"].get("documents", 0),
            "parents": summary["counts"].get("parents", 0),
            "chunks": summary["counts"].get("chunks", 0),
            "status": state.status.value if state else None,
            "is_ready_for_queries": live is not None,
            "last_index_time": state.last_index_time.isoformat() if state and state.last_index_time else None,
            "last_error": state.last_error if state else None,
        }

    def reset_role_password(self) -> bool:
        """Set the tenant role's login password from the current ``TENANT_RAG_TENANT_ROLE_SECRET`` (after a
        rotation) and its limits; False when no secret is set. The customer must have been indexed; a role that was
        lost (dropped by hand) is created again with its grants."""
        with admin_connection(
            self.database_url, customer_id=self.config.customer_id, action="resetting the role password"
        ) as conn:
            if not schema_exists(conn, self.names):
                raise IndexNotReadyError(f"customer {self.config.customer_id!r} has no index yet: nothing to reset")
            create_store(conn, self.names)  # idempotent: claims, (re)creates the role, password, limits, grants
            return tenant_password(self.names.role) is not None

    def cleanup_index(self) -> dict[str, Any]:
        """Drop the customer's schema (every generation, the history) and its role; remove the index cache."""
        with admin_connection(
            self.database_url, customer_id=self.config.customer_id, action="dropping the index"
        ) as conn:
            role_dropped = drop_store(conn, self.names)
        cache_path(self.customer_dir).unlink(missing_ok=True)
        self._update_state(
            lambda s: s.model_copy(
                update={
                    "status": RAGStatus.NEVER_BUILT,
                    "is_ready_for_queries": False,
                    "total_indexed_documents": 0,
                    "total_indexed_chunks": 0,
                    "progress": None,
                }
            )
        )
        return {
            "customer_id": self.config.customer_id,
            "schema_dropped": self.names.schema,
            "role_dropped": role_dropped,
        }


_query_managers: dict[str, CustomerQueryManager] = {}
_query_lock = threading.Lock()


def _query_manager(database_url: str) -> CustomerQueryManager:
    with _query_lock:
        manager = _query_managers.get(database_url)
        if manager is None:
            manager = _query_managers[database_url] = CustomerQueryManager(database_url)
        return manager
