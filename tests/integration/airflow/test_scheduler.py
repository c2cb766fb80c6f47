"""The project's DAG folder under a real Airflow 3: api-server + scheduler + dag-processor, LocalExecutor.

A customer's DAG is triggered through the REST API with Params, then backfilled over three daily intervals
(``airflow backfill create``). Each backfill run exports only the pages modified in its interval, and the index
ends equal to the site (what one full run would build). Everything is stopped with one process-group kill.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from tenant_rag.config import CustomerConfig
from tenant_rag.customers import CustomerManager
from tenant_rag.index_cache import read_index_cache
from tenant_rag.query import CustomerQueryManager
from tenant_rag_airflow.dag_shards import SHARD_FILE_TEXT, shard_file_name, shard_of
from tests.dags.sample_sites import LocalSite, serving
from tests.integration.airflow.airflow_stack import AirflowStack, running_stack, wait_for

pytestmark = [pytest.mark.scheduler, pytest.mark.slow]
DAG_ID = "tenant_rag__acme"
USER = ("bot@example.com", "api-token-xyz")


def day(d: int, hour: int = 12) -> datetime:
    return datetime(2026, 3, d, hour, tzinfo=UTC)


@pytest.fixture
def site(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalSite]:
    from tenant_rag_devtools.confluence_server import FakeConfluence

    fake = FakeConfluence(flavor="cloud", auth=USER)
    fake.add_space("ENG", "Engineering")
    fake.add_space("OPS", "Operations")
    ids = {
        "deploy": fake.add_page(
            "ENG", "Deploying", "<p>Deploys roll back with kubectl rollout undo.</p>", modified_at=day(1, 1)
        ),
        "review": fake.add_page("ENG", "Code review", "<p>Two approvals per change.</p>", modified_at=day(1, 1)),
        "legacy": fake.add_page("OPS", "Legacy pager", "<p>The old pager rota.</p>", modified_at=day(1, 1)),
    }
    with serving(fake, ids, monkeypatch) as served:
        yield served


@pytest.fixture
def stack(
    pg_server_url: str,
    airflow_metadata_template: str,
    pg_url: str,
    site: LocalSite,
    customers_dir: Path,
    tmp_path: Path,
) -> Iterator[AirflowStack]:
    # two shards wanted, one file present: the project's DAG bundle must write shard 1 for the DAG processor
    env = {"TENANT_RAG_CUSTOMERS_DIR": str(customers_dir), "TENANT_RAG_DAG_SHARDS": "2"}
    with running_stack(pg_server_url, f"airflow_meta_{os.getpid()}", airflow_metadata_template, tmp_path, env) as stack:
        yield stack


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _critical_section(stack: AirflowStack, run_id: str) -> tuple[datetime, datetime]:
    tis = stack.api("GET", f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances").json()["task_instances"]
    by_task = {ti["task_id"]: ti for ti in tis}
    return _instant(by_task["detect_changes"]["start_date"]), _instant(by_task["record_state"]["end_date"])


def _customer(customers_dir: Path) -> CustomerConfig:
    config = CustomerConfig.model_validate(
        {
            "customer_id": "acme",
            "display_name": "Acme",
            "retries": 0,
            "schedule": "@daily",
            "start_date": "2026-03-01T00:00:00+00:00",
            "export": {
                "source": "confluence",
                "base_url": "https://acme.atlassian.net/wiki",
                "space_keys": ["ENG", "OPS"],
            },
        }
    )
    CustomerManager(customers_dir).create(config)
    return config


def test_trigger_with_params_then_backfill_three_intervals(
    stack: AirflowStack, site: LocalSite, customers_dir: Path, pg_url: str
) -> None:
    config = _customer(customers_dir)
    dag = stack.wait_for_dag(DAG_ID)
    assert dag["is_paused"] is False and dag["max_active_runs"] == 1
    # built by its own shard file, which the bundle wrote when shard 1 was missing
    assert (stack.home / "dags" / shard_file_name(1)).read_text(encoding="utf-8") == SHARD_FILE_TEXT.format(index=1)
    details = stack.api("GET", f"/dags/{DAG_ID}/details").json()
    assert Path(details["fileloc"]).name == shard_file_name(shard_of("acme", 2))
    assert {tag["name"] for tag in dag["tags"]} == {"acme", "tenant-rag"}
    pool = stack.api("POST", "/pools", json={"name": "embedding_api", "slots": 2, "description": "test"})
    assert pool.status_code in (200, 201, 409), pool.text

    # the trigger form's validation applies to REST triggers too
    rejected = stack.api("POST", f"/dags/{DAG_ID}/dagRuns", json={"logical_date": None, "conf": {"space_keys": ["HR"]}})
    assert rejected.status_code == 400, rejected.text

    triggered = stack.api(
        "POST",
        f"/dags/{DAG_ID}/dagRuns",
        json={"logical_date": None, "conf": {"full_refresh": True, "space_keys": ["ENG", "OPS"], "dry_run": False}},
    )
    assert triggered.status_code == 200, triggered.text
    run_id = triggered.json()["dag_run_id"]
    assert stack.wait_for_run(DAG_ID, run_id) == "success", stack.logs()
    state = CustomerManager(customers_dir).load_state("acme")
    assert state.status == "ready" and state.total_indexed_documents == 3
    assert state.last_run_stats is not None and state.last_run_stats.export.mode == "full"

    # history the backfill will replay: a page deleted on day 1, edited on day 2, created on day 3
    site.server.delete_page(site.page_ids["legacy"])
    site.server.update_page(
        site.page_ids["deploy"], storage="<p>Deploys roll back with helm rollback.</p>", modified_at=day(2)
    )
    created = site.server.add_page(
        "OPS", "Incident bridge", "<p>Open the incident bridge within five minutes.</p>", modified_at=day(3)
    )

    # no --max-active-runs: Airflow would start the backfill's runs side by side; the customer's run lease
    # must serialise them (each change is then processed exactly once)
    stack.cli("backfill", "create", "--dag-id", DAG_ID, "--from-date", "2026-03-01", "--to-date", "2026-03-03")

    def backfill_done() -> list[dict[str, Any]] | None:
        runs = stack.api("GET", f"/dags/{DAG_ID}/dagRuns", params={"run_type": "backfill"}).json()["dag_runs"]
        if any(r["state"] == "failed" for r in runs):
            raise AssertionError(f"a backfill run failed:\n{stack.logs()}")
        return runs if len(runs) == 3 and all(r["state"] == "success" for r in runs) else None

    runs = wait_for("three backfill runs", backfill_done, timeout=420, interval=3)
    intervals = {r["dag_run_id"]: (r["data_interval_start"], r["data_interval_end"]) for r in runs}
    assert sorted(start[:10] for start, _ in intervals.values()) == ["2026-03-01", "2026-03-02", "2026-03-03"]

    state = CustomerManager(customers_dir).load_state("acme")
    backfills = {r.run_id: r for r in state.run_history if r.run_type == "backfill"}
    assert set(backfills) == set(intervals)
    for run_id, (start, end) in intervals.items():
        export = backfills[run_id].export
        assert export.mode == "incremental"
        assert (export.window_start, export.window_end) == (_instant(start), _instant(end))
    totals = {
        key: sum(getattr(r.counts, key) for r in backfills.values())
        for key in ("pages_added", "pages_updated", "pages_deleted")
    }
    assert totals == {"pages_added": 1, "pages_updated": 1, "pages_deleted": 1}

    # the runs' writing phases (detect_changes start .. record_state end) never overlapped
    sections = sorted(_critical_section(stack, run_id) for run_id in intervals)
    assert all(earlier[1] <= later[0] for earlier, later in pairwise(sections)), sections

    # the index now equals what one full run of the site would build
    cache = read_index_cache(customers_dir / "acme")
    assert cache is not None
    indexed = {page_id: page["version"] for page_id, page in cache["pages"].items()}
    assert indexed == {p.page_id: p.version for p in site.server.site.pages.values() if p.status == "current"}
    assert state.status == "ready" and state.total_indexed_documents == 3 and created in indexed
    docs = CustomerQueryManager(pg_url).query(config, "incident bridge", top_k=1).documents
    assert docs[0].metadata["page_id"] == created

    # the asset behind the alias is registered when its first event is processed: poll, bounded
    def asset_uris() -> list[str] | None:
        found = stack.api("GET", "/assets", params={"uri_pattern": "tenant-rag://acme"}).json()["assets"]
        return [a["uri"] for a in found] or None

    assert wait_for("the customer's index asset", asset_uris, timeout=60, interval=2) == ["tenant-rag://acme/index"]
