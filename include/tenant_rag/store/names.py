"""``StoreNames``: the schema and role of one customer's store, and the quoted identifiers of its tables.

The names are built and checked by ``tenant_rag.store.schema.store_names``; every module that reads or writes a
store takes them from there. The query path reads a generation of store format 3 on through its permission views
(``StoreNames.reading``; ``tenant_rag.store.visibility``), never its tables.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from psycopg import sql

GENERATION_KINDS = ("documents", "parents", "chunks", "terms", "totals")
# The tables that carry each row's readers (store format 3 on), read by the tenant role through a view each.
VIEWED_KINDS = ("documents", "parents", "chunks")
PERMISSIONS_STORE_FORMAT = 3


@dataclass(frozen=True)
class StoreNames:
    """The schema and role of one customer, and the quoted identifiers of its tables."""

    customer_id: str
    schema: str
    role: str
    # the query path's names for a generation with readers: its ``VIEWED_KINDS`` are the permission views
    permission_views: bool = False
    # ...which filter (``rag.permissions: enforce``): a search must scan past the rows they hide
    filtered: bool = False
    # ...and the vector side then scans the readable chunks exactly instead of walking the HNSW graph past hidden
    # ones (``rag.permissions_vector_search: exact``)
    exact_when_filtered: bool = False

    def reading(self, store_format: int, *, enforced: bool, exact_when_filtered: bool = False) -> StoreNames:
        """The names the tenant's query path reads a generation of ``store_format`` through."""
        views = store_format >= PERMISSIONS_STORE_FORMAT
        filtered = views and enforced
        return replace(
            self,
            permission_views=views,
            filtered=filtered,
            exact_when_filtered=filtered and exact_when_filtered,
        )

    def table(self, name: str) -> sql.Identifier:
        return sql.Identifier(self.schema, name)

    def gen_table(self, generation: int, kind: str) -> sql.Identifier:
        if kind not in GENERATION_KINDS:
            raise ValueError(f"unknown generation table {kind!r}; expected one of {GENERATION_KINDS}")
        if self.permission_views and kind in VIEWED_KINDS:
            return sql.Identifier(self.schema, f"g{int(generation)}_{kind}_visible")
        return sql.Identifier(self.schema, f"g{int(generation)}_{kind}")

    def view(self, generation: int, kind: str) -> sql.Identifier:
        """The permission view of one of a generation's ``VIEWED_KINDS`` tables."""
        return replace(self, permission_views=True).gen_table(generation, kind)

    @property
    def meta(self) -> sql.Identifier:
        return self.table("index_meta")

    @property
    def history(self) -> sql.Identifier:
        return self.table("query_history")
