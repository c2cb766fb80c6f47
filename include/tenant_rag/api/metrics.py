"""Prometheus metrics of one API app, in a registry of its own (two apps in one process never clash).

Query, error and trigger counts are kept twice: as aggregates without a customer label (``tenant_rag_api_*``,
always) and per customer, labelled only after the caller was authenticated for that customer. Which customers'
series a scrape shows is ``TENANT_RAG_API_METRICS_PER_CUSTOMER`` (``tenant_rag.api.metrics_customers``); index
gauges are collected at scrape time from a callback.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tenant_rag.api.fleet import IndexGauge
from tenant_rag.api.metrics_customers import CustomerCollector, CustomerQueryStats, PerCustomer

KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class ApiMetrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(
        self, index_source: Callable[[], Iterable[IndexGauge]], *, per_customer: PerCustomer = "top", top: int = 20
    ) -> None:
        self.registry = CollectorRegistry()
        self.per_customer = per_customer
        self.customers = CustomerQueryStats(LATENCY_BUCKETS)
        self.query_latency = Histogram(
            "tenant_rag_api_query_latency_seconds",
            "Query latency of all customers by mode (retrieval only)",
            ["mode"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.queries = Counter(
            "tenant_rag_api_queries", "Queries answered by mode, all customers", ["mode"], registry=self.registry
        )
        self.query_errors = Counter(
            "tenant_rag_api_query_errors",
            "Queries that failed by reason, all customers",
            ["reason"],
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
            "tenant_rag_api_index_triggers",
            "Index runs triggered through the API by outcome, all customers",
            ["outcome"],
            registry=self.registry,
        )
        self.registry.register(CustomerCollector(index_source, self.customers, per_customer, top))

    def observe_query(self, customer_id: str, mode: str, seconds: float) -> None:
        self.query_latency.labels(mode).observe(seconds)
        self.queries.labels(mode).inc()
        if self.per_customer != "off":
            self.customers.observe(customer_id, mode, seconds)

    def query_failed(self, customer_id: str, reason: str) -> None:
        self.query_errors.labels(reason).inc()
        if self.per_customer != "off":
            self.customers.failed(customer_id, reason)

    def index_triggered(self, customer_id: str, outcome: str) -> None:
        self.index_triggers.labels(outcome).inc()
        if self.per_customer != "off":
            self.customers.triggered(customer_id, outcome)

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
