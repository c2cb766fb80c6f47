"""One isolated pgvector store per customer: a Postgres schema named by the collection name.

``schema`` creates and drops the schema, its tables and the roles that guard it; ``generations`` keeps the
blue/green generations of the index; ``writer`` replaces pages atomically with binary COPY; ``search`` runs the
vector, lexical and hybrid queries.
"""

from __future__ import annotations

from tenant_rag.store.schema import StoreNames, store_names

__all__ = ["StoreNames", "store_names"]
