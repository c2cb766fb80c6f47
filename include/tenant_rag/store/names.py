"""``StoreNames``: the schema and role of one customer's store, and the quoted identifiers of its tables.

The names are built and checked by ``tenant_rag.store.schema.store_names``; every module that reads or writes a
store takes them from there.
"""

from __future__ import annotations

from dataclasses import dataclass

from psycopg import sql

GENERATION_KINDS = ("documents", "parents", "chunks", "terms", "totals")


@dataclass(frozen=True)
class StoreNames:
    """The schema and role of one customer, and the quoted identifiers of its tables."""

    customer_id: str
    schema: str
    role: str

    def table(self, name: str) -> sql.Identifier:
        return sql.Identifier(self.schema, name)

    def gen_table(self, generation: int, kind: str) -> sql.Identifier:
        if kind not in GENERATION_KINDS:
            raise ValueError(f"unknown generation table {kind!r}; expected one of {GENERATION_KINDS}")
        return sql.Identifier(self.schema, f"g{int(generation)}_{kind}")

    @property
    def meta(self) -> sql.Identifier:
        return self.table("index_meta")

    @property
    def history(self) -> sql.Identifier:
        return self.table("query_history")
