"""Hybrid retrieval: weighted reciprocal rank fusion (RRF) of the vector and the lexical page rankings.

Chosen by measurement on the dev benchmark (bench/results/retrieval_dev.md, 175 questions over three corpora, each
ranking 20 pages deep): with the offline embedder, equal weights (the usual RRF, k 60) scored below the lexical
ranking alone (nDCG@10 0.881 vs 0.929); k 10 with the lexical ranking weighted 4:1 scored 0.980 / 0.918 / 0.931
(Recall@5 / MRR@10 / nDCG@10) against the lexical ranking's 0.974 / 0.915 / 0.929, with 3:1 and 6:1 within 0.004.

Both rankings hold one parent per page (its best), and so does the fusion: a page fills at most one of the ``k``
slots, even when the two rankings chose different parents of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import psycopg

from tenant_rag.store.bm25_search import BM25Params
from tenant_rag.store.hits import Hit, best_per_page
from tenant_rag.store.lexical_pages import lexical_pages
from tenant_rag.store.names import StoreNames
from tenant_rag.store.schema import STORE_FORMAT
from tenant_rag.store.search import vector_parents

RRF_K = 10
LEXICAL_WEIGHT = 4.0
HYBRID_DEPTH = 20


def rrf_fuse(
    vector: Sequence[Hit],
    lexical: Sequence[Hit],
    k: int,
    rrf_k: int = RRF_K,
    lexical_weight: float = LEXICAL_WEIGHT,
) -> list[Hit]:
    """Weighted reciprocal rank fusion of two page rankings: score = 1 / (rrf_k + vector rank) + lexical_weight /
    (rrf_k + lexical rank); ties go to the vector ranking. A page stands for the parent that ranks it better (the
    vector ranking's on a tie); a ranking that holds a page twice counts its first (best) parent only."""
    vector, lexical = best_per_page(vector), best_per_page(lexical)
    vector_rank = {hit.page_id: rank for rank, hit in enumerate(vector, 1)}
    lexical_rank = {hit.page_id: rank for rank, hit in enumerate(lexical, 1)}
    parent = {hit.page_id: hit.parent_id for hit in lexical}
    for hit in vector:
        if hit.page_id not in lexical_rank or vector_rank[hit.page_id] <= lexical_rank[hit.page_id]:
            parent[hit.page_id] = hit.parent_id
    scores: dict[str, float] = {}
    for ranking, weight in ((vector_rank, 1.0), (lexical_rank, lexical_weight)):
        for page, rank in ranking.items():
            scores[page] = scores.get(page, 0.0) + weight / (rrf_k + rank)
    ordered = sorted(
        scores,
        key=lambda page: (-scores[page], vector_rank.get(page, len(vector) + 1), lexical_rank.get(page, 0), page),
    )
    return [
        Hit(parent[page], scores[page], vector_rank=vector_rank.get(page), lexical_rank=lexical_rank.get(page))
        for page in ordered[:k]
    ]


def hybrid_parents(
    conn: psycopg.Connection[Any],
    names: StoreNames,
    generation: int,
    question: str,
    query_vector: np.ndarray,
    text_search_config: str,
    k: int,
    space_keys: Sequence[str] | None = None,
    depth: int = HYBRID_DEPTH,
    rrf_k: int = RRF_K,
    *,
    store_format: int = STORE_FORMAT,
    bm25: BM25Params | None = None,
) -> list[Hit]:
    """RRF of the vector and lexical page rankings, each ``max(depth, k)`` pages deep (the lexical one as
    ``lexical_parents`` ranks the generation's ``store_format``)."""
    depth = max(depth, k)
    vector = vector_parents(conn, names, generation, query_vector, depth, space_keys)
    lexical = lexical_pages(
        conn, names, generation, question, text_search_config, depth, space_keys, store_format=store_format, bm25=bm25
    )
    return rrf_fuse(vector, lexical, k, rrf_k)
