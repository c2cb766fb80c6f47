"""Reference rankers for the dev retrieval benchmark: plain BM25 and the dense model alone, outside tenantrag.

Both index the same pages as tenantrag (read with ``tenant_rag.documents.read_page``), cut into section chunks of
at most 1,000 characters (sections at headings, ``markdown_structure.split_sections``; paragraphs packed greedily,
longer ones cut), and score a page by its best chunk.

BM25 is the Lucene form (k1 1.5, b 0.75; idf = ln(1 + (N - df + 0.5) / (df + 0.5))), the bm25s default, written with
the standard library because bm25s and PyStemmer are not in the environment: tokens are bm25s's default pattern
(two or more word characters, lower-cased), English stop words are dropped and the rest stemmed with the Snowball
English stemmer, both taken from PostgreSQL's ``english_stem`` dictionary (Snowball's stemmer and stop word list),
asked once for every distinct token.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import psycopg

from tenant_rag.documents import ExportedPage
from tenant_rag.markdown_structure import split_sections

CHUNK_CHARS = 1000
K1, B = 1.5, 0.75
_TOKEN = re.compile(r"(?u)\b\w\w+\b")


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


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


class SnowballStems:
    """Snowball English stems of tokens (None for a stop word), from PostgreSQL's ``english_stem``, cached."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.stems: dict[str, str | None] = {}

    def learn(self, words: Iterable[str]) -> None:
        new = sorted(set(words) - self.stems.keys())
        if not new:
            return
        with psycopg.connect(self.url) as conn:
            rows = conn.execute(
                "SELECT w, ts_lexize('english_stem', w) FROM unnest(%s::text[]) AS w", (new,)
            ).fetchall()
        for word, lexemes in rows:
            self.stems[word] = lexemes[0] if lexemes else None

    def terms(self, text: str) -> list[str]:
        words = tokens(text)
        self.learn(words)
        return [stem for stem in (self.stems[word] for word in words) if stem]


@dataclass
class BM25Index:
    """Lucene BM25 over chunks; ``rank`` returns page keys by their best chunk."""

    stems: SnowballStems
    pages: list[str] = field(default_factory=list)  # the page key of each chunk
    postings: dict[str, list[tuple[int, int]]] = field(default_factory=lambda: defaultdict(list))
    lengths: list[int] = field(default_factory=list)

    def add_all(self, items: Sequence[tuple[str, Sequence[str]]]) -> None:
        """Index every page's chunks (the stems of all their words are asked for in one round trip)."""
        self.stems.learn(word for _, chunks in items for chunk in chunks for word in tokens(chunk))
        for page_key, chunks in items:
            self.add(page_key, chunks)

    def add(self, page_key: str, chunks: Sequence[str]) -> None:
        for chunk in chunks:
            terms = self.stems.terms(chunk)
            doc = len(self.pages)
            self.pages.append(page_key)
            self.lengths.append(len(terms))
            for term, tf in Counter(terms).items():
                self.postings[term].append((doc, tf))

    def rank(self, question: str, depth: int = 10) -> list[str]:
        n, avgdl = len(self.lengths), sum(self.lengths) / max(1, len(self.lengths))
        scores: dict[int, float] = defaultdict(float)
        for term in set(self.stems.terms(question)):
            postings = self.postings.get(term, [])
            if not postings:
                continue
            idf = math.log(1.0 + (n - len(postings) + 0.5) / (len(postings) + 0.5))
            for doc, tf in postings:
                norm = K1 * (1.0 - B + B * self.lengths[doc] / avgdl)
                scores[doc] += idf * tf * (K1 + 1.0) / (tf + norm)
        return best_pages(((self.pages[doc], score) for doc, score in scores.items()), depth)


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
