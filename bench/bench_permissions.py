"""Permission-aware retrieval: query latency with the permission filter against without it, recall, always k rows.

    python -m bench.bench_permissions [--chunks 10000] [--queries 200] [--quick]

One customer's store of ``--chunks`` chunks (corpus passages, 256-d WordLlama vectors, the offline embedder's),
pages of 10 chunks under 5 parents, written by the store's own writer (``store.writer.replace_pages``: binary COPY
with the analysed terms and each page's readers, store format 3) and activated (HNSW, GIN, btree builds). Pages
come in subtrees of 5 consecutive pages (a restricted parent hides its subtree); each subtree gets a random rank,
and three users see all but the lowest 10 %, 50 % and 90 % of the subtrees (a group each: ``g:sees10`` ...).

Each question goes through ``CustomerQueryManager.query`` (tenant pool, permission settings, search, parents'
records; query history off, the question embedded beforehand so the embedder does not dilute the figures) in every
mode (vector, lexical, hybrid) and every cell, side by side, the cells' order rotating query by query: the
customer's ``rag.permissions: off``, then ``enforce`` as each of the three users, for vector and hybrid once with
each ``rag.permissions_vector_search`` (``exact``, the default, and ``hnsw``). Checked against brute force
(``bench.exact_reference``): vector recall@10 against the exact top 10 of the visible pages (1.0 for exact);
lexical top 10 against an exact BM25 over the visible chunks; rows returned (k whenever k readable pages qualify);
and no page the user may not read in any answer. Then the timing probe (``bench.permission_timing``, planted in
pages hidden from every user): does a word or a vector that only hidden pages match answer at another speed than one
nothing matches, with either vector search setting?
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np

from bench import permission_timing
from bench.common import collector_paused, fresh_database, latency_summary_ms, print_machine, ratio, write_result
from bench.datagen import chunk_texts
from bench.exact_reference import ExactBM25, check_answers, targets_missed

K = 10
CHUNKS_PER_PAGE = 10
CHUNKS_PER_PARENT = 2
SUBTREE_PAGES = 5
HIDDEN = (10, 50, 90)  # percent of the pages one user may not read
MODES = ("vector", "lexical", "hybrid")
SEARCHES = ("exact", "hnsw")  # rag.permissions_vector_search under enforce (exact: the default)
WARM_UP = 10
HEADERS = ["mode", "permissions", "hidden", "visible pages", "p50 ms", "p95 ms", "p50 / off", "p95 / off"]
HEADERS += ["recall@10 / exact top-10", "short", "hidden rows"]


def cells(mode: str) -> tuple[str, ...]:
    """``off``, then enforcement for each hidden share: with both vector search settings where a vector side runs
    (vector, hybrid), once for lexical (the setting does not touch it). "enforce hnsw 50%", "enforce 10%"..."""
    settings = ("enforce",) if mode == "lexical" else tuple(f"enforce {s}" for s in SEARCHES)
    return ("off", *(f"{setting} {h}%" for h in HIDDEN for setting in settings))


def hidden_share(cell: str) -> float:
    return 0.0 if cell == "off" else int(cell.rsplit(" ", 1)[1].rstrip("%")) / 100


def _config(permissions: str, vector_search: str = "exact") -> Any:
    from tenant_rag.config import CustomerConfig

    return CustomerConfig.model_validate(
        {
            "customer_id": "bench_permissions",
            "display_name": "Bench permissions",
            "export": {"source": "directory", "path": "x"},
            "rag": {"permissions": permissions, "permissions_vector_search": vector_search, "query_history_limit": 0},
        }
    )


def page_ranks(pages: int, seed: int = 5) -> np.ndarray:
    """Each page's rank in [0, 1): its subtree's place in a random order of the subtrees (a user who may not read
    ``h`` % of the pages misses those ranked below ``h / 100``)."""
    subtrees = -(-pages // SUBTREE_PAGES)
    order = np.random.default_rng(seed).permutation(subtrees) / subtrees
    return order[np.arange(pages) // SUBTREE_PAGES]


def page_readers(rank: float) -> list[str]:
    return ["g:admins", *(f"g:sees{h}" for h in HIDDEN if rank >= h / 100)]


def build_pages(texts: list[str], vectors: np.ndarray, model_id: str, ranks: np.ndarray) -> list[Any]:
    """What the chunk stage would hand the writer: pages of ``CHUNKS_PER_PAGE`` chunks with their readers."""
    from tenant_rag.store.writer import ChunkRow, DocumentRow, PageRows, ParentRow
    from tenant_rag.text_analysis import analyzer_for

    analyzer = analyzer_for("english")
    pages = []
    for page_no in range(len(texts) // CHUNKS_PER_PAGE):
        page_id, first = f"pg{page_no:05d}", page_no * CHUNKS_PER_PAGE
        parents, chunks = [], []
        for ordinal in range(CHUNKS_PER_PAGE):
            i, parent_no = first + ordinal, ordinal // CHUNKS_PER_PARENT
            parent_id = f"{page_id}#{parent_no}"
            if ordinal % CHUNKS_PER_PARENT == 0:
                body = "\n".join(texts[i : i + CHUNKS_PER_PARENT])
                parents.append(ParentRow(parent_id, page_id, parent_no, body, [f"Part {parent_no}"]))
            context = f"Page {page_no} > Part {parent_no}"
            row = (f"{parent_id}.c{ordinal}", parent_id, page_id, "BENCH", ordinal, texts[i], context, f"h{i}")
            chunks.append(ChunkRow(*row, model_id, vectors[i], analyzer.chunk_terms(texts[i], context)))
        readers = page_readers(float(ranks[page_no]))
        meta = (page_id, "BENCH", f"Page {page_no}", None, f"BENCH/{page_id}.md", 1, f"c{page_no}", "m", ["Home"], [])
        document = DocumentRow(*meta, None, None, len(parents), len(chunks), readers)
        pages.append(PageRows(document, parents, chunks))
    return pages


def load(url: str, pages: list[Any]) -> float:
    """Write the pages through the store's writer (50 a transaction), build the indexes, activate; seconds."""
    from tenant_rag.db import admin_connection, ensure_vector_types
    from tenant_rag.store.generations import Target, activate, register_target, signature_for
    from tenant_rag.store.schema import create_store, store_names
    from tenant_rag.store.writer import analyze_generation, replace_pages

    config = _config("off")
    names = store_names(config)
    started = time.perf_counter()
    with admin_connection(url) as conn:
        ensure_vector_types(conn, create=True)
        create_store(conn, names)
        register_target(conn, names, Target(1, "new", signature_for(config.rag)))
        for start in range(0, len(pages), 50):
            replace_pages(conn, names, 1, pages[start : start + 50])
        conn.execute("SET maintenance_work_mem = '512MB'")
        activate(conn, names, 1)
        analyze_generation(conn, names, 1)
    return time.perf_counter() - started


class PrecomputedEmbedder:
    """The query embedder, answering from vectors the real one made beforehand (same vectors, no model time)."""

    def __init__(self, model_id: str, vectors: dict[str, np.ndarray]) -> None:
        self.model_id, self.dimensions, self.calls, self.texts_embedded = model_id, 256, 0, 0
        self.vectors = vectors

    def embed_documents(self, texts: Any) -> np.ndarray:
        return np.vstack([self.vectors[t] for t in texts])

    def embed_query(self, text: str) -> np.ndarray:
        return self.vectors[text]


def embed(texts: list[str], questions: list[str]) -> tuple[np.ndarray, np.ndarray, str]:
    from tenant_rag.embedding import get_embedder

    embedder = get_embedder(_config("off").rag)
    matrix = np.vstack([embedder.embed_documents(texts[i : i + 500]) for i in range(0, len(texts), 500)])
    queries = np.vstack([embedder.embed_query(q) for q in questions])
    return matrix.astype(np.float32), queries.astype(np.float32), embedder.model_id


def measure(url: str, questions: list[str], embedder: PrecomputedEmbedder) -> dict[str, Any]:
    """Every question in every mode and cell, interleaved; latencies and the pages each answer returned."""
    from tenant_rag.permissions import Identity
    from tenant_rag.query import CustomerQueryManager

    manager = CustomerQueryManager(url, embedder_factory=lambda rag, customer: embedder)
    asking: dict[str, tuple[Any, Any]] = {"off": (_config("off"), None)}
    for cell in {c for m in MODES for c in cells(m)} - {"off"}:
        h = round(hidden_share(cell) * 100)
        search = "hnsw" if "hnsw" in cell else "exact"
        asking[cell] = (_config("enforce", search), Identity(f"user{h}", (f"sees{h}",)))
    latencies: dict[tuple[str, str], list[float]] = {(m, c): [] for m in MODES for c in cells(m)}
    answers: dict[tuple[str, str], list[list[str]]] = {(m, c): [] for m in MODES for c in cells(m)}
    with collector_paused():
        for i, question in enumerate(questions):
            for mode in MODES:
                order = cells(mode)
                for cell in order[i % len(order) :] + order[: i % len(order)]:
                    config, identity = asking[cell]
                    started = time.perf_counter()
                    result = manager.query(config, question, top_k=K, mode=mode, identity=identity)
                    elapsed = time.perf_counter() - started
                    if i >= WARM_UP:
                        latencies[(mode, cell)].append(elapsed)
                        answers[(mode, cell)].append([d.metadata["page_id"] for d in result.documents])
    return {"latencies": latencies, "answers": answers}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=200, help="measured questions per cell (after 10 warm-up)")
    parser.add_argument("--quick", action="store_true", help="2,000 chunks, 40 questions: a smoke run")
    args = parser.parse_args(argv)
    if args.quick:
        args.chunks, args.queries = min(args.chunks, 2_000), min(args.queries, 40)
    print_machine()
    from tenant_rag.db import close_pools

    started = time.perf_counter()
    total = args.queries + WARM_UP
    texts = chunk_texts(args.chunks + total, size=700)
    texts, questions = texts[: args.chunks], [" ".join(t.split()[:12]) for t in texts[args.chunks :]]
    matrix, query_vectors, model_id = embed(texts, questions)
    ranks = page_ranks(args.chunks // CHUNKS_PER_PAGE)
    probe = permission_timing.Probe(texts, matrix, ranks, CHUNKS_PER_PAGE)  # plants words and vectors: hidden
    embedder = PrecomputedEmbedder(model_id, dict(zip(questions, query_vectors, strict=True)) | probe.vectors())
    pages = build_pages(texts, matrix, model_id, ranks)
    bm25 = ExactBM25([c.lexical for p in pages for c in p.chunks], np.arange(args.chunks) // CHUNKS_PER_PAGE)
    print(f"inputs ready in {time.perf_counter() - started:.0f}s", flush=True)
    with fresh_database("permissions") as url:
        load_s = load(url, pages)
        print(f"loaded {args.chunks:,} chunks in {load_s:.1f}s", flush=True)
        measured_at = time.perf_counter()
        run = measure(url, questions, embedder)
        measure_s = time.perf_counter() - measured_at
        close_pools(url)
        with fresh_database("permissions_terms", copy_of=url) as filtered_url:
            permission_timing.filtered_copy(filtered_url)
            urls = {"indexed": url, "filtered": filtered_url}
            timing = permission_timing.run(urls, embedder, probe, questions, WARM_UP)
            close_pools(url)
            close_pools(filtered_url)
    shares = {c: hidden_share(c) for m in MODES for c in cells(m)}
    checks = check_answers(
        run["answers"],
        questions[WARM_UP:],
        query_vectors[WARM_UP:],
        matrix,
        bm25,
        ranks,
        shares,
        k=K,
        chunks_per_page=CHUNKS_PER_PAGE,
    )
    results: dict[str, dict[str, Any]] = {}
    for mode in MODES:
        off = latency_summary_ms(run["latencies"][(mode, "off")])
        for cell in cells(mode):
            latency = latency_summary_ms(run["latencies"][(mode, cell)])
            results[f"{mode} / {cell}"] = {
                "mode": mode,
                "cell": cell,
                "latency": latency,
                "p50_vs_off": ratio(latency["p50_ms"], off["p50_ms"]),
                "p95_vs_off": ratio(latency["p95_ms"], off["p95_ms"]),
                **checks[(mode, cell)],
            }
    figures = {
        "chunks": args.chunks,
        "pages": args.chunks // CHUNKS_PER_PAGE,
        "queries_per_cell": args.queries,
        "load_s": round(load_s, 1),
        "measure_s": round(measure_s, 1),
        "cells": results,
        "timing": {key: value for key, value in timing.items() if key != "rows"},
        "targets": {
            "recall_at_10": ">= 0.95 (off, enforce hnsw); 1.0 (enforce exact: it is exact)",
            "short_results": "0",
            "hidden_rows_returned": "0",
        },
        "targets_missed": targets_missed(results),
    }
    print("targets missed:", figures["targets_missed"] or "none", flush=True)
    return report(figures, timing["rows"], quick=args.quick)


def report(figures: dict[str, Any], timing_rows: list[list[Any]], *, quick: bool) -> dict[str, Any]:
    rows = []
    for cell in figures["cells"].values():
        quality = cell["recall_at_10"] if cell["mode"] == "vector" else cell["exact_top_k_share"]
        latency = cell["latency"]
        setting, hidden = ("off", "0%") if cell["cell"] == "off" else cell["cell"].rsplit(" ", 1)
        rows.append([cell["mode"], setting, hidden, cell["visible_pages"], latency["p50_ms"], latency["p95_ms"]])
        rows[-1] += [cell["p50_vs_off"], cell["p95_vs_off"], "" if quality is None else quality]
        rows[-1] += [cell["short_results"], cell["hidden_rows_returned"]]
    notes = [
        f"one store of {figures['chunks']:,} chunks ({figures['pages']:,} pages of {CHUNKS_PER_PAGE} chunks, corpus "
        f"passages, 256-d WordLlama vectors) written by the store's writer with each page's readers (store format 3) "
        f"in {figures['load_s']} s; {figures['queries_per_cell']} questions per cell after {WARM_UP} warm-up, "
        f"top-{K}, through CustomerQueryManager.query (query history off, questions embedded beforehand)",
        "hidden pages come in subtrees of 5 consecutive pages (random subtrees), one user (a group) per share; "
        "the cells of one question run back to back, their order rotating: the ratios are side by side",
        "enforce exact / enforce hnsw: rag.permissions_vector_search (exact, the default: an exact scan of the "
        "readable chunks; hnsw: the HNSW iterative scan); lexical does not use the setting and runs once",
        "quality: vector = recall@10 against numpy's exact top 10 of the visible pages (target >= 0.95; 1.0 for "
        "enforce exact); lexical = "
        "share of queries whose pages are an exact BM25 top 10 over the visible chunks (N, avgdl, df of those); "
        "short = answers with fewer than 10 rows while 10 readable pages qualify (target 0); hidden = rows of a page "
        "the user may not read (target 0)",
    ]
    notes.append(f"targets missed: {'; '.join(figures['targets_missed']) or 'none'}")
    if quick:
        notes.append(f"quick mode: {figures['chunks']:,} chunks, {figures['queries_per_cell']} questions")
    return write_result(
        "permissions",
        "Permission-aware retrieval: latency with the filter vs without, recall, always k rows",
        figures=figures,
        headers=HEADERS,
        rows=rows,
        notes=[*notes, *permission_timing.notes(figures["timing"])],
        quick=quick,
        tables=[("Timing probe: hidden matching pages vs none", permission_timing.HEADERS, timing_rows)],
    )


if __name__ == "__main__":
    main()
