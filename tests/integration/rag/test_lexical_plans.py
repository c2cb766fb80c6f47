"""Under enforcement BM25 selects its candidates with the readers in the GIN index (``store.indexes``: terms, then
readers): the chunks of pages the user may not read are skipped in the index, never handed to the table, so a term
held only by hidden pages costs about what a term held by no page costs (bench/results/permissions.md)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from psycopg import sql

from tenant_rag.db import admin_connection, ensure_vector_types, set_local_role, tenant_pool
from tenant_rag.store.bm25_search import bm25_parents
from tenant_rag.store.generations import Target, activate, register_target, signature_for
from tenant_rag.store.names import StoreNames
from tenant_rag.store.schema import STORE_FORMAT, create_store, store_names
from tenant_rag.store.visibility import SET_PERMISSIONS_SQL, permission_settings
from tenant_rag.store.writer import ChunkRow, DocumentRow, PageRows, ParentRow, analyze_generation, replace_pages
from tenant_rag.text_analysis import analyzer_for
from tests.integration.rag.rag_core_support import make_config, rag_pools  # noqa: F401 - fixture

pytestmark = pytest.mark.usefixtures("rag_pools")

PAGES, CHUNKS_PER_PAGE = 300, 4
VISIBLE = range(0, 150)  # readers g:staff; the others g:x
ONLY_HIDDEN = range(150, 200)  # their chunks hold "quenvix", which no visible chunk holds
BOTH = (*range(0, 5), *range(150, 200))  # their chunks hold "zorblax"
INDEX = "g1_chunks_terms_readers_idx"


def _pages() -> list[PageRows]:
    analyzer, rng, pages = analyzer_for("english"), np.random.default_rng(5), []
    for p in range(PAGES):
        page_id, words = f"p{p}", ["deployment", "notes"]
        words += ["quenvix"] * (p in ONLY_HIDDEN) + ["zorblax"] * (p in BOTH)
        text = " ".join(words)
        vectors = rng.normal(size=(CHUNKS_PER_PAGE, 256)).astype(np.float32)
        chunks = [
            ChunkRow(f"{page_id}#0.c{n}", f"{page_id}#0", page_id, "ENG", n, text, "", "h", "m", vector,
                     analyzer.chunk_terms(text, ""))
            for n, vector in enumerate(vectors)
        ]  # fmt: skip
        readers = ["g:staff"] if p in VISIBLE else ["g:x"]
        meta = (page_id, "ENG", f"Page {p}", None, f"ENG/{page_id}.md", 1, "c", "m", [], [])
        document = DocumentRow(*meta, None, None, 1, CHUNKS_PER_PAGE, readers)
        pages.append(PageRows(document, [ParentRow(f"{page_id}#0", page_id, 0, text, [])], chunks))
    return pages


def _store(pg_url: str) -> StoreNames:
    config = make_config("lexplans")
    names = store_names(config)
    with admin_connection(pg_url) as conn:
        ensure_vector_types(conn, create=True)
        create_store(conn, names)
        register_target(conn, names, Target(1, "new", signature_for(config.rag)))
        replace_pages(conn, names, 1, _pages())
        activate(conn, names, 1)
        analyze_generation(conn, names, 1)
    return names


class _Explaining:
    """A connection that runs each statement once under EXPLAIN ANALYZE (keeping the plan), then for its rows."""

    def __init__(self, conn: Any) -> None:
        self.conn, self.plans = conn, []

    def execute(self, statement: sql.Composed, params: dict[str, Any]) -> Any:
        explain = sql.SQL("EXPLAIN (ANALYZE, FORMAT JSON) ") + statement
        self.plans.append(self.conn.execute(explain, params).fetchone()[0][0]["Plan"])
        return self.conn.execute(statement, params)


def _index_scans(plan: dict[str, Any]) -> list[tuple[str, str, float]]:
    """(index name, index condition, rows handed on) of every bitmap index scan in a plan tree."""
    found = []
    if plan["Node Type"] == "Bitmap Index Scan":
        found.append((plan["Index Name"], plan["Index Cond"], plan["Actual Rows"] * plan["Actual Loops"]))
    for child in plan.get("Plans", ()):
        found += _index_scans(child)
    return found


def _search(pg_url: str, names: StoreNames, question: str, principals: list[str] | None) -> tuple[list[str], list]:
    reading = names.reading(STORE_FORMAT, enforced=principals is not None)
    with tenant_pool(pg_url, names.role).connection() as conn, conn.transaction():
        set_local_role(conn, names.role)
        conn.execute(SET_PERMISSIONS_SQL, {**permission_settings(principals), "local": True})
        explaining = _Explaining(conn)
        hits = bm25_parents(explaining, reading, 1, question, "english", 10)  # type: ignore[arg-type]
    scans = [scan for plan in explaining.plans for scan in _index_scans(plan)]
    return [hit.parent_id.split("#")[0] for hit in hits], scans


def test_under_enforcement_the_index_hands_the_table_no_chunk_of_a_hidden_page(pg_url: str) -> None:
    names = _store(pg_url)
    staff = ["u:someone", "g:staff"]

    pages, scans = _search(pg_url, names, "quenvix", staff)
    assert pages == []
    assert scans and all(name == INDEX and "readers" in cond and rows == 0 for name, cond, rows in scans), scans

    pages, scans = _search(pg_url, names, "zorblax", staff)
    assert sorted(pages) == [f"p{p}" for p in range(5)]
    visible_holders = 5 * CHUNKS_PER_PAGE
    assert scans and all(name == INDEX and rows == visible_holders for name, _, rows in scans), scans

    # off mode: the same index (its terms column) selects every holder
    pages, scans = _search(pg_url, names, "zorblax", None)
    assert len(pages) == 10
    assert scans and all(name == INDEX and rows == len(BOTH) * CHUNKS_PER_PAGE for name, _, rows in scans), scans
