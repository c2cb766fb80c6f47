"""Throughput of chunking and of the embedders on generated Markdown.

    python -m bench.bench_embedder [--children 1000] [--repeats 3] [--quick]

Figures: chunking MB/s, WordLlama model load time, offline texts/s on ``--children`` children of about 1,000
characters (batches of 100, as the indexer sends them), offline query latency, and the Gemini code path's texts/s
against the local fake server (client overhead only: no network, no real model).
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

from bench.common import latency_summary_ms, print_machine, write_result
from tenant_rag.chunking import chunk_page
from tenant_rag.config import RAGConfig
from tenant_rag.documents import ExportedPage
from tenant_rag.embedding.base import Embedder
from tenant_rag.embedding.factory import get_embedder
from tenant_rag.embedding.offline import load_wordllama
from tenant_rag_devtools.fake_gemini_server import FakeGeminiServer

VOCABULARY = [
    "the",
    "a",
    "to",
    "of",
    "and",
    "configure",
    "install",
    "server",
    "client",
    "database",
    "index",
    "query",
    "vector",
    "token",
    "cache",
    "deploy",
    "cluster",
    "node",
    "replica",
    "backup",
    "restore",
    "schema",
    "table",
    "column",
    "migration",
    "release",
    "version",
    "upgrade",
    "permission",
    "role",
    "user",
    "group",
    "network",
    "proxy",
    "certificate",
    "timeout",
    "retry",
    "queue",
    "worker",
    "scheduler",
    "pipeline",
    "export",
    "import",
    "page",
    "space",
]


def generated_markdown(chars: int, seed: int) -> str:
    rng = random.Random(seed)
    parts: list[str] = []
    size = 0
    index = 0
    while size < chars:
        index += 1
        if index % 40 == 0:
            part = f"## Topic {index}\n\n"
        elif index % 8 == 4:
            part = "```bash\n" + "\n".join(f"tool --flag-{n} value{n}" for n in range(rng.randint(3, 12))) + "\n```\n\n"
        else:
            part = " ".join(rng.choice(VOCABULARY) for _ in range(rng.randint(8, 40))) + ".\n\n"
        parts.append(part)
        size += len(part)
    return "".join(parts)


def children_texts(count: int) -> list[str]:
    """``count`` embed texts of real children (chunk size 1000) from generated pages."""
    rag = RAGConfig()
    texts: list[str] = []
    seed = 0
    while len(texts) < count:
        body = generated_markdown(200_000, seed)
        page = ExportedPage(f"bench-{seed}", "BENCH", f"Bench page {seed}", f"BENCH/{seed}.md", body)
        texts.extend(child.embed_text for child in chunk_page(page, rag)[1])
        seed += 1
    return texts[:count]


def embed_rate(embedder: Embedder, texts: list[str], repeats: int) -> tuple[float, float]:
    """(best, median) texts per second over ``repeats`` runs of ``embed_documents(texts)``."""
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        embedder.embed_documents(texts)
        rates.append(len(texts) / (time.perf_counter() - start))
    return max(rates), statistics.median(rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--children", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="200 children, one repeat")
    args = parser.parse_args()
    count, repeats = (200, 1) if args.quick else (args.children, args.repeats)
    print_machine()

    body = generated_markdown(20_000_000 if not args.quick else 2_000_000, seed=99)
    start = time.perf_counter()
    _, chunked = chunk_page(ExportedPage("big", "BENCH", "Big", "BENCH/big.md", body), RAGConfig())
    chunk_s = time.perf_counter() - start
    chunk_mb_s = len(body) / 1e6 / chunk_s

    start = time.perf_counter()
    load_wordllama()
    load_s = time.perf_counter() - start

    texts = children_texts(count)
    mean_chars = statistics.fmean(len(text) for text in texts)
    offline = get_embedder(RAGConfig())
    offline.embed_documents(texts[:10])
    best, median = embed_rate(offline, texts, repeats)
    queries = [f"how do I {random.Random(n).choice(VOCABULARY)} the server?" for n in range(200)]
    latencies = []
    for query in queries:
        start = time.perf_counter()
        offline.embed_query(query)
        latencies.append(time.perf_counter() - start)
    query_ms = latency_summary_ms(latencies)

    with FakeGeminiServer(api_key="bench-key") as server:
        gemini = get_embedder(
            RAGConfig(embedding_model="gemini-embedding-001"), api_key="bench-key", base_url=server.base_url
        )
        gemini_best, gemini_median = embed_rate(gemini, texts, repeats)
        gemini_calls = server.calls

    rows = [
        [
            "chunking (chunk_page, 1000/100/50000)",
            f"{len(body) / 1e6:.0f} MB -> {len(chunked):,} children",
            chunk_mb_s,
            "MB/s",
        ],
        ["WordLlama model load (once per process)", "l2_supercat 256", load_s, "s"],
        ["offline embed_documents, best", f"{count} children, mean {mean_chars:.0f} chars", best, "texts/s"],
        ["offline embed_documents, median", f"{repeats} runs", median, "texts/s"],
        ["offline embed_query p50", "200 short questions", query_ms["p50_ms"], "ms"],
        ["Gemini path vs local fake server, median", f"{gemini_calls} requests of <=100", gemini_median, "texts/s"],
    ]
    write_result(
        "embedder",
        "Chunking and embedding throughput",
        figures={
            "chunking_mb_per_s": round(chunk_mb_s, 2),
            "wordllama_load_s": round(load_s, 3),
            "offline_texts_per_s_best": round(best, 1),
            "offline_texts_per_s_median": round(median, 1),
            "offline_query_ms": query_ms,
            "children": count,
            "mean_chars": round(mean_chars, 1),
            "gemini_fake_texts_per_s_best": round(gemini_best, 1),
            "gemini_fake_texts_per_s_median": round(gemini_median, 1),
        },
        headers=["measure", "input", "value", "unit"],
        rows=rows,
        notes=["The Gemini row measures client overhead only (local fake server, no model); real latency differs."],
        quick=args.quick,
    )


if __name__ == "__main__":
    main()
