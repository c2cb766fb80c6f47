"""``GET /metrics`` at 10,000 customers: series, size and scrape time, before and after, side by side in one run.

    python -m bench.bench_metrics [--quick] [--warm 5]

Writes 10,000 customer folders (a full config.yaml and a state.json with a 20-run history each, ~10 kB) and serves
the real API app with uvicorn on loopback, one fresh app per variant, in this order:

* ``before``: the reading of the code before this benchmark existed, every customer labelled: every config.yaml
  parsed (cached by file stamp afterwards) and every state.json loaded in full on every scrape (rendered by
  today's collector, so its series include the dozen aggregates of ``off``);
* ``all``: TENANT_RAG_API_METRICS_PER_CUSTOMER=all (every customer labelled, state.json parsed only when changed);
* ``top``: the default, 20 customers labelled;
* ``off``: aggregates only.

Per variant: the cold scrape (the app's first), the median of ``--warm`` warm scrapes, and a scrape after 1 % of
the state.json files changed. No database is configured, so no variant reads index bytes (that catalog query is
cached for index_stats_ttl_seconds in every variant). ``--quick``: 2,000 customers. Nothing here asserts.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from bench.common import print_machine, ratio, write_result

VARIANTS = ("before", "all", "top", "off")


def write_customers(folder: Path, count: int) -> None:
    from tenant_rag.config import CustomerConfig, dump_customer_config
    from tenant_rag.runs.record import RunCounts, RunRecord, RunSummary
    from tenant_rag.state import CustomerState, RAGStatus

    base = datetime(2026, 11, 1, tzinfo=UTC)
    for index in range(count):
        cid = f"c{index:05d}"
        customer = folder / cid
        customer.mkdir(parents=True)
        config = CustomerConfig.model_validate(
            {
                "customer_id": cid,
                "display_name": f"Customer {index}",
                "export": {
                    "source": "confluence",
                    "base_url": f"https://tenant-{index}.atlassian.net/wiki",
                    "space_keys": ["ENG", "OPS"],
                },
            }
        )
        (customer / "config.yaml").write_text(dump_customer_config(config), encoding="utf-8")
        pages = 100 + index % 900
        runs = [
            RunSummary(
                run_id=f"scheduled__{(base - timedelta(days=n)).isoformat()}",
                run_type="scheduled",
                status="success",
                finished_at=base - timedelta(days=n),
                duration_s=12.5,
                counts=RunCounts(pages_added=n % 3, pages_updated=n % 7, chunks=3 * pages),
            )
            for n in range(20)
        ]
        state = CustomerState(
            customer_id=cid,
            status=RAGStatus.FAILED if index % 100 == 7 else RAGStatus.READY,
            rag_collection_name=config.collection_name,
            last_success_time=base + timedelta(seconds=index),
            total_indexed_documents=pages,
            total_indexed_chunks=3 * pages,
            embedding_model="wordllama-l2-256",
            embedding_dimensions=256,
            is_ready_for_queries=True,
            last_run_stats=RunRecord(
                run_id=runs[0].run_id,
                status="success",
                counts=RunCounts(pages_total=pages, chunks=3 * pages),
                durations_s={"export": 1.0},
            ),
            run_history=runs,
        )
        (customer / "state.json").write_text(state.model_dump_json(indent=2), encoding="utf-8")


def legacy_index_gauges(services: Any) -> list[Any]:
    """What ``Services.index_gauges`` did before: each customer's config (cached by stamp) and full state."""
    from tenant_rag.api.fleet import IndexGauge

    gauges = []
    for cid in services.directory.ids():
        entry = services.directory.get(cid)
        if entry is None:
            continue
        state = services.directory.state(entry)
        last = state.last_success_time.timestamp() if state.last_success_time else None
        gauges.append(
            IndexGauge(
                cid,
                state.total_indexed_documents,
                state.total_indexed_chunks,
                None,
                last,
                bool(state.is_ready_for_queries),
                str(state.status),
            )
        )
    return gauges


@contextmanager
def serving(customers: Path, variant: str) -> Iterator[str]:
    import uvicorn

    from tenant_rag.api.app import create_app
    from tenant_rag.api.services import Services
    from tenant_rag.api.settings import ApiSettings

    settings = ApiSettings(
        customers_dir=customers,
        admin_key_file=customers.parent / "admin.json",
        start_embedded_db=False,
        metrics_public=True,
        metrics_per_customer="all" if variant == "before" else variant,  # type: ignore[arg-type]
    )
    original = Services.index_gauges
    if variant == "before":
        Services.index_gauges = legacy_index_gauges  # type: ignore[method-assign]
    try:
        app = create_app(settings)  # the metrics collector keeps the bound method it got here
    finally:
        Services.index_gauges = original  # type: ignore[method-assign]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


def scrape(http: httpx.Client) -> tuple[float, int, int]:
    started = time.perf_counter()
    response = http.get("/metrics")
    seconds = time.perf_counter() - started
    response.raise_for_status()
    series = sum(1 for line in response.text.splitlines() if line and not line.startswith("#"))
    return seconds, series, len(response.content)


def touch_states(customers: Path, count: int, round_: int) -> None:
    """Rewrite ``count`` state.json files as a finished run would (another count, a new file)."""
    for index in range(0, count * 100, 100):
        path = customers / f"c{index:05d}" / "state.json"
        state = json.loads(path.read_text())
        state["total_indexed_documents"] += 1 + round_
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state))
        os.replace(tmp, path)


def measure(customers: Path, variant: str, warm: int, count: int, round_: int) -> dict[str, Any]:
    with serving(customers, variant) as base_url, httpx.Client(base_url=base_url, timeout=600) as http:
        cold_s, series, size = scrape(http)
        warm_s = [scrape(http)[0] for _ in range(warm)]
        touch_states(customers, max(1, count // 100), round_)
        changed_s = scrape(http)[0]
    return {
        "cold_s": round(cold_s, 3),
        "warm_median_s": round(statistics.median(warm_s), 3),
        "after_1pct_changed_s": round(changed_s, 3),
        "series": series,
        "bytes": size,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2,000 customers")
    parser.add_argument("--warm", type=int, default=5)
    args = parser.parse_args()
    print_machine()
    for name in ("AIRFLOW_CONN_TENANT_RAG_DB", "TENANT_RAG_DATABASE_URL"):
        os.environ.pop(name, None)
    count = 2000 if args.quick else 10_000
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="tenantrag-metrics-") as tmp:
        customers = Path(tmp) / "customers"
        started = time.perf_counter()
        write_customers(customers, count)
        print(f"{count} customers written in {time.perf_counter() - started:.1f}s", flush=True)
        for round_, variant in enumerate(VARIANTS):
            results[variant] = measure(customers, variant, args.warm, count, round_)
            print(variant, results[variant], flush=True)
    before, top = results["before"], results["top"]
    rows = [
        [v, r["series"], f"{r['bytes'] / 1024:,.1f}", r["cold_s"], r["warm_median_s"], r["after_1pct_changed_s"]]
        for v, r in results.items()
    ]
    figures = {
        "customers": count,
        "variants": results,
        "before_over_top": {
            "series": ratio(before["series"], top["series"]),
            "bytes": ratio(before["bytes"], top["bytes"]),
            "cold_s": ratio(before["cold_s"], top["cold_s"]),
            "warm_s": ratio(before["warm_median_s"], top["warm_median_s"]),
        },
        "all_over_top_warm_s": ratio(results["all"]["warm_median_s"], top["warm_median_s"]),
    }
    write_result(
        "metrics",
        f"GET /metrics with {count:,} customers (real HTTP, one fresh app per row, side by side)",
        figures=figures,
        headers=["variant", "series", "kB", "cold scrape s", f"warm scrape s (median of {args.warm})", "1 % changed s"],
        rows=rows,
        quick=args.quick,
        notes=[
            "before: every customer labelled, every config.yaml parsed on the cold scrape (then cached by stamp), "
            "every state.json loaded in full on every scrape (the code before TENANT_RAG_API_METRICS_PER_CUSTOMER); "
            "all/top/off: state.json parsed only when changed (five fields), no config parsed",
            f"before / top (the default): series x{figures['before_over_top']['series']}, "
            f"bytes x{figures['before_over_top']['bytes']}, cold scrape x{figures['before_over_top']['cold_s']}, "
            f"warm scrape x{figures['before_over_top']['warm_s']}",
            "1 % changed: that many state.json files rewritten (a finished run each) before the scrape",
            "no database: index bytes are not read in any row (a catalog query cached for index_stats_ttl_seconds)",
        ],
    )


if __name__ == "__main__":
    main()
