"""Customer DAGs, shard 11; ``python -m tenant_rag_airflow.dag_shards --write dags`` wrote it.

Which customers this file builds is derived from the customer folders: see ``tenant_rag_airflow.dag_shards``.
A task process builds only its own DAG (``get_parsing_context``), and only in the file that owns it.
"""

from __future__ import annotations

from airflow.sdk import get_parsing_context

from tenant_rag_airflow.dag_shards import shard_builds

if shard_builds(__file__, get_parsing_context().dag_id):  # else this file costs no DAG-builder import at all
    from tenant_rag_airflow.dag_builder import load_shard_dags

    globals().update(load_shard_dags(__file__, only_dag_id=get_parsing_context().dag_id))
