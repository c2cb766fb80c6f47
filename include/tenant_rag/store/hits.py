"""A search result: one parent of a customer's store with its score, and the rule that one page fills one slot.

Vector (``search``), lexical (``lexical_search``, ``bm25_search``) and hybrid (``hybrid_search``) search all return
``Hit``s; the query path reads their parents' rows with ``parent_records``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Hit:
    parent_id: str
    score: float
    vector_rank: int | None = None
    lexical_rank: int | None = None

    @property
    def page_id(self) -> str:
        """The page of the parent: parent ids are ``<page_id>#<suffix>`` (``tenant_rag.chunking``)."""
        page, sep, _ = self.parent_id.rpartition("#")
        return page if sep else self.parent_id


def best_per_page(hits: Sequence[Hit]) -> list[Hit]:
    """The first (best) hit of each page, in the hits' order: one page fills at most one slot."""
    seen: set[str] = set()
    best = []
    for hit in hits:
        if hit.page_id not in seen:
            seen.add(hit.page_id)
            best.append(hit)
    return best
