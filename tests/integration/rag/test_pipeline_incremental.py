"""Incremental updates: only what changed is processed, unchanged chunks reuse their vectors, re-runs are no-ops."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from tenant_rag.changes import DeletionLimitExceeded
from tenant_rag.index_cache import cache_path, read_index_cache
from tenant_rag.manager import CustomerRAGManager
from tenant_rag.pipeline.run import run_update
from tenant_rag.runs.options import RunOptions
from tests.integration.rag.rag_core_support import (
    KAFKA_PAGES,
    index_content,
    make_config,
    make_customer,
    offline_embedder,
    rag_pools,  # noqa: F401 - fixture
    row_versions,
    schema_of,
    write_page,
    write_pages,
)

pytestmark = pytest.mark.usefixtures("rag_pools")

LONG_BODY = "\n\n".join(
    f"## Section {n}\n\n" + " ".join(f"Paragraph {n} sentence {i} about topic {n} and detail {i}." for i in range(12))
    for n in range(5)
)


@pytest.fixture
def customer(pg_url: str, customers_dir: Path):
    config = make_config("acme", chunk_size=300, chunk_overlap=0, embedding_batch_size=4)
    root = make_customer(customers_dir, config)
    write_pages(root / "exports", "ENG", KAFKA_PAGES)
    write_page(root / "exports", "ENG", "long", "Long page", LONG_BODY)
    return config, root


def _run(config, root: Path, pg_url: str, options: RunOptions | None = None, embedder=None, **kwargs):
    embedder = embedder or offline_embedder()
    stats = run_update(config, root, root / "exports", options, database_url=pg_url, embedder=embedder, **kwargs)
    return stats, embedder


def test_edit_delete_add_reprocess_exactly_those_and_reuse_unchanged_chunks(customer, pg_url: str) -> None:
    config, root = customer
    first, _ = _run(config, root, pg_url)
    assert first["pages_added"] == 5 and first["chunks_embedded"] == first["chunks"] > 5
    exports = root / "exports"
    edited = LONG_BODY.replace("Paragraph 4 sentence 11 about topic 4 and detail 11.", "A brand new closing line.")
    write_page(exports, "ENG", "long", "Long page", edited, version=2)
    (exports / "ENG" / "k3.md").unlink()
    write_page(exports, "ENG", "k9", "Consumer lag", "Consumer lag is the distance between offsets.")

    stats, embedder = _run(config, root, pg_url)

    assert (stats["pages_added"], stats["pages_updated"], stats["pages_deleted"]) == (1, 1, 1)
    assert stats["pages_unchanged"] == 3
    assert stats["pages_written"] == 2
    # one child of the long page changed and the new page has one child: 2 texts embedded, the rest reused
    assert stats["chunks_embedded"] == 2
    assert stats["chunks_reused"] == stats["chunks"] - 2 > 5
    assert embedder.calls == 1 and embedder.texts_embedded == 2
    pages = {row[0] for row in index_content(pg_url, "acme")["documents"]}
    assert pages == {"k1", "k2", "k4", "k9", "long"}


def test_unchanged_rerun_embeds_nothing_and_writes_nothing(customer, pg_url: str) -> None:
    config, root = customer
    _run(config, root, pg_url)
    before = row_versions(pg_url, "acme")
    stats, embedder = _run(config, root, pg_url)
    assert embedder.calls == 0 and stats["embedding_calls"] == 0
    assert stats["pages_unchanged"] == 5 and stats["pages_written"] == 0 and stats["pages_deleted"] == 0
    assert row_versions(pg_url, "acme") == before
    # a version bump without a content change is not a change either
    title, body = KAFKA_PAGES["k2"]
    write_page(root / "exports", "ENG", "k2", title, body, version=7)
    stats, embedder = _run(config, root, pg_url)
    assert stats["pages_unchanged"] == 5 and embedder.calls == 0
    assert row_versions(pg_url, "acme") == before


def test_full_refresh_rewrites_every_page_but_reuses_every_vector(customer, pg_url: str) -> None:
    config, root = customer
    _run(config, root, pg_url)
    content = index_content(pg_url, "acme")
    stats, embedder = _run(config, root, pg_url, RunOptions(full_refresh=True))
    assert stats["pages_updated"] == 5 and stats["pages_written"] == 5
    assert embedder.calls == 0 and stats["chunks_reused"] == stats["chunks"]
    assert index_content(pg_url, "acme") == content


def _clean_build_content(pg_url: str, root: Path, customers_dir: Path) -> dict:
    """The same export indexed from scratch for another customer id (ids are page-based, so comparable)."""
    twin = make_config("acme-twin", chunk_size=300, chunk_overlap=0, embedding_batch_size=4)
    twin_root = make_customer(customers_dir, twin)
    run_update(twin, twin_root, root / "exports", database_url=pg_url, embedder=offline_embedder())
    return index_content(pg_url, "acme-twin")


def test_crash_in_the_embed_stage_then_rerun_equals_a_clean_build(customer, pg_url: str, customers_dir) -> None:
    from tests.integration.rag.rag_core_support import FailingEmbedder

    config, root = customer
    _run(config, root, pg_url)
    before = index_content(pg_url, "acme")
    edited = LONG_BODY.replace("topic 2", "subject 2").replace("topic 3", "subject 3")
    write_page(root / "exports", "ENG", "long", "Long page", edited, version=2)
    write_page(root / "exports", "ENG", "k7", "New page", "Mirror maker copies topics between clusters.")
    with pytest.raises(RuntimeError, match="injected"):
        _run(config, root, pg_url, embedder=FailingEmbedder(offline_embedder(), fail_on=2))
    assert index_content(pg_url, "acme") == before  # nothing was written
    _run(config, root, pg_url)
    after = index_content(pg_url, "acme")
    assert after == _clean_build_content(pg_url, root, customers_dir)
    assert len({row[0] for row in after["chunks"]}) == len(after["chunks"])


def test_crash_between_page_transactions_then_rerun_equals_a_clean_build(customer, pg_url: str, customers_dir) -> None:
    config, root = customer
    _run(config, root, pg_url)
    for page_id, (title, body) in KAFKA_PAGES.items():
        write_page(root / "exports", "ENG", page_id, title, body + " Revised.", version=2)
    (root / "exports" / "ENG" / "long.md").unlink()

    def crash_after_two(stage: str, done: int, total: int) -> None:
        if stage == "upsert" and done == 2:
            raise KeyboardInterrupt("killed between two page transactions")

    with pytest.raises(KeyboardInterrupt):
        _run(config, root, pg_url, progress=crash_after_two, pages_per_transaction=1, options=None, writers=1)
    docs = {row[0]: row[1] for row in index_content(pg_url, "acme")["documents"]}
    assert len(docs) == 5  # two pages new, two old, the deletion not applied yet: each page whole
    stats, _ = _run(config, root, pg_url, RunOptions(force_delete=True))
    assert stats["pages_updated"] == 2 and stats["pages_unchanged"] == 2 and stats["pages_deleted"] == 1
    after = index_content(pg_url, "acme")
    assert after == _clean_build_content(pg_url, root, customers_dir)
    assert len({row[0] for row in after["parents"]}) == len(after["parents"])


def test_deletion_ratio_is_refused_unless_forced_and_visible_in_a_dry_run(customer, pg_url: str) -> None:
    config, root = customer
    _run(config, root, pg_url)
    for page_id in ("k1", "k2", "k3"):
        (root / "exports" / "ENG" / f"{page_id}.md").unlink()
    before = row_versions(pg_url, "acme")
    dry, _ = _run(config, root, pg_url, RunOptions(dry_run=True))
    assert dry["deletion_blocked"] and "3 of 5" in dry["deletion_blocked"]
    assert dry["pages"]["deleted"] == ["k1", "k2", "k3"]
    with pytest.raises(DeletionLimitExceeded) as info:
        _run(config, root, pg_url)
    message = str(info.value)
    assert "'acme'" in message and "3 of 5" in message and "0.60" in message and "0.50" in message
    assert row_versions(pg_url, "acme") == before
    stats, _ = _run(config, root, pg_url, RunOptions(force_delete=True))
    assert stats["pages_deleted"] == 3
    assert {row[0] for row in index_content(pg_url, "acme")["documents"]} == {"k4", "long"}


def test_dry_run_writes_nothing(pg_url: str, customers_dir: Path) -> None:
    config = make_config("drycust")
    root = make_customer(customers_dir, config)
    write_pages(root / "exports", "ENG", KAFKA_PAGES)
    state_before = (root / "state.json").read_text()
    manager = CustomerRAGManager(config, customer_dir=root, database_url=pg_url, embedder=offline_embedder())
    stats = manager.update_index(root / "exports", RunOptions(dry_run=True))
    assert stats["dry_run"] and stats["pages_added"] == 4 and sorted(stats["pages"]["new"]) == sorted(KAFKA_PAGES)
    assert manager.embedder.calls == 0
    with psycopg.connect(pg_url) as conn:
        schemas = {row[0] for row in conn.execute("SELECT nspname FROM pg_namespace")}
    assert schema_of("drycust") not in schemas
    assert (root / "state.json").read_text() == state_before
    manager.build_index(root / "exports")
    before = row_versions(pg_url, "drycust")
    state_before = (root / "state.json").read_text()
    write_page(root / "exports", "ENG", "k1", "Changed", "Completely different text.", version=3)
    stats = manager.update_index(root / "exports", RunOptions(dry_run=True))
    assert stats["pages_updated"] == 1 and stats["pages"]["changed"] == ["k1"]
    assert row_versions(pg_url, "drycust") == before
    assert (root / "state.json").read_text() == state_before
    assert not any((root / "cache" / "staging").glob("*"))


def test_removed_space_is_deleted_and_a_space_scoped_run_leaves_others_alone(pg_url: str, customers_dir) -> None:
    config = make_config("spaces", spaces=["ENG", "OPS", "HR"], max_delete_ratio=0.6)
    root = make_customer(customers_dir, config)
    for space in ("ENG", "OPS", "HR"):
        write_page(root / "exports", space, f"{space.lower()}1", f"{space} one", f"About {space} one.")
        write_page(root / "exports", space, f"{space.lower()}2", f"{space} two", f"About {space} two.")
    run_update(config, root, root / "exports", database_url=pg_url, embedder=offline_embedder())
    (root / "exports" / "OPS" / "ops1.md").unlink()
    stats = run_update(
        config,
        root,
        root / "exports",
        RunOptions(space_keys=["ENG"]),
        database_url=pg_url,
        embedder=offline_embedder(),
    )
    assert stats["pages_deleted"] == 0 and stats["pages_total"] == 2  # OPS is out of this run's scope
    narrowed = make_config("spaces", spaces=["ENG", "OPS"], max_delete_ratio=0.6)
    stats = run_update(narrowed, root, root / "exports", database_url=pg_url, embedder=offline_embedder())
    assert stats["pages_deleted"] == 3  # HR (2 pages, space removed) and ops1 (gone from the export)
    assert {row[0] for row in index_content(pg_url, "spaces")["documents"]} == {"eng1", "eng2", "ops2"}
    with pytest.raises(ValueError, match="HR"):
        run_update(narrowed, root, root / "exports", RunOptions(space_keys=["HR"]), database_url=pg_url)


def test_a_bad_page_file_is_a_per_page_error_and_is_not_deleted(customer, pg_url: str) -> None:
    config, root = customer
    _run(config, root, pg_url)
    bad = root / "exports" / "ENG" / "k2.md"
    bad.write_bytes(b"---\ntitle: [unclosed\n---\nbody\n")
    (root / "exports" / "ENG" / "broken.md").write_bytes(b"\xff\xfe not utf-8")
    write_page(root / "exports", "ENG", "k4", "Broker sizing", "Size brokers for network too.", version=2)
    stats, _ = _run(config, root, pg_url)
    files = sorted(error["file"] for error in stats["errors"])
    assert files == ["ENG/broken.md", "ENG/k2.md"]
    assert all(error["error"] for error in stats["errors"])
    assert stats["pages_deleted"] == 0 and stats["pages_updated"] == 1
    assert "k2" in {row[0] for row in index_content(pg_url, "acme")["documents"]}


def test_a_lost_or_corrupted_index_cache_is_harmless(customer, pg_url: str) -> None:
    config, root = customer
    _run(config, root, pg_url)
    cache = read_index_cache(root)
    assert cache is not None and set(cache["pages"]) == {"k1", "k2", "k3", "k4", "long"}
    before = row_versions(pg_url, "acme")
    cache_path(root).unlink()
    stats, embedder = _run(config, root, pg_url)
    assert embedder.calls == 0 and stats["pages_unchanged"] == 5
    assert row_versions(pg_url, "acme") == before
    # a stale cache that claims pages the database lacks, and a corrupted one, change nothing either
    cache_path(root).write_text(json.dumps({"pages": {"ghost": {"version": 9}}}))
    _run(config, root, pg_url)
    assert set(json.loads(cache_path(root).read_text())["pages"]) == {"k1", "k2", "k3", "k4", "long"}
    cache_path(root).write_text("{not json")
    assert read_index_cache(root) is None
    stats, embedder = _run(config, root, pg_url)
    assert embedder.calls == 0 and row_versions(pg_url, "acme") == before
    # the other way round: rows lost from the database are re-indexed although the cache still lists them
    with psycopg.connect(pg_url) as conn:
        for kind in ("chunks", "parents", "documents"):
            conn.execute(
                sql.SQL("DELETE FROM {} WHERE page_id = 'k1'").format(sql.Identifier(schema_of("acme"), f"g1_{kind}"))
            )
    stats, embedder = _run(config, root, pg_url)
    assert stats["pages_added"] == 1 and stats["chunks_reused"] == 0 and embedder.calls == 1
