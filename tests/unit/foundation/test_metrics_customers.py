"""Which customers get per-customer series on /metrics, and what those series say (no server needed)."""

from __future__ import annotations

import json
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from tenant_rag.api.fleet import IndexGauge, StateSummaries
from tenant_rag.api.metrics_customers import CustomerCollector, CustomerQueryStats, choose


def gauge(cid: str, pages: int = 1, status: str = "ready") -> IndexGauge:
    return IndexGauge(cid, pages, pages, None, None, status == "ready", status)


def test_top_ranks_attention_then_errors_then_traffic_then_size() -> None:
    gauges = [gauge("a", 10), gauge("b", 99), gauge("c", 1, "failed"), gauge("d", 5), gauge("e", 50)]
    activity = {"d": (2.0, 2.0), "a": (0.0, 40.0), "gone": (0.0, 1.0)}
    assert choose(gauges, activity, "top", 1) == {"c"}
    assert choose(gauges, activity, "top", 2) == {"c", "d"}
    assert choose(gauges, activity, "top", 3) == {"c", "d", "a"}
    assert choose(gauges, activity, "top", 4) == {"c", "d", "a", "gone"}  # traffic before size
    assert choose(gauges, activity, "top", 5) == {"c", "d", "a", "gone", "b"}
    assert choose(gauges, activity, "top", 6) == {"a", "b", "c", "d", "e", "gone"}  # everyone fits
    assert choose(gauges, activity, "all", 1) == {"a", "b", "c", "d", "e", "gone"}
    assert choose(gauges, activity, "off", 10) == set()


def test_per_customer_families_only_for_the_chosen() -> None:
    stats = CustomerQueryStats((0.1, 1.0))
    for seconds in (0.05, 0.5, 3.0):
        stats.observe("a", "hybrid", seconds)
    stats.observe("b", "vector", 0.05)
    stats.failed("c", "busy")
    stats.triggered("a", "queued")
    registry = CollectorRegistry()
    gauges = [gauge("a", 3), gauge("b", 2), gauge("c", 1, "failed")]
    registry.register(CustomerCollector(lambda: gauges, stats, "top", 2))
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(generate_latest(registry).decode())
        for s in family.samples
    }
    buckets = {
        le: samples[("tenant_rag_query_latency_seconds_bucket", (("customer_id", "a"), ("le", le)))]
        for le in ("0.1", "1.0", "+Inf")
    }
    assert buckets == {"0.1": 1.0, "1.0": 2.0, "+Inf": 3.0}
    assert samples[("tenant_rag_query_latency_seconds_sum", (("customer_id", "a"),))] == 3.55
    assert samples[("tenant_rag_queries_total", (("customer_id", "a"), ("mode", "hybrid")))] == 3
    assert samples[("tenant_rag_query_errors_total", (("customer_id", "c"), ("reason", "busy")))] == 1
    assert samples[("tenant_rag_index_triggers_total", (("customer_id", "a"), ("outcome", "queued")))] == 1
    assert not any(dict(labels).get("customer_id") == "b" for _, labels in samples)  # c (failed), a (traffic)
    assert samples[("tenant_rag_customers", (("status", "failed"),))] == 1
    assert samples[("tenant_rag_customers_index_pages", ())] == 6
    assert ("tenant_rag_customers_index_bytes", ()) not in samples  # unknown bytes: no sample, never a wrong 0


def test_state_summaries_follow_the_file(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    states = StateSummaries(tmp_path)
    state = {"customer_id": "a", "status": "ready", "is_ready_for_queries": True, "total_indexed_documents": 4}
    (tmp_path / "a" / "state.json").write_text(json.dumps(state))
    first = states.gauges(["a", "b"], {"a": 100})
    assert [(g.customer_id, g.status, g.pages, g.bytes, g.ready) for g in first] == [
        ("a", "ready", 4, 100, True),
        ("b", "never_built", 0, 0, False),
    ]
    assert states.gauges(["a", "b"], None)[0].bytes is None and states.parsed == 1
    (tmp_path / "a" / "state.json").write_text("{not json")
    (tmp_path / "b" / "state.json").write_text(json.dumps({"customer_id": "b", "status": "failed"}))
    again = states.gauges(["a", "b"], None)
    assert [(g.status, g.pages, g.ready) for g in again] == [("unreadable", 0, False), ("failed", 0, False)]
    assert states.parsed == 3
