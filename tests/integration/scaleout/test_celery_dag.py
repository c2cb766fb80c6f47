"""A customer's real DAG on CeleryExecutor: local Redis, two Celery workers, scheduler, dag-processor, api-server.

The run is triggered through the REST API; its task instances must have landed on BOTH workers (distinct
hostnames), and the index it builds must equal the one ``dag.test()`` builds from the same pages in another
database. Every wait is bounded and every process is stopped with a process-group kill (``airflow_cluster``).

Needs ``redis-server`` (Debian package ``redis-server``); skipped with that reason when it is missing.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np
import psycopg
import pytest
from psycopg import sql

from tenant_rag.config import CustomerConfig
from tenant_rag.customers import CustomerManager
from tenant_rag.naming import dag_id_for
from tenant_rag.state import RAGStatus, load_state
from tests.integration.scaleout.airflow_cluster import ROOT, drop_database, start_cluster

CUSTOMER = "celery_acme"
TOPICS = [
    ("ENG", "Deploying the web service", "release train, canary rollout, kubectl rollout undo, feature flags"),
    ("ENG", "Database migrations", "reversible migrations, schema locks, online index builds, backfills"),
    ("ENG", "Code review", "small pull requests, tests first, reviewers rotate weekly, approvals"),
    ("OPS", "Incident response", "SEV1 bridge within five minutes, incident commander, status page updates"),
    ("OPS", "On-call handbook", "pager rotation, escalation policy, handover notes, runbooks"),
    ("OPS", "Backups and restore", "nightly snapshots, point-in-time recovery, quarterly restore drills"),
]


def _write_pages(export_dir: Path) -> int:
    """Two spaces of Markdown pages, long enough for several children each."""
    count = 0
    for number, (space, title, words) in enumerate(TOPICS * 2):
        page = export_dir / space / f"{number:02d}-{title.lower().replace(' ', '-')}.md"
        page.parent.mkdir(parents=True, exist_ok=True)
        sections = "\n\n".join(
            f"## {title} part {part}\n\n" + " ".join(f"{words} (step {part}.{line})." for line in range(6))
            for part in range(3)
        )
        page.write_text(f"# {title} {number}\n\n{sections}\n")
        count += 1
    return count


def _customer(customers_dir: Path, export_dir: Path) -> CustomerConfig:
    config = CustomerConfig.model_validate(
        {
            "customer_id": CUSTOMER,
            "display_name": "Celery Acme",
            "schedule": None,
            "retries": 0,
            "export": {"source": "directory", "path": str(export_dir)},
            "rag": {"embedding_batch_size": 12},
        }
    )
    CustomerManager(customers_dir).create(config, exist_ok=True)
    return config


def _index_snapshot(url: str, config: CustomerConfig) -> dict[str, Any]:
    """Documents, parents and chunks of the customer's live generation (ids, hashes, vectors)."""
    from tenant_rag.store.generations import active_of, list_generations
    from tenant_rag.store.schema import store_names

    names = store_names(config)
    with psycopg.connect(url) as conn:
        from pgvector.psycopg import register_vector

        register_vector(conn)
        live = active_of(list_generations(conn, names))
        assert live is not None, "no active generation"

        def rows(kind: str, columns: str) -> list[tuple[Any, ...]]:
            statement = sql.SQL("SELECT " + columns + " FROM {} ORDER BY 1").format(names.gen_table(live.number, kind))
            return conn.execute(statement).fetchall()

        chunks = rows("chunks", "chunk_id, parent_id, page_id, text_hash, model_id, embedding")
        return {
            "documents": rows("documents", "page_id, space_key, title, content_hash, parents, chunks"),
            "parents": rows("parents", "parent_id, page_id, ordinal, text"),
            "chunks": [row[:5] for row in chunks],
            "vectors": np.vstack([_as_array(row[5]) for row in chunks]),
        }


def _as_array(value: Any) -> np.ndarray:
    return np.asarray(value.to_numpy() if hasattr(value, "to_numpy") else value, dtype=np.float32)


@pytest.mark.celery
@pytest.mark.slow
def test_customer_dag_on_two_celery_workers(
    tmp_path: Path,
    pg_server_url: str,
    airflow_metadata_template: str,
    pg_url: str,
    customers_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    export_dir = tmp_path / "export"
    pages = _write_pages(export_dir)
    config = _customer(customers_dir, export_dir)
    staging = tmp_path / "staging"  # the shared staging area every worker sees (a shared volume in compose)
    dag_id = dag_id_for(CUSTOMER)

    with start_cluster(
        tmp_path / "airflow",
        server_url=pg_server_url,
        template=airflow_metadata_template,
        dags_folder=ROOT / "dags",
        extra_env={"TENANT_RAG_STAGING_DIR": str(staging), "TENANT_RAG_CUSTOMERS_DIR": str(customers_dir)},
    ) as cluster:
        cluster.wait_for_dag(dag_id)
        run_id = cluster.trigger(dag_id)
        state = cluster.wait_for_run(dag_id, run_id)
        tis = cluster.task_instances(dag_id, run_id)
        assert state == "success", cluster.log_tails()

    by_task: dict[str, list[dict[str, Any]]] = {}
    for ti in tis:
        by_task.setdefault(ti["task_id"], []).append(ti)
    assert {"export", "detect_changes", "chunk", "embed", "upsert", "record_state"} <= set(by_task)
    assert all(ti["state"] == "success" for ti in tis), [(ti["task_id"], ti["state"]) for ti in tis]
    assert len(by_task["embed"]) >= 2, "the embed task should be mapped over several batch groups"
    hosts = {ti["hostname"] for ti in tis}
    assert hosts == {"worker1", "worker2"}, f"tasks ran on {hosts}, expected both Celery workers"
    assert not any(staging.glob("*/*")), "the run's staging area should be cleaned up after success"
    celery_index = _index_snapshot(pg_url, config)
    assert len(celery_index["documents"]) == pages
    state = load_state(customers_dir / CUSTOMER, CUSTOMER)  # written by record_state on whichever worker ran it
    assert state.status == RAGStatus.READY and state.last_run_id == run_id
    assert state.total_indexed_documents == pages and state.total_indexed_chunks == len(celery_index["chunks"])

    # the same customer and pages through dag.test(), in a database of its own
    from tenant_rag_airflow.dag_runner import run_customer_dag

    first_db = urlparse(pg_url).path.lstrip("/")
    second_db = f"{first_db}_dagtest"
    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(second_db)))
    try:
        second_url = urlparse(pg_url)._replace(path=f"/{second_db}").geturl()
        with psycopg.connect(second_url, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        conn_json = json.loads(os.environ["AIRFLOW_CONN_TENANT_RAG_DB"])
        monkeypatch.setenv("AIRFLOW_CONN_TENANT_RAG_DB", json.dumps({**conn_json, "schema": second_db}))
        monkeypatch.setenv("TENANT_RAG_DATABASE_URL", second_url)
        other_customers = tmp_path / "customers-dagtest"
        _customer(other_customers, export_dir)
        monkeypatch.setenv("TENANT_RAG_CUSTOMERS_DIR", str(other_customers))
        monkeypatch.setenv("TENANT_RAG_STAGING_DIR", str(tmp_path / "staging-dagtest"))
        result = run_customer_dag(CUSTOMER, customers_dir=other_customers)
        assert result["dag_run_state"] == "success"
        test_index = _index_snapshot(second_url, config)
        from tenant_rag.db import close_pools

        close_pools()
    finally:
        drop_database(pg_server_url, second_db)

    assert celery_index["documents"] == test_index["documents"]
    assert celery_index["parents"] == test_index["parents"]
    assert celery_index["chunks"] == test_index["chunks"]
    np.testing.assert_allclose(celery_index["vectors"], test_index["vectors"], atol=1e-5)
