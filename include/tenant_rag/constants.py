"""Names and limits: the values the library, the Airflow plugin, the API and the tests share, defined once here.

Environment variable *names* live here; their values, defaults and bounds are read only through
``tenant_rag.settings.settings()`` (and, at DAG-parse time, ``tenant_rag.parse_env``). Nothing here imports anything.
"""

from __future__ import annotations

#: A Confluence space key (personal spaces start with '~').
SPACE_KEY_PATTERN = r"^~?[A-Za-z0-9_-]{1,255}$"
#: Hard upper bounds of a query: the OpenAPI schema states them; configuration may only tighten them.
MAX_QUESTION_CHARS = 4000
MAX_TOP_K = 50
MAX_SPACE_KEYS = 100
#: The end user's identity a query may carry (``tenant_rag.permissions.Identity``): account id and group names.
MAX_ACCOUNT_ID_CHARS = 128
MAX_GROUP_CHARS = 255
MAX_IDENTITY_GROUPS = 1000
#: Connections one upsert task may write a customer's pages with (``TENANT_RAG_UPSERT_WRITERS``).
MAX_UPSERT_WRITERS = 16

#: Default Airflow connection ids (a customer's config may name others).
DB_CONN_ID = "tenant_rag_db"
CONFLUENCE_CONN_ID = "confluence_default"
GEMINI_CONN_ID = "google_genai_default"

#: Environment variables. Every ``TENANT_RAG_*`` name is a field of ``tenant_rag.settings.Settings``.
ENV_PREFIX = "TENANT_RAG_"
HOME_ENV = "TENANT_RAG_HOME"
RUN_DIR_ENV = "TENANT_RAG_RUN_DIR"
DATA_DIR_ENV = "TENANT_RAG_DATA_DIR"
CUSTOMERS_DIR_ENV = "TENANT_RAG_CUSTOMERS_DIR"
STAGING_DIR_ENV = "TENANT_RAG_STAGING_DIR"
DATABASE_URL_ENV = "TENANT_RAG_DATABASE_URL"
TENANT_ROLE_SECRET_ENV = "TENANT_RAG_TENANT_ROLE_SECRET"
MAX_TENANT_POOLS_ENV = "TENANT_RAG_MAX_TENANT_POOLS"
POOL_MAX_SIZE_ENV = "TENANT_RAG_POOL_MAX_SIZE"
INDEX_BUILD_MEMORY_ENV = "TENANT_RAG_INDEX_BUILD_MEMORY"
INDEX_BUILD_WORKERS_ENV = "TENANT_RAG_INDEX_BUILD_WORKERS"
UPSERT_WRITERS_ENV = "TENANT_RAG_UPSERT_WRITERS"
STAGING_MAX_AGE_ENV = "TENANT_RAG_STAGING_MAX_AGE_SECONDS"
LEASE_TTL_ENV = "TENANT_RAG_LEASE_TTL_SECONDS"
LEASE_RECHECK_ENV = "TENANT_RAG_LEASE_RECHECK_SECONDS"
LEASE_WAIT_IN_TASK_ENV = "TENANT_RAG_LEASE_WAIT_IN_TASK_SECONDS"
PROGRESS_SECONDS_ENV = "TENANT_RAG_PROGRESS_SECONDS"
MAX_MANAGERS_ENV = "TENANT_RAG_MAX_MANAGERS"
GEMINI_BASE_URL_ENV = "TENANT_RAG_GEMINI_BASE_URL"
TENANT_CONNECTION_LIMIT_ENV = "TENANT_RAG_TENANT_CONNECTION_LIMIT"
TENANT_STATEMENT_TIMEOUT_ENV = "TENANT_RAG_TENANT_STATEMENT_TIMEOUT"
TENANT_IDLE_IN_TRANSACTION_TIMEOUT_ENV = "TENANT_RAG_TENANT_IDLE_IN_TRANSACTION_TIMEOUT"
TENANT_IDLE_SESSION_TIMEOUT_ENV = "TENANT_RAG_TENANT_IDLE_SESSION_TIMEOUT"
TENANT_LOCK_TIMEOUT_ENV = "TENANT_RAG_TENANT_LOCK_TIMEOUT"
TENANT_TEMP_FILE_LIMIT_ENV = "TENANT_RAG_TENANT_TEMP_FILE_LIMIT"
DAG_SHARDS_ENV = "TENANT_RAG_DAG_SHARDS"
DAG_SHARD_SIZE_ENV = "TENANT_RAG_DAG_SHARD_SIZE"
ADMIN_KEY_HASH_ENV = "TENANT_RAG_ADMIN_KEY_HASH"
#: every field ``f`` of ``tenant_rag.api.settings.ApiSettings`` is read from ``TENANT_RAG_API_<F>``
API_ENV_PREFIX = "TENANT_RAG_API_"
#: the Gemini API key when the embedding Connection has none, in this order
API_KEY_ENVS = ("GOOGLE_API_KEY", "GEMINI_API_KEY")

#: Customers per DAG shard file unless ``TENANT_RAG_DAG_SHARD_SIZE`` says otherwise.
DEFAULT_SHARD_SIZE = 500
