"""What the routes use, built lazily: database URL, the RAG core's query manager, the Airflow client, metrics.

``create_app`` makes one ``Services`` per app and nothing here touches the database, the network or the RAG
core's heavy imports until the first request that needs them (the Airflow plugin relies on this).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg

from tenant_rag.api.airflow_client import AirflowClient
from tenant_rag.api.directory import CustomerDirectory, CustomerEntry
from tenant_rag.api.fleet import IndexGauge, StateSummaries, bytes_by_customer
from tenant_rag.api.keys import AdminKey, CustomerKeyStore
from tenant_rag.api.metrics import ApiMetrics
from tenant_rag.api.models import IndexSize
from tenant_rag.api.settings import ApiSettings
from tenant_rag.config import CustomerConfig
from tenant_rag.dsn import resolve_database_url
from tenant_rag.errors import DatabaseNotConfiguredError, TenantRagError
from tenant_rag.paths import admin_key_file, customers_dir
from tenant_rag.state import CustomerState

log = logging.getLogger(__name__)


class Services:
    def __init__(self, settings: ApiSettings, *, database_url_factory: Callable[[], str] | None = None) -> None:
        self.settings = settings
        self.directory = CustomerDirectory(settings.customers_dir or customers_dir())
        self.keys = CustomerKeyStore(self.directory.base_dir)
        self.admin = AdminKey(settings.admin_key_hash, (settings.admin_key_file or admin_key_file()))
        self.states = StateSummaries(self.directory.base_dir)
        self.metrics = ApiMetrics(
            self.index_gauges, per_customer=settings.metrics_per_customer, top=settings.metrics_top_customers
        )
        self._database_url_factory = database_url_factory
        self._lock = threading.Lock()
        self._database_url: str | None = None
        self._query_manager: Any = None
        self._airflow: AirflowClient | None = None
        self._sizes: dict[str, tuple[float, IndexSize]] = {}
        self._customer_bytes: tuple[float, dict[str, int]] | None = None
        self._reported_db_error: str | None = None

    # -- database and the RAG core -------------------------------------------------------------------------

    def database_url(self) -> str:
        """The database URL, resolved on first use.

        A ``DatabaseNotConfiguredError`` (nothing configured, no embedded fallback) is logged once and raised, so
        the routes answer 503 with its message; it is not cached, so fixing the configuration needs no restart.
        """
        with self._lock:
            if self._database_url is None:
                try:
                    self._database_url = self._resolve_database_url()
                except DatabaseNotConfiguredError as exc:
                    if str(exc) != self._reported_db_error:
                        self._reported_db_error = str(exc)
                        log.error("%s", exc)
                    raise
            return self._database_url

    def _resolve_database_url(self) -> str:
        if self.settings.database_url is not None:
            return self.settings.database_url.get_secret_value()
        if self._database_url_factory is not None:
            return self._database_url_factory()
        return resolve_database_url(self.settings.db_conn_id, start_embedded=self.settings.start_embedded_db)

    def query_manager(self) -> Any:
        """The core's ``CustomerQueryManager`` (shared connection pool across customers)."""
        url = self.database_url()
        with self._lock:
            if self._query_manager is None:
                from tenant_rag.query import CustomerQueryManager

                self._query_manager = CustomerQueryManager(url)
            return self._query_manager

    def rag_manager(self, entry: CustomerEntry) -> Any:
        from tenant_rag.manager import CustomerRAGManager

        assert entry.config is not None
        return CustomerRAGManager(entry.config, customer_dir=entry.folder, database_url=self.database_url())

    def airflow(self) -> AirflowClient:
        with self._lock:
            if self._airflow is None:
                s = self.settings
                self._airflow = AirflowClient(
                    s.airflow_base_url,
                    username=s.airflow_username,
                    password=s.airflow_password.get_secret_value() if s.airflow_password else None,
                    token=s.airflow_token.get_secret_value() if s.airflow_token else None,
                    timeout=s.airflow_timeout_seconds,
                )
            return self._airflow

    # -- index size (state + the store's own statistics, cached) ------------------------------------------

    def index_size(self, entry: CustomerEntry, state: CustomerState, *, fresh: bool = False) -> IndexSize:
        """Pages, chunks and bytes of the customer's live index (cached ``index_stats_ttl_seconds``).

        Counts come from the store itself (the core's ``get_stats``), bytes from the catalog; when the store cannot
        be read the counts fall back to state.json and bytes are unknown.
        """
        now = time.monotonic()
        cached = self._sizes.get(entry.customer_id)
        if cached and not fresh and now - cached[0] < self.settings.index_stats_ttl_seconds:
            return cached[1]
        size = IndexSize(pages=state.total_indexed_documents, chunks=state.total_indexed_chunks)
        if entry.config is not None:
            try:
                stats = self.rag_manager(entry).get_stats()
                size = IndexSize(
                    pages=int(stats.get("documents", 0)),
                    chunks=int(stats.get("chunks", 0)),
                    bytes=store_bytes(self.database_url(), entry.config),
                )
            except DatabaseNotConfiguredError:
                raise
            except (TenantRagError, psycopg.Error, OSError) as exc:
                log.warning("customer %r: cannot read index size from the store: %s", entry.customer_id, exc)
        self._sizes[entry.customer_id] = (now, size)
        return size

    def forget_size(self, customer_id: str) -> None:
        self._sizes.pop(customer_id, None)

    def index_gauges(self) -> list[IndexGauge]:
        """Gauges for every customer: counts from state.json (parsed only when changed), bytes from one query.

        Cheap enough to scrape with 10,000 customers: no config is parsed, no per-customer query is made.
        """
        return self.states.gauges(self.directory.ids(), self.customer_bytes())

    def customer_bytes(self) -> dict[str, int] | None:
        """Bytes per registered customer (cached ``index_stats_ttl_seconds``); None if the database is unreachable."""
        now = time.monotonic()
        cached = self._customer_bytes
        if cached is not None and now - cached[0] < self.settings.index_stats_ttl_seconds:
            return cached[1]
        try:
            sizes = bytes_by_customer(self.database_url())
        except DatabaseNotConfiguredError:  # logged once by database_url(); metrics still answer, without bytes
            return None
        except (TenantRagError, psycopg.Error, OSError) as exc:
            log.warning("cannot read index sizes: %s", exc)
            return None
        self._customer_bytes = (now, sizes)
        return sizes

    def close(self) -> None:
        if self._airflow is not None:
            self._airflow.close()


SIZE_SQL = (
    "SELECT n.nspname, coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c"
    " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p', 'm')"
)


def store_bytes(database_url: str, config: CustomerConfig) -> int:
    """On-disk bytes of the customer's schema: every table of every generation, with indexes and TOAST."""
    from tenant_rag.db import admin_connection
    from tenant_rag.store.schema import store_names

    schema = store_names(config).schema
    with admin_connection(database_url) as conn:
        row = conn.execute(SIZE_SQL + " AND n.nspname = %s GROUP BY n.nspname", (schema,)).fetchone()
    return int(row[1]) if row else 0
