"""Lexical retrieval inside one generation of one customer's store.

A generation of the current store format is ranked by BM25 (``bm25_search``). One built before it (store format 1,
a store written by an earlier version, until the next run rebuilds it) keeps answering with what it has: full-text
search over the chunks' ``tsv`` (GIN), below.

Questions are plain text: the question's words go through the text search configuration (``to_tsvector``) and
only the resulting lexemes are used, so no character of user input is query syntax (quotes, ``-word``, ``&``, ``:*``
are just punctuation). Any of the lexemes may match; a chunk scores the idf-weighted sum of the lexemes it contains
(see ``lexical_parents``). Like ``search``, every function expects a transaction already switched to the tenant
role.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from tenant_rag.store.bm25_search import BM25Params, bm25_parents
from tenant_rag.store.hits import Hit
from tenant_rag.store.names import StoreNames
from tenant_rag.store.schema import LEGACY_STORE_FORMAT, STORE_FORMAT

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
        " || ')', ' | ') FROM unnest(%(left)s::text[], %(right)s::text[]) AS g(a, b))::tsquery AS loose{columns})"
        " SELECT c.parent_id, max({score}) AS score FROM {chunks} AS c, q"
        " WHERE c.tsv @@ q.loose{space}"
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
    *,
    store_format: int = STORE_FORMAT,
    bm25: BM25Params | None = None,
) -> list[Hit]:
    """Up to ``k`` parents ranked by lexical relevance of their best child (fewer when fewer match).

    BM25 (``bm25_search.bm25_parents``, with ``bm25``'s k1 and b) for a generation of the current store format;
    for one of format 1, as follows.

    A child scores the sum of the inverse document frequencies of the question's lexemes it contains (BM25's idf
    with binary term frequency; document frequencies are counted through the GIN index at query time, the chunk
    count comes from the planner statistics), so rare words such as error codes weigh most. The question is plain
    text (see the module notes). Candidates are selected narrowly first and more widely
    only when that yields fewer than ``k`` parents (see ``_candidate_sets``); the ranking is the same as scoring
    every matching chunk.
    """
    if store_format > LEGACY_STORE_FORMAT:
        return bm25_parents(conn, names, generation, question, text_search_config, k, space_keys, bm25)
    chunks = names.gen_table(generation, "chunks")
    params: dict[str, Any] = {
        "cfg": text_search_config,
        "question": question,
        "k": k,
        "spaces": list(space_keys or ()),
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
