"""CustomerRAGManager and RAGFactory: state.json bookkeeping, failures that keep the index live, LRU bounds."""

from __future__ import annotations

from pathlib import Path

import pytest
from psycopg.conninfo import conninfo_to_dict

from tenant_rag.index_cache import read_index_cache
from tenant_rag.manager import CustomerRAGManager
from tenant_rag.rag_factory import RAGFactory
from tenant_rag.runs.options import RunOptions
from tenant_rag.state import RAGStatus, load_state
from tests.integration.rag.rag_core_support import (
    GARDEN_PAGES,
    KAFKA_PAGES,
    FailingEmbedder,
    make_config,
    make_customer,
    offline_embedder,
    rag_pools,  # noqa: F401 - fixture
    write_page,
    write_pages,
)

pytestmark = pytest.mark.usefixtures("rag_pools")


def test_build_records_a_ready_state_with_counts(pg_url: str, customers_dir: Path) -> None:
    config = make_config("statecust")
    root = make_customer(customers_dir, config)
    write_pages(root / "exports", "ENG", KAFKA_PAGES)
    manager = RAGFactory.get_rag_manager(config, customer_dir=root, embedder=offline_embedder())
    resolved = conninfo_to_dict(manager.database_url)  # from the tenant_rag_db connection (AIRFLOW_CONN_*)
    assert resolved["dbname"] == conninfo_to_dict(pg_url)["dbname"]
    stats = manager.build_index(root / "exports")
    state = load_state(root)
    assert state.status == RAGStatus.READY and state.is_ready_for_queries
    assert state.total_indexed_documents == 4 and state.total_indexed_chunks == stats["chunks"]
    assert state.embedding_model == "wordllama-l2-256" and state.embedding_dimensions == 256
    assert state.last_run_stats is not None and state.last_run_stats.counts.pages_added == 4
    assert state.last_error is None and state.last_run_stats.run_type == "manual"
    assert state.rag_collection_name == config.collection_name and state.last_run_id == stats["run_id"]
    assert state.run_history[-1] == state.last_run_stats.summary() and state.progress is None
    assert state.run_history[-1].status == "success" and state.run_history[-1].counts.chunks == stats["chunks"]
    stats_view = manager.get_stats()
    assert stats_view["documents"] == 4 and stats_view["generation"] == 1 and stats_view["status"] == "ready"
    assert stats_view["tenant_role"] == manager.names.role
    assert set(read_index_cache(root)["pages"]) == set(KAFKA_PAGES)


def test_a_failed_update_keeps_the_previous_index_queryable(pg_url: str, customers_dir: Path) -> None:
    config = make_config("failcust")
    root = make_customer(customers_dir, config)
    write_pages(root / "exports", "HOME", GARDEN_PAGES)
    CustomerRAGManager(config, customer_dir=root, database_url=pg_url, embedder=offline_embedder()).build_index(
        root / "exports"
    )
    write_page(root / "exports", "HOME", "g5", "Mulching", "Mulch keeps moisture in the soil.")
    failing = CustomerRAGManager(
        config, customer_dir=root, database_url=pg_url, embedder=FailingEmbedder(offline_embedder())
    )
    with pytest.raises(RuntimeError, match="injected"):
        failing.update_index(root / "exports")
    state = load_state(root)
    assert state.status == RAGStatus.FAILED and state.is_ready_for_queries
    assert "injected" in (state.last_error or "") and state.run_history[-1].status == "failed"
    assert [run.status for run in state.run_history] == ["success", "failed"]
    assert state.total_indexed_documents == 4  # the last good counts stay
    assert failing.query("compost", top_k=1).documents[0].metadata["page_id"] == "g2"
    recovered = CustomerRAGManager(config, customer_dir=root, database_url=pg_url, embedder=offline_embedder())
    assert recovered.update_index(root / "exports")["pages_added"] == 1
    assert load_state(root).status == RAGStatus.READY and load_state(root).last_error is None


def test_progress_is_mirrored_into_the_state_while_building(pg_url: str, customers_dir: Path, monkeypatch) -> None:
    from tenant_rag import manager as manager_module
    from tenant_rag.runs.progress import ProgressReporter

    monkeypatch.setattr(manager_module, "PROGRESS_EVERY_S", 0.0)
    config = make_config("progresscust")
    root = make_customer(customers_dir, config)
    write_pages(root / "exports", "ENG", KAFKA_PAGES)
    seen: list[tuple[str, int, int]] = []
    original = ProgressReporter.__call__

    def spy(self: ProgressReporter, stage: str, done: int, total: int) -> None:
        original(self, stage, done, total)
        progress = load_state(root).progress
        assert progress is not None
        seen.append((progress.stage, progress.done, progress.total))

    monkeypatch.setattr(ProgressReporter, "__call__", spy)
    CustomerRAGManager(config, customer_dir=root, database_url=pg_url).build_index(root / "exports")
    assert ("chunk", 4, 4) in seen and ("upsert", 4, 4) in seen and ("embed", 1, 1) in seen
    assert load_state(root).progress is None


def test_cleanup_index_resets_the_state(pg_url: str, customers_dir: Path) -> None:
    config = make_config("gonecust")
    root = make_customer(customers_dir, config)
    write_pages(root / "exports", "ENG", KAFKA_PAGES)
    manager = CustomerRAGManager(config, customer_dir=root, database_url=pg_url, embedder=offline_embedder())
    manager.build_index(root / "exports")
    assert manager.cleanup_index()["role_dropped"] is True
    state = load_state(root)
    assert not state.is_ready_for_queries and state.total_indexed_documents == 0
    assert read_index_cache(root) is None
    assert manager.get_stats()["generation"] is None
    stats = manager.update_index(root / "exports")  # can be rebuilt from scratch
    assert stats["pages_added"] == 4


def test_rag_factory_is_lazy_and_lru_bounded(pg_url: str, customers_dir: Path, monkeypatch) -> None:
    monkeypatch.setenv("TENANT_RAG_MAX_MANAGERS", "2")
    configs = [make_config(f"lru{n}") for n in range(3)]
    first = RAGFactory.get_rag_manager(configs[0], customer_dir=customers_dir / "lru0")
    assert RAGFactory.get_rag_manager(configs[0], customer_dir=customers_dir / "lru0") is first
    RAGFactory.get_rag_manager(configs[1], customer_dir=customers_dir / "lru1")
    RAGFactory.get_rag_manager(configs[0], customer_dir=customers_dir / "lru0")  # lru0 is now most recent
    RAGFactory.get_rag_manager(configs[2], customer_dir=customers_dir / "lru2")
    assert RAGFactory.cached_ids() == ["lru0", "lru2"]
    changed = configs[0].model_copy(update={"display_name": "Renamed"})
    assert RAGFactory.get_rag_manager(changed, customer_dir=customers_dir / "lru0") is not first
    default_dir = RAGFactory.get_rag_manager(configs[1]).customer_dir
    assert default_dir == customers_dir / "lru1"  # TENANT_RAG_CUSTOMERS_DIR


def test_build_index_reprocesses_everything_without_embedding_again(pg_url: str, customers_dir: Path) -> None:
    config = make_config("rebuild")
    root = make_customer(customers_dir, config)
    write_pages(root / "exports", "ENG", KAFKA_PAGES)
    embedder = offline_embedder()
    manager = CustomerRAGManager(config, customer_dir=root, database_url=pg_url, embedder=embedder)
    manager.build_index(root / "exports")
    calls = embedder.calls
    stats = manager.build_index(root / "exports", RunOptions(dry_run=False))
    assert stats["pages_updated"] == 4 and embedder.calls == calls and stats["chunks_reused"] == stats["chunks"]
