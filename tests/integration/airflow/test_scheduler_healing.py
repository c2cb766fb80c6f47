"""A customer's run is killed with ``kill -9`` under a real Airflow 3 (api-server + scheduler + dag-processor,
LocalExecutor), and the next run of that customer succeeds without anyone deleting a file.

The export task of run A takes the run lease and then hangs on the (fault-injected) Confluence site; the test
reads the task's pid from the lease (each heartbeat records it) and kills that task process and the supervisor
that forked it (a lost worker). The scheduler's own detection of dead tasks is set to an hour, so for Airflow run
A's export stays ``running`` throughout: only the lease's heartbeat shows it is dead. A backfill run B of the same
customer (backfill runs are not held back by ``max_active_runs``) finds A's lease, waits while A's heartbeat is
fresh, takes it over once it is older than the TTL, and indexes the site.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
import pytest

from tenant_rag.config import CustomerConfig
from tenant_rag.customers import CustomerManager
from tenant_rag.index_cache import read_index_cache
from tenant_rag.runs.lease import lease_path, read_lease
from tests.dags.sample_sites import LocalSite, serving
from tests.integration.airflow.airflow_stack import AirflowStack, running_stack, wait_for

pytestmark = [pytest.mark.scheduler, pytest.mark.slow]
DAG_ID = "tenant_rag__acme"
USER = ("bot@example.com", "api-token-xyz")
LEASE_TTL_SECONDS = 8
MODIFIED = datetime(2026, 2, 20, 12, tzinfo=UTC)


@pytest.fixture
def site(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalSite]:
    from tenant_rag_devtools.confluence_server import FakeConfluence

    fake = FakeConfluence(flavor="cloud", auth=USER)
    fake.add_space("ENG", "Engineering")
    ids = {
        "deploy": fake.add_page("ENG", "Deploying", "<p>Roll back with helm rollback.</p>", modified_at=MODIFIED),
        "review": fake.add_page("ENG", "Code review", "<p>Two approvals per change.</p>", modified_at=MODIFIED),
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
    env = {
        "TENANT_RAG_CUSTOMERS_DIR": str(customers_dir),
        "TENANT_RAG_LEASE_TTL_SECONDS": str(LEASE_TTL_SECONDS),
        # Airflow would fail the dead task after this long: longer than the test, so only the lease can heal
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "3600",
    }
    with running_stack(pg_server_url, f"airflow_heal_{os.getpid()}", airflow_metadata_template, tmp_path, env) as stack:
        yield stack


def _customer(customers_dir: Path) -> CustomerConfig:
    config = CustomerConfig.model_validate(
        {
            "customer_id": "acme",
            "display_name": "Acme",
            "retries": 0,
            "schedule": "@daily",
            "start_date": "2026-03-01T00:00:00+00:00",
            "export": {"source": "confluence", "base_url": "https://acme.atlassian.net/wiki", "space_keys": ["ENG"]},
        }
    )
    CustomerManager(customers_dir).create(config)
    return config


def _task_states(stack: AirflowStack, run_id: str) -> dict[str, str | None]:
    tis = stack.api("GET", f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances").json()["task_instances"]
    return {ti["task_id"]: ti["state"] for ti in tis}


def _kill_task_and_its_supervisor(stack: AirflowStack, pid: int) -> None:
    task = psutil.Process(pid)
    supervisor = task.parent()
    own = {proc.pid for proc in stack.processes}
    assert supervisor is not None and supervisor.pid not in own, "the task's parent should be an executor worker"
    for victim in (supervisor.pid, pid):  # the supervisor first: nobody left to report the task's death
        os.kill(victim, signal.SIGKILL)
    psutil.wait_procs([task, supervisor], timeout=30)
    assert not task.is_running() and not supervisor.is_running()


def test_a_run_killed_mid_task_does_not_block_the_customer(
    stack: AirflowStack, site: LocalSite, customers_dir: Path
) -> None:
    _customer(customers_dir)
    stack.wait_for_dag(DAG_ID)
    pool = stack.api("POST", "/pools", json={"name": "embedding_api", "slots": 2, "description": "test"})
    assert pool.status_code in (200, 201, 409), pool.text

    site.server.set_faults(rate=1.0, kinds=["slow"], slow_seconds=120)  # every Confluence call hangs
    triggered = stack.api("POST", f"/dags/{DAG_ID}/dagRuns", json={"logical_date": None, "conf": {}})
    assert triggered.status_code == 200, triggered.text
    run_a = triggered.json()["dag_run_id"]

    def holder_pid() -> int | None:
        lease = read_lease(customers_dir / "acme")
        return lease.pid if lease is not None and lease.run_id == run_a and lease.pid else None

    pid = wait_for("run A's export to take the lease", holder_pid, timeout=180)
    assert _task_states(stack, run_a)["export"] == "running"
    _kill_task_and_its_supervisor(stack, pid)
    site.server.set_faults(rate=0.0)

    stack.cli("backfill", "create", "--dag-id", DAG_ID, "--from-date", "2026-03-01", "--to-date", "2026-03-01")

    def backfill_run() -> dict[str, Any] | None:
        runs = stack.api("GET", f"/dags/{DAG_ID}/dagRuns", params={"run_type": "backfill"}).json()["dag_runs"]
        return runs[0] if runs and runs[0]["state"] in ("success", "failed") else None

    run_b = wait_for("the backfill run to finish", backfill_run, timeout=420, interval=3)
    assert run_b["state"] == "success", stack.logs()

    # Airflow never noticed A's death: only the lease's heartbeat told B that A was gone
    assert stack.api("GET", f"/dags/{DAG_ID}/dagRuns/{run_a}").json()["state"] == "running"
    assert _task_states(stack, run_a)["export"] == "running"
    assert not lease_path(customers_dir / "acme").exists()
    state = CustomerManager(customers_dir).load_state("acme")
    assert state.status == "ready" and state.is_ready_for_queries and state.total_indexed_documents == 2
    assert state.last_run_id == run_b["dag_run_id"]
    cache = read_index_cache(customers_dir / "acme")
    assert cache is not None and set(cache["pages"]) == set(site.page_ids.values())
