"""The parts of a DAG run with no Airflow in them: export windows, batch grouping, run params, state merging,
progress, dry-run copy."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tenant_rag.config import CustomerConfig
from tenant_rag.pipeline.stats import DetectStats, EmbedStats, RunStats, merge_stats, sum_embed_stats
from tenant_rag.runs.dry_run import shadow_customer_dir
from tenant_rag.runs.progress import ProgressReporter
from tenant_rag.runs.record import RunCounts, RunRecord, RunSummary
from tenant_rag.runs.state_merge import apply_run, build_run_record, map_indexes_in
from tenant_rag.runs.windows import last_export_as_of, plan_export
from tenant_rag.state import CustomerState, RAGStatus, load_state
from tenant_rag_airflow.operators.base import compact, is_permanent
from tenant_rag_airflow.operators.chunk import group_batches
from tenant_rag_airflow.params import InvalidRunRequest, run_options

T0 = datetime(2026, 3, 1, tzinfo=UTC)
DAY = timedelta(days=1)


def _plan(**overrides: object) -> object:
    args: dict[str, object] = {
        "run_type": "scheduled",
        "data_interval_start": T0,
        "data_interval_end": T0 + DAY,
        "run_after": T0 + DAY,
        "full_refresh": False,
        "has_index": True,
        "never_exported_spaces": [],
        "previous_as_of": T0 - DAY,
    }
    args.update(overrides)
    return plan_export(**args)  # type: ignore[arg-type]


def test_scheduled_and_backfill_runs_export_their_interval() -> None:
    for run_type in ("scheduled", "backfill"):
        plan = _plan(run_type=run_type)
        assert (plan.mode, plan.window) == ("incremental", (T0, T0 + DAY))


def test_full_exports_first_run_full_refresh_and_new_spaces() -> None:
    assert _plan(has_index=False).mode == "full"
    assert _plan(full_refresh=True).window is None
    assert "OPS" in _plan(never_exported_spaces=["OPS"]).reason


def test_manual_runs_catch_up_since_the_last_export() -> None:
    plan = _plan(run_type="manual", run_after=T0 + 3 * DAY)
    assert plan.window == (T0 - DAY, T0 + 3 * DAY)
    assert _plan(run_type="manual", previous_as_of=None).mode == "full"
    # a zero-length interval (Airflow's trigger timetables) is treated like no interval
    assert _plan(run_type="scheduled", data_interval_end=T0, previous_as_of=None).mode == "full"


def test_last_export_as_of_takes_the_latest_successful_run() -> None:
    history = [
        RunSummary.model_validate({"run_id": "a", "status": "success", "export": {"as_of": (T0 + DAY).isoformat()}}),
        # a backfill of an older interval
        RunSummary.model_validate({"run_id": "b", "status": "success", "export": {"as_of": T0.isoformat()}}),
        RunSummary.model_validate({"run_id": "c", "status": "failed", "export": {"as_of": (T0 + 5 * DAY).isoformat()}}),
        RunSummary.model_validate(
            {"run_id": "d", "status": "dry_run", "export": {"as_of": (T0 + 6 * DAY).isoformat()}}
        ),
    ]
    assert last_export_as_of(history) == T0 + DAY
    assert last_export_as_of([]) is None


@pytest.mark.parametrize(("batches", "cap", "sizes"), [(0, 4, []), (3, 4, [1, 1, 1]), (10, 4, [3, 3, 2, 2])])
def test_group_batches(batches: int, cap: int, sizes: list[int]) -> None:
    groups = group_batches(batches, cap)
    assert [len(g) for g in groups] == sizes
    assert [i for g in groups for i in g] == list(range(batches))


def _config(**export: object) -> CustomerConfig:
    base = {"source": "confluence", "base_url": "https://x.example/wiki", "space_keys": ["ENG", "OPS"]}
    return CustomerConfig.model_validate({"customer_id": "acme", "display_name": "A", "export": {**base, **export}})


def test_run_options_validates_space_keys_and_flags() -> None:
    config = _config()
    assert run_options({"space_keys": ["OPS"], "dry_run": True}, config).space_keys == ["OPS"]
    assert run_options({"space_keys": None, "full_refresh": "true"}, config).full_refresh is True
    with pytest.raises(InvalidRunRequest, match="choose from ENG, OPS"):
        run_options({"space_keys": ["HR"]}, config)
    with pytest.raises(InvalidRunRequest, match="true or false"):
        run_options({"dry_run": "maybe"}, config)
    assert is_permanent(InvalidRunRequest("x")) and not is_permanent(ConnectionError("x"))


def test_run_options_refuses_unknown_keys_naming_the_accepted_ones() -> None:
    config = _config()
    with pytest.raises(InvalidRunRequest) as excinfo:
        run_options({"ful_refresh": True, "space_keys": ["ENG"]}, config)
    message = str(excinfo.value)
    assert "unknown run param 'ful_refresh' (did you mean 'full_refresh'?)" in message
    assert message.endswith("the accepted params are full_refresh, dry_run, space_keys, force_delete")
    assert is_permanent(excinfo.value)
    with pytest.raises(InvalidRunRequest, match=r"unknown run params 'priority', 'zzz';"):
        run_options({"zzz": 1, "priority": "high", "dry_run": False}, config)
    assert run_options({"full_refresh": True, "dry_run": False, "space_keys": [], "force_delete": False}, config)


def test_only_instances_that_ran_now_and_only_changes_count() -> None:
    states = {
        "chunk": "success",
        "embed": "skipped",  # the unmapped placeholder of an expansion
        "embed_0": "success",
        "embed_1": "failed",
        "embed_2": "removed",  # a re-run mapped fewer: its XComs of the earlier try are still stored
        "embed_10": "success",
        "embed_extra_3": "success",  # another task's id, not a map index
    }
    assert map_indexes_in(states, "embed", ("success",)) == [0, 10]
    assert map_indexes_in(states, "embed", ("failed",)) == [1]
    assert map_indexes_in({}, "embed", ("success",)) == []
    assert not RunCounts(pages_written=0, pages_deleted=0, switched=False, chunks_embedded=3).index_changed()
    assert RunCounts(pages_written=2).index_changed() and RunCounts(pages_deleted=1).index_changed()
    assert RunCounts(pages_written=0, switched=True).index_changed()


def test_compact_bounds_lists_and_strings() -> None:
    data = compact({"errors": list(range(50)), "note": "x" * 5000, "when": T0, "path": Path("/a")})
    assert len(data["errors"]) == 21 and data["errors"][-1] == "... 30 more"
    assert len(data["note"]) < 2100 and data["when"] == T0.isoformat() and data["path"] == "/a"


def _embed_task(texts: int, duration_s: float) -> EmbedStats:
    return {
        "tasks": 1,
        "batches": 1,
        "batches_skipped": 0,
        "texts": texts,
        "calls": 1,
        "tokens_est": 0,
        "duration_s": duration_s,
        "wall_s": duration_s,
    }


def _run_stats() -> RunStats:
    detect: DetectStats = {
        "new": 0,
        "changed": 0,
        "unchanged": 0,
        "deleted": 0,
        "errors": [],
        "pages_total": 0,
        "indexed_total": 0,
        "deletion_ratio": 0.0,
        "deletion_blocked": None,
        "dry_run": False,
        "generation": 1,
        "target_status": "active",
    }
    return merge_stats("acme", "r1", detect)


def _record(status_failed: bool = False) -> RunRecord:
    merged = _run_stats()
    merged.update(pages_added=1, chunks_embedded=5)
    stages = {
        "export": {"mode": "incremental", "as_of": T0.isoformat(), "duration_s": 1.0},
        "detect_changes": {"new": 1, "duration_s": 0.5},
        "embed": dict(sum_embed_stats([_embed_task(3, 2.0), _embed_task(2, 1.0)])),
    }
    return build_run_record(
        run_id="r1",
        run_type="scheduled",
        logical_date=T0,
        started_at=T0,
        finished_at=T0 + timedelta(seconds=9),
        params={"dry_run": False},
        stages=stages,
        merged=merged,
        task_states={"export": "failed" if status_failed else "success", "record_state": "running"},
        task_errors=[{"task_id": "export", "message": "boom"}] if status_failed else [],
        failed=["export"] if status_failed else [],
    )


def test_per_page_errors_and_warnings_land_in_the_run_record() -> None:
    refused = {"file": "ENG/p.md", "page_id": "p", "error": "refused by the database (54000 ProgramLimitExceeded): x"}
    cleaned = {"file": "ENG/q.md", "page_id": "q", "warning": "NUL characters (...) removed from title"}
    merged = _run_stats()
    merged.update(errors=[refused], warnings=[cleaned])
    record = build_run_record(
        run_id="r1",
        run_type="scheduled",
        logical_date=T0,
        started_at=T0,
        finished_at=T0,
        params={},
        stages={},
        merged=merged,
        task_states={},
        task_errors=[],
        failed=[],
    )
    assert record.status == "success"
    assert record.errors == [{"stage": "pages", **refused}]
    assert record.warnings == [{"stage": "pages", **cleaned}]


def test_apply_run_success_and_failure() -> None:
    record = _record()
    assert record.stages["embed"] == {
        "tasks": 2,
        "batches": 2,
        "batches_skipped": 0,
        "texts": 5,
        "calls": 2,
        "tokens_est": 0,
        "duration_s": 3.0,
        "wall_s": 2.0,
    }
    state = apply_run(
        CustomerState(customer_id="acme"),
        record,
        collection_name="c",
        embedding_model="m",
        embedding_dimensions=8,
        index_totals=(4, 9),
        finished_at=T0,
    )
    assert (state.status, state.is_ready_for_queries, state.total_indexed_documents) == (RAGStatus.READY, True, 4)
    assert state.last_run_stats == record
    assert (record.counts.pages_added, record.counts.chunks_embedded, record.counts.pages_written) == (1, 5, 0)
    assert state.run_history[-1] == record.summary() and state.run_history[-1].export.as_of == T0
    failed = apply_run(
        state,
        _record(status_failed=True),
        collection_name="c",
        embedding_model="m",
        embedding_dimensions=8,
        index_totals=None,
        finished_at=T0 + DAY,
    )
    assert failed.status == RAGStatus.FAILED and failed.last_error == "export: boom"
    assert failed.is_ready_for_queries is True and failed.total_indexed_documents == 4
    assert failed.last_success_time == T0 and [r.status for r in failed.run_history] == ["success", "failed"]


class _ListLog:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def info(self, message: str, *args: object) -> None:
        self.lines.append(message % args)

    warning = info


def test_progress_reports_on_a_steady_clock_and_writes_state(tmp_path: Path) -> None:
    log = _ListLog()
    with ProgressReporter(
        stage="export", unit="pages", log=log, customer_dir=tmp_path, customer_id="acme", interval=0.2
    ) as progress:
        for done in range(1, 6):
            progress("export", done, 10)  # the pipeline's (stage, done, total) form
            time.sleep(0.12)
        state = load_state(tmp_path, "acme")
        assert state.status == RAGStatus.BUILDING and state.progress is not None
        assert state.progress.stage == "export" and state.progress.total == 10 and state.progress.done >= 1
    periodic = [line for line in log.lines if line.startswith("export: ")]
    assert len(periodic) >= 3, log.lines  # at least two ticks plus the final line
    assert periodic[-1].startswith("export: 5/10 pages") and "ETA" in periodic[-1]
    assert load_state(tmp_path, "acme").progress.done == 5  # type: ignore[union-attr]


def test_progress_of_a_dry_run_only_logs() -> None:
    log = _ListLog()
    with ProgressReporter(stage="chunk", unit="pages", log=log, customer_dir=None, customer_id="a", interval=60) as p:
        p(1, 2)
    assert len(log.lines) == 1 and log.lines[0].startswith("chunk: 1/2 pages")  # the final line, no state


def test_progress_with_no_interval_reports_every_call_under_the_stage_it_names(tmp_path: Path) -> None:
    seen = []
    with ProgressReporter(
        stage="detect", unit="items", log=_ListLog(), customer_dir=tmp_path, customer_id="acme", interval=0
    ) as progress:
        for stage, done, total in (("chunk", 1, 2), ("chunk", 2, 2), ("embed", 1, 1), ("upsert", 2, 2)):
            progress(stage, done, total)
            snap = load_state(tmp_path, "acme").progress
            assert snap is not None
            seen.append((snap.stage, snap.done, snap.total))
    assert seen == [("chunk", 1, 2), ("chunk", 2, 2), ("embed", 1, 1), ("upsert", 2, 2)]


def test_shadow_copy_shares_data_but_not_writes(tmp_path: Path) -> None:
    customer = tmp_path / "acme"
    page = customer / "exports" / "ENG" / "a.md"
    page.parent.mkdir(parents=True)
    page.write_text("original", encoding="utf-8")
    (customer / "cache" / "staging" / "run1").mkdir(parents=True)
    (customer / "cache" / "export_manifest.json").write_text("{}", encoding="utf-8")
    shadow = shadow_customer_dir(customer, customer / "cache" / "staging" / "run1" / "dry")
    copy = shadow / "exports" / "ENG" / "a.md"
    assert copy.read_text(encoding="utf-8") == "original"
    assert not (shadow / "cache" / "staging").exists() and (shadow / "cache" / "export_manifest.json").exists()
    from tenant_rag.fsutil import atomic_write_text

    atomic_write_text(copy, "changed by a dry-run export")
    assert page.read_text(encoding="utf-8") == "original"


def test_the_lease_probe_reads_the_status_of_errors_relayed_by_the_task_supervisor() -> None:
    import httpx
    from airflow.sdk.exceptions import AirflowRuntimeError, ErrorType
    from airflow.sdk.execution_time.comms import ErrorResponse

    from tenant_rag_airflow.run_lease import status_code

    relayed = AirflowRuntimeError(ErrorResponse(error=ErrorType.API_SERVER_ERROR, detail={"status_code": 404}))
    assert status_code(relayed) == 404  # a deleted run, seen from a task under a real scheduler
    request = httpx.Request("GET", "http://airflow/execution/dag-runs/d/r/state")
    direct = httpx.HTTPStatusError("gone", request=request, response=httpx.Response(404, request=request))
    assert status_code(direct) == 404
    network = AirflowRuntimeError(ErrorResponse(error=ErrorType.API_SERVER_ERROR, detail={"status_code": None}))
    assert status_code(network) is None and status_code(RuntimeError("boom")) is None
