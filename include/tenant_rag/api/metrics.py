"""Prometheus metrics of one API app, in a registry of its own (two apps in one process never clash).

Query metrics are labelled by customer only after the caller was authenticated for that customer, so the label
set is bounded by the real customers. Index-size gauges are collected at scrape time from a callback.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


@dataclass(frozen=True)
class IndexGauge:
    customer_id: str
    pages: int | None
    chunks: int | None
    bytes: int | None
    last_success_timestamp: float | None
    ready: bool


class _IndexCollector(Collector):
    def __init__(self, source: Callable[[], Iterable[IndexGauge]]) -> None:
        self._source = source

    def collect(self) -> Iterable[GaugeMetricFamily]:
        families = {
            "pages": GaugeMetricFamily(
                "tenant_rag_index_pages", "Pages in the customer's index", labels=["customer_id"]
            ),
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
        for gauge in self._source():
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


class ApiMetrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self, index_source: Callable[[], Iterable[IndexGauge]]) -> None:
        self.registry = CollectorRegistry()
        self.query_latency = Histogram(
            "tenant_rag_query_latency_seconds",
            "Query latency per customer (retrieval only)",
            ["customer_id"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.queries = Counter(
            "tenant_rag_queries",
            "Queries answered per customer and mode",
            ["customer_id", "mode"],
            registry=self.registry,
        )
        self.query_errors = Counter(
            "tenant_rag_query_errors",
            "Queries that failed per customer and reason",
            ["customer_id", "reason"],
            registry=self.registry,
        )
        self.requests = Counter(
            "tenant_rag_api_requests",
            "HTTP requests by route template and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.request_latency = Histogram(
            "tenant_rag_api_request_duration_seconds",
            "HTTP request duration by route template",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.index_triggers = Counter(
            "tenant_rag_index_triggers",
            "Index runs triggered through the API",
            ["customer_id", "outcome"],
            registry=self.registry,
        )
        self.registry.register(_IndexCollector(index_source))

    def observe_query(self, customer_id: str, mode: str, seconds: float) -> None:
        self.query_latency.labels(customer_id).observe(seconds)
        self.queries.labels(customer_id, mode).inc()

    def query_failed(self, customer_id: str, reason: str) -> None:
        self.query_errors.labels(customer_id, reason).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)


class RequestMetricsMiddleware:
    """Counts requests by route template (never the raw path, which would carry ids) and status."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        started = time.perf_counter()

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            method = str(scope.get("method", ""))
            method = method if method in KNOWN_METHODS else "OTHER"
            self.metrics.requests.labels(method, route, str(status)).inc()
            self.metrics.request_latency.labels(method, route).observe(time.perf_counter() - started)
