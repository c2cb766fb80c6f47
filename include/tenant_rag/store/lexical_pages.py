"""Lexical retrieval by page: one page fills at most one of the ``k`` slots (with its best parent).

``lexical_search.lexical_parents`` ranks parents; a long page is several parents that could crowd the top ``k``.
This asks it for more parents than ``k`` and keeps the best parent of each page, asking again, deeper, while that
leaves fewer than ``k`` pages and more parents match. Like ``search``, it expects a transaction already switched to
the tenant role.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import psycopg

from tenant_rag.store.bm25_search import BM25Params
from tenant_rag.store.hits import Hit, best_per_page
from tenant_rag.store.lexical_search import lexical_parents
from tenant_rag.store.names import StoreNames
from tenant_rag.store.schema import STORE_FORMAT

FETCH_FACTOR = 2
MAX_LEXICAL_FETCH = 2000


def lexical_pages(
    conn: psycopg.Connection[Any],
    names: StoreNames,
    generation: int,
    question: str,
    text_search_config: str,
    k: int,
    space_keys: Sequence[str] | None = None,
    *,
    store_format: int = STORE_FORMAT,
    bm25: BM25Params | None = None,
) -> list[Hit]:
    """The best parent of each of the ``k`` best matching pages, best first, ``lexical_rank`` being the page's rank
    (exactly ``k`` when ``k`` pages match, unless their parents run past ``MAX_LEXICAL_FETCH``)."""
    fetch = max(FETCH_FACTOR * k, k + 10)
    while True:
        hits = lexical_parents(
            conn,
            names,
            generation,
            question,
            text_search_config,
            fetch,
            space_keys,
            store_format=store_format,
            bm25=bm25,
        )
        pages = best_per_page(hits)
        if len(pages) >= k or len(hits) < fetch or fetch >= MAX_LEXICAL_FETCH:
            return [replace(hit, lexical_rank=rank) for rank, hit in enumerate(pages[:k], 1)]
        fetch = min(fetch * 4, MAX_LEXICAL_FETCH)
