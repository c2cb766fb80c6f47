"""Run a customer's DAG in-process through Airflow (``dag.test()``): the demo's and the tests' entry point.

``ensure_airflow_ready()`` migrates the metadata database, creates the shared ``embedding_api`` pool when it is
missing (never at DAG-parse time) and points Airflow's DAG bundle at the project's ``dags/`` folder unless one is
configured. ``run_customer_dag()`` builds the customer's DAG with the same loader the DAG file uses, runs it and
returns the customer's state afterwards.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from tenant_rag.naming import dag_id_for
from tenant_rag.paths import customers_dir as default_customers_dir
from tenant_rag.paths import project_root
from tenant_rag.state import load_state
from tenant_rag_airflow.constants import EMBEDDING_POOL, EMBEDDING_POOL_DESCRIPTION, EMBEDDING_POOL_SLOTS

BUNDLE_ENV = "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST"


def dags_folder() -> Path:
    return project_root() / "dags"


def use_project_dags_folder() -> None:
    """Make the project's ``dags/`` Airflow's DAG bundle (``dag.test()`` syncs it) unless one is configured."""
    if BUNDLE_ENV not in os.environ:
        from tenant_rag_airflow.dag_bundle import bundle_config

        os.environ[BUNDLE_ENV] = bundle_config(dags_folder())


def ensure_embedding_pool(slots: int = EMBEDDING_POOL_SLOTS) -> None:
    """Create the shared embedding pool if it does not exist (an operator's later resize is kept)."""
    from airflow.models.pool import Pool

    if Pool.get_pool(EMBEDDING_POOL) is None:
        Pool.create_or_update_pool(
            EMBEDDING_POOL, slots=slots, description=EMBEDDING_POOL_DESCRIPTION, include_deferred=False
        )


@cache
def _migrated(sql_alchemy_conn: str) -> bool:
    from airflow.utils import db

    db.upgradedb()
    return True


def ensure_airflow_ready() -> None:
    """Idempotent: metadata DB migrated to head (once per process and database), embedding pool, DAG bundle."""
    from airflow import settings

    use_project_dags_folder()
    _migrated(str(settings.SQL_ALCHEMY_CONN))
    ensure_embedding_pool()


def run_customer_dag(
    customer_id: str,
    *,
    logical_date: datetime | None = None,
    conf: dict[str, Any] | None = None,
    customers_dir: Path | None = None,
) -> dict[str, Any]:
    """Run ``tenant_rag__<customer_id>`` once with ``dag.test()``; return the customer's state (as JSON data).

    ``logical_date`` defaults to now (a manual run); ``conf`` holds the trigger params (``full_refresh``,
    ``space_keys``, ``dry_run``, ``force_delete``). The returned dict also carries ``dag_run_state``.
    """
    from tenant_rag_airflow.dag_builder import load_customer_dags

    ensure_airflow_ready()
    base = Path(customers_dir) if customers_dir is not None else default_customers_dir()
    dag_id = dag_id_for(customer_id)
    dags = load_customer_dags(customers_dir, only_dag_id=dag_id)
    if dag_id not in dags:
        raise LookupError(f"customer {customer_id!r}: no DAG {dag_id!r} (is there a {base / customer_id}/config.yaml?)")
    dag_run = dags[dag_id].test(logical_date=logical_date or datetime.now(UTC), run_conf=conf or {})
    state = load_state(base / customer_id, customer_id).model_dump(mode="json")
    state["dag_run_state"] = str(getattr(dag_run.state, "value", dag_run.state))
    state["dag_run_id"] = dag_run.run_id
    return state
