"""Benchmark 6 — embedding: the Gemini path against the local fake endpoint, and the offline embedder's overhead.

    python -m bench.bench_gemini [--quick] [--fail-rate 0.2]

(1) One corpus indexed through ``run_update`` with ``gemini-embedding-001`` pointed at
    ``tenant_rag_devtools.fake_gemini_server``: API calls per chunk against the bound 1.05 x ceil(n / 100).
(2) The same with a seeded share of requests answered 429: attempts, retries, wall time, and whether the index
    still holds every chunk (it must).
(3) The offline embedder (WordLlama) alone on exactly the texts the pipeline embedded, vs its embed stage inside the
    pipeline and vs the whole pipeline: the overhead of staging files, batching and the rest.
"""

from __future__ import annotations

import argparse
import math
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import fresh_database, print_machine, ratio, timed, write_result
from bench.corpora import CorpusExport, corpus_exports, write_customer


class RecordingEmbedder:
    """Wraps an embedder and keeps every text it was asked to embed (the pipeline's exact inputs)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.model_id = inner.model_id
        self.dimensions = inner.dimensions
        self.texts: list[str] = []

    @property
    def calls(self) -> int:
        return int(self.inner.calls)

    @property
    def texts_embedded(self) -> int:
        return int(self.inner.texts_embedded)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        self.texts.extend(texts)
        return self.inner.embed_documents(texts)

    def embed_query(self, text: str) -> np.ndarray:
        return self.inner.embed_query(text)


def _count_chunks(url: str, config: Any) -> int:
    from tenant_rag.db import admin_connection
    from tenant_rag.store.generations import active_of, list_generations
    from tenant_rag.store.reader import generation_counts
    from tenant_rag.store.schema import store_names

    names = store_names(config)
    with admin_connection(url) as conn:
        live = active_of(list_generations(conn, names))
        return int(generation_counts(conn, names, live.number)["chunks"]) if live else 0


def gemini_run(export: CorpusExport, base: Path, fail_rate: float, label: str) -> dict[str, Any]:
    from tenant_rag.config import load_customer_config
    from tenant_rag.db import close_pools
    from tenant_rag.embedding import get_embedder
    from tenant_rag.pipeline.run import run_update
    from tenant_rag.runs.options import RunOptions
    from tenant_rag_devtools.fake_gemini_server import FakeGeminiServer

    folder = write_customer(
        base / f"customers-{label}", export.customer_id, export.export_dir, embedding_model="gemini-embedding-001"
    )
    config = load_customer_config(folder / "config.yaml")
    with (
        FakeGeminiServer(api_key="bench-key", fail_rate=fail_rate, fail_rate_status=429, seed=42) as server,
        fresh_database(f"gemini_{label}") as url,
    ):
        embedder = get_embedder(
            config.rag,
            api_key="bench-key",
            base_url=server.base_url,
            customer_id=config.customer_id,
            retry_initial_delay_s=0.05,
            retry_max_delay_s=0.5,
            max_retries=8,
        )
        timing, stats = timed(
            label,
            lambda: run_update(config, folder, export.export_dir, RunOptions(), database_url=url, embedder=embedder),
        )
        embedded = int(stats["chunks_embedded"])
        stored = _count_chunks(url, config)
        close_pools(url)
        bound = 1.05 * math.ceil(embedded / 100)
        return {
            "label": label,
            "fail_rate": fail_rate,
            "chunks_embedded": embedded,
            "chunks_stored": stored,
            "api_calls": server.calls,
            "attempts": server.attempts,
            "rejected_429": server.attempts - server.calls,
            "max_texts_per_call": max(server.texts_per_call, default=0),
            "bound_calls": round(bound, 2),
            "calls_within_bound": server.calls <= bound,
            "seconds": round(timing.seconds, 2),
            "errors": len(stats.get("errors") or []),
        }


def offline_overhead(export: CorpusExport, base: Path) -> dict[str, Any]:
    from tenant_rag.config import load_customer_config
    from tenant_rag.db import close_pools
    from tenant_rag.embedding import get_embedder
    from tenant_rag.pipeline.run import run_update
    from tenant_rag.runs.options import RunOptions

    folder = write_customer(base / "customers-offline", export.customer_id, export.export_dir)
    config = load_customer_config(folder / "config.yaml")
    recorder = RecordingEmbedder(get_embedder(config.rag))
    recorder.inner.embed_documents(["warm up"])
    with fresh_database("gemini_offline") as url:
        pipeline, stats = timed(
            "pipeline",
            lambda: run_update(config, folder, export.export_dir, RunOptions(), database_url=url, embedder=recorder),
        )
        close_pools(url)
    texts = list(recorder.texts)
    alone_embedder = get_embedder(config.rag)
    alone_embedder.embed_documents(["warm up"])
    batch = config.rag.embedding_batch_size
    alone, _ = timed(
        "alone", lambda: [alone_embedder.embed_documents(texts[i : i + batch]) for i in range(0, len(texts), batch)]
    )
    embed_stage = float(stats["durations_s"]["embed"])
    return {
        "texts": len(texts),
        "alone_s": round(alone.seconds, 2),
        "alone_texts_per_s": round(len(texts) / alone.seconds, 1),
        "embed_stage_s": round(embed_stage, 2),
        "embed_stage_texts_per_s": round(len(texts) / embed_stage, 1) if embed_stage else None,
        "pipeline_s": round(pipeline.seconds, 2),
        "pipeline_texts_per_s": round(len(texts) / pipeline.seconds, 1),
        "embed_stage_overhead_pct": round(100 * (embed_stage - alone.seconds) / alone.seconds, 1),
        "pipeline_vs_alone": ratio(pipeline.seconds, alone.seconds),
        "durations_s": stats["durations_s"],
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="(the smallest corpus is used either way)")
    parser.add_argument("--fail-rate", type=float, default=0.2, help="share of requests answered 429")
    args = parser.parse_args(argv)
    print_machine()
    with tempfile.TemporaryDirectory(prefix="bench-gemini-") as tmp:
        base = Path(tmp)
        export = corpus_exports(base / "exports", quick=True)[0]
        clean = gemini_run(export, base, 0.0, "clean")
        print(clean, flush=True)
        flaky = gemini_run(export, base, args.fail_rate, "429s")
        print(flaky, flush=True)
        offline = offline_overhead(export, base)
        print(offline, flush=True)
    figures = {
        "corpus": export.name,
        "pages": export.pages,
        "gemini_clean": clean,
        "gemini_with_429": flaky,
        "offline": offline,
        "targets": {"api_calls": "<= 1.05 x ceil(n/100)"},
    }
    table = [
        [
            f"Gemini (fake endpoint), {run['fail_rate']:.0%} 429s",
            run["chunks_embedded"],
            run["api_calls"],
            run["bound_calls"],
            run["attempts"],
            run["max_texts_per_call"],
            f"{run['chunks_stored']} / {run['chunks_embedded']}",
            run["seconds"],
        ]
        for run in (clean, flaky)
    ]
    notes = [
        f"corpus {export.name} ({export.pages} pages); API calls within 1.05 x ceil(n/100): "
        f"clean {clean['calls_within_bound']}, with 429s {flaky['calls_within_bound']}; "
        f"{flaky['rejected_429']} requests were answered 429 and retried (backoff 0.05-0.5 s for the bench)",
        f"offline WordLlama alone: {offline['alone_texts_per_s']} texts/s; its embed stage inside the pipeline: "
        f"{offline['embed_stage_texts_per_s']} texts/s (overhead {offline['embed_stage_overhead_pct']}%); "
        f"the whole pipeline (detect, chunk, embed, upsert): {offline['pipeline_texts_per_s']} texts/s "
        f"= {offline['pipeline_vs_alone']}x the embedding time alone",
    ]
    return write_result(
        "gemini",
        "Benchmark 6: embedding paths",
        figures=figures,
        headers=["run", "chunks", "API calls", "bound", "attempts", "max texts/call", "stored / embedded", "s"],
        rows=table,
        notes=notes,
        quick=args.quick,
    )


if __name__ == "__main__":
    main()
