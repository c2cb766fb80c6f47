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
from typing import Any

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


def check_answers(
    answers: dict[tuple[str, str], list[list[str]]],
    questions: Sequence[str],
    query_vectors: np.ndarray,
    matrix: np.ndarray,
    bm25: ExactBM25,
    ranks: np.ndarray,
    hidden_share: dict[str, float],
    *,
    k: int,
    chunks_per_page: int,
) -> dict[tuple[str, str], dict[str, Any]]:
    """Each (mode, cell)'s answers (page ids ``pg00042``, one list per question) against brute force over the pages
    the cell's user may read: a page ranked below ``hidden_share[cell]`` is hidden from them."""
    pages = len(ranks)
    page_of_chunk = np.arange(len(matrix)) // chunks_per_page
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for (mode, cell), got in answers.items():
        visible = ranks >= hidden_share[cell]
        visible_chunks = visible[page_of_chunk]
        recalls, exact_lexical, short, leaked = [], 0, 0, 0
        for returned_ids, question, vector in zip(got, questions, query_vectors, strict=True):
            returned = [int(p[2:]) for p in returned_ids]
            leaked += sum(1 for p in returned if not visible[p])
            qualifying = int(visible.sum())
            if mode == "vector":
                exact = exact_vector_pages(matrix, page_of_chunk, pages, visible, vector, k)
                recalls.append(len(set(returned) & set(exact)) / k)
            elif mode == "lexical":
                scores = bm25.page_scores(question, visible_chunks)
                qualifying = len(scores)
                exact_lexical += same_top_scores(returned, scores, k)
            short += len(returned) < k <= qualifying
        out[(mode, cell)] = {
            "visible_pages": int(visible.sum()),
            "recall_at_10": round(float(np.mean(recalls)), 4) if recalls else None,
            "recall_min": round(float(np.min(recalls)), 2) if recalls else None,
            "exact_top_k_share": round(exact_lexical / len(got), 4) if mode == "lexical" else None,
            "short_results": short,
            "hidden_rows_returned": leaked,
            "queries": len(got),
        }
    return out


def targets_missed(results: dict[str, dict[str, Any]]) -> list[str]:
    """The cells that miss a target: recall (1.0 where the search is exact), short answers, hidden rows."""
    out = []
    for name, cell in results.items():
        recall, floor = cell["recall_at_10"], 1.0 if "exact" in cell["cell"] else 0.95
        if recall is not None and recall < floor:
            out.append(f"{name}: recall@10 {recall} < {floor}")
        if cell["short_results"] or cell["hidden_rows_returned"]:
            out.append(f"{name}: {cell['short_results']} short, {cell['hidden_rows_returned']} hidden rows")
    return out
