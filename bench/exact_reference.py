"""Exact answers a permission-filtered search must match, computed in memory over the pages a user may read.

- ``exact_vector_pages``: cosine similarity of the query to every visible chunk, a page scored by its best chunk,
  the ``k`` best pages (what ``store.search`` returns, by page).
- ``ExactBM25``: Lucene's BM25 as ``store.bm25_search`` scores it, with N, the average length and every term's
  document frequency counted over the visible chunks only, a page scored by its best chunk.

Both are brute force (numpy / Python over every chunk), independent of the database's indexes.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from tenant_rag.store.bm25_search import DEFAULT_B, DEFAULT_K1
from tenant_rag.text_analysis import ChunkTerms, analyzer_for


def exact_vector_pages(
    matrix: np.ndarray, page_of_chunk: np.ndarray, pages: int, visible: np.ndarray, query: np.ndarray, k: int
) -> list[int]:
    """The ``k`` visible pages whose best chunk is closest to ``query`` (rows of ``matrix`` are unit vectors)."""
    scores = np.einsum("ij,j->i", matrix, query)
    best = np.full(pages, -np.inf)
    np.maximum.at(best, page_of_chunk, scores)
    best[~visible] = -np.inf
    top = np.argpartition(-best, k)[:k]
    return [int(p) for p in top[np.argsort(-best[top])] if np.isfinite(best[p])]


class ExactBM25:
    """BM25 over a subset of the chunks, by page; the chunks' analysed terms as the writer stored them."""

    def __init__(
        self, terms: Sequence[ChunkTerms], page_of_chunk: np.ndarray, text_search_config: str = "english"
    ) -> None:
        self.analyzer = analyzer_for(text_search_config)
        self.page_of_chunk = page_of_chunk
        self.lengths = np.array([t.length for t in terms], dtype=np.float64)
        postings: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for i, chunk in enumerate(terms):
            for term, freq in zip(chunk.terms.split(" "), chunk.freqs.split(" "), strict=True):
                if term:
                    postings[term].append((i, int(freq)))
        self.postings = {
            term: (np.array([c for c, _ in rows]), np.array([f for _, f in rows], dtype=np.float64))
            for term, rows in postings.items()
        }

    def page_scores(self, question: str, visible_chunks: np.ndarray) -> dict[int, float]:
        """Every visible page holding a question term, with its best chunk's score."""
        n = float(visible_chunks.sum())
        avgdl = max(float(self.lengths[visible_chunks].sum()) / n, 1.0) if n else 1.0
        chunk_score: dict[int, float] = defaultdict(float)
        for term in self.analyzer.question_terms(question):
            if term not in self.postings:
                continue
            chunks, freqs = self.postings[term]
            keep = visible_chunks[chunks]
            chunks, freqs = chunks[keep], freqs[keep]
            df = float(len(chunks))
            if not df:
                continue
            weight = math.log(1.0 + (n - df + 0.5) / (df + 0.5)) * (DEFAULT_K1 + 1)
            norm = DEFAULT_K1 * (1 - DEFAULT_B + DEFAULT_B * self.lengths[chunks] / avgdl)
            for chunk, score in zip(chunks.tolist(), (weight * freqs / (freqs + norm)).tolist(), strict=True):
                chunk_score[chunk] += score
        pages: dict[int, float] = {}
        for chunk, score in chunk_score.items():
            page = int(self.page_of_chunk[chunk])
            pages[page] = max(pages.get(page, 0.0), score)
        return pages


def same_top_scores(returned: Sequence[int], page_scores: dict[int, float], k: int) -> bool:
    """The returned pages are an exact top ``k``: as many as there are (up to ``k``), and their exact scores are the
    ``k`` best (ties may pick either page)."""
    best = sorted(page_scores.values(), reverse=True)[:k]
    if len(returned) != len(best) or any(page not in page_scores for page in returned):
        return False
    got = sorted((page_scores[page] for page in returned), reverse=True)
    return all(math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9) for a, b in zip(got, best, strict=True))
