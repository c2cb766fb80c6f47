"""Hybrid retrieval: reciprocal rank fusion (RRF) of the vector and the lexical parent rankings."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import psycopg

from tenant_rag.store.bm25_search import BM25Params
from tenant_rag.store.lexical_search import lexical_parents
from tenant_rag.store.names import StoreNames
from tenant_rag.store.schema import STORE_FORMAT
from tenant_rag.store.search import Hit, vector_parents

RRF_K = 60
HYBRID_DEPTH = 20


def rrf_fuse(vector: Sequence[Hit], lexical: Sequence[Hit], k: int, rrf_k: int = RRF_K) -> list[Hit]:
    """Reciprocal rank fusion: score = sum over rankings of 1 / (rrf_k + rank); ties go to the vector ranking."""
    scores: dict[str, float] = {}
    vector_rank = {hit.parent_id: rank for rank, hit in enumerate(vector, 1)}
    lexical_rank = {hit.parent_id: rank for rank, hit in enumerate(lexical, 1)}
    for ranking in (vector_rank, lexical_rank):
        for parent_id, rank in ranking.items():
            scores[parent_id] = scores.get(parent_id, 0.0) + 1.0 / (rrf_k + rank)
    ordered = sorted(
        scores,
        key=lambda pid: (-scores[pid], vector_rank.get(pid, len(vector) + 1), lexical_rank.get(pid, 0), pid),
    )
    return [
        Hit(pid, scores[pid], vector_rank=vector_rank.get(pid), lexical_rank=lexical_rank.get(pid))
        for pid in ordered[:k]
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
    """RRF of the vector and lexical rankings, each ``max(depth, k)`` parents deep (the lexical one as
    ``lexical_parents`` ranks the generation's ``store_format``)."""
    depth = max(depth, k)
    vector = vector_parents(conn, names, generation, query_vector, depth, space_keys)
    lexical = lexical_parents(
        conn, names, generation, question, text_search_config, depth, space_keys, store_format=store_format, bm25=bm25
    )
    return rrf_fuse(vector, lexical, k, rrf_k)
