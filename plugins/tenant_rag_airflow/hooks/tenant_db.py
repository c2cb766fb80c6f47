"""``TenantRagDbHook``: the shared vector-store database, on the postgres provider's ``PostgresHook``.

The provider drives psycopg 3 (SQLAlchemy 2 is installed). The library takes a plain libpq URL, so the hook
translates the Connection, including a Unix-socket directory in the host field, which SQLAlchemy URLs cannot carry.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.postgres.hooks.postgres import PostgresHook

from tenant_rag.constants import DB_CONN_ID
from tenant_rag.dsn import database_url


class TenantRagDbHook(PostgresHook):
    """A ``PostgresHook`` whose ``get_database_url()`` is what ``tenant_rag`` store functions accept."""

    conn_name_attr = "tenant_rag_conn_id"
    default_conn_name = DB_CONN_ID
    conn_type = "postgres"
    hook_name = "tenantrag vector store (Postgres + pgvector)"

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        return {
            "hidden_fields": [],
            "relabeling": {"schema": "Database", "host": "Host (or Unix socket directory)"},
        }

    def get_database_url(self) -> str:
        """A ``postgresql://`` libpq URL for the Connection (socket directories become ``?host=``)."""
        return database_url(self.connection, database=self.database)

    def has_pgvector(self) -> bool:
        """Whether the ``vector`` extension is installed in the database (checked through the provider)."""
        row = self.get_first("SELECT 1 FROM pg_extension WHERE extname = 'vector'")
        return row is not None
