"""The ``/metrics`` series about customers: aggregates over all of them, per-customer series for a bounded few.

Aggregates (no customer label) are always there, so a scrape's size does not grow with the customer count. The
per-customer series keep their original names and labels and are shown for

* ``off``: no customer;
* ``top`` (the default): at most ``top`` customers, those an operator looks at first: a failed or unreadable
  state, then the most failed queries, the most queries (both since the API process started), the largest index;
* ``all``: every customer (the behaviour before the aggregates: a scrape grows with the customer count).
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Literal

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from tenant_rag.api.fleet import STATUSES, UNREADABLE, IndexGauge
from tenant_rag.state import RAGStatus

PerCustomer = Literal["off", "top", "all"]
ATTENTION = frozenset({str(RAGStatus.FAILED), UNREADABLE})


class CustomerQueryStats:
    """Query, error and trigger counts per customer (kept only when per-customer series can be shown)."""

    def __init__(self, buckets: Sequence[float]) -> None:
        self.buckets = tuple(buckets)
        self._lock = threading.Lock()
        self._latency: dict[str, list[float]] = {}  # per bucket (then +Inf) counts, then the sum
        self._queries: defaultdict[tuple[str, str], float] = defaultdict(float)
        self._errors: defaultdict[tuple[str, str], float] = defaultdict(float)
        self._triggers: defaultdict[tuple[str, str], float] = defaultdict(float)

    def observe(self, customer_id: str, mode: str, seconds: float) -> None:
        slot = next((i for i, bound in enumerate(self.buckets) if seconds <= bound), len(self.buckets))
        with self._lock:
            latency = self._latency.setdefault(customer_id, [0.0] * (len(self.buckets) + 2))
            latency[slot] += 1
            latency[-1] += seconds
            self._queries[(customer_id, mode)] += 1

    def failed(self, customer_id: str, reason: str) -> None:
        with self._lock:
            self._errors[(customer_id, reason)] += 1

    def triggered(self, customer_id: str, outcome: str) -> None:
        with self._lock:
            self._triggers[(customer_id, outcome)] += 1

    def families(self, chosen: set[str]) -> Iterator[Metric]:
        """The per-customer query families of the ``chosen`` customers (original names and labels)."""
        with self._lock:
            latency = {cid: list(v) for cid, v in self._latency.items() if cid in chosen}
            counters = [
                {k: v for k, v in table.items() if k[0] in chosen}
                for table in (self._queries, self._errors, self._triggers)
            ]
        histogram = HistogramMetricFamily(
            "tenant_rag_query_latency_seconds", "Query latency per customer (retrieval only)", labels=["customer_id"]
        )
        for cid in sorted(latency):
            counts, cumulative, buckets = latency[cid], 0.0, []
            for bound, count in zip((*self.buckets, float("inf")), counts, strict=False):
                cumulative += count
                buckets.append((floatToGoString(bound), cumulative))
            histogram.add_metric([cid], buckets, counts[-1])
        yield histogram
        for (name, doc, second), table in zip(
            (
                ("tenant_rag_queries", "Queries answered per customer and mode", "mode"),
                ("tenant_rag_query_errors", "Queries that failed per customer and reason", "reason"),
                ("tenant_rag_index_triggers", "Index runs triggered through the API", "outcome"),
            ),
            counters,
            strict=True,
        ):
            family = CounterMetricFamily(name, doc, labels=["customer_id", second])
            for labels in sorted(table):
                family.add_metric(list(labels), table[labels])
            yield family

    def activity(self) -> dict[str, tuple[float, float]]:
        """(failed queries, queries) per customer that has either."""
        found: defaultdict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
        with self._lock:
            for (cid, _), n in self._errors.items():
                found[cid][0] += n
            for (cid, _), n in self._queries.items():
                found[cid][1] += n
        return {cid: (errors, queries) for cid, (errors, queries) in found.items()}


def choose(
    gauges: Sequence[IndexGauge], activity: dict[str, tuple[float, float]], mode: PerCustomer, top: int
) -> set[str]:
    """The customers whose per-customer series a scrape shows."""
    if mode == "off":
        return set()
    everyone = {g.customer_id for g in gauges} | set(activity)
    if mode == "all" or len(everyone) <= top:
        return everyone
    by_id = {g.customer_id: g for g in gauges}

    def rank(cid: str) -> tuple[int, float, float, int, str]:
        gauge = by_id.get(cid)
        errors, queries = activity.get(cid, (0.0, 0.0))
        attention = 1 if gauge is not None and gauge.status in ATTENTION else 0
        return (-attention, -errors, -queries, -(gauge.pages or 0) if gauge else 0, cid)

    return set(sorted(everyone, key=rank)[:top])


class CustomerCollector(Collector):
    """Collects the customer gauges at scrape time and yields the aggregates and the chosen customers' series."""

    def __init__(
        self, source: Callable[[], Iterable[IndexGauge]], stats: CustomerQueryStats, mode: PerCustomer, top: int
    ) -> None:
        self._source = source
        self._stats = stats
        self._mode = mode
        self._top = top

    def collect(self) -> Iterator[Metric]:
        started = time.perf_counter()
        gauges = list(self._source())
        yield from aggregate_families(gauges)
        chosen = choose(gauges, self._stats.activity(), self._mode, self._top)
        yield from index_families([g for g in gauges if g.customer_id in chosen])
        yield from self._stats.families(chosen)
        shown = GaugeMetricFamily(
            "tenant_rag_metrics_customers_labelled",
            "Customers with per-customer series in this scrape (TENANT_RAG_API_METRICS_PER_CUSTOMER)",
            labels=["mode"],
        )
        shown.add_metric([self._mode], len(chosen))
        yield shown
        took = GaugeMetricFamily(
            "tenant_rag_metrics_collect_seconds", "Time this scrape spent collecting the customer series"
        )
        took.add_metric([], time.perf_counter() - started)
        yield took


def aggregate_families(gauges: Sequence[IndexGauge]) -> Iterator[Metric]:
    by_status = dict.fromkeys(STATUSES, 0)
    for gauge in gauges:
        by_status[gauge.status] = by_status.get(gauge.status, 0) + 1
    customers = GaugeMetricFamily(
        "tenant_rag_customers", "Customers by the status in their state.json", labels=["status"]
    )
    for status, count in by_status.items():
        customers.add_metric([status], count)
    yield customers
    ready = GaugeMetricFamily("tenant_rag_customers_ready", "Customers whose index answers queries")
    ready.add_metric([], sum(1 for g in gauges if g.ready))
    yield ready
    for field, name, doc in (
        ("pages", "tenant_rag_customers_index_pages", "Pages in all customers' indexes"),
        ("chunks", "tenant_rag_customers_index_chunks", "Child chunks in all customers' indexes"),
        ("bytes", "tenant_rag_customers_index_bytes", "On-disk size of all customers' stores"),
    ):
        values = [getattr(g, field) for g in gauges]
        family = GaugeMetricFamily(name, doc)
        if not any(v is None for v in values):  # bytes are unknown while the database is unreachable
            family.add_metric([], float(sum(values)))
        yield family
    oldest = GaugeMetricFamily(
        "tenant_rag_customers_oldest_successful_index_timestamp_seconds",
        "Unix time of the oldest last successful index run among customers that have one",
    )
    times = [g.last_success_timestamp for g in gauges if g.last_success_timestamp is not None]
    if times:
        oldest.add_metric([], min(times))
    yield oldest


def index_families(gauges: Sequence[IndexGauge]) -> Iterator[Metric]:
    """The per-customer index gauges (original names, one series each per customer)."""
    families = {
        "pages": GaugeMetricFamily("tenant_rag_index_pages", "Pages in the customer's index", labels=["customer_id"]),
        "chunks": GaugeMetricFamily(
            "tenant_rag_index_chunks", "Child chunks in the customer's index", labels=["customer_id"]
        ),
        "bytes": GaugeMetricFamily(
            "tenant_rag_index_bytes", "On-disk size of the customer's store", labels=["customer_id"]
        ),
        "last": GaugeMetricFamily(
            "tenant_rag_last_successful_index_timestamp_seconds",
            "Unix time of the customer's last successful index run",
            labels=["customer_id"],
        ),
        "ready": GaugeMetricFamily(
            "tenant_rag_index_ready", "1 when the customer's index answers queries", labels=["customer_id"]
        ),
    }
    for gauge in gauges:
        labels = [gauge.customer_id]
        for name, value in (
            ("pages", gauge.pages),
            ("chunks", gauge.chunks),
            ("bytes", gauge.bytes),
            ("last", gauge.last_success_timestamp),
        ):
            if value is not None:
                families[name].add_metric(labels, float(value))
        families["ready"].add_metric(labels, 1.0 if gauge.ready else 0.0)
    yield from families.values()
