"""``/metrics`` with 10,000 customers over real HTTP: the series are bounded, the aggregates add up.

The customers' folders (config.yaml and state.json) are written directly; one of them (``acme``) has a real index
in the database, so its bytes come from the ownership registry. No timing is asserted.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tenant_rag.api.app import create_app
from tenant_rag.api.settings import ApiSettings
from tests.integration.api.api_support import KAFKA, Keys, build_index, client, make_customer, make_keys, serve_app

CUSTOMERS = 10_000
TOP = 20
CONFIG = "customer_id: {cid}\ndisplay_name: Customer {cid}\nexport:\n  source: directory\n  path: exports\n"
BASE_TIME = datetime(2026, 11, 1, tzinfo=UTC)
NO_QUERY = "t00001"  # no state.json: never built; its queries fail (409)


@dataclass
class Fleet:
    customers_dir: Path
    database_url: str
    admin_file: Path
    keys: Keys
    by_status: dict[str, int] = field(default_factory=dict)
    pages: int = 0
    chunks: int = 0
    ready: int = 0
    oldest: float = 0.0
    attention: set[str] = field(default_factory=set)  # failed or unreadable state
    largest: list[str] = field(default_factory=list)  # the customers with the most pages, by id

    def settings(self, **extra: Any) -> ApiSettings:
        return ApiSettings(
            customers_dir=self.customers_dir,
            database_url=self.database_url,
            admin_key_file=self.admin_file,
            index_stats_ttl_seconds=0,
            **extra,
        )


def _state(index: int) -> dict[str, Any] | None:
    """What customer ``index`` has written; None for no state.json."""
    if index % 10 == 1:
        return None
    if index % 10 == 2:
        return {"customer_id": f"t{index:05d}", "status": "never_built"}
    pages = 5 if index % 1000 == 7 else 1 + index % 50
    return {
        "customer_id": f"t{index:05d}",
        "status": "failed" if index % 1000 == 7 else "building" if index % 10 == 3 else "ready",
        "is_ready_for_queries": True,
        "total_indexed_documents": pages,
        "total_indexed_chunks": 3 * pages,
        "last_success_time": (BASE_TIME + timedelta(seconds=index)).isoformat(),
        "run_history": [
            {"run_id": f"r{n}", "status": "success", "counts": {"pages_total": pages, "pages_added": n}}
            for n in range(20)
        ],
    }


def write_fleet(customers_dir: Path, fleet: Fleet) -> None:
    """Customers t00000..t09998 written directly (acme, built for real, is the 10,000th)."""
    most = 0
    for index in range(CUSTOMERS - 1):
        cid = f"t{index:05d}"
        folder = customers_dir / cid
        folder.mkdir(parents=True)
        (folder / "config.yaml").write_text(CONFIG.format(cid=cid), encoding="utf-8")
        state = _state(index)
        if index == 4242:  # a torn or hand-edited file
            (folder / "state.json").write_text('{"status": "ready", "total_', encoding="utf-8")
            fleet.by_status["unreadable"] = fleet.by_status.get("unreadable", 0) + 1
            fleet.attention.add(cid)
            continue
        if state is not None:
            (folder / "state.json").write_text(json.dumps(state), encoding="utf-8")
        status = state["status"] if state else "never_built"
        fleet.by_status[status] = fleet.by_status.get(status, 0) + 1
        if status == "failed":
            fleet.attention.add(cid)
        if state and "total_indexed_documents" in state:
            fleet.pages += state["total_indexed_documents"]
            fleet.chunks += state["total_indexed_chunks"]
            fleet.ready += 1
            when = datetime.fromisoformat(state["last_success_time"]).timestamp()
            fleet.oldest = min(fleet.oldest or when, when)
            if state["total_indexed_documents"] > most:
                most, fleet.largest = state["total_indexed_documents"], []
            if state["total_indexed_documents"] == most:
                fleet.largest.append(cid)


@pytest.fixture(scope="module")
def fleet(module_pg_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    root = tmp_path_factory.mktemp("fleet")
    customers_dir = root / "customers"
    make_customer(customers_dir, "acme", {"ENG": KAFKA})
    build_index(customers_dir, "acme", module_pg_url)
    built = Fleet(customers_dir, module_pg_url, root / "admin.json", Keys(admin=""))
    write_fleet(customers_dir, built)
    built.keys = make_keys(customers_dir, root / "admin.json", ["acme", NO_QUERY])
    acme = json.loads((customers_dir / "acme" / "state.json").read_text())
    built.by_status["ready"] += 1
    built.ready += 1
    built.pages += acme["total_indexed_documents"]
    built.chunks += acme["total_indexed_chunks"]
    yield built


def scrape(base_url: str, admin_key: str) -> tuple[str, list[Any]]:
    with client(base_url, admin_key) as http:
        response = http.get("/metrics")
    assert response.status_code == 200
    samples = [s for family in text_string_to_metric_families(response.text) for s in family.samples]
    return response.text, samples


def one(samples: list[Any], name: str, **labels: str) -> float:
    found = [s.value for s in samples if s.name == name and s.labels == labels]
    assert len(found) == 1, (name, labels, found)
    return float(found[0])


def labelled(samples: list[Any]) -> set[str]:
    return {s.labels["customer_id"] for s in samples if "customer_id" in s.labels}


def check_aggregates(samples: list[Any], fleet: Fleet, acme_bytes: int) -> None:
    for status in ("never_built", "building", "ready", "failed", "deleted", "unreadable"):
        assert one(samples, "tenant_rag_customers", status=status) == fleet.by_status.get(status, 0), status
    assert sum(s.value for s in samples if s.name == "tenant_rag_customers") == CUSTOMERS
    assert one(samples, "tenant_rag_customers_ready") == fleet.ready
    assert one(samples, "tenant_rag_customers_index_pages") == fleet.pages
    assert one(samples, "tenant_rag_customers_index_chunks") == fleet.chunks
    assert one(samples, "tenant_rag_customers_index_bytes") == acme_bytes > 0  # the only store in the database
    assert one(samples, "tenant_rag_customers_oldest_successful_index_timestamp_seconds") == fleet.oldest


def test_default_scrape_is_bounded_and_shows_the_customers_that_need_a_look(fleet: Fleet) -> None:
    with serve_app(create_app(fleet.settings())) as base_url:
        with client(base_url, fleet.keys.customers["acme"]) as http:
            for question in ("kafka retention", "schema registry", "broker disk"):
                assert http.post("/v1/customers/acme/query", json={"question": question}).status_code == 200
            acme_bytes = http.get("/v1/customers/acme/status").json()["index"]["bytes"]
        with client(base_url, fleet.keys.customers[NO_QUERY]) as http:
            assert http.post(f"/v1/customers/{NO_QUERY}/query", json={"question": "x"}).status_code == 409
        text, samples = scrape(base_url, fleet.keys.admin)
    check_aggregates(samples, fleet, acme_bytes)
    assert one(samples, "tenant_rag_api_queries_total", mode="hybrid") == 3
    assert one(samples, "tenant_rag_api_query_latency_seconds_count", mode="hybrid") == 3
    assert one(samples, "tenant_rag_api_query_errors_total", reason="index_not_ready") == 1
    # per-customer series: the failed and unreadable ones, then errors, then traffic, then the largest indexes
    expected = fleet.attention | {NO_QUERY, "acme"}
    expected |= set(fleet.largest[: TOP - len(expected)])
    assert labelled(samples) == expected and len(expected) == TOP
    assert one(samples, "tenant_rag_metrics_customers_labelled", mode="top") == TOP
    assert one(samples, "tenant_rag_queries_total", customer_id="acme", mode="hybrid") == 3
    assert one(samples, "tenant_rag_query_errors_total", customer_id=NO_QUERY, reason="index_not_ready") == 1
    assert one(samples, "tenant_rag_index_ready", customer_id="t04242") == 0.0
    assert one(samples, "tenant_rag_index_bytes", customer_id="acme") == acme_bytes
    # bounded whatever the customer count: at most 40 series per labelled customer plus a fixed set
    assert len(samples) <= 150 + 40 * TOP, len(samples)
    assert len(text) < 100_000  # 'all' writes about 3 MB here


def test_all_per_customer_series_add_up_to_the_aggregates(fleet: Fleet) -> None:
    with serve_app(create_app(fleet.settings(metrics_per_customer="all"))) as base_url:
        with client(base_url, fleet.keys.customers["acme"]) as http:
            acme_bytes = http.get("/v1/customers/acme/status").json()["index"]["bytes"]
        _, samples = scrape(base_url, fleet.keys.admin)
    check_aggregates(samples, fleet, acme_bytes)
    assert len(labelled(samples)) == CUSTOMERS
    for per_customer, total in (
        ("tenant_rag_index_pages", fleet.pages),
        ("tenant_rag_index_chunks", fleet.chunks),
        ("tenant_rag_index_ready", fleet.ready),
        ("tenant_rag_index_bytes", acme_bytes),
    ):
        assert sum(s.value for s in samples if s.name == per_customer) == total, per_customer
    times = [s.value for s in samples if s.name == "tenant_rag_last_successful_index_timestamp_seconds"]
    assert min(times) == fleet.oldest


def test_off_has_no_customer_label_and_a_changed_state_is_read_again(fleet: Fleet) -> None:
    app = create_app(fleet.settings(metrics_per_customer="off"))
    states = app.state.services.states
    with serve_app(app) as base_url:
        _, first = scrape(base_url, fleet.keys.admin)
        parsed = states.parsed
        folder = fleet.customers_dir / "t00005"  # ready, 6 pages
        state = json.loads((folder / "state.json").read_text())
        (folder / "state.json").write_text(json.dumps({**state, "status": "failed", "is_ready_for_queries": False}))
        try:
            _, second = scrape(base_url, fleet.keys.admin)
        finally:
            (folder / "state.json").write_text(json.dumps(state))  # as it was, for the other tests
    assert labelled(first) == labelled(second) == set()
    assert parsed == CUSTOMERS - CUSTOMERS // 10  # every state.json once (t...1 have none)
    assert states.parsed == parsed + 1  # only the changed one again
    failed = "tenant_rag_customers"
    assert one(second, failed, status="failed") == one(first, failed, status="failed") + 1 == 11
    assert one(second, "tenant_rag_customers_ready") == fleet.ready - 1
    assert one(second, "tenant_rag_metrics_customers_labelled", mode="off") == 0
