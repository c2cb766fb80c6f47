"""Benchmark inputs: chunk texts cut from the shared corpora (or generated words), and seeded unit vectors."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from bench.common import CORPORA_DIR

_WORD_TEXT = (
    "configure install server client database index query vector token cache deploy cluster node replica "
    "backup restore schema table column migration release version upgrade permission role user group "
    "network proxy latency throughput pipeline export space page parent child chunk embedding search "
    "retrieval tenant customer airflow scheduler worker pool queue retry timeout error warning log metric "
    "trace span exporter collector"
)
_WORDS = _WORD_TEXT.split()


def corpus_files(corpora_dir: Path = CORPORA_DIR) -> list[Path]:
    """Markdown files of the shared corpora, sorted (empty when ../shared is absent)."""
    if not corpora_dir.is_dir():
        return []
    return sorted(p for p in corpora_dir.glob("*/files/**/*.md") if p.is_file())


def _generated_text(rng: random.Random, size: int) -> str:
    words: list[str] = []
    length = 0
    while length < size:
        word = rng.choice(_WORDS)
        words.append(word)
        length += len(word) + 1
    return " ".join(words)[:size]


def chunk_texts(n: int, *, size: int = 800, seed: int = 7) -> list[str]:
    """``n`` texts of about ``size`` characters: consecutive slices of the corpora, cycled; else generated words."""
    texts: list[str] = []
    files = corpus_files()
    if files:
        while len(texts) < n:
            for path in files:
                body = path.read_text(errors="replace")
                for start in range(0, max(1, len(body) - size // 2), size):
                    piece = body[start : start + size].strip()
                    if len(piece) >= size // 4:
                        texts.append(piece)
                        if len(texts) >= n:
                            return texts
            if not texts:
                break
    rng = random.Random(seed)
    while len(texts) < n:
        texts.append(_generated_text(rng, size))
    return texts


def unit_vectors(n: int, dim: int, *, seed: int = 11) -> np.ndarray:
    """``n`` x ``dim`` float32 vectors of length 1 (cosine-ready), reproducible."""
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((n, dim), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors


def clustered_vectors(n: int, dim: int, *, clusters: int = 64, spread: float = 0.35, seed: int = 13) -> np.ndarray:
    """Unit vectors around ``clusters`` centres: closer to real embeddings than uniform noise (ANN recall differs)."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dim), dtype=np.float32)
    labels = rng.integers(0, clusters, size=n)
    vectors = centres[labels] + spread * rng.standard_normal((n, dim), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors.astype(np.float32)


def batched(items: list[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
