"""Index time, incremental update cost and query latency of the RAG core on one shared corpus.

    python -m bench.bench_core [--corpus handbook_18f] [--queries 60]

The corpus (``../shared/data/corpora/<name>/files/pages`` or ``.../files``, one folder per space) is copied to a
temp folder and indexed into a fresh database with the offline embedder: a full build, an unchanged re-run (must
embed and write nothing), then an update after editing one page. Query latency is measured per mode through
``CustomerQueryManager`` (the tenant's own pool, ``SET LOCAL ROLE``, history insert included), top 5, with page
titles of the corpus as questions.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import tempfile
import time
from pathlib import Path

from bench.common import CORPORA_DIR, fresh_database, latency_summary_ms, print_machine, server_versions, write_result
from tenant_rag.config import CustomerConfig
from tenant_rag.db import close_pools
from tenant_rag.embedding.offline import WordLlamaEmbedder
from tenant_rag.pipeline.run import run_update
from tenant_rag.query import CustomerQueryManager

MODES = ("vector", "lexical", "hybrid")


def questions_from(corpus: Path, count: int) -> list[str]:
    titles = [json.loads(line)["title"] for line in (corpus / "manifest.jsonl").read_text().splitlines() if line]
    random.Random(7).shuffle(titles)
    return [title for title in titles if title][:count]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default="handbook_18f")
    parser.add_argument("--queries", type=int, default=60)
    args = parser.parse_args()
    print_machine()
    corpus = CORPORA_DIR / args.corpus
    tree = corpus / "files" / "pages" if (corpus / "files" / "pages").is_dir() else corpus / "files"
    if not tree.is_dir():
        raise SystemExit(f"corpus {corpus} not found (set TENANT_RAG_SHARED_DIR)")
    config = CustomerConfig.model_validate(
        {"customer_id": "benchcore", "display_name": "Bench", "export": {"source": "directory", "path": "exports"}}
    )
    questions = questions_from(corpus, args.queries)
    with tempfile.TemporaryDirectory() as tmp, fresh_database("core") as url:
        root = Path(tmp) / "benchcore"
        exports = root / "exports"
        shutil.copytree(tree, exports)
        size_mb = sum(p.stat().st_size for p in exports.rglob("*.md")) / 1e6
        embedder = WordLlamaEmbedder()
        started = time.perf_counter()
        build = run_update(config, root, exports, database_url=url, embedder=embedder)
        build_s = time.perf_counter() - started

        rerun_embedder = WordLlamaEmbedder()
        started = time.perf_counter()
        rerun = run_update(config, root, exports, database_url=url, embedder=rerun_embedder)
        rerun_s = time.perf_counter() - started

        page = sorted(exports.rglob("*.md"))[len(build["errors"]) + 3]
        page.write_text(page.read_text(encoding="utf-8") + "\n\nOne more paragraph added for the benchmark.\n")
        edit_embedder = WordLlamaEmbedder()
        started = time.perf_counter()
        edit = run_update(config, root, exports, database_url=url, embedder=edit_embedder)
        edit_s = time.perf_counter() - started

        queries = CustomerQueryManager(url)
        queries.query(config, "warm up", top_k=5)
        latency = {}
        for mode in MODES:
            seconds = []
            for question in questions:
                result = queries.query(config, question, top_k=5, mode=mode)
                seconds.append(result.latency)
            latency[mode] = latency_summary_ms(seconds)
        versions = server_versions(url)
        close_pools()

    rows = [
        [
            "full build",
            f"{build['pages_added']} pages, {build['chunks']} chunks",
            round(build_s, 2),
            "s",
            build["embedding_calls"],
        ],
        ["unchanged re-run", f"{rerun['pages_unchanged']} unchanged", round(rerun_s, 2), "s", rerun_embedder.calls],
        [
            "one page edited",
            f"{edit['pages_updated']} updated, {edit['chunks_reused']} chunks reused",
            round(edit_s, 2),
            "s",
            edit_embedder.calls,
        ],
    ]
    rows += [
        [
            f"query {mode} p50 / p95",
            f"{len(questions)} questions, top 5",
            f"{latency[mode]['p50_ms']} / {latency[mode]['p95_ms']}",
            "ms",
            "-",
        ]
        for mode in MODES
    ]
    write_result(
        f"core_{args.corpus}",
        f"RAG core on {args.corpus}: index time, incremental runs, query latency",
        figures={
            "corpus": args.corpus,
            "corpus_mb": round(size_mb, 2),
            "build": {k: build[k] for k in ("pages_added", "parents", "chunks", "embedding_calls", "durations_s")},
            "build_s": round(build_s, 3),
            "build_errors": build["errors"],
            "rerun_embedding_calls": rerun_embedder.calls,
            "rerun_pages_written": rerun["pages_written"],
            "rerun_s": round(rerun_s, 3),
            "edit": {k: edit[k] for k in ("pages_updated", "chunks_embedded", "chunks_reused", "embedding_calls")},
            "edit_s": round(edit_s, 3),
            "query_latency_ms": latency,
            "server": versions,
        },
        headers=["measure", "input", "value", "unit", "embedding calls"],
        rows=rows,
        notes=[
            f"{size_mb:.1f} MB of Markdown; offline embedder wordllama-l2-256; PostgreSQL {versions['postgres']}, "
            f"pgvector {versions['pgvector']}; build stage durations {build['durations_s']}",
            "query latency includes the tenant pool, SET LOCAL ROLE, metadata read, embedding and history insert",
        ],
    )


if __name__ == "__main__":
    main()
