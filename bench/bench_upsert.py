"""Benchmark 1 — upsert: the same N x 384 vectors with text into three writers, side by side.

    python -m bench.bench_upsert [--rows 100000] [--quick]

(a) our store's real write path, on TENANT_RAG_UPSERT_WRITERS connections (default 2) and on one (row a1): tenant
    schema + generation tables (generated tsvector, btree indexes), binary COPY straight into the generation, one
    atomic page swap per batch (the pipeline's batch sizes); the GIN, btree and HNSW builds that precede
    activation are timed on their own line.
(b) langchain-postgres ``PGVector.add_embeddings``, batched to at most 13,107 rows per call (65,535 bind
    parameters / 5 columns). Installed for the bench only: ``uv pip install --target .run/bench-extra
    -r bench/requirements-bench.txt`` (never in requirements.txt).
(c) a bare binary COPY of (id, text, vector) into a plain table: the ceiling.
"""

from __future__ import annotations

import argparse
import os
import time
import uuid
from typing import Any

import numpy as np

from bench.common import (
    Timing,
    add_bench_extra_to_path,
    fresh_database,
    print_machine,
    ratio,
    server_versions,
    timed,
    write_result,
)
from bench.datagen import chunk_texts, unit_vectors

DIM = 384
CHUNKS_PER_PAGE = 50
CHUNKS_PER_PARENT = 10
# who may read each page (store format 3 writes them on every row): two groups and a user, as a Confluence page
# readable by its space's groups and one named person stores them
READERS = ["g:confluence-users", "g:bench-space", "u:5b10ac8d82e05b22cc7d4ef5"]
PGVECTOR_MAX_ROWS = 65_535 // 5  # id, collection_id, embedding, document, cmetadata


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def build_pages(texts: list[str], vectors: np.ndarray, model_id: str) -> list[Any]:
    """The rows our pipeline would hand the writer: pages of 50 chunks under 5 parents each."""
    from tenant_rag.store.writer import ChunkRow, DocumentRow, PageRows, ParentRow
    from tenant_rag.text_analysis import analyzer_for

    analyzer = analyzer_for("english")  # the chunk stage analyses the texts: not part of the write path

    pages = []
    for page_no, start in enumerate(range(0, len(texts), CHUNKS_PER_PAGE)):
        page_id = f"page-{page_no:06d}"
        indexes = range(start, min(start + CHUNKS_PER_PAGE, len(texts)))
        parents: list[ParentRow] = []
        chunks: list[ChunkRow] = []
        for ordinal, i in enumerate(indexes):
            parent_no = ordinal // CHUNKS_PER_PARENT
            parent_id = f"{page_id}-p{parent_no}"
            if ordinal % CHUNKS_PER_PARENT == 0:
                parent_text = "\n".join(texts[i : min(i + CHUNKS_PER_PARENT, indexes.stop)])
                parents.append(ParentRow(parent_id, page_id, parent_no, parent_text, ["Guide", f"Part {parent_no}"]))
            context = chunk_context(i)
            chunks.append(
                ChunkRow(
                    chunk_id=f"{parent_id}-c{ordinal}",
                    parent_id=parent_id,
                    page_id=page_id,
                    space_key="BENCH",
                    ordinal=ordinal,
                    text=texts[i],
                    context=context,
                    text_hash=f"h{i:08x}",
                    model_id=model_id,
                    embedding=vectors[i],
                    lexical=analyzer.chunk_terms(texts[i], context),
                )
            )
        document = DocumentRow(
            page_id=page_id,
            space_key="BENCH",
            title=f"Page {page_no}",
            url=f"https://wiki.example/pages/{page_no}",
            rel_path=f"BENCH/page-{page_no}.md",
            version=1,
            content_hash=f"c{page_no:08x}",
            meta_hash=f"m{page_no:08x}",
            breadcrumbs=["Home", "Guide"],
            labels=["bench"],
            last_modified=None,
            parent_page_id=None,
            parents=len(parents),
            chunks=len(chunks),
            readers=READERS,
        )
        pages.append(PageRows(document, parents, chunks))
    return pages


def chunk_context(i: int) -> str:
    """The context (title > heading path) the pipeline would give chunk ``i``."""
    ordinal = i % CHUNKS_PER_PAGE
    return f"Page {i // CHUNKS_PER_PAGE} > Guide > Part {ordinal // CHUNKS_PER_PARENT}"


def analysis_seconds(texts: list[str], analyzer: Any) -> tuple[float, float]:
    """(wall, CPU) seconds the chunk stage spends analysing the texts (words, stop words, Snowball stems) in one
    process, with the analyser as a fresh process has it: nothing remembered yet."""
    started, cpu = time.perf_counter(), time.process_time()
    for i, text in enumerate(texts):
        analyzer.chunk_terms(text, chunk_context(i))
    return time.perf_counter() - started, time.process_time() - cpu


def previous_analysis_seconds(texts: list[str]) -> float | None:
    """The same with the analyser before its fast path (the unit tests' reference), for the side-by-side note."""
    try:
        from tests.unit.rag.reference_text_analysis import ReferenceAnalyzer
    except ImportError:
        return None
    return analysis_seconds(texts, ReferenceAnalyzer("english"))[0]


def run_ours(
    url: str, pages: list[Any], *, writers: int, activate_after: bool, text_search_config: str = "english"
) -> tuple[Timing, Timing | None]:
    """(write path incl. lexical index and page swaps on ``writers`` connections, HNSW build + activation)."""
    from tenant_rag.config import CustomerConfig
    from tenant_rag.db import admin_connection, close_pools, dedicated_connection, ensure_vector_types
    from tenant_rag.store.generations import Signature, Target, activate, register_target
    from tenant_rag.store.parallel_writer import ParallelPageWriter
    from tenant_rag.store.schema import create_store, store_names

    config = CustomerConfig.model_validate(
        {"customer_id": "bench_upsert", "display_name": "Bench", "export": {"source": "directory", "path": "x"}}
    )
    names = store_names(config)
    target = Target(1, "new", Signature("bench-384", "bench-384", DIM, text_search_config))
    rows = sum(len(p.chunks) for p in pages)
    hnsw_timing = None
    try:
        with admin_connection(url) as conn:
            ensure_vector_types(conn, create=True)

            def write() -> None:
                create_store(conn, names)
                register_target(conn, names, target)
                with ParallelPageWriter(
                    conn, names, target.generation, writers=writers, connect=lambda: dedicated_connection(url)
                ) as writer:
                    for page in pages:
                        writer.add(page)  # the pipeline's batch limits

            write_timing, _ = timed(f"ours_{writers}w", write, rows=rows)
            if activate_after:
                hnsw_timing, _ = timed("ours_hnsw", lambda: activate(conn, names, target.generation), rows=rows)
            count = conn.execute(f'SELECT count(*) FROM "{names.schema}".g1_chunks').fetchone()
            assert count is not None and count[0] == rows, f"ours wrote {count} rows, expected {rows}"
    finally:
        close_pools(url)
    return write_timing, hnsw_timing


def run_langchain(url: str, texts: list[str], vectors: np.ndarray) -> Timing:
    add_bench_extra_to_path()
    from langchain_core.embeddings import Embeddings
    from langchain_postgres import PGVector

    class _Unused(Embeddings):
        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            raise NotImplementedError("the benchmark passes precomputed embeddings")

        def embed_query(self, text: str) -> list[float]:
            raise NotImplementedError

    sa_url = url.replace("postgresql://", "postgresql+psycopg://", 1)
    store = PGVector(
        embeddings=_Unused(),
        collection_name="bench_upsert",
        connection=sa_url,
        embedding_length=DIM,
        use_jsonb=True,
        pre_delete_collection=True,
    )
    as_lists = vectors.tolist()
    metadatas = [
        {"page_id": f"page-{i // CHUNKS_PER_PAGE:06d}", "space": "BENCH", "ordinal": i} for i in range(len(texts))
    ]
    ids = [str(uuid.UUID(int=i + 1)) for i in range(len(texts))]

    def write() -> None:
        for start in range(0, len(texts), PGVECTOR_MAX_ROWS):
            end = start + PGVECTOR_MAX_ROWS
            store.add_embeddings(
                texts[start:end], as_lists[start:end], metadatas=metadatas[start:end], ids=ids[start:end]
            )

    timing, _ = timed("langchain_pgvector", write, rows=len(texts))
    engine = getattr(store, "_engine", None)
    if engine is not None:
        engine.dispose()  # release its connections before the database is dropped
    return timing


def run_bare_copy(url: str, texts: list[str], vectors: np.ndarray) -> Timing:
    import psycopg
    from pgvector.psycopg import register_vector

    with psycopg.connect(url, autocommit=True) as conn:
        register_vector(conn)
        conn.execute(f"CREATE TABLE bare_copy (id text PRIMARY KEY, text text NOT NULL, embedding vector({DIM}))")

        def write() -> None:
            with (
                conn.transaction(),
                conn.cursor().copy("COPY bare_copy (id, text, embedding) FROM STDIN (FORMAT BINARY)") as copy,
            ):
                copy.set_types(["text", "text", "vector"])
                for i, text in enumerate(texts):
                    copy.write_row((f"c{i}", text, vectors[i]))

        timing, _ = timed("bare_copy", write, rows=len(texts))
    return timing


def lexical_cost(url: str) -> dict[str, float]:
    """Server CPU of the lexical index alone: ``to_tsvector`` over the texts the bare COPY stored (one backend, no
    parallel workers), and the same scan without it. Explains the gap between (a) and (c)."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET max_parallel_workers_per_gather = 0")
        conn.execute("VACUUM ANALYZE bare_copy")
        seconds = {}
        for name, expression in (
            ("scan_only", "length(text)"),
            ("to_tsvector", "length(to_tsvector('english', text))"),
            ("to_tsvector_simple", "length(to_tsvector('simple', text))"),
        ):
            started = time.perf_counter()
            conn.execute(f"SELECT sum({expression}) FROM bare_copy").fetchone()
            seconds[name] = time.perf_counter() - started
    return {
        "to_tsvector_s": round(seconds["to_tsvector"] - seconds["scan_only"], 3),
        "to_tsvector_simple_s": round(seconds["to_tsvector_simple"] - seconds["scan_only"], 3),
        "scan_s": round(seconds["scan_only"], 3),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--quick", action="store_true", help="20,000 rows instead of 100,000")
    parser.add_argument("--writers", type=int, default=0, help="parallel writers (default TENANT_RAG_UPSERT_WRITERS)")
    args = parser.parse_args(argv)
    rows = 20_000 if args.quick and args.rows == 100_000 else args.rows
    from tenant_rag.settings import settings

    writers = args.writers or settings().upsert_writers
    print_machine()
    texts = chunk_texts(rows)
    vectors = unit_vectors(rows, DIM)
    pages = build_pages(texts, vectors, "bench-384")
    from tenant_rag.text_analysis import Analyzer

    load_before = os.getloadavg()
    analysis_s, analysis_cpu_s = analysis_seconds(texts, Analyzer("english"))
    previous_analysis_s = previous_analysis_seconds(texts)
    results: dict[str, Timing] = {}
    with fresh_database("upsert_copy") as url:
        versions = server_versions(url)
        results["bare_copy"] = run_bare_copy(url, texts, vectors)
        lexical = lexical_cost(url)
    with fresh_database("upsert_ours_1w") as url:
        results["ours_1w"], _ = run_ours(url, pages, writers=1, activate_after=False)
    with fresh_database("upsert_ours") as url:
        results["ours"], hnsw_timing = run_ours(url, pages, writers=writers, activate_after=True)
        assert hnsw_timing is not None
        results["ours_hnsw"] = hnsw_timing
    with fresh_database("upsert_ours_simple") as url:  # rag.text_search_config: simple (no stemming)
        results["ours_simple"], _ = run_ours(
            url, pages, writers=writers, activate_after=False, text_search_config="simple"
        )
    langchain_error = None
    try:
        with fresh_database("upsert_langchain") as url:
            results["langchain"] = run_langchain(url, texts, vectors)
    except ImportError as exc:
        langchain_error = f"langchain-postgres not installed ({exc}); see bench/requirements-bench.txt"
    ours, ours_1w, copy = results["ours"], results["ours_1w"], results["bare_copy"]
    simple = results["ours_simple"]
    lc = results.get("langchain")
    hnsw = results["ours_hnsw"]
    figures = {
        "rows": rows,
        "dim": DIM,
        "rows_per_s": {name: round(t.rate, 1) for name, t in results.items()},
        "seconds": {name: round(t.seconds, 3) for name, t in results.items()},
        "ours_vs_langchain": ratio(ours.rate, lc.rate) if lc else None,
        "ours_vs_bare_copy": ratio(ours.rate, copy.rate),
        "writers": writers,
        "ours_1_writer_vs_langchain": ratio(ours_1w.rate, lc.rate) if lc else None,
        "ours_1_writer_vs_bare_copy": ratio(ours_1w.rate, copy.rate),
        "ours_simple_vs_langchain": ratio(simple.rate, lc.rate) if lc else None,
        "ours_simple_vs_bare_copy": ratio(simple.rate, copy.rate),
        "ours_with_hnsw_vs_bare_copy": ratio(rows / (ours.seconds + hnsw.seconds), copy.rate),
        # the text analysis moved out of the database into the chunk stage: counted here, as a user pays it
        "analysis_s": round(analysis_s, 3),
        "analysis_cpu_s": round(analysis_cpu_s, 3),
        "previous_analysis_s": round(previous_analysis_s, 3) if previous_analysis_s is not None else None,
        "load_average_before_after": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
        "ours_incl_analysis_vs_langchain": ratio(rows / (ours.seconds + analysis_s), lc.rate) if lc else None,
        "ours_incl_analysis_vs_bare_copy": ratio(rows / (ours.seconds + analysis_s), copy.rate),
        "targets": {"ours_vs_langchain": ">= 20", "ours_vs_bare_copy": ">= 0.6"},
        "lexical_cost": lexical,
        # what a writer that computes the english tsvector of every text could reach with every core on it and
        # nothing else to do: rows / (to_tsvector CPU-seconds / cores)
        "lexical_only_ceiling_rows_per_s": round(rows / (lexical["to_tsvector_s"] / _cores())),
        **versions,
    }
    table = [
        [
            f"(a) ours, {writers} writers: COPY + page swap + BM25 term statistics",
            round(ours.seconds, 2),
            round(ours.rate),
            1.0,
        ],
        [
            "(a+) ours + the chunk stage's text analysis (Python, one process)",
            round(ours.seconds + analysis_s, 2),
            round(rows / (ours.seconds + analysis_s)),
            ratio(rows / (ours.seconds + analysis_s), ours.rate),
        ],
        [
            "(a1) ours, 1 writer",
            round(ours_1w.seconds, 2),
            round(ours_1w.rate),
            ratio(ours_1w.rate, ours.rate),
        ],
        [
            f"(a2) ours, {writers} writers, signature text_search_config simple",
            round(simple.seconds, 2),
            round(simple.rate),
            ratio(simple.rate, ours.rate),
        ],
        [
            "(a') ours: + GIN, btree and HNSW builds at activation",
            round(ours.seconds + hnsw.seconds, 2),
            round(rows / (ours.seconds + hnsw.seconds)),
            ratio(rows / (ours.seconds + hnsw.seconds), ours.rate),
        ],
        ["(c) bare binary COPY (ceiling)", round(copy.seconds, 2), round(copy.rate), ratio(copy.rate, ours.rate)],
    ]
    if lc:
        table.insert(
            4,
            ["(b) langchain-postgres add_embeddings", round(lc.seconds, 2), round(lc.rate), ratio(lc.rate, ours.rate)],
        )
    notes = [
        f"{rows:,} chunks x {DIM} dims, ~800-character texts cut from the shared corpora; "
        f"Postgres {versions['postgres']}, pgvector {versions['pgvector']}",
        f"ours ({writers} writers) / langchain = {figures['ours_vs_langchain']}x (target >= 20x); "
        f"ours / bare COPY = {figures['ours_vs_bare_copy']}x (target >= 0.6x); with 1 writer "
        f"{figures['ours_1_writer_vs_langchain']}x and {figures['ours_1_writer_vs_bare_copy']}x",
        "each writer is its own connection writing whole batches (one transaction each, pages locked); the peers "
        "write through one connection, as their APIs do",
        f"the lexical index: the chunk stage analyses the texts in Python ({analysis_s:.2f} s, {analysis_cpu_s:.2f} "
        f"CPU-s, for {rows:,} texts in one process from a cold stem map, row (a+); the analyser before its fast path: "
        f"{figures['previous_analysis_s']} s in this run) and the writer COPYs terms, frequencies and lengths and "
        f"updates the BM25 term statistics; counted with the analysis, ours is "
        f"{figures['ours_incl_analysis_vs_langchain']}x langchain and {figures['ours_incl_analysis_vs_bare_copy']}x "
        "bare COPY (targets >= 20x, >= 0.6x); the peers store no lexical index",
        f"for reference, what the database's to_tsvector('english') (the previous design) costs over the same texts: "
        f"{lexical['to_tsvector_s']} s of one backend's CPU (a writer running it could reach at most "
        f"{figures['lexical_only_ceiling_rows_per_s']:,} rows/s on {_cores()} cores = "
        f"{ratio(figures['lexical_only_ceiling_rows_per_s'], copy.rate)}x bare COPY)",
        "the HNSW build is part of a full build's activation, not of each upsert batch; "
        "peers (b) and (c) build no index",
        f"1-minute load average before / after the run: {figures['load_average_before_after']} on {_cores()} cores "
        "(other work on the machine slows every row alike)",
    ]
    if langchain_error:
        notes.append(langchain_error)
    return write_result(
        "upsert",
        "Benchmark 1: upsert of the same vectors",
        figures=figures,
        headers=["writer", "seconds", "rows/s", "x ours"],
        rows=table,
        notes=notes,
        quick=args.quick,
    )


if __name__ == "__main__":
    main()
