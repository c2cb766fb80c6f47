"""Benchmark 3 — per-customer query latency and recall in a database shared by many customers.

    python -m bench.bench_query [--customers 100] [--chunks 10000] [--grow 10] [--queries 1000] [--quick]

Phase 1: ``--customers`` stores of ``--chunks`` child chunks each (256-d WordLlama vectors of corpus passages;
two children per parent), each with its HNSW index, in one database. Customer A is queried ``--queries`` times
through the real query path (the pool logged in as A's tenant role, one round trip of ``vector_parent_records``): top-10
parents, latency p50/p95, recall@10 against the exact answer, and the number of parents returned (must always be
10). The floor is a numpy exact scan of the same vectors in memory. Phase 2: the database is copied
(``CREATE DATABASE ... TEMPLATE``), the other customers grow ``--grow`` times in the copy, and A is measured in
both databases side by side, query by query (A's p95 with the others grown / in the control: target <= 1.2), so
that the machine's own drift between two measurements minutes apart does not count as the neighbours' effect.

Stores are bulk-loaded with binary COPY straight into the generation tables (the setup is not what is measured).
The full size (100 x 10,000) loads in a few minutes; the growth to 100,000 chunks each adds rows, btree and GIN
entries to the other 99 stores but does not rebuild their HNSW indexes unless ``--grow-with-index`` (that alone
is hours of builds on 2 cores). ``--quick`` keeps 100 customers with 2,000 chunks each.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np

from bench.common import (
    collector_paused,
    fresh_database,
    latency_summary_ms,
    print_machine,
    ratio,
    write_result,
)
from bench.datagen import chunk_texts

DIM = 256
K = 10
CHUNKS_PER_PARENT = 2
CHUNKS_PER_PAGE = 20


def _config(index: int) -> Any:
    from tenant_rag.config import CustomerConfig

    return CustomerConfig.model_validate(
        {
            "customer_id": f"cust{index:03d}",
            "display_name": f"Customer {index}",
            "export": {"source": "directory", "path": "x"},
        }
    )


EVERYONE = ["*"]  # every row readable by anyone (store format 3 readers; this benchmark measures no permissions)


def _lexical(analyzer: Any, text: str) -> tuple[str, str, int]:
    terms = analyzer.chunk_terms(text, "")
    return terms.terms, terms.freqs, terms.length


def load_store(url: str, index: int, vectors: np.ndarray, start: int = 0, *, vector_index: bool = True) -> None:
    """Create (or extend) customer ``index``'s active generation with ``vectors`` (chunk numbers from ``start``).

    Growing a store drops its HNSW index and rebuilds it (as a full rebuild would) unless ``vector_index`` is False.
    """
    from tenant_rag.db import admin_connection, ensure_vector_types
    from tenant_rag.store.generations import Signature, Target, activate, register_target
    from tenant_rag.store.schema import create_store, store_names
    from tenant_rag.store.writer import CHUNK_COLUMNS, DOCUMENT_COLUMNS, PARENT_COLUMNS
    from tenant_rag.text_analysis import analyzer_for

    analyzer = analyzer_for("simple")
    names = store_names(_config(index))
    target = Target(1, "new", Signature("bench-256", "bench-256", DIM, "simple"))
    n = len(vectors)
    with admin_connection(url) as conn:
        ensure_vector_types(conn, create=True)
        if start == 0:
            create_store(conn, names)
            register_target(conn, names, target)
        else:  # growing an active store: drop its HNSW index, append, rebuild (as a full rebuild would)
            conn.execute(f'DROP INDEX IF EXISTS "{names.schema}".g1_chunks_embedding_idx')
        tables = {kind: names.gen_table(1, kind) for kind in ("documents", "parents", "chunks")}
        from psycopg import sql

        def copy(kind: str, columns: tuple[tuple[str, str], ...], rows: Any) -> None:
            statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
                tables[kind], sql.SQL(", ").join(sql.Identifier(c) for c, _ in columns)
            )
            with conn.cursor().copy(statement) as cp:
                cp.set_types([t for _, t in columns])
                for row in rows:
                    cp.write_row(row)

        first_page, last_page = start // CHUNKS_PER_PAGE, (start + n - 1) // CHUNKS_PER_PAGE
        with conn.transaction():
            copy(
                "documents",
                DOCUMENT_COLUMNS,
                (
                    (f"p{p}", "S", f"Page {p}", None, f"S/p{p}.md", 1, "h", "m", [], [], None, None, 10, 20, EVERYONE)
                    for p in range(first_page, last_page + 1)
                ),
            )
            copy(
                "parents",
                PARENT_COLUMNS,
                (
                    (
                        f"q{c // CHUNKS_PER_PARENT}",
                        f"p{c // CHUNKS_PER_PAGE}",
                        c // CHUNKS_PER_PARENT,
                        "parent",
                        [],
                        EVERYONE,
                    )
                    for c in range(start, start + n, CHUNKS_PER_PARENT)
                ),
            )
            copy(
                "chunks",
                CHUNK_COLUMNS,
                (
                    (
                        f"c{c}",
                        f"q{c // CHUNKS_PER_PARENT}",
                        f"p{c // CHUNKS_PER_PAGE}",
                        "S",
                        c,
                        f"chunk {c}",
                        "ctx",
                        "t",
                        "bench-256",
                        vectors[c - start],
                        *_lexical(analyzer, f"chunk {c}"),
                        EVERYONE,
                    )
                    for c in range(start, start + n)
                ),
            )
        if start and not vector_index:
            return
        conn.execute("SET maintenance_work_mem = '512MB'")
        activate(conn, names, 1)  # (re)builds the HNSW index; activates the generation the first time
        conn.execute("ANALYZE " + ".".join(f'"{p}"' for p in (names.schema, "g1_chunks")))


def real_embeddings(chunks: int, queries: int) -> tuple[np.ndarray, np.ndarray]:
    """WordLlama vectors of ``chunks`` corpus passages (customer A) and of ``queries`` question-like snippets.

    Questions are the first words of other passages, embedded as queries: closer to real use than random vectors.
    """
    from tenant_rag.config import RAGConfig
    from tenant_rag.embedding import get_embedder

    embedder = get_embedder(RAGConfig())
    texts = chunk_texts(chunks + queries, size=700)
    matrix = np.vstack([embedder.embed_documents(texts[i : i + 500]) for i in range(0, chunks, 500)])[:chunks]
    questions = [" ".join(t.split()[:12]) for t in texts[chunks : chunks + queries]]
    query_matrix = np.vstack([embedder.embed_query(q) for q in questions])
    return matrix.astype(np.float32), query_matrix.astype(np.float32)


def others_from(pool: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Another customer's vectors: rows of the real pool, jittered (distinct, but with real structure)."""
    rng = np.random.default_rng(seed)
    rows = pool[rng.integers(0, len(pool), size=n)] + 0.05 * rng.standard_normal((n, pool.shape[1]), dtype=np.float32)
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    return rows.astype(np.float32)


def exact_top_parents(matrix: np.ndarray, query: np.ndarray, k: int) -> list[str]:
    """The floor, with the query path's answer: cosine distance to every chunk in memory, the k pages whose best
    chunk is closest, and for each the parent holding that chunk (one page fills at most one slot)."""
    scores = np.einsum("ij,j->i", matrix, query)  # single-threaded: BLAS threads only add noise on 2 busy cores
    by_page = scores.reshape(-1, CHUNKS_PER_PAGE)
    page_best = by_page.max(axis=1)
    top = np.argpartition(-page_best, k)[:k]
    top = top[np.argsort(-page_best[top])]
    best_chunks = top * CHUNKS_PER_PAGE + by_page[top].argmax(axis=1)
    return [f"q{chunk // CHUNKS_PER_PARENT}" for chunk in best_chunks]


def measure_customer_a(url: str, matrix: np.ndarray, queries: np.ndarray) -> dict[str, Any]:
    """Customer A's query path on the database at ``url``, each query followed by the numpy floor."""
    return measure_side_by_side({"a": url}, matrix, queries)["a"]


def measure_side_by_side(urls: dict[str, str], matrix: np.ndarray, queries: np.ndarray) -> dict[str, dict[str, Any]]:
    """The same queries against customer A in each database of ``urls``, interleaved query by query (the order
    rotating), with the numpy floor after each query: whatever the machine does meanwhile hits all alike."""
    from tenant_rag.db import ensure_vector_types, tenant_pool
    from tenant_rag.store.schema import STORE_FORMAT, store_names
    from tenant_rag.store.search import vector_parent_records
    from tenant_rag.store.visibility import permission_settings

    names = store_names(_config(0)).reading(STORE_FORMAT, enforced=False)  # the permission views, as the query path
    permissions = permission_settings(None)  # rag.permissions: off (the default)
    labels = list(urls)
    pools = {label: tenant_pool(url, names.role) for label, url in urls.items()}  # logged in as A's tenant role
    latencies: dict[str, list[float]] = {label: [] for label in labels}
    recalls: dict[str, list[float]] = {label: [] for label in labels}
    returned: dict[str, list[int]] = {label: [] for label in labels}
    floor: list[float] = []
    with collector_paused():
        for i, query in enumerate(queries):
            answers = {}
            for label in labels[i % len(labels) :] + labels[: i % len(labels)]:
                started = time.perf_counter()
                with pools[label].connection() as conn:  # as CustomerQueryManager._search in vector mode
                    ensure_vector_types(conn)
                    pairs = vector_parent_records(
                        conn, names, 1, query, K, session_role=names.role, permissions=permissions
                    )
                answers[label] = (time.perf_counter() - started, pairs)
            floor_started = time.perf_counter()
            exact = set(exact_top_parents(matrix, query, K))
            floor_elapsed = time.perf_counter() - floor_started
            if i < 10:  # warm-up
                continue
            floor.append(floor_elapsed)
            for label, (elapsed, pairs) in answers.items():
                latencies[label].append(elapsed)
                returned[label].append(len(pairs))
                recalls[label].append(len({hit.parent_id for hit, _ in pairs} & exact) / K)
    return {
        label: {
            "latency": latency_summary_ms(latencies[label]),
            "latencies_ms": [round(x * 1000.0, 4) for x in latencies[label]],  # for bench/results/query.png
            "floor": latency_summary_ms(floor),
            "recall_at_10": round(float(np.mean(recalls[label])), 4),
            "recall_min": round(float(np.min(recalls[label])), 2),
            "rows_returned_min": min(returned[label]),
            "rows_returned_max": max(returned[label]),
        }
        for label in labels
    }


def settle(url: str, timeout: float = 180.0) -> None:
    """Steady state before measuring: VACUUM ANALYZE everything, CHECKPOINT, then wait for autovacuum workers."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")
        conn.execute("CHECKPOINT")  # the load's WAL flushed now, not by a checkpoint during the measurement
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'"
            ).fetchone()
            if not row or row[0] == 0:
                return
            time.sleep(2)


def measure_bare_select(url: str, queries: np.ndarray) -> dict[str, float]:
    """One HNSW SELECT of 40 chunks on a held connection (admin, no role switch): the SQL part alone."""
    import psycopg
    from pgvector.psycopg import register_vector

    from tenant_rag.store.schema import store_names

    names = store_names(_config(0))
    latencies = []
    with psycopg.connect(url, autocommit=True) as conn:
        register_vector(conn)
        conn.execute("SET hnsw.ef_search = 40")
        statement = f'SELECT parent_id FROM "{names.schema}".g1_chunks ORDER BY embedding <=> %s LIMIT 40'
        for i, query in enumerate(queries):
            started = time.perf_counter()
            conn.execute(statement, (query,)).fetchall()
            if i >= 10:
                latencies.append(time.perf_counter() - started)
    return latency_summary_ms(latencies)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100)
    parser.add_argument("--chunks", type=int, default=10_000)
    parser.add_argument("--grow", type=int, default=10)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--after-rounds", type=int, default=2, help="measure A this many times after the growth")
    parser.add_argument(
        "--grow-with-index",
        action="store_true",
        help="rebuild the grown customers' HNSW indexes too (99 x 100k vectors: hours of builds on 2 cores)",
    )
    parser.add_argument("--quick", action="store_true", help="100 customers x 2,000 chunks (grow 10x): ~20 min")
    args = parser.parse_args(argv)
    if args.quick:
        args.chunks = min(args.chunks, 2_000)
    print_machine()
    from tenant_rag.db import close_pools

    with fresh_database("query") as url:
        started = time.perf_counter()
        a, queries = real_embeddings(args.chunks, args.queries + 10)
        for index in range(args.customers):
            load_store(url, index, a if index == 0 else others_from(a, args.chunks, seed=100 + index))
            if index % 10 == 9:
                print(f"  {index + 1} stores loaded, {time.perf_counter() - started:.0f}s", flush=True)
        load_s = time.perf_counter() - started
        print(f"loaded {args.customers} x {args.chunks} chunks in {load_s:.0f}s", flush=True)
        settle(url)
        before = measure_customer_a(url, a, queries)
        bare = measure_bare_select(url, queries)
        print("before growth", _brief(before), flush=True)
        close_pools(url)  # the copy below needs the source database without sessions
        # the others grow in a file copy of this database; the original stays at 1x as the control, so A at 1x
        # and A at 10x are measured side by side, query by query, in the same minutes (same A, same HNSW file)
        with fresh_database("query_grown", copy_of=url) as grown_url:
            grow_started = time.perf_counter()
            extra = args.chunks * (args.grow - 1)
            for index in range(1, args.customers):
                if extra > 0:
                    load_store(
                        grown_url,
                        index,
                        others_from(a, extra, seed=1000 + index),
                        start=args.chunks,
                        vector_index=args.grow_with_index,
                    )
            grow_s = time.perf_counter() - grow_started
            settle(grown_url)
            settle(url)
            urls = {"control": url, "grown": grown_url}
            rounds = [measure_side_by_side(urls, a, queries) for _ in range(max(1, args.after_rounds))]
            for number, pair in enumerate(rounds, 1):
                print(f"after growth, round {number}", {k: _brief(v) for k, v in pair.items()}, flush=True)
            close_pools(grown_url)
        close_pools(url)
    after, control = rounds[-1]["grown"], rounds[-1]["control"]
    p50_vs_floor = ratio(before["latency"]["p50_ms"], before["floor"]["p50_ms"])
    p95_growth = ratio(after["latency"]["p95_ms"], before["latency"]["p95_ms"])
    p95_side_by_side = ratio(after["latency"]["p95_ms"], control["latency"]["p95_ms"])
    figures = {
        "customers": args.customers,
        "chunks_per_customer": args.chunks,
        "grow_factor": args.grow,
        "queries": args.queries,
        "total_chunks_after_growth": args.chunks + (args.customers - 1) * args.chunks * args.grow,
        "before": before,
        "after": after,
        "control": control,
        "after_rounds": rounds,
        "p50_vs_floor": p50_vs_floor,
        "bare_select": bare,
        "a_p95_after_vs_before": p95_growth,
        "a_p95_grown_vs_control": p95_side_by_side,
        "load_s": round(load_s, 1),
        "grow_s": round(grow_s, 1),
        "grown_with_vector_index": args.grow_with_index,
        "targets": {"recall_at_10": ">= 0.95", "p50_vs_floor": "<= 3", "a_p95_grown_vs_control": "<= 1.2"},
    }
    return report(figures, quick=args.quick)


def _brief(result: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in result.items() if key != "latencies_ms"}


def _row(label: str, result: dict[str, Any]) -> list[Any]:
    return [
        label,
        result["latency"]["p50_ms"],
        result["latency"]["p95_ms"],
        result["recall_at_10"],
        f"{result['rows_returned_min']}-{result['rows_returned_max']}",
        result["floor"]["p50_ms"],
        ratio(result["latency"]["p50_ms"], result["floor"]["p50_ms"]),
    ]


def report(figures: dict[str, Any], *, quick: bool) -> dict[str, Any]:
    """Table and notes from the figures; writes bench/results/query.{json,md}."""
    customers, chunks, grow = figures["customers"], figures["chunks_per_customer"], figures["grow_factor"]
    rounds = figures["after_rounds"]
    bare = figures["bare_select"]
    table = [_row("A, others at 1x (before the growth)", figures["before"])]
    for n, pair in enumerate(rounds, 1):
        suffix = f" (side by side, round {n} of {len(rounds)})"
        table.append(_row("A, others at 1x" + suffix, pair["control"]))
        table.append(_row(f"A, others at {grow}x" + suffix, pair["grown"]))
    table.append(["bare HNSW SELECT of 40 chunks (held connection)", bare["p50_ms"], bare["p95_ms"], "", "", "", ""])
    after = rounds[-1]["grown"]
    drift = ratio(after["floor"]["p95_ms"], figures["before"]["floor"]["p95_ms"])
    figures["floor_p95_after_vs_before"] = drift
    notes = [
        f"{customers} customers x {chunks:,} chunks (256-d WordLlama vectors of corpus passages; "
        f"other customers: jittered copies), top-{K} parents, {figures.get('queries', 200)} queries after 10 "
        f"warm-up; then the other {customers - 1} grew {grow}x "
        f"({figures['total_chunks_after_growth']:,} chunks in the database)",
        f"p50 / numpy exact floor = {figures['p50_vs_floor']}x (target <= 3x); recall target >= 0.95; "
        f"A's p95 with the others at {grow}x / at 1x, side by side (last round) = "
        f"{figures['a_p95_grown_vs_control']}x (target <= 1.2x)",
        f"side by side: the growth happens in a file copy of the database (CREATE DATABASE ... TEMPLATE, so A's "
        f"rows and HNSW index are byte for byte the same), the original stays at 1x as the control, and every "
        f"query goes to A in both databases of the one server, alternating which goes first; measured one after "
        f"the other instead (after / before the growth, minutes apart) A's p95 ratio is "
        f"{figures['a_p95_after_vs_before']}x, while the numpy floor, which no database state touches, moved "
        f"{drift}x between the two (the machine itself)",
        "latency is the vector query path minus embedding: checkout from A's tenant-role pool, then one round "
        "trip setting the role and scan settings and running HNSW search, grouping to parents and the parents' "
        "rows in one statement (tenant_rag.store.search.vector_parent_records); measured after VACUUM ANALYZE and "
        "CHECKPOINT with no autovacuum running (steady state); the bare SELECT row is the SQL alone",
    ]
    if not figures.get("grown_with_vector_index", True):
        notes.append(
            f"the other customers grew {grow}x in rows (heap, btree and GIN indexes) but their HNSW indexes were not "
            "rebuilt (that is hours of builds on 2 cores); A's store and index are the same before and after"
        )
    if quick or customers < 100 or chunks < 10_000:
        notes.append(f"scaled down from 100 x 10,000 to {customers} x {chunks:,} to fit the time")
    return write_result(
        "query",
        "Benchmark 3: per-customer query latency in a shared database",
        figures=figures,
        headers=["measure", "p50 ms", "p95 ms", "recall@10", "rows returned", "numpy floor p50 ms", "p50 / floor"],
        rows=table,
        notes=notes,
        quick=quick,
    )


if __name__ == "__main__":
    main()
