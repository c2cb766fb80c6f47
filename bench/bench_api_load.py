"""Load run of the query API: N concurrent clients for D seconds on loopback against a real index.

    python -m bench.bench_api_load [--clients 50] [--duration 60] [--quick]

A customer is built from the smallest shared corpus (a generated one without ../shared) with the offline embedder;
the API runs in its own process (uvicorn, as ``python -m tenant_rag.api`` serves it) and the clients are asyncio
tasks with keep-alive connections, each sending one query after another with a random question made from page
titles (hybrid retrieval, top_k 3). Reports throughput, client-side p50/p95/p99 and errors (any non-200 or
transport error), plus the server's own retrieval latency from the responses. Results: bench/results/api_load.json.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.common import ROOT, fresh_database, latency_summary_ms, percentile, print_machine, timed, write_result
from bench.corpora import corpus_exports, write_customer

CUSTOMER = "loadtest"


def _questions(export_dir: Path, count: int = 300, seed: int = 11) -> list[str]:
    titles = []
    for path in sorted(export_dir.rglob("*.md")):
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("# "):
                titles.append(re.sub(r"[^\w\s-]", " ", line[2:]).strip())
                break
    titles = [t for t in titles if t] or ["how do I configure the service"]
    rng = random.Random(seed)
    forms = ("how do I {}?", "what is {}", "{} best practices", "explain {}")
    return [rng.choice(forms).format(rng.choice(titles).lower()) for _ in range(count)]


def _start_server(env: dict[str, str], port: int, log_path: Path) -> subprocess.Popen[bytes]:
    # the server's log goes to a file: an unread pipe would fill up and stall the server under load
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "tenant_rag.api"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"API server exited: {log_path.read_text(errors='replace')[-4000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("API server did not start within 120 s")


async def _client(
    http: httpx.AsyncClient, questions: list[str], seed: int, deadline: float, out: dict[str, Any]
) -> None:
    rng = random.Random(seed)
    while time.perf_counter() < deadline:
        body = {"question": rng.choice(questions)}
        started = time.perf_counter()
        try:
            response = await http.post(f"/v1/customers/{CUSTOMER}/query", json=body)
            elapsed = time.perf_counter() - started
            if response.status_code == 200:
                out["latencies"].append(elapsed)
                out["server_ms"].append(float(response.json()["latency_ms"]))
            else:
                out["errors"].append(f"HTTP {response.status_code}: {response.text[:200]}")
        except httpx.HTTPError as exc:
            out["errors"].append(f"{type(exc).__name__}: {exc}")


async def _load(
    base_url: str, key: str, questions: list[str], clients: int, duration: float, *, warm_up: bool = True
) -> dict[str, Any]:
    out: dict[str, Any] = {"latencies": [], "server_ms": [], "errors": []}
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base_url, headers={"X-API-Key": key}, limits=limits, timeout=60) as http:
        for question in questions[:10] if warm_up else []:  # warm-up: model loaded, pool connections open
            (await http.post(f"/v1/customers/{CUSTOMER}/query", json={"question": question})).raise_for_status()
        started = time.perf_counter()
        deadline = started + duration
        await asyncio.gather(*(_client(http, questions, seed, deadline, out) for seed in range(clients)))
        out["wall_s"] = time.perf_counter() - started
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load")
    parser.add_argument("--quick", action="store_true", help="10 s instead of 60 s")
    args = parser.parse_args(argv)
    duration = 10.0 if args.quick else args.duration
    print_machine()
    logging.getLogger("httpx").setLevel(logging.WARNING)

    from tenant_rag.api.keys import AdminKey, CustomerKeyStore
    from tenant_rag.customers import CustomerManager
    from tenant_rag.manager import CustomerRAGManager

    with tempfile.TemporaryDirectory(prefix="bench-api-") as tmp, fresh_database("api_load") as db_url:
        base = Path(tmp)
        export = corpus_exports(base / "exports", quick=True)[0]
        customers_dir = base / "customers"
        folder = write_customer(customers_dir, CUSTOMER, export.export_dir)
        config = CustomerManager(customers_dir).load(CUSTOMER)
        manager = CustomerRAGManager(config, customer_dir=folder, database_url=db_url)
        build, stats = timed("build", lambda: manager.build_index(export.export_dir))
        print(f"indexed {export.name}: {stats['pages_total']} pages, {stats['chunks']} chunks in {build.seconds:.1f} s")
        key = CustomerKeyStore(customers_dir).create(CUSTOMER, label="bench").key
        admin_file = base / "admin_key.json"
        AdminKey(None, admin_file).set_new()

        port = int(os.environ.get("TENANT_RAG_BENCH_API_PORT", "18765"))
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(ROOT / "include"), str(ROOT / "plugins"), str(ROOT)]),
            "TENANT_RAG_API_CUSTOMERS_DIR": str(customers_dir),
            "TENANT_RAG_API_DATABASE_URL": db_url,
            "TENANT_RAG_API_ADMIN_KEY_FILE": str(admin_file),
            "TENANT_RAG_API_PORT": str(port),
        }
        server = _start_server(env, port, base / "api-server.log")
        questions = _questions(export.export_dir)
        try:
            base_url = f"http://127.0.0.1:{port}"
            single = asyncio.run(_load(base_url, key, questions, 1, min(5.0, duration)))
            result = asyncio.run(_load(base_url, key, questions, args.clients, duration, warm_up=False))
        finally:
            server.terminate()
            server.wait(timeout=30)

    latencies, errors = result["latencies"], result["errors"]
    summary = latency_summary_ms(latencies)
    p99 = round(percentile([s * 1000 for s in latencies], 99), 3)
    throughput = round(len(latencies) / result["wall_s"], 1)
    server_p50 = round(percentile(result["server_ms"], 50), 3)
    single_p50 = round(percentile([s * 1000 for s in single["latencies"]], 50), 3)
    figures = {
        "clients": args.clients,
        "duration_s": round(result["wall_s"], 1),
        "requests_ok": len(latencies),
        "errors": len(errors),
        "throughput_rps": throughput,
        "p50_ms": summary["p50_ms"],
        "p95_ms": summary["p95_ms"],
        "p99_ms": p99,
        "mean_ms": summary["mean_ms"],
        "max_ms": round(max(latencies) * 1000, 3) if latencies else None,
        "server_retrieval_p50_ms": server_p50,
        "corpus": export.name,
        "pages": stats["pages_total"],
        "chunks": stats["chunks"],
        "index_build_s": round(build.seconds, 1),
        "first_errors": errors[:5],
        "single_client_p50_ms": single_p50,
        "single_client_errors": len(single["errors"]),
        "pool_max_size": int(os.environ.get("TENANT_RAG_POOL_MAX_SIZE", "4")),
    }
    rows = [
        [
            args.clients,
            figures["duration_s"],
            len(latencies),
            len(errors),
            throughput,
            summary["p50_ms"],
            p99,
            server_p50,
        ]
    ]
    return write_result(
        "api_load",
        f"Query API under load: {args.clients} clients, loopback",
        figures=figures,
        headers=["clients", "seconds", "requests", "errors", "req/s", "p50 ms", "p99 ms", "server p50 ms"],
        rows=rows,
        notes=[
            f"corpus {export.name}: {stats['pages_total']} pages, {stats['chunks']} chunks (offline embedder, hybrid)",
            "client and server share the machine's cores; p50/p99 are client-side round trips",
            f"one client alone: p50 {single_p50} ms (server retrieval includes waiting for a pooled connection)",
        ],
        quick=args.quick or duration < 60 or args.clients < 50,
    )


if __name__ == "__main__":
    main()
