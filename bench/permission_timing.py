"""The timing probe of ``bench.bench_permissions``: does the mere existence of pages a user may not read change how
fast their queries answer?

Planted before the store is written, in chunks of pages hidden from every probed user (the lowest 10 % of the
subtrees): ``WORDS`` made-up words, each in ``HOLDERS_SHARE`` of those chunks, and ``CLUSTERS`` tight clusters of
vectors (``CLUSTER_SHARE`` of them each) around random directions. One user who may not read half the pages asks,
pair by pair, a *hidden* question (a planted word, a vector next to a planted cluster) and a *control* of the same
shape (a made-up word planted nowhere, a vector next to a random direction where nothing was planted), in every
mode, the order within a pair alternating. The questions are the bare word (an attacker's best probe: no other
work dilutes the difference). Both answer nothing the user may read of the planted pages; only the time can differ.

Vector and hybrid pairs run with each ``rag.permissions_vector_search`` side by side: ``exact`` (the default: an
exact scan of the readable chunks) and ``hnsw`` (the iterative HNSW scan, which walks past hidden neighbours).
Lexical pairs (the setting does not touch them) run against two copies of the store side by side: ``indexed`` (the
generation's indexes as built now: the GIN over the terms has the readers as second column) and ``filtered`` (a
file copy whose GIN holds the terms only, as generations were built before: hidden candidates are fetched from the
table and filtered out). The same copies answer the main questions in ``off`` mode, interleaved, to show the index
costs off mode nothing.

Significance: a paired sign-flip permutation test of the median of the per-pair differences (no scipy here).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

WORDS = 8
HOLDERS_SHARE = 0.3  # of the hidden-to-all chunks, per word
CLUSTERS = 4
CLUSTER_SHARE = 0.2  # of the hidden-to-all chunks, per cluster
CLUSTER_NOISE = 0.02  # per dimension (256-d: a cluster radius of about 0.3)
PROBE_USER = 50  # the user who may not read 50 % of the pages
PERMUTATIONS = 5000
STORES = ("indexed", "filtered")
SEARCHES = ("exact", "hnsw")  # rag.permissions_vector_search
ARMS = ("hidden", "control")
HEADERS = ["mode", "store", "vector search", "hidden p50 ms", "hidden p95 ms", "control p50 ms", "control p95 ms"]
HEADERS += ["median of differences ms", "p (sign-flip)"]


def made_up_words(count: int, seed: int) -> list[str]:
    """Pronounceable words that occur in no corpus: consonant-vowel syllables, letters only (the analyser keeps
    them whole)."""
    rng = np.random.default_rng(seed)
    consonants, vowels = "bdfgklmnprstvz", "aeiou"
    return [
        "".join(rng.choice(list(consonants)) + rng.choice(list(vowels)) for _ in range(4)) + "x" for _ in range(count)
    ]


class Probe:
    """What was planted, and the probe's questions with their vectors."""

    def __init__(self, texts: list[str], matrix: np.ndarray, ranks: np.ndarray, chunks_per_page: int) -> None:
        rng = np.random.default_rng(17)
        page_of_chunk = np.arange(len(texts)) // chunks_per_page
        hidden = np.flatnonzero(ranks[page_of_chunk] < 0.1)  # hidden from every user of the bench
        self.hidden_words, self.control_words = made_up_words(WORDS, 1), made_up_words(WORDS, 2)
        holders = max(1, int(HOLDERS_SHARE * len(hidden)))
        for word in self.hidden_words:
            for i in rng.choice(hidden, holders, replace=False):
                texts[i] = f"{texts[i]} {word}"
        dims = matrix.shape[1]
        centres = _unit(rng.normal(size=(2 * CLUSTERS, dims)))
        members = rng.permutation(hidden)[: CLUSTERS * max(1, int(CLUSTER_SHARE * len(hidden)))]
        for n, group in enumerate(np.array_split(members, CLUSTERS)):
            matrix[group] = _unit(centres[n] + rng.normal(scale=CLUSTER_NOISE, size=(len(group), dims)))
        near = _unit(centres + rng.normal(scale=CLUSTER_NOISE, size=centres.shape)).astype(np.float32)
        # arm "hidden": a planted word and a vector next to a planted cluster; "control": neither exists
        self.questions = {
            "hidden": [(w, near[i % CLUSTERS]) for i, w in enumerate(self.hidden_words)],
            "control": [(w, near[CLUSTERS + i % CLUSTERS]) for i, w in enumerate(self.control_words)],
        }
        self.holders, self.cluster_size, self.hidden_chunks = holders, len(members) // CLUSTERS, len(hidden)
        self.unreadable = {f"pg{p:05d}" for p in np.flatnonzero(ranks < PROBE_USER / 100)}

    def vectors(self) -> dict[str, np.ndarray]:
        return {word: vector for arm in self.questions.values() for word, vector in arm}


def _unit(rows: np.ndarray) -> np.ndarray:
    return rows / np.linalg.norm(rows, axis=-1, keepdims=True)


def filtered_copy(url: str, generation: int = 1) -> None:
    """Turn a copy of the store into the index layout before the readers column: the GIN over the terms only."""
    from psycopg import sql

    from bench.bench_permissions import _config
    from tenant_rag.db import admin_connection
    from tenant_rag.store.indexes import create_index
    from tenant_rag.store.schema import store_names

    names = store_names(_config("off"))
    with admin_connection(url) as conn:
        index = sql.Identifier(names.schema, f"g{generation}_chunks_terms_readers_idx")
        conn.execute(sql.SQL("DROP INDEX {}").format(index))
        create_index(conn, names, generation, ("chunks", "terms", "gin"))
        conn.execute(sql.SQL("ANALYZE {}").format(names.gen_table(generation, "chunks")))


def sign_flip_p(differences: np.ndarray, seed: int = 3) -> float:
    """Two-sided p of the median of paired differences under random sign flips (no difference between the arms)."""
    rng = np.random.default_rng(seed)
    observed = abs(float(np.median(differences)))
    signs = rng.choice((-1.0, 1.0), size=(PERMUTATIONS, len(differences)))
    flipped = np.abs(np.median(signs * differences, axis=1))
    return float((np.count_nonzero(flipped >= observed) + 1) / (PERMUTATIONS + 1))


def probe_cells(mode: str) -> list[tuple[str, str, str]]:
    """(store, vector search, arm) a mode is probed in: lexical on both stores (its GIN differs; the vector search
    setting does not touch it), vector and hybrid on the indexed store with each ``rag.permissions_vector_search``."""
    if mode == "lexical":
        return [(store, "exact", arm) for store in STORES for arm in ARMS]
    return [("indexed", search, arm) for search in SEARCHES for arm in ARMS]


def measure_probe(
    managers: dict[str, Any], probe: Probe, pairs: int, warm_up: int, modes: tuple[str, ...]
) -> dict[tuple[str, str, str, str], list[float]]:
    """Latencies (seconds) per (mode, store, vector search, arm), pair by pair, every cell of a mode interleaved."""
    from bench.bench_permissions import K, _config
    from bench.common import collector_paused
    from tenant_rag.permissions import Identity

    configs = {search: _config("enforce", search) for search in SEARCHES}
    identity = Identity(f"user{PROBE_USER}", (f"sees{PROBE_USER}",))
    out: dict[tuple[str, str, str, str], list[float]] = {(m, *c): [] for m in modes for c in probe_cells(m)}
    with collector_paused():
        for i in range(warm_up + pairs):
            for mode in modes:
                order = probe_cells(mode) if i % 2 == 0 else probe_cells(mode)[::-1]
                for store, search, arm in order[i % len(order) :] + order[: i % len(order)]:
                    word = probe.questions[arm][i % WORDS][0]
                    started = time.perf_counter()
                    result = managers[store].query(configs[search], word, top_k=K, mode=mode, identity=identity)
                    elapsed = time.perf_counter() - started
                    if any(d.metadata["page_id"] in probe.unreadable for d in result.documents):
                        raise AssertionError("a probed answer held a page its user may not read")
                    if i >= warm_up:
                        out[(mode, store, search, arm)].append(elapsed)
    return out


def summarise(latencies: dict[tuple[str, str, str, str], list[float]]) -> tuple[dict[str, Any], list[list[Any]]]:
    figures: dict[str, Any] = {}
    rows = []
    cells = sorted({key[:3] for key in latencies}, key=lambda c: (c[0] != "vector", c[0], c[1], c[2]))
    for mode, store, search in cells:
        hidden, control = (np.array(latencies[(mode, store, search, arm)]) * 1000.0 for arm in ARMS)
        differences = hidden - control
        cell = {
            "hidden_p50_ms": round(float(np.percentile(hidden, 50)), 3),
            "hidden_p95_ms": round(float(np.percentile(hidden, 95)), 3),
            "control_p50_ms": round(float(np.percentile(control, 50)), 3),
            "control_p95_ms": round(float(np.percentile(control, 95)), 3),
            "median_difference_ms": round(float(np.median(differences)), 3),
            "p_sign_flip": round(sign_flip_p(differences), 4),
            "pairs": len(differences),
        }
        search_label = "-" if mode == "lexical" else search
        figures[f"{mode} / {store}" + ("" if mode == "lexical" else f" / {search}")] = cell
        rows.append([mode, store, search_label, *cell.values()][:-1])
    return figures, rows


def measure_off(managers: dict[str, Any], questions: list[str], warm_up: int) -> dict[tuple[str, str], list[float]]:
    """The main questions in ``off`` mode (lexical, hybrid) against both copies, interleaved: what the readers
    column in the GIN index costs a customer without enforcement."""
    from bench.bench_permissions import K, _config
    from bench.common import collector_paused

    config, out = _config("off"), {(m, s): [] for m in ("lexical", "hybrid") for s in STORES}
    with collector_paused():
        for i, question in enumerate(questions):
            for mode in ("lexical", "hybrid"):
                for store in STORES if i % 2 == 0 else STORES[::-1]:
                    started = time.perf_counter()
                    managers[store].query(config, question, top_k=K, mode=mode)
                    if i >= warm_up:
                        out[(mode, store)].append(time.perf_counter() - started)
    return out


def run(urls: dict[str, str], embedder: Any, probe: Probe, questions: list[str], warm_up: int) -> dict[str, Any]:
    """Both measurements against the two copies; figures, the probe table's rows and the off-mode comparison."""
    from bench.common import latency_summary_ms, ratio
    from tenant_rag.query import CustomerQueryManager

    managers = {s: CustomerQueryManager(urls[s], embedder_factory=lambda rag, customer: embedder) for s in STORES}
    pairs = len(questions) - warm_up
    probe_figures, rows = summarise(measure_probe(managers, probe, pairs, warm_up, ("vector", "lexical", "hybrid")))
    off = {f"{m} / {s}": latency_summary_ms(v) for (m, s), v in measure_off(managers, questions, warm_up).items()}
    for mode in ("lexical", "hybrid"):
        off[f"{mode} / indexed vs filtered p50"] = ratio(
            off[f"{mode} / indexed"]["p50_ms"], off[f"{mode} / filtered"]["p50_ms"]
        )
    planted = {"words": WORDS, "chunks_per_word": probe.holders, "clusters": CLUSTERS}
    planted |= {"chunks_per_cluster": probe.cluster_size, "hidden_to_all_chunks": probe.hidden_chunks}
    return {"probe": probe_figures, "off_mode": off, "planted": planted, "rows": rows}


def notes(timing: dict[str, Any]) -> list[str]:
    planted, off = timing["planted"], timing["off_mode"]
    return [
        f"timing probe: planted in chunks of pages no bench user may read ({planted['hidden_to_all_chunks']:,}): "
        f"{planted['words']} made-up words in {planted['chunks_per_word']:,} chunks each, {planted['clusters']} "
        f"vector clusters of {planted['chunks_per_cluster']:,} chunks; the user who may not read {PROBE_USER} % asks "
        "the bare word (hidden: planted; control: planted nowhere) with a vector next to a planted cluster (hidden) "
        "or next to a random direction (control), pair by pair, order rotating; vector and hybrid with "
        "rag.permissions_vector_search exact (default) and hnsw, interleaved; lexical on both copies of the store "
        "interleaved: indexed = the GIN over (terms, readers) of this version, filtered = a copy with the terms-only "
        "GIN of earlier generations; p = paired sign-flip permutation test of the median difference",
        "off mode, main questions, the two copies interleaved, p50 ms indexed / filtered: lexical "
        f"{off['lexical / indexed']['p50_ms']} / {off['lexical / filtered']['p50_ms']} "
        f"({off['lexical / indexed vs filtered p50']}x), hybrid {off['hybrid / indexed']['p50_ms']} / "
        f"{off['hybrid / filtered']['p50_ms']} ({off['hybrid / indexed vs filtered p50']}x)",
    ]
