"""Parallel page writers: batches of different pages commit side by side, the same page never twice at once,
structural changes wait for page writes, and a failing writer stops the others without hanging or half pages."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tenant_rag.constants import UPSERT_WRITERS_ENV
from tenant_rag.db import DatabaseError, admin_connection, dedicated_connection, ensure_vector_types
from tenant_rag.pipeline.run import run_update
from tenant_rag.settings import SettingsError, settings
from tenant_rag.store.generations import lock_pages, lock_store
from tenant_rag.store.names import StoreNames
from tenant_rag.store.parallel_writer import (
    BatchLimits,
    ParallelPageWriter,
    page_bytes,
)
from tenant_rag.store.writer import replace_pages
from tests.integration.rag.rag_core_support import (
    index_content,
    make_config,
    make_customer,
    offline_embedder,
    rag_pools,  # noqa: F401 - fixture
    registered_store,
    table_rows,
    write_page,
)
from tests.integration.rag.test_store_writer import _page

pytestmark = pytest.mark.usefixtures("rag_pools")


@pytest.fixture
def store(pg_url: str) -> StoreNames:
    return registered_store(pg_url, "writers")


def _connect(url: str):
    return lambda: dedicated_connection(url, customer_id="writers", action="writing the index")


@contextmanager
def _open_transaction(url: str) -> Iterator[psycopg.Connection[Any]]:
    """A connection inside an open transaction (rolled back on exit)."""
    with psycopg.connect(url) as conn:
        try:
            yield conn
        finally:
            conn.rollback()


def _blocks(url: str, action) -> bool:
    """Whether ``action(conn)`` has to wait for a lock held elsewhere (it gives up after 300 ms)."""
    with psycopg.connect(url, autocommit=True) as conn:
        ensure_vector_types(conn)
        conn.execute("SET lock_timeout = '300ms'")
        try:
            with conn.transaction():
                action(conn)
        except psycopg.errors.LockNotAvailable:
            return True
    return False


def test_two_writers_store_every_batch_like_one_writer(pg_url: str, store: StoreNames) -> None:
    pages = [_page(f"p{n:02d}", f"text {n}", 1 + n % 4) for n in range(24)]
    done: list[int] = []
    with (
        admin_connection(pg_url) as conn,
        ParallelPageWriter(
            conn, store, 1, writers=2, connect=_connect(pg_url), on_done=lambda b: done.append(len(b))
        ) as writer,
    ):
        for start in range(0, len(pages), 3):
            writer.submit(pages[start : start + 3])
    assert sorted(done) == [3] * 8
    chunks = table_rows(pg_url, "writers", "chunks", "chunk_id, text", generation=1)
    expected = sorted((c.chunk_id, c.text) for p in pages for c in p.chunks)
    assert chunks == expected
    writers_used = table_rows(pg_url, "writers", "documents", "DISTINCT xmin::text", generation=1)
    assert len(writers_used) == 8  # one transaction per batch


def test_added_pages_close_a_batch_at_whichever_limit_comes_first(pg_url: str, store: StoreNames) -> None:
    small = [_page(f"s{n:02d}", f"small {n}", 1) for n in range(7)]
    big = [_page(f"b{n:02d}", "big " * 2000 + str(n), 1) for n in range(5)]  # ~8 kB of text each
    many = [_page("m00", "many", 6)]
    limits = BatchLimits(pages=4, chunks=5, bytes=2 * page_bytes(big[0]))
    batches: list[list[str]] = []
    with (
        admin_connection(pg_url) as conn,
        ParallelPageWriter(
            conn,
            store,
            1,
            writers=2,
            connect=_connect(pg_url),
            on_done=lambda b: batches.append([p.document.page_id for p in b]),
            limits=limits,
        ) as writer,
    ):
        for page in small + big + many:
            writer.add(page)
    assert sorted(batches) == [
        ["b01", "b02"],  # two big pages reach the bytes limit
        ["b03", "b04"],
        ["m00"],  # six chunks: over the chunk limit alone
        ["s00", "s01", "s02", "s03"],  # four pages
        ["s04", "s05", "s06", "b00"],
    ]
    written = table_rows(pg_url, "writers", "documents", "page_id", generation=1)
    assert written == sorted((p.document.page_id,) for p in small + big + many)


def test_pages_added_before_a_failure_are_not_flushed(pg_url: str, store: StoreNames) -> None:
    with (
        pytest.raises(RuntimeError, match="caller failed"),
        admin_connection(pg_url) as conn,
        ParallelPageWriter(conn, store, 1, writers=1) as writer,
    ):
        writer.add(_page("pending", "pending", 1))
        raise RuntimeError("caller failed")
    assert table_rows(pg_url, "writers", "documents", "page_id", generation=1) == []


def test_writers_of_different_pages_do_not_wait_for_each_other(pg_url: str, store: StoreNames) -> None:
    with _open_transaction(pg_url) as holder:
        lock_pages(holder, store, ["a", "b"])
        assert not _blocks(pg_url, lambda conn: replace_pages(conn, store, 1, [_page("c", "c", 1)]))
        assert _blocks(pg_url, lambda conn: replace_pages(conn, store, 1, [_page("b", "b", 1)]))
        assert _blocks(pg_url, lambda conn: lock_store(conn, store))  # e.g. an activation waits for page writes
    assert not _blocks(pg_url, lambda conn: lock_store(conn, store))


def test_a_page_write_waits_for_a_structural_change(pg_url: str, store: StoreNames) -> None:
    with _open_transaction(pg_url) as holder:
        lock_store(holder, store)
        assert _blocks(pg_url, lambda conn: replace_pages(conn, store, 1, [_page("c", "c", 1)]))


def test_a_huge_page_set_locks_each_page_with_row_locks_not_the_server_lock_table(
    pg_url: str, store: StoreNames
) -> None:
    with _open_transaction(pg_url) as holder:
        lock_pages(holder, store, [f"page-{n}" for n in range(500)])
        locks = holder.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()")
        row = locks.fetchone()
        assert row is not None and row[0] == 0  # nothing in the shared lock table a tenant could also fill
        assert _blocks(pg_url, lambda conn: replace_pages(conn, store, 1, [_page("page-499", "x", 1)]))
        assert not _blocks(pg_url, lambda conn: replace_pages(conn, store, 1, [_page("other", "x", 1)]))


def test_a_failing_writer_stops_the_others_and_its_batch_leaves_nothing(pg_url: str, store: StoreNames) -> None:
    good = [[_page(f"g{n}", f"good {n}", 2)] for n in range(3)]
    broken = [_page("bad", "bad", 2, dims=255), _page("bad2", "bad 2", 1)]  # wrong dimension: COPY fails
    later = [[_page(f"l{n}", f"later {n}", 1)] for n in range(20)]
    finished = threading.Event()

    def run() -> None:
        with (
            admin_connection(pg_url) as conn,
            ParallelPageWriter(conn, store, 1, writers=2, connect=_connect(pg_url)) as writer,
        ):
            for batch in [*good, broken, *later]:
                writer.submit(batch)

    with pytest.raises(DatabaseError, match="customer 'writers': writing the index failed"):
        try:
            run()
        finally:
            finished.set()
    assert finished.is_set()
    pages = {row[0] for row in table_rows(pg_url, "writers", "documents", "page_id", generation=1)}
    assert {"g0", "g1", "g2"} <= pages  # committed before the failure: kept
    assert not pages & {"bad", "bad2"}  # the failing batch: all or nothing
    assert len(pages & {f"l{n}" for n in range(20)}) < 20  # the writers stopped instead of writing on


def test_one_writer_writes_inline_on_the_callers_connection(pg_url: str, store: StoreNames) -> None:
    with (
        admin_connection(pg_url) as conn,
        ParallelPageWriter(conn, store, 1, writers=1) as writer,  # no connection factory: nothing else could write
    ):
        writer.submit([_page("solo", "solo", 1)])
        writer.submit([])
    assert table_rows(pg_url, "writers", "documents", "page_id", generation=1) == [("solo",)]


def test_writers_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(UPSERT_WRITERS_ENV, raising=False)
    assert settings().upsert_writers == 2
    monkeypatch.setenv(UPSERT_WRITERS_ENV, "3")
    assert settings().upsert_writers == 3
    for bad in ("0", "17", "two"):
        monkeypatch.setenv(UPSERT_WRITERS_ENV, bad)
        with pytest.raises(SettingsError, match=UPSERT_WRITERS_ENV):
            settings()


def test_a_pipeline_run_with_two_writers_builds_the_same_index_as_one(pg_url: str, customers_dir: Path) -> None:
    contents = []
    for customer_id, writers in (("one_writer", 1), ("two_writers", 2)):
        config = make_config(customer_id, chunk_size=300, chunk_overlap=0)
        root = make_customer(customers_dir, config)
        for n in range(9):
            body = "\n\n".join(f"## Part {s}\n\nPage {n} part {s} explains topic {n * 10 + s}." for s in range(4))
            write_page(root / "exports", "ENG", f"page{n}", f"Page {n}", body)
        stats = run_update(
            config,
            root,
            root / "exports",
            database_url=pg_url,
            embedder=offline_embedder(),
            pages_per_transaction=2,
            writers=writers,
        )
        assert stats["pages_written"] == 9
        contents.append(index_content(pg_url, customer_id))
    assert contents[0] == contents[1]
    assert len(contents[1]["documents"]) == 9
