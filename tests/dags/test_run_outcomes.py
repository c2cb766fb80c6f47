"""What a run reports and publishes, through ``dag.test()`` (and a cleared run re-run in place, the way the
scheduler re-runs an interval): the index Asset only when the index changed, the stats of only the embed instances
that ran in this try (a re-run may map fewer), and trigger typos and a misconfigured Confluence Connection failing
the export at once instead of being retried.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from tenant_rag.config import CustomerConfig
from tenant_rag.paths import customers_dir as default_customers_dir
from tenant_rag.state import load_state
from tenant_rag_airflow.dag_runner import run_customer_dag
from tests.dags.asset_events import asset_events
from tests.dags.rerun import rerun_in_place

pytestmark = pytest.mark.slow


def _stored_embed_stats(dag_id: str, run_id: str) -> int:
    """How many embed ``stats`` XComs the metadata DB holds for the run, stale ones included."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        return int(
            session.scalar(
                select(func.count()).where(
                    XComModel.dag_id == dag_id,
                    XComModel.run_id == run_id,
                    XComModel.task_id == "embed",
                    XComModel.key == "stats",
                )
            )
            or 0
        )


def _export_try(dag_id: str, run_id: str) -> tuple[str, int, int]:
    """(state, try_number, max_tries) of the run's export task."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        ti = session.scalars(
            select(TaskInstance).where(
                TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id, TaskInstance.task_id == "export"
            )
        ).one()
        return str(ti.state), ti.try_number, ti.max_tries


def _write_pages(folder: Path, pages: dict[str, str]) -> None:
    for name, body in pages.items():
        path = folder / "KB" / f"{name}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"# {name.title()}\n\n{body}\n", encoding="utf-8")


def _rerun(customer_id: str, run_id: str) -> dict[str, Any]:
    """Clear the run and run it again (``tests.dags.rerun``); the customer's state afterwards."""
    from tenant_rag_airflow.dag_builder import load_customer_dags

    dag_id = f"tenant_rag__{customer_id}"
    final = rerun_in_place(load_customer_dags(only_dag_id=dag_id)[dag_id], run_id)
    state = load_state(default_customers_dir() / customer_id, customer_id).model_dump(mode="json")
    return {**state, "dag_run_state": final, "dag_run_id": run_id}


def test_rerun_interval_reports_only_its_own_embeds_and_publishes_only_changes(
    airflow_ready: None, pg_url: str, write_customer: Callable[..., CustomerConfig], customers_dir: Path
) -> None:
    write_customer(
        "wayne",
        {"source": "directory", "path": "docs"},
        rag={"chunk_size": 200, "chunk_overlap": 20, "embedding_batch_size": 2},
    )
    docs = customers_dir / "wayne" / "docs"
    sentence = "The {0} runbook says: page the on-call engineer, open a bridge and write the timeline down. "
    _write_pages(docs, {name: sentence.format(name) * 6 for name in ("vpn", "printer", "backup", "badge")})

    earlier = len(asset_events("wayne"))  # the session's metadata DB may hold events of an earlier test
    first = run_customer_dag("wayne")
    assert first["dag_run_state"] == "success", first.get("last_error")
    run_id = first["dag_run_id"]
    built = first["last_run_stats"]
    assert built["counts"]["pages_added"] == 4 and built["stages"]["embed"]["tasks"] >= 3
    assert [e["run_id"] for e in asset_events("wayne")[earlier:]] == [run_id]

    # the same run cleared and run again after one page shrank: fewer embed instances than the first time
    _write_pages(docs, {"vpn": "Connect with the hardware token."})
    second = _rerun("wayne", run_id)
    assert second["dag_run_state"] == "success", second.get("last_error")
    stats = second["last_run_stats"]
    assert stats["run_id"] == run_id
    assert (stats["counts"]["pages_updated"], stats["counts"]["pages_written"]) == (1, 1)
    assert stats["stages"]["embed"]["tasks"] == 1 and stats["counts"]["embedding_calls"] == 1
    assert stats["counts"]["chunks_embedded"] == stats["stages"]["embed"]["texts"] == 1
    assert _stored_embed_stats("tenant_rag__wayne", run_id) > 1, "the removed instances' XComs are still stored"
    events = asset_events("wayne")[earlier:]
    assert len(events) == 2 and events[-1]["counts"] == stats["counts"]

    # and again with nothing changed: no embedding reported, no event
    third = _rerun("wayne", run_id)
    assert third["dag_run_state"] == "success", third.get("last_error")
    counts = third["last_run_stats"]["counts"]
    assert counts["pages_unchanged"] == 4 and counts["pages_written"] == counts["pages_deleted"] == 0
    assert (counts["chunks_embedded"], counts["embedding_calls"], counts["switched"]) == (0, 0, False)
    assert third["last_run_stats"]["stages"]["embed"]["tasks"] == 0
    assert len(asset_events("wayne")) == earlier + 2, "an unchanged run published an asset event"

    # a deletion is a change: published
    (docs / "KB" / "badge.md").unlink()
    fourth = run_customer_dag("wayne")
    assert fourth["last_run_stats"]["counts"]["pages_deleted"] == 1
    assert len(asset_events("wayne")) == earlier + 3


def test_a_typo_in_the_trigger_conf_fails_the_run_at_once(
    airflow_ready: None, pg_url: str, write_customer: Callable[..., CustomerConfig], customers_dir: Path
) -> None:
    write_customer("hooli", {"source": "directory", "path": "docs"}, retries=2)
    _write_pages(customers_dir / "hooli" / "docs", {"vpn": "Connect with the hardware token."})
    earlier = len(asset_events("hooli"))
    state = run_customer_dag("hooli", conf={"ful_refresh": True})
    assert state["dag_run_state"] == "failed"
    assert _export_try("tenant_rag__hooli", state["dag_run_id"]) == ("failed", 1, 2), "retried"
    error = state["last_run_stats"]["errors"][0]
    assert (error["task_id"], error["type"], error["permanent"]) == ("export", "InvalidRunRequest", True)
    assert "'ful_refresh' (did you mean 'full_refresh'?)" in error["message"]
    assert "full_refresh, dry_run, space_keys, force_delete" in state["last_error"]
    assert len(asset_events("hooli")) == earlier


def test_a_misconfigured_confluence_connection_fails_the_export_at_once(
    airflow_ready: None,
    pg_url: str,
    write_customer: Callable[..., CustomerConfig],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    export = {"source": "confluence", "base_url": "https://acme.example/wiki", "space_keys": ["ENG"]}
    write_customer("umbrella", {**export, "conn_id": "confluence_umbrella"}, retries=2)
    no_token = {"conn_type": "confluence", "host": "http://127.0.0.1:9/wiki", "login": "bot@umbrella.example"}
    monkeypatch.setenv("AIRFLOW_CONN_CONFLUENCE_UMBRELLA", json.dumps(no_token))
    state = run_customer_dag("umbrella")
    assert state["dag_run_state"] == "failed"
    assert _export_try("tenant_rag__umbrella", state["dag_run_id"]) == ("failed", 1, 2), "retried"
    error = state["last_run_stats"]["errors"][0]
    assert (error["task_id"], error["type"], error["permanent"]) == ("export", "ConfluenceConnectionError", True)
    assert "connection 'confluence_umbrella' has no password" in error["message"]
