"""Airflow-specific names (DAG ids, pools, assets, task ids, XCom keys) shared by the DAG builder, the operators,
the tests and the demo. Connection ids, environment variables and limits are the library's: ``tenant_rag.constants``.
"""

from __future__ import annotations

#: DAG ids are ``tenant_rag__<customer_id>`` (see ``tenant_rag.naming.dag_id_for``).
DAG_ID_PREFIX = "tenant_rag__"
#: Tag every generated DAG carries, next to the customer id and the config's own tags.
DAG_TAG = "tenant-rag"

#: Pool shared by every customer's embedding tasks: bounds concurrent calls to the embedding API.
EMBEDDING_POOL = "embedding_api"
EMBEDDING_POOL_SLOTS = 4
EMBEDDING_POOL_DESCRIPTION = "tenantrag: concurrent embedding batches across all customers"

#: Asset with an event only when a run changed a customer's index: ``tenant-rag://<customer_id>/index``.
#: (A URI scheme may not contain '_', so the scheme is spelled with a hyphen.)
ASSET_URI_SCHEME = "tenant-rag"
ASSET_GROUP = "tenant-rag"

#: Task ids of the generated DAG, in pipeline order.
TASK_EXPORT = "export"
TASK_DETECT = "detect_changes"
TASK_CHUNK = "chunk"
TASK_EMBED = "embed"
TASK_UPSERT = "upsert"
TASK_RECORD = "record_state"
TASK_CONFIG_ERROR = "config_error"
PIPELINE_TASKS = (TASK_EXPORT, TASK_DETECT, TASK_CHUNK, TASK_EMBED, TASK_UPSERT)

#: Retry policy of every task: exponential backoff from ``RETRY_DELAY_SECONDS`` up to ``MAX_RETRY_DELAY_SECONDS``.
RETRY_DELAY_SECONDS = 60
MAX_RETRY_DELAY_SECONDS = 30 * 60


def asset_uri(customer_id: str) -> str:
    return f"{ASSET_URI_SCHEME}://{customer_id}/index"


def asset_name(customer_id: str) -> str:
    return f"tenant_rag__{customer_id}__index"


#: XCom keys: every stage pushes its stats under ``stats``; a failing stage pushes ``error`` before raising.
STATS_XCOM_KEY = "stats"
ERROR_XCOM_KEY = "error"
#: Upper bound on mapped embed tasks per run; more batches are grouped. The ``embedding_api`` pool bounds how many
#: run at once anyway, so more task instances would only add scheduler and metadata-database work per run (with
#: thousands of customers), while a retried group skips the batches it already embedded.
MAX_EMBED_TASKS = 32
