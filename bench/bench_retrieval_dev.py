"""Retrieval quality on the dev benchmark over the shared corpora: tenantrag's three modes beside plain BM25 (bm25s)
and the dense model alone, and tenantrag with other title/heading weights.

    python -m bench.bench_retrieval_dev [--title-weights 1,3]

``bench/data/retrieval_dev/questions.json`` holds questions written for the pages of ``../shared/data/corpora``
(each names its corpus and relevant pages by manifest path; no corpus text is copied). Every corpus is indexed
through the project's own pipeline (``run_update``, default configuration, offline embedder) as one customer, and
every question is asked through ``CustomerQueryManager`` (top 10) in each mode. The references (``retrieval_
baselines``) index the same pages. Scores are at page level: Recall@5 (share of a question's relevant pages in the
top 5), MRR@10 and nDCG@10 (binary relevance), averaged over questions. For each of ``--title-weights`` the corpus is
indexed again as another customer with that ``text_analysis.CONTEXT_WEIGHT`` (lexical and hybrid asked; the vectors
do not depend on it).
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
from bench.retrieval_baselines import DenseIndex, PlainBM25, section_chunks
from tenant_rag import text_analysis
from tenant_rag.config import CustomerConfig
from tenant_rag.db import close_pools
from tenant_rag.documents import PageFormatError, read_page
from tenant_rag.embedding.shared import shared_embedder
from tenant_rag.pipeline.run import run_update
from tenant_rag.query import CustomerQueryManager

QUESTIONS = Path(__file__).resolve().parent / "data" / "retrieval_dev" / "questions.json"
PLAIN_BM25 = "plain BM25 (bm25s)"
DENSE = "dense model alone"
BASE_RANKERS = ("tenantrag hybrid (default)", "tenantrag lexical", "tenantrag vector", PLAIN_BM25, DENSE)
Ranker = Callable[[str], list[str]]


def weighted(mode: str, weight: int) -> str:
    """The ranker name of tenantrag's ``mode`` with the title/heading weight ``weight`` instead of the default."""
    return f"tenantrag {mode}, title/heading weight {weight}"


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


def build_and_ask(
    url: str, corpus: str, customer_id: str, export_dir: Path, root: Path, context_weight: int
) -> tuple[CustomerConfig, CustomerQueryManager, float]:
    """Index the corpus as ``customer_id`` through the pipeline with the title/heading weight ``context_weight``."""
    config = CustomerConfig.model_validate(
        {"customer_id": customer_id, "display_name": corpus, "export": {"source": "directory", "path": "exports"}}
    )
    default_weight = text_analysis.CONTEXT_WEIGHT
    clock = time.perf_counter()
    text_analysis.CONTEXT_WEIGHT = context_weight  # read by the chunk stage's analyser; the query side ignores it
    try:
        run_update(config, root, export_dir, database_url=url)
    finally:
        text_analysis.CONTEXT_WEIGHT = default_weight
    return config, CustomerQueryManager(url), time.perf_counter() - clock


def tenantrag(config: CustomerConfig, queries: CustomerQueryManager, mode: str) -> Ranker:
    def ranked(question: str) -> list[str]:
        documents = queries.query(config, question, top_k=10, mode=mode).documents
        return [doc.metadata["rel_path"] for doc in documents]

    return ranked


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--title-weights",
        default="1,3",
        help="title/heading weights measured beside the default (comma-separated; empty for none)",
    )
    args = parser.parse_args()
    default_weight = text_analysis.CONTEXT_WEIGHT
    weights = sorted({int(w) for w in args.title_weights.split(",") if w.strip()} - {default_weight})
    rankers_all = [*BASE_RANKERS, *(weighted(m, w) for w in weights for m in ("lexical", "hybrid"))]
    print_machine()
    questions = json.loads(QUESTIONS.read_text(encoding="utf-8"))
    per_question: dict[str, dict[str, dict[str, float]]] = {name: {} for name in rankers_all}
    timings: dict[str, float] = {}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp, fresh_database("retrieval_dev") as url:
        for corpus, customer_id in CORPUS_CUSTOMERS.items():
            asked = [item for item in questions if item["corpus"] == corpus]
            if not asked:
                continue
            export = export_corpus(corpus, Path(tmp) / customer_id / "exports")
            config, queries, seconds = build_and_ask(
                url, corpus, customer_id, export.export_dir, Path(tmp) / customer_id, default_weight
            )
            timings[f"{corpus} pipeline build s"] = round(seconds, 1)
            clock = time.perf_counter()
            pages = corpus_pages(export.export_dir)
            bm25 = PlainBM25()
            bm25.add_all(pages)
            dense = DenseIndex(shared_embedder(config.rag, customer_id))
            dense.add_all(pages)
            timings[f"{corpus} baselines build s"] = round(time.perf_counter() - clock, 1)
            rankers: dict[str, Ranker] = {
                "tenantrag hybrid (default)": tenantrag(config, queries, "hybrid"),
                "tenantrag lexical": tenantrag(config, queries, "lexical"),
                "tenantrag vector": tenantrag(config, queries, "vector"),
                PLAIN_BM25: bm25.rank,
                DENSE: dense.rank,
            }
            for weight in weights:  # the same pages as another customer, analysed with another title weight
                other = f"{customer_id}_w{weight}"
                config_w, queries_w, _ = build_and_ask(url, corpus, other, export.export_dir, Path(tmp) / other, weight)
                rankers[weighted("lexical", weight)] = tenantrag(config_w, queries_w, "lexical")
                rankers[weighted("hybrid", weight)] = tenantrag(config_w, queries_w, "hybrid")
            for item in asked:
                relevant = {page_key(corpus, path) for path in item["relevant"]}
                for name, rank in rankers.items():
                    per_question[name][item["id"]] = scores(rank(item["question"]), relevant)
        close_pools()
    timings["total s"] = round(time.perf_counter() - started, 1)
    report(questions, per_question, timings, rankers_all, weights, default_weight)


def mean_of(results: dict[str, dict[str, float]], ids: list[str]) -> dict[str, float]:
    return {m: round(statistics.fmean(results[i][m] for i in ids), 3) for m in ("recall@5", "mrr@10", "ndcg@10")}


def report(
    questions: list[dict],
    per_question: dict,
    timings: dict[str, float],
    rankers: list[str],
    weights: list[int],
    default_weight: int,
) -> None:
    ids = [item["id"] for item in questions]
    overall = {name: mean_of(per_question[name], ids) for name in rankers}
    rows = [[name, *overall[name].values()] for name in rankers]
    groups = {"corpus " + c: [q["id"] for q in questions if q["corpus"] == c] for c in CORPUS_CUSTOMERS}
    groups |= {
        "tag " + t: [q["id"] for q in questions if t in q["tags"]] for t in ("quote", "code", "acronym", "multi")
    }
    by_group = {g: {name: mean_of(per_question[name], gids) for name in rankers} for g, gids in groups.items() if gids}
    notes = [
        f"{len(questions)} questions over {len(CORPUS_CUSTOMERS)} corpora (bench/data/retrieval_dev), "
        f"{statistics.fmean(len(q['relevant']) for q in questions):.2f} relevant pages per question; one customer per "
        "corpus, default configuration (offline embedder wordllama-l2-256, hybrid = RRF), page-level scores",
        "plain BM25 (bm25s): bm25s Lucene BM25 k1 1.5 b 0.75, its English stop words and tokens, Snowball English "
        "stemmer (PyStemmer), 1,000-char section chunks, page = best chunk",
        f"{DENSE}: the same embedder over the same 1,000-char chunks, cosine, page = best chunk",
    ]
    if weights:
        notes.append(
            f"title/heading weight (text_analysis.CONTEXT_WEIGHT, default {default_weight}): the same corpora "
            "indexed again with each weight as another customer; tenantrag lexical / hybrid Recall@5/MRR@10/nDCG@10 "
            "per weight: "
            + "; ".join(
                f"{group} "
                + ", ".join(
                    f"w{w} {'/'.join(str(v) for v in by_group[group][lex].values())} | "
                    f"{'/'.join(str(v) for v in by_group[group][hyb].values())}"
                    for w, lex, hyb in weight_rankers(weights, default_weight)
                )
                for group in by_group
                if group.startswith("corpus ")
            )
        )
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


def weight_rankers(weights: list[int], default_weight: int) -> list[tuple[int, str, str]]:
    """(weight, lexical ranker, hybrid ranker) for every weight measured, the default's under its usual names."""
    pairs = {w: (weighted("lexical", w), weighted("hybrid", w)) for w in weights}
    pairs[default_weight] = ("tenantrag lexical", "tenantrag hybrid (default)")
    return [(w, *pairs[w]) for w in sorted(pairs)]


if __name__ == "__main__":
    main()
