"""One Airflow DAG per customer: ``tenant_rag__<customer_id>`` for each ``data/customers/*/config.yaml``.

The folder comes from ``TENANT_RAG_CUSTOMERS_DIR`` (default ``data/customers``). All the logic lives in
``plugins/tenant_rag_airflow/dag_builder.py``; this file stays cheap to parse (no database, network, Variable or
Connection lookups). A task process parses it for a single DAG and then builds only that customer's.
"""

from __future__ import annotations

from airflow.sdk import get_parsing_context

from tenant_rag_airflow.dag_builder import load_customer_dags

globals().update(load_customer_dags(only_dag_id=get_parsing_context().dag_id))
