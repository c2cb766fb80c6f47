"""Every customer's index gauges for ``/metrics``, cheap to read again at 10,000 customers.

A scrape lists the customer folders and stats each ``state.json``; a file is parsed only when its stamp (inode,
size, mtime) changed since the last scrape, and then only the five fields the metrics need (pydantic parses the
JSON and skips the run history and stats). Configs are not parsed at all: index bytes come from the ownership
registry (customer id -> schema) joined with the catalog in one query.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from tenant_rag.state import STATE_FILE, RAGStatus

UNREADABLE = "unreadable"  # a state.json that exists but cannot be read or parsed
STATUSES = (*(str(s) for s in RAGStatus), UNREADABLE)


@dataclass(frozen=True)
class IndexGauge:
    customer_id: str
    pages: int | None
    chunks: int | None
    bytes: int | None
    last_success_timestamp: float | None
    ready: bool
    status: str = str(RAGStatus.NEVER_BUILT)


class _StateSummary(BaseModel):
    """The fields of ``tenant_rag.state.CustomerState`` the metrics use (same defaults)."""

    model_config = ConfigDict(extra="ignore")

    status: RAGStatus = RAGStatus.NEVER_BUILT
    is_ready_for_queries: bool = False
    total_indexed_documents: int = 0
    total_indexed_chunks: int = 0
    last_success_time: datetime | None = None


_NEVER_BUILT = _StateSummary()
Stamp = tuple[int, int, int] | None


class StateSummaries:
    """Summaries of many customers' ``state.json``, re-parsed only when a file changed."""

    def __init__(self, base_dir: Path) -> None:
        self.base_dir = base_dir
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[Stamp, _StateSummary | None]] = {}
        self.parsed = 0  # files parsed since start (the cache's misses)

    def gauges(self, customer_ids: list[str], bytes_by_customer: dict[str, int] | None) -> list[IndexGauge]:
        """A gauge per customer; bytes only when ``bytes_by_customer`` is known (0 for a customer not in it)."""
        with self._lock:  # one scrape at a time: a second waits and then finds the cache warm
            summaries = {cid: self._summary(cid) for cid in customer_ids}
            for gone in self._cache.keys() - summaries.keys():
                del self._cache[gone]
        gauges = []
        for cid, summary in summaries.items():
            size = bytes_by_customer.get(cid, 0) if bytes_by_customer is not None else None
            if summary is None:
                gauges.append(IndexGauge(cid, 0, 0, size, None, False, UNREADABLE))
                continue
            last = summary.last_success_time.timestamp() if summary.last_success_time else None
            gauges.append(
                IndexGauge(
                    cid,
                    summary.total_indexed_documents,
                    summary.total_indexed_chunks,
                    size,
                    last,
                    summary.is_ready_for_queries,
                    str(summary.status),
                )
            )
        return gauges

    def _summary(self, customer_id: str) -> _StateSummary | None:
        path = os.path.join(self.base_dir, customer_id, STATE_FILE)  # a str: 10,000 stats a scrape, no pathlib
        try:
            info = os.stat(path)
            stamp: Stamp = (info.st_ino, info.st_size, info.st_mtime_ns)
        except (FileNotFoundError, NotADirectoryError):
            stamp = None
        except OSError:
            return None
        cached = self._cache.get(customer_id)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        summary: _StateSummary | None = _NEVER_BUILT
        if stamp is not None:
            self.parsed += 1
            try:
                with open(path, "rb") as handle:
                    summary = _StateSummary.model_validate_json(handle.read())
            except FileNotFoundError:  # removed between stat and read: never built, and look again next time
                stamp = None
            except (OSError, ValidationError):
                summary = None
        self._cache[customer_id] = (stamp, summary)
        return summary


BYTES_SQL = """
SELECT t.customer_id, coalesce(sum(pg_total_relation_size(c.oid)), 0)
FROM {} t
LEFT JOIN pg_namespace n ON n.nspname = t.schema_name
LEFT JOIN pg_class c ON c.relnamespace = n.oid AND c.relkind IN ('r', 'p', 'm')
GROUP BY t.customer_id
"""


def bytes_by_customer(database_url: str) -> dict[str, int]:
    """On-disk bytes of each registered customer's schema (tables with indexes and TOAST), in one query."""
    from psycopg import sql

    from tenant_rag.db import admin_connection
    from tenant_rag.store.registry import REGISTRY_SCHEMA, TENANTS

    with admin_connection(database_url) as conn:
        row = conn.execute("SELECT to_regclass(%s)", (f"{REGISTRY_SCHEMA}.tenants",)).fetchone()
        if row is None or row[0] is None:  # no store was ever written
            return {}
        rows = conn.execute(sql.SQL(BYTES_SQL).format(TENANTS)).fetchall()
    return {str(customer_id): int(size) for customer_id, size in rows}
