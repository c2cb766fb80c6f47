"""Blue/green generations of a customer's index.

A generation is a complete set of documents/parents/chunks tables built with one *signature* (embedding model,
dimension, text-search configuration, store format). Queries read the ``active`` generation. When the customer's
signature changes (a new model, or a version of tenantrag that stores another format), a ``building`` generation
is filled next to it (resumably: a crashed build is continued, not restarted) and, once complete, one short
transaction makes it active and drops the old one.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import psycopg
from psycopg import sql

from tenant_rag.config import RAGConfig
from tenant_rag.embedding.factory import embedding_model_id
from tenant_rag.store.indexes import create_search_indexes
from tenant_rag.store.names import StoreNames
from tenant_rag.store.registry import lock_owner_row, lock_page_rows
from tenant_rag.store.schema import (
    STORE_FORMAT,
    create_generation_tables,
    drop_generation_tables,
    grant_reader,
    schema_exists,
)

log = logging.getLogger(__name__)

TargetStatus = Literal["active", "building", "new"]


@dataclass(frozen=True)
class Signature:
    """What makes two indexes interchangeable: same vectors, same lexical analysis."""

    embedding_model: str
    model_id: str
    dimensions: int
    text_search_config: str
    store_format: int = STORE_FORMAT

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def rag_config(self, base: RAGConfig) -> RAGConfig:
        """``base`` with this signature's model and dimension (to build the matching query embedder)."""
        return base.model_copy(
            update={
                "embedding_model": self.embedding_model,
                "embedding_dimensions": self.dimensions,
                "text_search_config": self.text_search_config,
            }
        )


def signature_for(rag: RAGConfig) -> Signature:
    return Signature(
        embedding_model=rag.embedding_model,
        model_id=embedding_model_id(rag),
        dimensions=rag.dimensions,
        text_search_config=rag.text_search_config,
    )


@dataclass(frozen=True)
class Generation:
    number: int
    signature: Signature
    status: Literal["active", "building"]


@dataclass(frozen=True)
class Target:
    """Where a run writes: the active generation, a building one to continue, or a new one to create."""

    generation: int
    status: TargetStatus
    signature: Signature
    replaces: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "signature": self.signature.to_dict()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Target:
        return cls(
            generation=int(data["generation"]),
            status=data["status"],
            signature=Signature(**data["signature"]),
            replaces=data.get("replaces"),
        )


# The generations with their signature; a store older than ``store_format`` has no such column: format 1.
GENERATIONS_SQL = (
    "SELECT generation, embedding_model, model_id, dimensions, text_search_config,"
    " coalesce((to_jsonb(m) ->> 'store_format')::integer, 1), status FROM {meta} AS m"
)


def list_generations(conn: psycopg.Connection[Any], names: StoreNames) -> list[Generation]:
    """Every generation recorded in the schema (none when the store does not exist yet)."""
    if not schema_exists(conn, names):
        return []
    rows = conn.execute(sql.SQL(GENERATIONS_SQL + " ORDER BY generation").format(meta=names.meta)).fetchall()
    return [Generation(row[0], Signature(*row[1:6]), row[6]) for row in rows]


def active_of(generations: list[Generation]) -> Generation | None:
    return next((g for g in generations if g.status == "active"), None)


def choose_target(generations: list[Generation], signature: Signature) -> Target:
    """The generation a run with ``signature`` writes to."""
    active = active_of(generations)
    if active is not None and active.signature == signature:
        return Target(active.number, "active", signature)
    replaces = active.number if active else None
    for generation in generations:
        if generation.status == "building" and generation.signature == signature:
            return Target(generation.number, "building", signature, replaces)
    number = max((g.number for g in generations), default=0) + 1
    return Target(number, "new", signature, replaces)


def lock_store(conn: psycopg.Connection[Any], names: StoreNames) -> None:
    """The whole store of one customer, exclusively, for the rest of the current transaction.

    Taken by what changes the store's structure (registering, activating, dropping generations); it waits for every
    page write in flight, and they wait for it. A row lock on the owner's row of the ownership registry: only the
    registered owner gets it (``StoreOwnershipError`` otherwise), and no tenant role can take it.
    """
    lock_owner_row(conn, names, exclusive=True)


def lock_pages(conn: psycopg.Connection[Any], names: StoreNames, page_ids: Sequence[str]) -> None:
    """For the rest of the current transaction: the store shared, and each of ``page_ids`` exclusively.

    Transactions writing different pages of one customer then run side by side (parallel writers), two that touch
    the same page run one after the other, and structural changes (``lock_store``) wait for both. Both are row locks
    in the ownership registry (``tenant_rag.store.registry``), which tenant roles cannot touch; page locks are taken
    in one fixed order, so two writers never deadlock on them.
    """
    lock_owner_row(conn, names, exclusive=False)
    lock_page_rows(conn, names, page_ids)


def register_target(conn: psycopg.Connection[Any], names: StoreNames, target: Target) -> None:
    """Make sure the target generation's tables and metadata row exist (idempotent, safe to retry)."""
    sig = target.signature
    with conn.transaction():
        lock_store(conn, names)
        existing = {g.number: g for g in list_generations(conn, names)}
        current = existing.get(target.generation)
        if current is not None and current.signature == sig:
            return
        if current is not None:
            raise ValueError(
                f"customer {names.customer_id!r}: generation {target.generation} exists with another signature "
                f"({current.signature.model_id}); re-run change detection"
            )
        for other in existing.values():
            if other.status == "building":
                log.info("customer %s: dropping stale building generation %d", names.customer_id, other.number)
                drop_generation_tables(conn, names, other.number)
                conn.execute(sql.SQL("DELETE FROM {} WHERE generation = %s").format(names.meta), (other.number,))
        if sig.store_format != STORE_FORMAT:
            raise ValueError(
                f"customer {names.customer_id!r}: cannot build a generation of store format {sig.store_format}; "
                f"this version builds format {STORE_FORMAT}"
            )
        create_generation_tables(conn, names, target.generation, sig.dimensions)
        conn.execute(
            sql.SQL(
                "INSERT INTO {} (generation, embedding_model, model_id, dimensions, text_search_config,"
                " store_format, status) VALUES (%s, %s, %s, %s, %s, %s, 'building')"
            ).format(names.meta),
            (
                target.generation,
                sig.embedding_model,
                sig.model_id,
                sig.dimensions,
                sig.text_search_config,
                STORE_FORMAT,
            ),
        )
        log.debug("customer %s: generation %d registered", names.customer_id, target.generation)


def activate(conn: psycopg.Connection[Any], names: StoreNames, generation: int) -> int | None:
    """Build the generation's indexes (btree, GIN, HNSW: in bulk, once), then switch: ``generation`` becomes active
    and the previous one is dropped.

    Returns the number of the generation that was replaced (None when there was none).
    """
    create_search_indexes(conn, names, generation, lock=lambda: lock_store(conn, names))
    with conn.transaction():
        lock_store(conn, names)
        row = conn.execute(
            sql.SQL("SELECT generation FROM {} WHERE status = 'active' FOR UPDATE").format(names.meta)
        ).fetchone()
        old = row[0] if row else None
        if old == generation:
            return None
        if old is not None:
            conn.execute(sql.SQL("DELETE FROM {} WHERE generation = %s").format(names.meta), (old,))
            drop_generation_tables(conn, names, old)
        updated = conn.execute(
            sql.SQL("UPDATE {} SET status = 'active', activated_at = now() WHERE generation = %s").format(names.meta),
            (generation,),
        ).rowcount
        if updated != 1:
            raise ValueError(f"customer {names.customer_id!r}: generation {generation} is not registered")
        grant_reader(conn, names)
    log.info("customer %s: generation %d is active (replaced %s)", names.customer_id, generation, old)
    return old
