"""Reference rankers for the dev retrieval benchmark: plain BM25 and the dense model alone, outside tenantrag.

Both index the same pages as tenantrag (read with ``tenant_rag.documents.read_page``), cut into section chunks of
at most 1,000 characters (sections at headings, ``markdown_structure.split_sections``; paragraphs packed greedily,
longer ones cut), and score a page by its best chunk.

Plain BM25 is bm25s (Lucene BM25, k1 1.5, b 0.75) with its own tokens (two or more word characters, lower-cased)
and English stop words, and the Snowball English stemmer (PyStemmer): a standard off-the-shelf BM25, nothing of
tenantrag's analyser. bm25s is a bench-only package (``bench/requirements-bench.txt``, installed beside the venv).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bench.common import add_bench_extra_to_path
from tenant_rag.documents import ExportedPage
from tenant_rag.markdown_structure import split_sections

CHUNK_CHARS = 1000
K1, B = 1.5, 0.75


def section_chunks(page: ExportedPage, size: int = CHUNK_CHARS) -> list[str]:
    """The page's sections packed into chunks of at most ``size`` characters."""
    chunks: list[str] = []
    for section in split_sections(page.body) or []:
        current = ""
        for paragraph in re.split(r"\n\s*\n", section.text):
            pieces = [paragraph[i : i + size] for i in range(0, len(paragraph), size)] or [""]
            for piece in pieces:
                if current and len(current) + 2 + len(piece) > size:
                    chunks.append(current)
                    current = ""
                current = f"{current}\n\n{piece}" if current else piece
        if current.strip():
            chunks.append(current)
    return chunks or [page.title]


class PlainBM25:
    """bm25s over chunks; ``rank`` returns page keys by their best chunk (chunks that share no term score nothing)."""

    def __init__(self) -> None:
        add_bench_extra_to_path()
        import bm25s  # bench-only: bench/requirements-bench.txt
        import Stemmer

        self._bm25s = bm25s
        self._stemmer = Stemmer.Stemmer("english")
        self._retriever = bm25s.BM25(k1=K1, b=B, method="lucene")
        self.pages: list[str] = []  # the page key of each chunk

    def _tokenize(self, texts: list[str], **options: Any) -> Any:
        return self._bm25s.tokenize(texts, stopwords="en", stemmer=self._stemmer, show_progress=False, **options)

    def add_all(self, items: Sequence[tuple[str, Sequence[str]]]) -> None:
        """Index every page's chunks (one index: bm25s cannot add to one it has built)."""
        self.pages = [key for key, chunks in items for _ in chunks]
        self._retriever.index(self._tokenize([chunk for _, chunks in items for chunk in chunks]), show_progress=False)

    def rank(self, question: str, depth: int = 10) -> list[str]:
        terms = self._tokenize([question], return_ids=False)[0]
        if not terms:
            return []
        scores = self._retriever.get_scores(terms)
        return best_pages(((self.pages[i], float(scores[i])) for i in np.flatnonzero(scores > 0)), depth)


@dataclass
class DenseIndex:
    """Cosine similarity of the embedder's chunk vectors; ``rank`` returns page keys by their best chunk."""

    embedder: Any
    pages: list[str] = field(default_factory=list)
    vectors: list[np.ndarray] = field(default_factory=list)

    def add_all(self, items: Sequence[tuple[str, Sequence[str]]], batch: int = 512) -> None:
        flat = [(key, chunk) for key, chunks in items for chunk in chunks]
        for start in range(0, len(flat), batch):
            part = flat[start : start + batch]
            vectors = np.asarray(self.embedder.embed_documents([chunk for _, chunk in part]), dtype=np.float32)
            vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
            self.vectors.append(vectors)
            self.pages.extend(key for key, _ in part)

    def rank(self, question: str, depth: int = 10) -> list[str]:
        matrix = np.concatenate(self.vectors)
        query = np.asarray(self.embedder.embed_query(question), dtype=np.float32)
        similarity = matrix @ (query / max(float(np.linalg.norm(query)), 1e-12))
        top = np.argsort(-similarity)[: depth * 50]
        return best_pages(((self.pages[i], float(similarity[i])) for i in top), depth)


def best_pages(scored: Iterable[tuple[str, float]], depth: int) -> list[str]:
    best: dict[str, float] = {}
    for page, score in scored:
        if score > best.get(page, -math.inf):
            best[page] = score
    return sorted(best, key=lambda page: (-best[page], page))[:depth]
