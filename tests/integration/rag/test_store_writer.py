"""The store's page swap: a batch replaces its pages completely, or (on any error) not at all."""

from __future__ import annotations

import numpy as np
import psycopg
import pytest
from psycopg import sql

from tenant_rag.db import DatabaseError, admin_connection, ensure_vector_types
from tenant_rag.store.generations import Target, activate, register_target, signature_for
from tenant_rag.store.schema import create_store, store_names
from tenant_rag.store.writer import (
    ChunkRow,
    DocumentRow,
    PageRows,
    ParentRow,
    analyze_generation,
    delete_pages,
    replace_pages,
)
from tenant_rag.text_analysis import analyzer_for
from tests.integration.rag.rag_core_support import (
    make_config,
    rag_pools,  # noqa: F401 - fixture
    table_rows,
)

pytestmark = pytest.mark.usefixtures("rag_pools")


def _page(page_id: str, text: str, children: int, dims: int = 256) -> PageRows:
    doc = DocumentRow(
        page_id,
        "ENG",
        f"Title {page_id}",
        None,
        f"ENG/{page_id}.md",
        1,
        f"hash-{text}",
        "meta",
        [],
        [],
        None,
        None,
        1,
        children,
        ["*"],
    )
    parent = ParentRow(f"{page_id}#p0", page_id, 0, text, ["Title"])
    rng = np.random.default_rng(len(text))
    chunks = []
    for n in range(children):
        vector = rng.normal(size=dims).astype(np.float32)
        chunks.append(
            ChunkRow(
                f"{page_id}#p0.c{n}",
                f"{page_id}#p0",
                page_id,
                "ENG",
                n,
                f"{text} {n}",
                "Title",
                f"h-{text}-{n}",
                "wordllama-l2-256",
                vector / np.linalg.norm(vector),
                analyzer_for("english").chunk_terms(f"{text} {n}", "Title"),
            )
        )
    return PageRows(doc, [parent], chunks)


@pytest.fixture
def store(pg_url: str):
    config = make_config("writer")
    names = store_names(config)
    target = Target(1, "new", signature_for(config.rag))
    with admin_connection(pg_url) as conn:
        ensure_vector_types(conn, create=True)
        create_store(conn, names)
        register_target(conn, names, target)
        replace_pages(conn, names, 1, [_page("a", "old a", 3), _page("b", "old b", 2)])
        activate(conn, names, 1)
    return names


def test_a_batch_replaces_old_rows_without_leftovers(pg_url: str, store) -> None:
    with admin_connection(pg_url) as conn:
        replace_pages(conn, store, 1, [_page("a", "new a", 1), _page("c", "new c", 2)])
    chunks = table_rows(pg_url, "writer", "chunks", "chunk_id, text")
    assert chunks == [
        ("a#p0.c0", "new a 0"),
        ("b#p0.c0", "old b 0"),
        ("b#p0.c1", "old b 1"),
        ("c#p0.c0", "new c 0"),
        ("c#p0.c1", "new c 1"),
    ]
    assert [row[0] for row in table_rows(pg_url, "writer", "documents", "page_id")] == ["a", "b", "c"]


def test_a_failing_batch_leaves_every_page_of_it_as_it_was(pg_url: str, store) -> None:
    before = {kind: table_rows(pg_url, "writer", kind, "*") for kind in ("documents", "parents", "chunks")}
    broken = _page("b", "new b", 2, dims=255)  # wrong dimension: COPY fails after page a was staged
    with (
        pytest.raises(DatabaseError, match="customer 'writer': writing") as info,
        admin_connection(pg_url, customer_id="writer", action="writing") as conn,
    ):
        replace_pages(conn, store, 1, [_page("a", "new a", 1), broken])
    assert isinstance(info.value.__cause__, psycopg.errors.DataException)
    after = {kind: table_rows(pg_url, "writer", kind, "*") for kind in ("documents", "parents", "chunks")}
    assert after == before


def test_deleting_pages_removes_their_parents_and_chunks(pg_url: str, store) -> None:
    with admin_connection(pg_url) as conn:
        assert delete_pages(conn, store, 1, ["a", "missing"]) == 1
        assert delete_pages(conn, store, 1, []) == 0
    assert [row[0] for row in table_rows(pg_url, "writer", "parents", "parent_id")] == ["b#p0"]
    assert {row[0] for row in table_rows(pg_url, "writer", "chunks", "page_id")} == {"b"}


def _term_stats(url: str, names) -> tuple[dict[str, int], tuple[int, int], dict[str, int], tuple[int, int]]:
    """(the statistics the page swaps kept: per term and totals, the same recounted from the chunks)."""
    with psycopg.connect(url) as conn:
        kept = dict(
            conn.execute(
                sql.SQL("SELECT term, sum(df)::int FROM {} GROUP BY term HAVING sum(df) <> 0").format(
                    names.gen_table(1, "terms")
                )
            ).fetchall()
        )
        kept_totals = conn.execute(
            sql.SQL("SELECT sum(chunks)::int, sum(length)::int FROM {}").format(names.gen_table(1, "totals"))
        ).fetchone()
        chunks = conn.execute(sql.SQL("SELECT terms, length FROM {}").format(names.gen_table(1, "chunks"))).fetchall()
    recount: dict[str, int] = {}
    for terms, _ in chunks:
        for term in terms.split():
            recount[term] = recount.get(term, 0) + 1
    return kept, tuple(kept_totals), recount, (len(chunks), sum(length for _, length in chunks))


def test_replacing_and_deleting_pages_keep_the_term_statistics_equal_to_a_recount(pg_url: str, store) -> None:
    with admin_connection(pg_url) as conn:
        replace_pages(conn, store, 1, [_page("a", "new a", 1), _page("c", "fresh c words", 2)])
        kept, totals, recount, recount_totals = _term_stats(pg_url, store)
        assert kept == recount and "fresh" in kept and "old" in kept
        assert totals == recount_totals == (5, totals[1])
        delete_pages(conn, store, 1, ["b", "c"])
        kept, totals, recount, recount_totals = _term_stats(pg_url, store)
        assert kept == recount and "fresh" not in kept and "old" not in kept
        assert totals == recount_totals and totals[0] == 1
        analyze_generation(conn, store, 1)  # folds the appended rows: one per term, the same sums
        assert _term_stats(pg_url, store)[:2] == (kept, totals)
        rows = conn.execute(
            sql.SQL("SELECT count(*), count(DISTINCT term) FROM {}").format(store.gen_table(1, "terms"))
        )
        count, distinct = rows.fetchone()
        assert count == distinct == len(kept)
