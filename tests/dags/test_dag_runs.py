"""Customer DAGs run end to end with ``dag.test()``: real Postgres, the offline embedder, the local Confluence.

Covers: two customers indexed and each answered only from its own pages; an edited page re-embedded alone on the
next run; a dry run that writes nothing; a failed run that leaves the previous index queryable; state.json holding
the stats the tasks pushed to XCom; the index Asset published with the stats.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tenant_rag.config import CustomerConfig
from tenant_rag.customers import CustomerManager
from tenant_rag.query import CustomerQueryManager
from tenant_rag_airflow.dag_runner import run_customer_dag
from tests.dags.asset_events import asset_events
from tests.dags.sample_sites import ACME_PAGES, GLOBEX_PAGES

pytestmark = pytest.mark.slow
# The connection's host (the local site) overrides this placeholder: the hook's documented precedence.
SITE = "https://placeholder.atlassian.net/wiki"


def _titles(pages: dict[str, list[tuple[str, str]]]) -> set[str]:
    return {title for entries in pages.values() for title, _ in entries}


def _xcom_stats(dag_id: str, run_id: str) -> dict[str, list[Any]]:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.execute(
            select(XComModel.task_id, XComModel.map_index, XComModel.value).where(
                XComModel.dag_id == dag_id, XComModel.run_id == run_id, XComModel.key == "stats"
            )
        ).all()
    found: dict[str, list[Any]] = {}
    for task_id, _map_index, value in sorted(rows, key=lambda r: (r[0], r[1])):
        found.setdefault(task_id, []).append(XComModel.deserialize_value(type("R", (), {"value": value})()))
    return found


def _tree_digest(folder: Path) -> dict[str, str]:
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and "staging" not in path.parts and path.name != ".state.lock"
    }


@pytest.fixture
def sites(
    airflow_ready: None, pg_url: str, confluence: Any, write_customer: Callable[..., CustomerConfig]
) -> dict[str, CustomerConfig]:
    def export(spaces: list[str]) -> dict[str, Any]:
        return {"source": "confluence", "base_url": SITE, "space_keys": spaces}

    return {
        "acme": write_customer("acme", export(["ENG", "OPS"])),
        "globex": write_customer("globex", export(["HR"])),
    }


def test_two_customers_isolated_then_only_the_edited_page_is_reembedded(
    sites: dict[str, CustomerConfig],
    confluence: Any,
    pg_url: str,
    customers_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    shared_staging = tmp_path / "shared-staging"  # e.g. a volume every worker mounts
    monkeypatch.setenv("TENANT_RAG_STAGING_DIR", str(shared_staging))
    first = {cid: run_customer_dag(cid) for cid in ("acme", "globex")}
    for cid, pages in (("acme", ACME_PAGES), ("globex", GLOBEX_PAGES)):
        state = first[cid]
        assert state["dag_run_state"] == "success", state.get("last_error")
        assert state["status"] == "ready" and state["is_ready_for_queries"] is True
        counts = state["last_run_stats"]["counts"]
        assert counts["pages_added"] == len(_titles(pages)) == state["total_indexed_documents"]
        assert counts["chunks_embedded"] > 0 and counts["embedding_calls"] > 0
        assert state["last_run_stats"]["export"]["mode"] == "full"

    queries = CustomerQueryManager(pg_url)
    acme_docs = queries.query(sites["acme"], "How do we roll back a bad production deployment?", top_k=5).documents
    globex_docs = queries.query(sites["globex"], "What is the daily meal allowance when travelling?", top_k=5).documents
    assert acme_docs[0].metadata["title"] == "Deploying to production"
    assert globex_docs[0].metadata["title"] == "Travel expenses"
    assert {d.metadata["title"] for d in acme_docs} <= _titles(ACME_PAGES)
    assert {d.metadata["title"] for d in globex_docs} <= _titles(GLOBEX_PAGES)
    assert {d.metadata["space_key"] for d in acme_docs} <= {"ENG", "OPS"}

    # state.json holds exactly what the tasks pushed to XCom
    state = first["acme"]
    xcoms = _xcom_stats("tenant_rag__acme", state["last_run_id"])
    for task_id in ("export", "detect_changes", "chunk", "upsert"):
        assert state["last_run_stats"]["stages"][task_id] == xcoms[task_id][0]
    assert state["last_run_stats"]["stages"]["embed"]["texts"] == sum(x["texts"] for x in xcoms["embed"])
    events = asset_events("acme")
    assert len(events) == 1 and events[0]["counts"] == state["last_run_stats"]["counts"]

    # edit one page on the server; the next (manual) run exports since the last export and re-embeds only it
    deploy = confluence.page_ids["Deploying to production"]
    confluence.server.update_page(
        deploy,
        storage="<h1>Deploying to production</h1><p>Roll back with <code>helm rollback web</code> now; the "
        "release captain approves every production deploy.</p>",
    )
    second = run_customer_dag("acme")
    assert second["dag_run_state"] == "success", second.get("last_error")
    stats = second["last_run_stats"]
    assert stats["export"]["mode"] == "incremental"
    counts = stats["counts"]
    assert (counts["pages_updated"], counts["pages_added"], counts["pages_deleted"]) == (1, 0, 0)
    assert counts["pages_unchanged"] == len(_titles(ACME_PAGES)) - 1
    assert counts["pages_written"] == 1
    assert counts["chunks_embedded"] == counts["chunks"] - counts["chunks_reused"] >= 1
    assert counts["embedding_calls"] == 1
    assert second["total_indexed_documents"] == len(_titles(ACME_PAGES))
    assert [run["status"] for run in second["run_history"]] == ["success", "success"]
    assert queries.query(sites["acme"], "helm rollback", top_k=1).documents[0].metadata["page_id"] == deploy
    assert len(asset_events("acme")) == 2
    staging = Path(stats["stages"]["detect_changes"]["staging"])
    assert staging.parent == shared_staging / "acme" and not staging.exists(), "staging is removed after success"
    # globex was never touched by acme's runs
    assert CustomerManager(customers_dir).load_state("globex").last_run_id == first["globex"]["last_run_id"]


def test_dry_run_writes_nothing(
    sites: dict[str, CustomerConfig], confluence: Any, pg_url: str, customers_dir: Path
) -> None:
    built = run_customer_dag("globex")
    assert built["dag_run_state"] == "success"
    holiday = confluence.page_ids["Holiday policy"]
    confluence.server.update_page(holiday, storage="<h1>Holiday policy</h1><p>Employees receive 30 days per year.</p>")
    folder = customers_dir / "globex"
    before = _tree_digest(folder)
    events_before = len(asset_events("globex"))

    dry = run_customer_dag("globex", conf={"dry_run": True})
    assert dry["dag_run_state"] == "success"
    assert _tree_digest(folder) == before, "a dry run changed files of the customer"
    assert dry["last_run_id"] == built["last_run_id"]
    assert len(asset_events("globex")) == events_before
    queries = CustomerQueryManager(pg_url)
    assert "28 days" in queries.query(sites["globex"], "paid holiday days", top_k=1).documents[0].page_content
    report = _xcom_stats("tenant_rag__globex", dry["dag_run_id"])
    assert report["detect_changes"][0]["changed"] == 1 and report["detect_changes"][0]["dry_run"] is True
    assert holiday in report["detect_changes"][0]["pages"]["changed"]
    assert report["upsert"][0]["pages_written"] == 0

    # the change the dry run reported is still there for the real run
    real = run_customer_dag("globex")
    assert real["last_run_stats"]["counts"]["pages_updated"] == 1
    assert "30 days" in queries.query(sites["globex"], "paid holiday days", top_k=1).documents[0].page_content


def test_failed_run_keeps_the_previous_index_queryable(
    sites: dict[str, CustomerConfig],
    pg_url: str,
    write_customer: Callable[..., CustomerConfig],
    customers_dir: Path,
) -> None:
    built = run_customer_dag("globex")
    assert built["dag_run_state"] == "success"
    events_before = len(asset_events("globex"))
    broken = write_customer("globex", {"source": "confluence", "base_url": SITE, "space_keys": ["HR", "NOPE"]})
    state_file = customers_dir / "globex" / "state.json"
    before = state_file.read_bytes()

    dry = run_customer_dag("globex", conf={"dry_run": True})  # fails too, but a dry run records nothing
    assert dry["dag_run_state"] == "failed" and state_file.read_bytes() == before

    failed = run_customer_dag("globex")
    assert failed["dag_run_state"] == "failed"
    assert failed["status"] == "failed" and "NOPE" in failed["last_error"]
    assert failed["is_ready_for_queries"] is True and failed["total_indexed_documents"] == 2
    run = failed["last_run_stats"]
    assert run["failed_tasks"] == ["chunk", "detect_changes", "embed", "export", "upsert"]
    assert run["errors"][0]["task_id"] == "export" and run["errors"][0]["type"] == "SpaceNotFoundError"
    assert run["errors"][0]["permanent"] is True
    assert [r["status"] for r in failed["run_history"]] == ["success", "failed"]  # the dry run is not in it
    assert len(asset_events("globex")) == events_before
    docs = CustomerQueryManager(pg_url).query(broken, "meal allowance", top_k=1).documents
    assert docs and docs[0].metadata["title"] == "Travel expenses"


def test_a_lease_left_by_a_vanished_run_is_taken_over(
    airflow_ready: None, pg_url: str, write_customer: Callable[..., CustomerConfig], customers_dir: Path
) -> None:
    from tenant_rag.fsutil import atomic_write_json
    from tenant_rag.pipeline.staging import staging_for
    from tenant_rag.runs.lease import lease_path

    write_customer("initech", {"source": "directory", "path": "docs"})
    page = customers_dir / "initech" / "docs" / "KB" / "vpn.md"
    page.parent.mkdir(parents=True)
    page.write_text("# VPN\n\nConnect to the office VPN with the hardware token.\n", encoding="utf-8")
    # a worker died mid-run: its lease names a run Airflow no longer knows (the API answers 404), and its staging
    # folder was last written three days ago
    atomic_write_json(lease_path(customers_dir / "initech"), {"run_id": "manual__vanished", "acquired_at": "x"})
    stale = staging_for(customers_dir / "initech", "manual__vanished").root
    (stale / "embed").mkdir(parents=True)
    three_days_ago = time.time() - 3 * 24 * 3600
    for folder in (stale / "embed", stale):
        os.utime(folder, (three_days_ago, three_days_ago))
    state = run_customer_dag("initech")
    assert state["dag_run_state"] == "success" and state["last_run_stats"]["counts"]["pages_added"] == 1
    assert not lease_path(customers_dir / "initech").exists()
    assert not stale.exists()
