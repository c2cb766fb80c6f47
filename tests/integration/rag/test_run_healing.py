"""A run killed while recording its state leaves state.json at ``building`` while its generation is live: the next
run's start puts the state back in line with the store (read through the store's own reader functions)."""

from __future__ import annotations

from pathlib import Path

from tenant_rag.pipeline.run import run_update
from tenant_rag.runs.housekeeping import live_index, reconcile_state
from tenant_rag.state import CustomerState, RAGStatus, StageProgress, load_state, update_state
from tests.integration.rag.rag_core_support import (
    KAFKA_PAGES,
    make_config,
    make_customer,
    offline_embedder,
    write_pages,
)


def _killed_while_recording(state: CustomerState) -> CustomerState:
    progress = StageProgress(stage="upsert", done=2, total=4)
    return state.model_copy(update={"status": RAGStatus.BUILDING, "is_ready_for_queries": False, "progress": progress})


def test_a_building_state_with_a_live_generation_is_reconciled(pg_url: str, customers_dir: Path) -> None:
    config = make_config("healing")
    root = make_customer(customers_dir, config)
    assert reconcile_state(root, "healing", lambda: live_index(config, pg_url)) is False  # never built: no change
    assert live_index(config, pg_url) is None

    write_pages(root / "exports", "ENG", KAFKA_PAGES)
    run_update(config, root, root / "exports", database_url=pg_url, embedder=offline_embedder())
    live = live_index(config, pg_url)
    assert live is not None and live.generation == 1 and live.documents == len(KAFKA_PAGES) and live.chunks > 0
    update_state(root, _killed_while_recording, "healing")

    assert reconcile_state(root, "healing", lambda: live_index(config, pg_url)) is True
    state = load_state(root, "healing")
    assert state.status == RAGStatus.READY and state.is_ready_for_queries and state.progress is None
    assert (state.total_indexed_documents, state.total_indexed_chunks) == (live.documents, live.chunks)
    assert (state.embedding_model, state.embedding_dimensions) == (live.embedding_model, live.dimensions)
    assert reconcile_state(root, "healing", lambda: live_index(config, pg_url)) is False  # nothing left to fix


def test_only_a_building_state_is_touched_and_the_store_is_read_only_then(pg_url: str, customers_dir: Path) -> None:
    config = make_config("steady")
    root = make_customer(customers_dir, config)
    update_state(root, lambda s: s.model_copy(update={"status": RAGStatus.FAILED, "last_error": "boom"}), "steady")
    reads: list[str] = []

    def read_live() -> None:
        reads.append("read")

    assert reconcile_state(root, "steady", read_live) is False and reads == []
    assert load_state(root, "steady").status == RAGStatus.FAILED
    update_state(root, _killed_while_recording, "steady")  # building, but nothing live: left for the run
    assert reconcile_state(root, "steady", lambda: live_index(config, pg_url)) is False
    assert load_state(root, "steady").status == RAGStatus.BUILDING
