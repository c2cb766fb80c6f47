"""One bad page must not block a customer: a NUL byte in a page (which PostgreSQL text cannot hold) is removed where
pages are read and reported per page, and a page the database still refuses is written on its own, reported with
its id and reason, while the rest of its batch commits and the build goes live."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import pytest

from tenant_rag.db import admin_connection, dedicated_connection
from tenant_rag.documents import render_page
from tenant_rag.manager import CustomerRAGManager
from tenant_rag.pipeline.run import run_update
from tenant_rag.state import RAGStatus, load_state
from tenant_rag.store.names import StoreNames
from tenant_rag.store.parallel_writer import BatchLimits, ParallelPageWriter
from tenant_rag.store.writer import PageRows, replace_pages
from tests.integration.rag.rag_core_support import (
    KAFKA_PAGES,
    live_generation,
    make_config,
    make_customer,
    offline_embedder,
    rag_pools,  # noqa: F401 - fixture
    registered_store,
    table_rows,
    write_page,
    write_pages,
)
from tests.integration.rag.test_store_writer import _page

pytestmark = pytest.mark.usefixtures("rag_pools")

CLEANED = "NUL characters (\\x00, which PostgreSQL text cannot hold) removed from {}; the page is indexed without them"


def _write_nul_pages(exports: Path) -> None:
    write_page(exports, "ENG", "nul-title", "Disk\x00 quotas", "Each team gets a disk quota of two terabytes.")
    write_page(exports, "ENG", "nul-label", "Label page", "Snapshots are taken hourly.", labels=["ops\x00", "storage"])
    body = "# Backup policy\n\nBackups\x00 run nightly and are kept for thirty days.\n"
    front = {"page_id": "nul-body", "title": "Backup policy", "space_key": "ENG", "version": 1}
    (exports / "ENG" / "nul-body.md").write_text(render_page(front, body), encoding="utf-8")


def test_nul_bytes_in_title_label_and_body_are_removed_and_reported_per_page(pg_url: str, customers_dir: Path) -> None:
    config = make_config("nulcorp")
    root = make_customer(customers_dir, config)
    write_pages(root / "exports", "ENG", KAFKA_PAGES)
    _write_nul_pages(root / "exports")
    manager = CustomerRAGManager(config, customer_dir=root, database_url=pg_url, embedder=offline_embedder())

    stats = manager.build_index(root / "exports")

    warnings = [
        {"file": "ENG/nul-body.md", "page_id": "nul-body", "warning": CLEANED.format("body")},
        {"file": "ENG/nul-label.md", "page_id": "nul-label", "warning": CLEANED.format("labels")},
        {"file": "ENG/nul-title.md", "page_id": "nul-title", "warning": CLEANED.format("title, body")},
    ]
    assert sorted(stats["warnings"], key=lambda w: w["page_id"]) == warnings
    assert stats["errors"] == [] and stats["switched"] and stats["pages_written"] == 7
    state = load_state(root)
    assert state.status == RAGStatus.READY and state.is_ready_for_queries and state.total_indexed_documents == 7
    assert state.last_run_stats is not None
    recorded = sorted(state.last_run_stats.warnings, key=lambda w: w["page_id"])
    assert recorded == [{"stage": "pages", **warning} for warning in warnings]  # as the DAG records them
    live_generation(pg_url, "nulcorp")  # the first build went live
    documents = {row[0]: row[1:] for row in table_rows(pg_url, "nulcorp", "documents", "page_id, title, labels")}
    assert set(documents) == {*KAFKA_PAGES, "nul-title", "nul-label", "nul-body"}
    assert documents["nul-title"] == ("Disk quotas", [])
    assert documents["nul-label"] == ("Label page", ["ops", "storage"])
    parents = dict(table_rows(pg_url, "nulcorp", "parents", "page_id, text"))
    assert "Backups run nightly" in parents["nul-body"]
    found = manager.query("How long are nightly backups kept?", top_k=3, mode="lexical")
    assert "nul-body" in {doc.metadata["page_id"] for doc in found.documents}
    found = manager.query("Kafka consumer groups rebalance", top_k=3, mode="lexical")
    assert "k1" in {doc.metadata["page_id"] for doc in found.documents}

    again = manager.update_index(root / "exports")  # the cleaned pages are stable: nothing to redo, nothing to say
    assert (again["pages_unchanged"], again["pages_written"], again["warnings"], again["errors"]) == (7, 0, [], [])


def test_a_nul_byte_in_a_page_id_or_a_version_past_32_bits_refuses_that_page_only(
    pg_url: str, customers_dir: Path
) -> None:
    """What a page is (its id) is never silently changed; a version the database cannot store is refused up front."""
    config = make_config("nulid")
    root = make_customer(customers_dir, config)
    exports = root / "exports"
    write_pages(exports, "ENG", KAFKA_PAGES)
    front = {"page_id": "bad\x00id", "title": "Bad id", "space_key": "ENG", "version": 1}
    (exports / "ENG" / "bad-id.md").write_text(render_page(front, "An id with a NUL.\n"), encoding="utf-8")
    write_page(exports, "ENG", "huge-version", "Huge version", "A version past 32 bits.", version=2**31)

    stats = run_update(config, root, exports, database_url=pg_url, embedder=offline_embedder())

    assert stats["errors"] == [
        {
            "file": "ENG/bad-id.md",
            "error": f"{exports}/ENG/bad-id.md: field 'page_id' contains a NUL character (\\x00)",
        },
        {
            "file": "ENG/huge-version.md",
            "error": f"{exports}/ENG/huge-version.md: field 'version' must be an integer of 32 bits, got 2147483648",
        },
    ]
    assert stats["switched"] and stats["pages_written"] == len(KAFKA_PAGES)
    assert {row[0] for row in table_rows(pg_url, "nulid", "documents", "page_id")} == set(KAFKA_PAGES)


@pytest.fixture
def store(pg_url: str) -> StoreNames:
    return registered_store(pg_url, "refusals")


def _with_title(page: PageRows, title: str) -> PageRows:
    return PageRows(dataclasses.replace(page.document, title=title), page.parents, page.chunks)


@pytest.mark.parametrize("writers", [1, 2])
def test_a_page_the_database_refuses_is_written_alone_and_reported(
    pg_url: str, store: StoreNames, writers: int
) -> None:
    """The writer is called directly (no cleaning on the way): a NUL in a title is refused by PostgreSQL itself."""
    old = _page("p2", "old text", 1)
    with admin_connection(pg_url) as conn:
        replace_pages(conn, store, 1, [old])
    pages = [_page(f"p{n}", f"text {n}", 2) for n in range(5)]
    pages[2] = _with_title(pages[2], "Bad\x00 title")
    written: list[str] = []

    def connect():
        return dedicated_connection(pg_url, customer_id="refusals", action="writing the index")

    def done(batch) -> None:
        written.extend(page.document.page_id for page in batch)

    limits = BatchLimits(pages=5)
    with (
        admin_connection(pg_url) as conn,
        ParallelPageWriter(conn, store, 1, writers=writers, connect=connect, on_done=done, limits=limits) as writer,
    ):
        for page in pages:
            writer.add(page)

    assert sorted(written) == ["p0", "p1", "p3", "p4"]
    assert len(writer.refused) == 1
    refused = writer.refused[0]
    assert (refused.page_id, refused.rel_path, refused.sqlstate) == ("p2", "ENG/p2.md", "22021")
    assert refused.reason.startswith("refused by the database (22021 CharacterNotInRepertoire): ")
    assert refused.to_error() == {"file": "ENG/p2.md", "page_id": "p2", "error": refused.reason}
    documents = dict(table_rows(pg_url, "refusals", "documents", "page_id, content_hash", generation=1))
    assert documents == {f"p{n}": f"hash-text {n}" for n in (0, 1, 3, 4)} | {"p2": "hash-old text"}  # p2: old rows
    chunks = [row[0] for row in table_rows(pg_url, "refusals", "chunks", "chunk_id", generation=1)]
    assert chunks == [f"p{n}#p0.c{c}" for n in (0, 1) for c in (0, 1)] + ["p2#p0.c0"] + [
        f"p{n}#p0.c{c}" for n in (3, 4) for c in (0, 1)
    ]


def test_refused_page_is_a_per_page_error_of_the_run_and_the_build_goes_live(pg_url: str, customers_dir: Path) -> None:
    """Through the whole pipeline: a page id too long for a btree index row (``ProgramLimitExceeded``) passes every
    check before the database, which refuses that page's rows; the rest of its batch commits. (A title overflowing
    the 1 MB tsvector limit did this before store format 2, which keeps no tsvector.)"""
    config = make_config("bigtitle")
    root = make_customer(customers_dir, config)
    write_pages(root / "exports", "ENG", KAFKA_PAGES)
    digests = [hashlib.sha256(str(n).encode()).hexdigest() for n in range(200)]
    huge = "huge-" + "".join(digests)  # 12,805 characters that do not compress
    front = {"page_id": huge, "title": "Huge", "space_key": "ENG", "version": 1}
    (root / "exports" / "ENG" / "huge.md").write_text(render_page(front, "Short body.\n"), encoding="utf-8")

    stats = run_update(config, root, root / "exports", database_url=pg_url, embedder=offline_embedder(), writers=2)

    assert len(stats["errors"]) == 1
    error = stats["errors"][0]
    assert (error["file"], error["page_id"]) == ("ENG/huge.md", huge)
    assert error["error"].startswith("refused by the database (54000 ProgramLimitExceeded): ")
    assert stats["switched"] and stats["pages_written"] == len(KAFKA_PAGES)
    live_generation(pg_url, "bigtitle")
    assert {row[0] for row in table_rows(pg_url, "bigtitle", "documents", "page_id")} == set(KAFKA_PAGES)
