"""One run record: a state.json written by an older version (in-process runs said ``outcome`` with flat counts) loads
into the same ``RunRecord``/``RunSummary`` as the DAG's runs, and is written back in that shape."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from tenant_rag.runs.record import RunCounts, RunRecord, RunSummary
from tenant_rag.state import load_state, save_state

T0 = datetime(2026, 3, 1, tzinfo=UTC)

OLD_STATE = {
    "customer_id": "acme",
    "status": "failed",
    "total_indexed_documents": 4,
    "last_run_id": "run_2",
    "last_run_stats": {  # what an in-process run returned, stored as is
        "run_id": "run_1",
        "customer_id": "acme",
        "dry_run": False,
        "generation": 1,
        "target_status": "new",
        "switched": True,
        "pages_total": 4,
        "pages_added": 4,
        "pages_written": 4,
        "chunks": 9,
        "errors": [{"file": "ENG/p.md", "page_id": "p", "error": "refused"}],
        "warnings": [],
        "durations_s": {"detect": 0.1, "chunk": 0.2, "embed": 0.3, "upsert": 0.4},
        "duration_s": 1.5,
    },
    "run_history": [
        {  # an in-process run
            "run_id": "run_1",
            "outcome": "success",
            "finished_at": T0.isoformat(),
            "pages_added": 4,
            "pages_deleted": 0,
            "chunks_embedded": 9,
            "duration_s": 1.5,
        },
        {"run_id": "run_2", "outcome": "failed", "finished_at": T0.isoformat(), "error": "RuntimeError: boom"},
        {  # a DAG run
            "run_id": "scheduled__1",
            "run_type": "scheduled",
            "status": "success",
            "dry_run": False,
            "logical_date": T0.isoformat(),
            "finished_at": T0.isoformat(),
            "duration_s": 9.0,
            "export": {"source": "confluence", "mode": "incremental", "as_of": T0.isoformat()},
            "counts": {"pages_updated": 1, "pages_written": 1},
            "error": None,
        },
    ],
}


def test_an_old_state_loads_into_the_one_record_shape(tmp_path: Path) -> None:
    (tmp_path / "state.json").write_text(json.dumps(OLD_STATE), encoding="utf-8")
    state = load_state(tmp_path)
    first, failed, scheduled = state.run_history
    assert first == RunSummary(
        run_id="run_1",
        status="success",
        finished_at=T0,
        duration_s=1.5,
        counts=RunCounts(pages_added=4, chunks_embedded=9),
    )
    assert (failed.status, failed.error, failed.counts) == ("failed", "RuntimeError: boom", RunCounts())
    assert (scheduled.run_type, scheduled.export.as_of, scheduled.counts.pages_written) == ("scheduled", T0, 1)
    last = state.last_run_stats
    assert isinstance(last, RunRecord) and (last.run_id, last.status, last.duration_s) == ("run_1", "success", 1.5)
    assert last.counts == RunCounts(
        generation=1, switched=True, pages_total=4, pages_added=4, pages_written=4, chunks=9
    )
    assert last.durations_s == {"detect": 0.1, "chunk": 0.2, "embed": 0.3, "upsert": 0.4}
    assert last.errors == [{"stage": "pages", "file": "ENG/p.md", "page_id": "p", "error": "refused"}]

    save_state(tmp_path, state)  # written back in the current shape, which loads unchanged
    stored = json.loads((tmp_path / "state.json").read_text(encoding="utf-8"))
    assert all("outcome" not in run and "counts" in run for run in stored["run_history"])
    again = load_state(tmp_path)
    assert again.run_history == state.run_history and again.last_run_stats == state.last_run_stats


def test_an_empty_last_run_of_an_old_state_means_no_run(tmp_path: Path) -> None:
    (tmp_path / "state.json").write_text(json.dumps({"customer_id": "acme", "last_run_stats": {}}), encoding="utf-8")
    assert load_state(tmp_path).last_run_stats is None
