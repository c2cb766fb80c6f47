"""state.json is written atomically: a crash between write and rename leaves the old state."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

from tenant_rag.errors import StateError
from tenant_rag.runs.record import RunCounts, RunRecord, RunSummary
from tenant_rag.state import CustomerState, RAGStatus, append_run, load_state, save_state, update_state


def test_missing_state_is_never_built(tmp_path: Path) -> None:
    state = load_state(tmp_path / "acme")
    assert state.customer_id == "acme"
    assert state.status is RAGStatus.NEVER_BUILT
    assert not state.is_ready_for_queries


def test_round_trip(tmp_path: Path) -> None:
    state = CustomerState(
        customer_id="acme",
        status=RAGStatus.READY,
        total_indexed_documents=3,
        is_ready_for_queries=True,
        last_run_stats=RunRecord(run_id="r1", status="success", counts=RunCounts(pages_added=3)),
    )
    save_state(tmp_path, state)
    again = load_state(tmp_path)
    assert again.status is RAGStatus.READY
    assert again.last_run_stats == state.last_run_stats
    assert again.updated_at is not None


def test_crash_between_write_and_rename_keeps_old_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    save_state(tmp_path, CustomerState(customer_id="acme", total_indexed_documents=1))

    def crash(src: str, dst: str) -> None:
        raise KeyboardInterrupt("simulated crash before rename")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        save_state(tmp_path, CustomerState(customer_id="acme", total_indexed_documents=99))
    monkeypatch.undo()
    assert load_state(tmp_path).total_indexed_documents == 1
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]  # temp file cleaned up


def test_torn_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "state.json").write_text('{"customer_id": "acme", "stat')
    with pytest.raises(StateError, match=r"customer 'acme'.*state.json"):
        load_state(tmp_path, "acme")


def test_concurrent_updates_do_not_lose_increments(tmp_path: Path) -> None:
    save_state(tmp_path, CustomerState(customer_id="acme"))

    def bump() -> None:
        for _ in range(25):
            update_state(tmp_path, lambda s: s.model_copy(update={"total_indexed_chunks": s.total_indexed_chunks + 1}))

    threads = [threading.Thread(target=bump) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert load_state(tmp_path).total_indexed_chunks == 100
    json.loads((tmp_path / "state.json").read_text())


def test_run_history_is_bounded() -> None:
    history: list[RunSummary] = []
    for index in range(50):
        history = append_run(history, RunSummary(run_id=f"r{index}", status="success"))
    assert len(history) == 20
    assert history[-1].run_id == "r49"
