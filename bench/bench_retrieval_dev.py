"""Retrieval quality on the dev benchmark over the shared corpora: tenantrag's three modes beside plain BM25 and the
dense model alone.

    python -m bench.bench_retrieval_dev

``bench/data/retrieval_dev/questions.json`` holds questions written for the pages of ``../shared/data/corpora``
(each names its corpus and relevant pages by manifest path; no corpus text is copied). Every corpus is indexed
through the project's own pipeline (``run_update``, default configuration, offline embedder) as one customer, and
every question is asked through ``CustomerQueryManager`` (top 10) in each mode. The references (``retrieval_
baselines``) index the same pages. Scores are at page level: Recall@5 (share of a question's relevant pages in the
top 5), MRR@10 and nDCG@10 (binary relevance), averaged over questions.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench.common import CORPORA_DIR, fresh_database, print_machine, write_result
from bench.corpora import CORPUS_CUSTOMERS, _space_key, export_corpus
from bench.retrieval_baselines import BM25Index, DenseIndex, SnowballStems, section_chunks
from tenant_rag.config import CustomerConfig
from tenant_rag.db import close_pools
from tenant_rag.documents import PageFormatError, read_page
from tenant_rag.pipeline import run_update
from tenant_rag.query import CustomerQueryManager, shared_embedder

QUESTIONS = Path(__file__).resolve().parent / "data" / "retrieval_dev" / "questions.json"
MODES = ("vector", "lexical", "hybrid")
RANKERS = ("tenantrag hybrid (default)", "tenantrag lexical", "tenantrag vector", "plain BM25", "dense model alone")
Ranker = Callable[[str], list[str]]


def page_key(corpus: str, manifest_path: str) -> str:
    """The ``rel_path`` tenantrag gives a manifest page once ``export_corpus`` has copied it."""
    for line in (CORPORA_DIR / corpus / "manifest.jsonl").read_text().splitlines():
        entry = json.loads(line)
        if entry["path"] == manifest_path:
            return f"{_space_key(entry['space'])}/{Path(manifest_path).relative_to('files').as_posix()}"
    raise KeyError(f"{corpus}: {manifest_path} is not in the manifest")


def scores(ranked: list[str], relevant: set[str]) -> dict[str, float]:
    recall = len(set(ranked[:5]) & relevant) / len(relevant)
    rr = next((1.0 / rank for rank, key in enumerate(ranked[:10], 1) if key in relevant), 0.0)
    dcg = sum(1.0 / math.log2(rank + 1) for rank, key in enumerate(ranked[:10], 1) if key in relevant)
    ideal = sum(1.0 / math.log2(rank + 1) for rank in range(1, min(len(relevant), 10) + 1))
    return {"recall@5": recall, "mrr@10": rr, "ndcg@10": dcg / ideal}


def corpus_pages(export_dir: Path) -> list[tuple[str, list[str]]]:
    """(rel_path, section chunks) of every page the pipeline reads (pages it refuses are left out here too)."""
    pages = []
    for path in sorted(export_dir.rglob("*.md")):
        try:
            page = read_page(path, export_dir)
        except PageFormatError:
            continue
        pages.append((page.rel_path, section_chunks(page)))
    return pages


def main() -> None:
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    print_machine()
    questions = json.loads(QUESTIONS.read_text(encoding="utf-8"))
    per_question: dict[str, dict[str, dict[str, float]]] = {name: {} for name in RANKERS}
    timings: dict[str, float] = {}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp, fresh_database("retrieval_dev") as url:
        stems = SnowballStems(url)
        for corpus, customer_id in CORPUS_CUSTOMERS.items():
            asked = [item for item in questions if item["corpus"] == corpus]
            if not asked:
                continue
            root = Path(tmp) / customer_id
            export = export_corpus(corpus, root / "exports")
            config = CustomerConfig.model_validate(
                {
                    "customer_id": customer_id,
                    "display_name": corpus,
                    "export": {"source": "directory", "path": "exports"},
                }
            )
            clock = time.perf_counter()
            run_update(config, root, export.export_dir, database_url=url)
            timings[f"{corpus} pipeline build s"] = round(time.perf_counter() - clock, 1)
            clock = time.perf_counter()
            pages = corpus_pages(export.export_dir)
            bm25 = BM25Index(stems)
            bm25.add_all(pages)
            dense = DenseIndex(shared_embedder(config.rag, customer_id))
            dense.add_all(pages)
            timings[f"{corpus} baselines build s"] = round(time.perf_counter() - clock, 1)
            queries = CustomerQueryManager(url)

            def tenantrag(
                mode: str, config: CustomerConfig = config, queries: CustomerQueryManager = queries
            ) -> Ranker:
                def ranked(question: str) -> list[str]:
                    documents = queries.query(config, question, top_k=10, mode=mode).documents
                    return [doc.metadata["rel_path"] for doc in documents]

                return ranked

            rankers: dict[str, Ranker] = {
                "tenantrag hybrid (default)": tenantrag("hybrid"),
                "tenantrag lexical": tenantrag("lexical"),
                "tenantrag vector": tenantrag("vector"),
                "plain BM25": bm25.rank,
                "dense model alone": dense.rank,
            }
            for item in asked:
                relevant = {page_key(corpus, path) for path in item["relevant"]}
                for name, rank in rankers.items():
                    per_question[name][item["id"]] = scores(rank(item["question"]), relevant)
        close_pools()
    timings["total s"] = round(time.perf_counter() - started, 1)
    report(questions, per_question, timings)


def mean_of(results: dict[str, dict[str, float]], ids: list[str]) -> dict[str, float]:
    return {m: round(statistics.fmean(results[i][m] for i in ids), 3) for m in ("recall@5", "mrr@10", "ndcg@10")}


def report(questions: list[dict], per_question: dict, timings: dict[str, float]) -> None:
    ids = [item["id"] for item in questions]
    overall = {name: mean_of(per_question[name], ids) for name in RANKERS}
    rows = [[name, *overall[name].values()] for name in RANKERS]
    groups = {"corpus " + c: [q["id"] for q in questions if q["corpus"] == c] for c in CORPUS_CUSTOMERS}
    groups |= {
        "tag " + t: [q["id"] for q in questions if t in q["tags"]] for t in ("quote", "code", "acronym", "multi")
    }
    by_group = {g: {name: mean_of(per_question[name], gids) for name in RANKERS} for g, gids in groups.items() if gids}
    notes = [
        f"{len(questions)} questions over {len(CORPUS_CUSTOMERS)} corpora (bench/data/retrieval_dev), "
        f"{statistics.fmean(len(q['relevant']) for q in questions):.2f} relevant pages per question; one customer per "
        "corpus, default configuration (offline embedder wordllama-l2-256, hybrid = RRF), page-level scores",
        "plain BM25: Lucene k1 1.5 b 0.75, Snowball English stems and stop words (PostgreSQL english_stem), "
        "1,000-char section chunks, page = best chunk; stdlib implementation (bm25s/PyStemmer not installed)",
        "dense model alone: the same embedder over the same 1,000-char chunks, cosine, page = best chunk",
    ]
    notes += [
        f"{group}: " + "; ".join(f"{name} {'/'.join(str(v) for v in m.values())}" for name, m in results.items())
        for group, results in by_group.items()
    ]
    notes.append(f"timings: {timings}")
    write_result(
        "retrieval_dev",
        "Dev retrieval benchmark over the shared corpora (Recall@5, MRR@10, nDCG@10)",
        figures={"overall": overall, "groups": by_group, "timings": timings, "per_question": per_question},
        headers=["ranker", "Recall@5", "MRR@10", "nDCG@10"],
        rows=rows,
        notes=notes,
    )


if __name__ == "__main__":
    main()
