"""BM25 over one generation of store format 2 (``tenant_rag.store.schema.STORE_FORMAT``), exact top-k, in SQL.

The question is analysed in Python by the analyser that analysed the chunks (``tenant_rag.text_analysis``); the
generation's term statistics (``g<n>_terms``: chunks per term; ``g<n>_totals``: chunk count and summed length, both
kept current by every page swap, which appends its changes to them) give each term its idf, and the chunks
holding any of the terms are scored in the database (Lucene's BM25)::

    idf(t)      = ln(1 + (N - df + 0.5) / (df + 0.5))
    score(c, q) = sum over t in q of idf(t) * tf * (k1 + 1) / (tf + k1 * (1 - b + b * length(c) / avgdl))

A parent scores as its best chunk. Under enforcement of permissions the statistics are those of the chunks the
asking user may read (``_VISIBLE_STATS_SQL``). Like ``search``, every function expects a transaction switched to the
tenant role.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from tenant_rag.store.hits import Hit
from tenant_rag.store.indexes import TERM_ARRAY
from tenant_rag.store.names import StoreNames
from tenant_rag.store.visibility import PRINCIPALS_ARRAY
from tenant_rag.text_analysis import analyzer_for

DEFAULT_K1 = 1.2
DEFAULT_B = 0.75
FIRST_PASS_SHARE = 0.05  # the first candidates: chunks of the rarest terms, at most this share of all (see below)
MAX_TERMS = 64

# the statistics are appended by every page swap: a term's chunk count is the sum of its rows
_STATS_SQL = (
    "SELECT s.chunks, s.length, t.term, t.df"
    " FROM (SELECT sum(chunks) AS chunks, sum(length) AS length FROM {totals}) AS s"
    " LEFT JOIN (SELECT term, sum(df) AS df FROM {terms} WHERE term = ANY(%(terms)s::text[]) GROUP BY term) AS t"
    " ON t.df > 0"
)
# Under enforcement (``StoreNames.filtered``) the same figures over the chunks the asking user may read (the
# permission view), counted at query time: a page they cannot see changes neither N, avgdl nor any df, so no score
# tells of it. Each df is counted through the GIN index of the terms, once (a LATERAL count: as a scalar subquery
# in the select list, tested by the join's ``df > 0`` too, each term's chunks were counted twice); N and avgdl scan
# the visible chunks.
_VISIBLE_STATS_SQL = (
    "SELECT s.chunks, s.length, t.term, t.df"
    " FROM (SELECT count(*) AS chunks, sum(length) AS length FROM {chunks}) AS s"
    " LEFT JOIN (SELECT q.term, d.df FROM unnest(%(terms)s::text[]) AS q(term)"
    " CROSS JOIN LATERAL (SELECT count(*) AS df FROM {chunks} AS c WHERE {array} && ARRAY[q.term]{readers}) AS d"
    " WHERE d.df > 0) AS t ON true"
)
# Under enforcement the candidates' readers are tested in the GIN index (its second column, ``store.indexes``) as
# well as by the view: the chunks of pages the user may not read are skipped in the index, not fetched and dropped,
# so a term held only by hidden pages costs about what a term held by none does (measured: bench_permissions).
_INDEXED_READERS = " AND c.readers && " + PRINCIPALS_ARRAY


@dataclass(frozen=True)
class BM25Params:
    """BM25's term-frequency saturation ``k1`` and length normalisation ``b`` (``rag.bm25_k1``, ``rag.bm25_b``)."""

    k1: float = DEFAULT_K1
    b: float = DEFAULT_B


@dataclass(frozen=True)
class _Term:
    term: str
    idf: float
    df: float


def _term_stats(
    conn: psycopg.Connection[Any], names: StoreNames, generation: int, terms: list[str]
) -> tuple[list[_Term], float, float]:
    """The question's terms that occur in the generation (rarest first), the chunk count and the average length
    (over the chunks the asking user may read, under enforcement)."""
    if names.filtered:
        statement = sql.SQL(_VISIBLE_STATS_SQL).format(
            chunks=names.gen_table(generation, "chunks"),
            array=sql.SQL(TERM_ARRAY.replace("terms", "c.terms")),
            readers=sql.SQL(_INDEXED_READERS),
        )
    else:
        statement = sql.SQL(_STATS_SQL).format(
            totals=names.gen_table(generation, "totals"), terms=names.gen_table(generation, "terms")
        )
    rows = conn.execute(statement, {"terms": terms}).fetchall()
    if not rows or not rows[0][0]:
        return [], 0.0, 1.0
    chunks, length = float(rows[0][0]), float(rows[0][1])
    found = []
    for _, _, term, count in rows:
        if term is None:
            continue
        df = float(count)
        idf = math.log(1.0 + (chunks - df + 0.5) / (df + 0.5))
        found.append(_Term(term, idf, df))
    found.sort(key=lambda t: (-t.idf, t.term))
    return found[:MAX_TERMS], chunks, max(length / chunks, 1.0)


def _first_selection(terms: list[_Term], chunks: float) -> int:
    """How many of the rarest terms select the first, cheap candidates: as many as hold at most
    ``FIRST_PASS_SHARE`` of the chunks between them (at least one)."""
    selected, holding = 0, 0.0
    while selected < len(terms) and (selected == 0 or holding + terms[selected].df <= FIRST_PASS_SHARE * chunks):
        holding += terms[selected].df
        selected += 1
    return selected


def _essential(terms: list[_Term], k1: float, floor: float) -> int:
    """How many of the rarest terms must select candidates so that no chunk left out can score ``floor`` (MaxScore).

    A term adds less than ``idf * (k1 + 1)`` to a chunk's score, so a chunk holding none of the first ``m`` terms
    scores less than the summed bounds of the others; ``m`` is the smallest count that brings that sum to ``floor``
    or below.
    """
    needed, rest = len(terms), 0.0
    while needed > 0 and rest + terms[needed - 1].idf * (k1 + 1) <= floor:
        needed -= 1
        rest += terms[needed].idf * (k1 + 1)
    return needed


def _scored_query(chunks: sql.Composable, count: int, space: sql.Composable) -> sql.Composed:
    """Every chunk holding a selecting term, scored over all ``count`` terms; the best chunk per parent.

    ``OFFSET 0`` keeps the planner from inlining the split arrays into the score: inlined, every term's frequency
    split both arrays again (twice per term), ten times the cost per candidate of splitting them once.
    """
    freqs = sql.SQL(", ").join(
        sql.SQL("coalesce(x.fa[array_position(x.ta, {})], 0) AS {}").format(
            sql.Placeholder(f"t{i}"), sql.Identifier(f"f{i}")
        )
        for i in range(count)
    )
    score = sql.SQL(" + ").join(
        sql.SQL("{w} * f.{f} / (f.{f} + f.norm)").format(w=sql.Placeholder(f"w{i}"), f=sql.Identifier(f"f{i}"))
        for i in range(count)
    )
    return sql.SQL(
        "SELECT c.parent_id, max({score}) AS score FROM {chunks} AS c"
        " CROSS JOIN LATERAL (SELECT {freqs},"
        " %(k1)s * (1 - %(b)s + %(b)s * c.length / %(avgdl)s) AS norm"
        " FROM (SELECT {array} AS ta, string_to_array(c.freqs, ' ')::float8[] AS fa OFFSET 0) AS x) AS f"
        " WHERE {array} && %(select)s::text[]{space}"
        " GROUP BY c.parent_id ORDER BY score DESC, c.parent_id LIMIT %(k)s"
    ).format(
        score=score,
        chunks=chunks,
        freqs=freqs,
        array=sql.SQL(TERM_ARRAY.replace("terms", "c.terms")),
        space=space,
    )


def bm25_parents(
    conn: psycopg.Connection[Any],
    names: StoreNames,
    generation: int,
    question: str,
    text_search_config: str,
    k: int,
    space_keys: Sequence[str] | None = None,
    params: BM25Params | None = None,
) -> list[Hit]:
    """Up to ``k`` parents ranked by the BM25 score of their best chunk (fewer when fewer hold a question term).

    The question is plain text: punctuation and quotes only separate words. The chunks of the rarest terms are
    scored first (``_first_selection``); their k-th parent's score is a floor of the final one, so only the terms
    a chunk needs to reach it select the exact candidates (``_essential``), usually leaving the common terms out;
    the ranking is always the same as scoring every chunk that holds a question term.
    """
    params = params or BM25Params()
    words = analyzer_for(text_search_config).question_terms(question)
    if not words:
        return []
    terms, chunks, avgdl = _term_stats(conn, names, generation, words)
    if not terms:
        return []
    values: dict[str, Any] = {"k": k, "k1": params.k1, "b": params.b, "avgdl": avgdl, "spaces": list(space_keys or ())}
    for i, term in enumerate(terms):
        values[f"t{i}"] = term.term
        values[f"w{i}"] = term.idf * (params.k1 + 1)
    space: sql.Composable = sql.SQL(" AND c.space_key = ANY(%(spaces)s)") if space_keys else sql.SQL("")
    if names.filtered:
        space = space + sql.SQL(_INDEXED_READERS)
    statement = _scored_query(names.gen_table(generation, "chunks"), len(terms), space)

    def ranked(selecting: int) -> list[tuple[Any, ...]]:
        return conn.execute(statement, {**values, "select": [t.term for t in terms[:selecting]]}).fetchall()

    selecting = _first_selection(terms, chunks)
    rows = ranked(selecting)
    # the k-th score found is a floor of the final k-th score: only chunks that can reach it need to be candidates
    needed = _essential(terms, params.k1, float(rows[-1][1]) if len(rows) >= k else 0.0)
    if needed > selecting:
        rows = ranked(needed)
    return [Hit(parent_id, float(score), lexical_rank=rank) for rank, (parent_id, score) in enumerate(rows, 1)]
