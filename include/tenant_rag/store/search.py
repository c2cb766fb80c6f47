"""Retrieval inside one generation of one customer's store: vector, lexical and hybrid (RRF) parent search.

Every function expects a connection inside a transaction already switched to the customer's tenant role
(``SET LOCAL ROLE``), so the database itself refuses any other schema. Children are searched and grouped to their
parents; each function returns distinct parents, best first.

- vector: HNSW cosine search (``hnsw.iterative_scan = relaxed_order`` under a space filter) and an over-fetch that
  grows until ``k`` distinct parents are found, then an exact grouped scan if the index still came back short.
- lexical: Postgres full-text search over the chunks' ``tsv`` (GIN). Questions are natural language, so any of
  their lexemes may match; a chunk scores the idf-weighted sum of the lexemes it contains (see
  ``lexical_parents``), and ``websearch_to_tsquery`` syntax (quotes, ``-word``) filters when the user writes it.
- hybrid: reciprocal rank fusion of the two parent rankings.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import psycopg
from psycopg import sql

from tenant_rag.store.schema import StoreNames

RRF_K = 60
HYBRID_DEPTH = 20
MAX_EF_SEARCH = 1000
# hnsw.ef_search grows with the store: chunks / EF_PER_CHUNKS, between MIN_EF_SEARCH and MAX_AUTO_EF_SEARCH (and
# never below the rows fetched). Measured (bench 3, 256-d WordLlama vectors, top-10 parents): 2k chunks reach
# recall 0.95 at 40 (where a larger ef only walks the whole graph), 10k chunks need 100 (40 gave 0.88).
MIN_EF_SEARCH = 40
MAX_AUTO_EF_SEARCH = 200
EF_PER_CHUNKS = 100
# %(local)s: true inside a transaction (the usual case), false for the session of a tenant's own autocommit
# connection (``vector_records`` with ``session_role``), where the next query re-sets them anyway.
SCAN_SETTINGS_SQL = """
SELECT set_config('hnsw.iterative_scan', %(iterative)s, %(local)s),
       set_config('hnsw.ef_search', least(%(max_ef)s, greatest(%(fetch)s, %(min_ef)s, (
         SELECT CASE WHEN reltuples < 0 THEN %(unknown_ef)s ELSE least(reltuples / %(per)s, %(max_auto)s) END
         FROM pg_class WHERE oid = %(table)s::regclass)))::int::text, %(local)s)
"""
MAX_VECTOR_FETCH = 4000


def iterative_mode(space_keys: Sequence[str] | None) -> str:
    """``hnsw.iterative_scan`` for a search: only a filter can starve the scan (``ef_search`` is never below the
    rows fetched), so an unfiltered one skips the iterative bookkeeping."""
    return "relaxed_order" if space_keys else "off"


def scan_settings(
    names: StoreNames, generation: int, space_keys: Sequence[str] | None, *, local: bool
) -> dict[str, Any]:
    """Parameters of ``SCAN_SETTINGS_SQL`` for one search (add ``fetch``, the rows the query will ask for)."""
    return {
        "iterative": iterative_mode(space_keys),
        "local": local,
        "max_ef": MAX_EF_SEARCH,
        "min_ef": MIN_EF_SEARCH,
        "max_auto": MAX_AUTO_EF_SEARCH,
        "unknown_ef": MAX_AUTO_EF_SEARCH // 2,
        "per": EF_PER_CHUNKS,
        "table": f"{names.schema}.g{int(generation)}_chunks",
    }


@dataclass(frozen=True)
class Hit:
    parent_id: str
    score: float
    vector_rank: int | None = None
    lexical_rank: int | None = None


@dataclass(frozen=True)
class ParentRecord:
    parent_id: str
    page_id: str
    text: str
    heading_path: tuple[str, ...]
    title: str
    url: str | None
    space_key: str
    rel_path: str
    breadcrumbs: tuple[str, ...]
    labels: tuple[str, ...]
    version: int | None
    last_modified: datetime | None


def _space_filter(space_keys: Sequence[str] | None) -> tuple[sql.Composable, tuple[Any, ...]]:
    if not space_keys:
        return sql.SQL(""), ()
    return sql.SQL(" WHERE space_key = ANY(%s)"), (list(space_keys),)


def vector_parents(
    conn: psycopg.Connection[Any],
    names: StoreNames,
    generation: int,
    query_vector: np.ndarray,
    k: int,
    space_keys: Sequence[str] | None = None,
) -> list[Hit]:
    """The ``k`` parents whose best child is closest (cosine) to ``query_vector``; exactly k when available.

    Each attempt is ONE round trip: the scan settings (``set_config(..., true)``, local to the transaction; the
    ``ef_search`` derived on the server from the store's size) and the HNSW query go out together in a pipeline,
    with the query vector in binary.
    """
    chunks = names.gen_table(generation, "chunks")
    where, params = _space_filter(space_keys)
    vector = np.asarray(query_vector, dtype=np.float32)
    fetch = max(4 * k, 40)
    settings = scan_settings(names, generation, space_keys, local=True)
    best: dict[str, float] = {}
    while True:
        # the row count is a literal so that a prepared statement keeps one generic plan (see vector_records)
        statement = sql.SQL(
            "SELECT parent_id, embedding <=> %b AS distance FROM {}{} ORDER BY distance LIMIT {}"
        ).format(chunks, where, sql.Literal(int(fetch)))
        with conn.pipeline():
            conn.execute(SCAN_SETTINGS_SQL, {**settings, "fetch": fetch})
            cursor = conn.execute(statement, (vector, *params))
        rows = cursor.fetchall()
        best = {}
        for parent_id, distance in rows:
            if parent_id not in best or distance < best[parent_id]:
                best[parent_id] = float(distance)
        if len(best) >= k or len(rows) < fetch or fetch >= MAX_VECTOR_FETCH:
            break
        fetch = min(fetch * 4, MAX_VECTOR_FETCH)
    if len(best) < k:  # the approximate scan came back short (e.g. a selective filter): scan exactly
        rows = conn.execute(
            sql.SQL(
                "SELECT parent_id, min(embedding <=> %b) AS distance FROM {}{}"
                " GROUP BY parent_id ORDER BY distance LIMIT %s"
            ).format(chunks, where),
            (vector, *params, k),
        ).fetchall()
        best = {parent_id: float(distance) for parent_id, distance in rows}
    ranked = sorted(best.items(), key=lambda item: (item[1], item[0]))[:k]
    return [Hit(parent_id, 1.0 - distance, vector_rank=rank) for rank, (parent_id, distance) in enumerate(ranked, 1)]


_USER_SYNTAX = re.compile(r'"|(^|\s)-\w')
COMMON_TERM_SHARE = 0.2
MAX_TERMS = 64

TERM_STATS_SQL = """
WITH terms AS (
  SELECT DISTINCT lexeme FROM unnest(tsvector_to_array(to_tsvector(%(cfg)s::regconfig, %(question)s))) AS lexeme),
total AS MATERIALIZED (
  SELECT CASE WHEN r.reltuples > 0 THEN r.reltuples ELSE (SELECT count(*) FROM {chunks}) END AS n
  FROM pg_class AS r WHERE r.oid = %(table)s::regclass)
SELECT t.lexeme, d.df, total.n
FROM terms AS t, total,
     LATERAL (SELECT count(*) AS df FROM {chunks} AS c WHERE c.tsv @@ quote_literal(t.lexeme)::tsquery) AS d
WHERE d.df > 0
"""


@dataclass(frozen=True)
class _Term:
    lexeme: str
    idf: float
    common: bool


def _term_weights(conn: psycopg.Connection[Any], chunks: sql.Composable, params: dict[str, Any]) -> list[_Term]:
    """The question's lexemes that occur in the store, with BM25 idf, rarest first (at most ``MAX_TERMS``)."""
    terms = []
    for lexeme, df, total in conn.execute(sql.SQL(TERM_STATS_SQL).format(chunks=chunks), params).fetchall():
        n = max(float(total), float(df))
        idf = math.log(1.0 + (n - df + 0.5) / (df + 0.5))
        terms.append(_Term(lexeme, idf, df > COMMON_TERM_SHARE * n))
    terms.sort(key=lambda term: (-term.idf, term.lexeme))
    return terms[:MAX_TERMS]


def _candidate_sets(terms: list[_Term]) -> list[list[tuple[str, str | None]]]:
    """Ever wider ways to select candidate chunks, each exact whenever it yields ``k`` parents.

    Every set is a list of groups (one lexeme, or two ANDed); a chunk is a candidate if it matches any group.
    1. pairs of terms, when any two terms together outweigh the heaviest single one: a chunk holding one term
       only then cannot outrank a chunk holding two (used for questions of 3 to 8 terms);
    2. the rare terms, when all common terms together weigh less than the lightest rare term;
    3. every term.
    """
    sets: list[list[tuple[str, str | None]]] = []
    idfs = sorted(term.idf for term in terms)
    if 3 <= len(terms) <= 8 and idfs[0] + idfs[1] > idfs[-1]:
        sets.append([(a.lexeme, b.lexeme) for a, b in itertools.combinations(terms, 2)])
    rare = [term for term in terms if not term.common]
    if rare and len(rare) < len(terms) and sum(t.idf for t in terms if t.common) < min(t.idf for t in rare):
        sets.append([(term.lexeme, None) for term in rare])
    sets.append([(term.lexeme, None) for term in terms])
    return sets


def _scored_query(chunks: sql.Composable, terms: list[_Term], space: sql.Composable) -> sql.Composed:
    """One CASE per term (its lexeme and idf bound as parameters) summed per chunk, best chunk per parent."""
    columns = sql.SQL("").join(
        sql.SQL(", quote_literal({})::tsquery AS {}").format(sql.Placeholder(f"t{i}"), sql.Identifier(f"q{i}"))
        for i in range(len(terms))
    )
    score = sql.SQL(" + ").join(
        sql.SQL("CASE WHEN c.tsv @@ q.{} THEN {} ELSE 0 END").format(sql.Identifier(f"q{i}"), sql.Placeholder(f"w{i}"))
        for i in range(len(terms))
    )
    return sql.SQL(
        "WITH q AS (SELECT (SELECT string_agg('(' || quote_literal(a) || coalesce(' & ' || quote_literal(b), '')"
        " || ')', ' | ') FROM unnest(%(left)s::text[], %(right)s::text[]) AS g(a, b))::tsquery AS loose,"
        " websearch_to_tsquery(%(cfg)s::regconfig, %(question)s) AS strict{columns})"
        " SELECT c.parent_id, max({score}) AS score FROM {chunks} AS c, q"
        " WHERE c.tsv @@ q.loose AND (NOT %(user_syntax)s OR c.tsv @@ q.strict){space}"
        " GROUP BY c.parent_id ORDER BY score DESC, c.parent_id LIMIT %(k)s"
    ).format(columns=columns, score=score, chunks=chunks, space=space)


def lexical_parents(
    conn: psycopg.Connection[Any],
    names: StoreNames,
    generation: int,
    question: str,
    text_search_config: str,
    k: int,
    space_keys: Sequence[str] | None = None,
) -> list[Hit]:
    """Up to ``k`` parents ranked by full-text relevance of their best child (fewer when fewer match).

    A child scores the sum of the inverse document frequencies of the question's lexemes it contains (BM25's idf
    with binary term frequency; document frequencies are counted through the GIN index at query time, the chunk
    count comes from the planner statistics), so rare words such as error codes weigh most. Quotes or ``-word``
    in the question are honoured as web-search syntax. Candidates are selected narrowly first and more widely
    only when that yields fewer than ``k`` parents (see ``_candidate_sets``); the ranking is the same as scoring
    every matching chunk.
    """
    chunks = names.gen_table(generation, "chunks")
    params: dict[str, Any] = {
        "cfg": text_search_config,
        "question": question,
        "k": k,
        "spaces": list(space_keys or ()),
        "user_syntax": bool(_USER_SYNTAX.search(question)),
        "table": f"{names.schema}.g{int(generation)}_chunks",
    }
    terms = _term_weights(conn, chunks, params)
    if not terms:
        return []
    for i, term in enumerate(terms):
        params[f"t{i}"] = term.lexeme
        params[f"w{i}"] = term.idf
    space = sql.SQL(" AND c.space_key = ANY(%(spaces)s)") if space_keys else sql.SQL("")
    statement = _scored_query(chunks, terms, space)
    rows: list[tuple[Any, ...]] = []
    for groups in _candidate_sets(terms):
        left, right = [a for a, _ in groups], [b for _, b in groups]
        rows = conn.execute(statement, {**params, "left": left, "right": right}).fetchall()
        if len(rows) >= k:
            break
    return [Hit(parent_id, float(score), lexical_rank=rank) for rank, (parent_id, score) in enumerate(rows, 1)]


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
) -> list[Hit]:
    """RRF of the vector and lexical rankings, each ``max(depth, k)`` parents deep."""
    depth = max(depth, k)
    vector = vector_parents(conn, names, generation, query_vector, depth, space_keys)
    lexical = lexical_parents(conn, names, generation, question, text_search_config, depth, space_keys)
    return rrf_fuse(vector, lexical, k, rrf_k)


# The columns of a ParentRecord, read from parents ``p`` joined with their page ``d`` (see ``parent_record``).
PARENT_RECORD_COLUMNS = (
    "p.parent_id, p.page_id, p.text, p.heading_path, d.title, d.url, d.space_key, d.rel_path,"
    " d.breadcrumbs, d.labels, d.version, d.last_modified"
)
# The page of each parent by primary key (LATERAL ... LIMIT 1 keeps the planner from hashing the whole documents
# table for a handful of parents).
PAGE_OF_PARENT = "CROSS JOIN LATERAL (SELECT * FROM {documents} AS doc WHERE doc.page_id = p.page_id LIMIT 1) AS d"


def parent_record(row: Sequence[Any]) -> ParentRecord:
    """A ParentRecord from the first columns of a row selected with ``PARENT_RECORD_COLUMNS``."""
    return ParentRecord(
        parent_id=row[0],
        page_id=row[1],
        text=row[2],
        heading_path=tuple(row[3] or ()),
        title=row[4],
        url=row[5],
        space_key=row[6],
        rel_path=row[7],
        breadcrumbs=tuple(row[8] or ()),
        labels=tuple(row[9] or ()),
        version=row[10],
        last_modified=row[11],
    )


def load_parents(
    conn: psycopg.Connection[Any], names: StoreNames, generation: int, parent_ids: Sequence[str]
) -> dict[str, ParentRecord]:
    """Text, heading path and page metadata of the given parents."""
    if not parent_ids:
        return {}
    statement = sql.SQL("SELECT " + PARENT_RECORD_COLUMNS + " FROM {parents} AS p " + PAGE_OF_PARENT).format(
        parents=names.gen_table(generation, "parents"), documents=names.gen_table(generation, "documents")
    ) + sql.SQL(" WHERE p.parent_id = ANY(%s)")
    rows = conn.execute(statement, (list(parent_ids),)).fetchall()
    return {row[0]: parent_record(row) for row in rows}


def with_records(
    conn: psycopg.Connection[Any], names: StoreNames, generation: int, hits: Sequence[Hit]
) -> list[tuple[Hit, ParentRecord]]:
    """Each hit with its parent's record, in the hits' order (a parent gone since the search is left out)."""
    records = load_parents(conn, names, generation, [hit.parent_id for hit in hits])
    return [(hit, records[hit.parent_id]) for hit in hits if hit.parent_id in records]
