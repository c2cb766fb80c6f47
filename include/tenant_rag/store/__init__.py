"""One isolated pgvector store per customer: a Postgres schema named by the collection name, and a login role.

- ``names``: ``StoreNames``, the schema, role and table identifiers of one store;
- ``schema``: ``store_names`` (checked names for a customer), the DDL that creates and drops a store and its
  generation tables, and the grants; ``roles``: the tenant roles and their limits; ``registry``: which customer
  owns which schema and role; ``hardening``: what no tenant session may do in the database;
- ``indexes``: the btree, GIN and HNSW indexes of a generation; ``generations``: the blue/green generations of
  the index; ``writer`` and ``parallel_writer``: atomic page replacement with binary COPY (and the BM25 term
  statistics); ``reader``: admin-side reads for change detection and vector reuse;
- ``search``, ``bm25_search``, ``lexical_search``, ``lexical_pages``, ``hybrid_search``: vector, BM25 and fused
  retrieval, one page per slot.
"""

from __future__ import annotations

from tenant_rag.store.names import StoreNames
from tenant_rag.store.schema import store_names

__all__ = ["StoreNames", "store_names"]
