"""Benchmark 2 — incremental indexing: full build, unchanged re-run, 1% of pages edited (per corpus).

    python -m bench.bench_incremental [--quick] [--edit-fraction 0.01]

Each corpus is one customer indexed by ``tenant_rag.pipeline.run.run_update`` with the offline embedder (loaded and
warmed before timing, so model load is not billed to the first run). Embedding calls are the embedder's own
``calls`` counter. Targets: unchanged <= 2% of the full time and 0 embedding calls; 1% edit <= 3% of the full time.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

from bench.common import fresh_database, print_machine, ratio, timed, write_result
from bench.corpora import CorpusExport, corpus_exports, edit_pages, write_customer


def _run(config: Any, folder: Path, export: CorpusExport, url: str, embedder: Any) -> tuple[float, int, dict[str, Any]]:
    from tenant_rag.pipeline.run import run_update
    from tenant_rag.runs.options import RunOptions

    before = embedder.calls
    timing, stats = timed(
        "run",
        lambda: run_update(config, folder, export.export_dir, RunOptions(), database_url=url, embedder=embedder),
    )
    return timing.seconds, embedder.calls - before, stats


def bench_corpus(export: CorpusExport, customers_dir: Path, url: str, fraction: float) -> dict[str, Any]:
    from tenant_rag.config import load_customer_config
    from tenant_rag.embedding import get_embedder

    folder = write_customer(customers_dir, export.customer_id, export.export_dir)
    config = load_customer_config(folder / "config.yaml")
    embedder = get_embedder(config.rag)
    embedder.embed_documents(["warm up the model"])
    full_s, full_calls, full_stats = _run(config, folder, export, url, embedder)
    same_s, same_calls, same_stats = _run(config, folder, export, url, embedder)
    edited = edit_pages(export, fraction)
    edit_s, edit_calls, edit_stats = _run(config, folder, export, url, embedder)
    return {
        "corpus": export.name,
        "pages": export.pages,
        "mb": round(export.bytes / 1e6, 2),
        "full_s": round(full_s, 2),
        "full_calls": full_calls,
        "full_chunks": _stat(full_stats, "chunks_embedded"),
        "unchanged_s": round(same_s, 3),
        "unchanged_calls": same_calls,
        "unchanged_written": _stat(same_stats, "pages_written"),
        "edited_pages": len(edited),
        "edit_s": round(edit_s, 3),
        "edit_calls": edit_calls,
        "edit_chunks_embedded": _stat(edit_stats, "chunks_embedded"),
        "edit_chunks_reused": _stat(edit_stats, "chunks_reused"),
        "unchanged_pct_of_full": round(100 * same_s / full_s, 2),
        "edit_pct_of_full": round(100 * edit_s / full_s, 2),
    }


def _stat(stats: dict[str, Any], key: str) -> Any:
    """``key`` from the merged stats, wherever the pipeline nests it."""
    if key in stats:
        return stats[key]
    for value in stats.values():
        if isinstance(value, dict) and key in value:
            return value[key]
    return None


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="only the smallest corpus")
    parser.add_argument("--edit-fraction", type=float, default=0.01)
    args = parser.parse_args(argv)
    print_machine()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-incr-") as tmp, fresh_database("incremental") as url:
        base = Path(tmp)
        for export in corpus_exports(base / "exports", quick=args.quick):
            rows.append(bench_corpus(export, base / "customers", url, args.edit_fraction))
            print(rows[-1], flush=True)
        from tenant_rag.db import close_pools

        close_pools(url)
    total_full = sum(r["full_s"] for r in rows)
    figures = {
        "corpora": rows,
        "unchanged_pct_of_full": round(100 * sum(r["unchanged_s"] for r in rows) / total_full, 2),
        "edit_pct_of_full": round(100 * sum(r["edit_s"] for r in rows) / total_full, 2),
        "unchanged_embedding_calls": sum(r["unchanged_calls"] for r in rows),
        "targets": {"unchanged_pct_of_full": "<= 2", "unchanged_embedding_calls": "0", "edit_pct_of_full": "<= 3"},
    }
    table = [
        [
            r["corpus"],
            r["pages"],
            r["full_s"],
            r["full_calls"],
            r["unchanged_s"],
            r["unchanged_calls"],
            f"{r['unchanged_pct_of_full']}%",
            f"{r['edited_pages']} pages: {r['edit_s']}",
            r["edit_calls"],
            f"{r['edit_pct_of_full']}%",
        ]
        for r in rows
    ]
    notes = [
        f"all corpora: unchanged re-run = {figures['unchanged_pct_of_full']}% of the full time (target <= 2%) with "
        f"{figures['unchanged_embedding_calls']} embedding calls (target 0); {args.edit_fraction:.0%} edited = "
        f"{figures['edit_pct_of_full']}% (target <= 3%)",
        "offline embedder (WordLlama, 256 dims), loaded before timing; one Postgres database for all customers",
        f"ratio edit/unchanged = {ratio(sum(r['edit_s'] for r in rows), sum(r['unchanged_s'] for r in rows))}",
    ]
    return write_result(
        "incremental",
        "Benchmark 2: incremental re-index",
        figures=figures,
        headers=[
            "corpus",
            "pages",
            "full s",
            "full calls",
            "unchanged s",
            "unchanged calls",
            "unchanged/full",
            "1% edit s",
            "edit calls",
            "edit/full",
        ],
        rows=table,
        notes=notes,
        quick=args.quick,
    )


if __name__ == "__main__":
    main()
