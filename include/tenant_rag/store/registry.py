"""The ownership registry: which customer owns which schema and role, kept by the indexer in the database.

``tenant_rag_registry.tenants`` maps each customer id to its schema and its role, each UNIQUE, so the database itself
refuses a second customer on a schema or role that another one owns, whatever a config says. Every write to a store
goes through it: ``claim`` registers (or confirms) the owner before a store is created, and the store and page locks
(``tenant_rag.store.generations.lock_store``/``lock_pages``) are row locks on the owner's row, which only succeed for
the registered owner. Offboarding (``release``) drops exactly what the registry says the customer owns.

No tenant role may use the registry's schema, so a tenant session can neither read it nor take its locks (unlike
advisory locks, which any role can take).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import errors as pg_errors
from psycopg import sql

from tenant_rag.errors import PermanentError

if TYPE_CHECKING:
    from tenant_rag.store.names import StoreNames

log = logging.getLogger(__name__)

REGISTRY_SCHEMA = "tenant_rag_registry"
TENANTS = sql.Identifier(REGISTRY_SCHEMA, "tenants")
PAGE_LOCKS = sql.Identifier(REGISTRY_SCHEMA, "page_locks")


class StoreOwnershipError(PermanentError):
    """A customer's schema or role is registered to another customer (or this customer to other names)."""


@dataclass(frozen=True)
class Owned:
    """What one customer owns in the database, as registered."""

    customer_id: str
    schema: str
    role: str


def ensure_registry(conn: psycopg.Connection[Any]) -> None:
    """Create the registry schema and tables if missing (idempotent; tolerates a concurrent creator)."""
    row = conn.execute("SELECT to_regclass(%s)", (f"{REGISTRY_SCHEMA}.page_locks",)).fetchone()
    if row is not None and row[0] is not None:
        return
    schema = sql.Identifier(REGISTRY_SCHEMA)
    try:
        with conn.transaction():
            conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(schema))
            conn.execute(sql.SQL("REVOKE ALL ON SCHEMA {} FROM PUBLIC").format(schema))
            conn.execute(
                sql.SQL(
                    "CREATE TABLE IF NOT EXISTS {} ("
                    " customer_id text PRIMARY KEY,"
                    " schema_name text NOT NULL UNIQUE,"
                    " role_name text NOT NULL UNIQUE,"
                    " registered_at timestamptz NOT NULL DEFAULT now())"
                ).format(TENANTS)
            )
            # a page lock is a row inserted and deleted inside the writing transaction: a second writer of the same
            # page waits on the unique key until the first commits; nothing stays in the table
            conn.execute(
                sql.SQL(
                    "CREATE TABLE IF NOT EXISTS {} (customer_id text NOT NULL, page_id text NOT NULL,"
                    " PRIMARY KEY (customer_id, page_id))"
                ).format(PAGE_LOCKS)
            )
    except (pg_errors.UniqueViolation, pg_errors.DuplicateObject, pg_errors.DuplicateTable, pg_errors.DuplicateSchema):
        log.debug("the ownership registry was created concurrently")


def owner_of(conn: psycopg.Connection[Any], *, schema: str | None = None, role: str | None = None) -> Owned | None:
    """The registered owner of a schema or a role, if any."""
    row = conn.execute(
        sql.SQL("SELECT customer_id, schema_name, role_name FROM {} WHERE schema_name = %s OR role_name = %s").format(
            TENANTS
        ),
        (schema, role),
    ).fetchone()
    return Owned(*row) if row else None


def registered(conn: psycopg.Connection[Any], customer_id: str) -> Owned | None:
    """What ``customer_id`` owns, or None when it has never been registered."""
    row = conn.execute(
        sql.SQL("SELECT customer_id, schema_name, role_name FROM {} WHERE customer_id = %s").format(TENANTS),
        (customer_id,),
    ).fetchone()
    return Owned(*row) if row else None


def claim(conn: psycopg.Connection[Any], names: StoreNames) -> None:
    """Register ``names.customer_id`` as the owner of ``names.schema`` and ``names.role``, or confirm it is.

    Raises ``StoreOwnershipError`` when another customer owns either name, or when this customer is registered with
    other names (a changed ``collection_name``: offboard the old store first).
    """
    ensure_registry(conn)
    try:
        with conn.transaction():
            conn.execute(
                sql.SQL(
                    "INSERT INTO {} (customer_id, schema_name, role_name) VALUES (%s, %s, %s)"
                    " ON CONFLICT (customer_id) DO NOTHING"
                ).format(TENANTS),
                (names.customer_id, names.schema, names.role),
            )
    except pg_errors.UniqueViolation:
        owner = owner_of(conn, schema=names.schema, role=names.role)
        raise StoreOwnershipError(_taken(names, owner)) from None
    verify(conn, names)


def verify(conn: psycopg.Connection[Any], names: StoreNames) -> None:
    """Raise ``StoreOwnershipError`` unless the registry says ``names`` belong to ``names.customer_id``."""
    mine = registered(conn, names.customer_id)
    if mine is not None and (mine.schema, mine.role) == (names.schema, names.role):
        return
    if mine is not None:
        raise StoreOwnershipError(
            f"customer {names.customer_id!r} is registered with schema {mine.schema!r} and role {mine.role!r}, but "
            f"its config now names schema {names.schema!r}: a changed rag.collection_name needs the old store "
            f"offboarded first (customers delete, or restore the old name)"
        )
    raise StoreOwnershipError(_taken(names, owner_of(conn, schema=names.schema, role=names.role)))


def check_claimable(conn: psycopg.Connection[Any], names: StoreNames) -> None:
    """Read-only ``claim``: raise ``StoreOwnershipError`` if ``names`` are registered to another customer (or this
    customer to other names); pass when they are this customer's or nobody's. For the stages that read a store
    before the upsert writes (and claims) it."""
    row = conn.execute("SELECT to_regclass(%s)", (f"{REGISTRY_SCHEMA}.tenants",)).fetchone()
    if row is None or row[0] is None:
        return
    mine = registered(conn, names.customer_id)
    if mine is None and owner_of(conn, schema=names.schema, role=names.role) is None:
        return
    verify(conn, names)


def _taken(names: StoreNames, owner: Owned | None) -> str:
    who = f"customer {owner.customer_id!r}" if owner else "another customer"
    return (
        f"customer {names.customer_id!r}: schema {names.schema!r} / role {names.role!r} belongs to {who} in the "
        f"ownership registry ({REGISTRY_SCHEMA}.tenants); refusing to write. Give this customer its own "
        f"rag.collection_name (or leave it unset)"
    )


def release(conn: psycopg.Connection[Any], customer_id: str) -> Owned | None:
    """Remove the customer from the registry; returns what it owned (None when it was not registered)."""
    ensure_registry(conn)
    row = conn.execute(
        sql.SQL("DELETE FROM {} WHERE customer_id = %s RETURNING customer_id, schema_name, role_name").format(TENANTS),
        (customer_id,),
    ).fetchone()
    return Owned(*row) if row else None


def lock_owner_row(conn: psycopg.Connection[Any], names: StoreNames, *, exclusive: bool) -> None:
    """Row-lock the owner's registry row (FOR UPDATE or FOR SHARE) for the rest of the current transaction."""
    mode = sql.SQL("FOR UPDATE" if exclusive else "FOR SHARE")
    row = conn.execute(
        sql.SQL("SELECT 1 FROM {} WHERE customer_id = %s AND schema_name = %s AND role_name = %s {}").format(
            TENANTS, mode
        ),
        (names.customer_id, names.schema, names.role),
    ).fetchone()
    if row is None:
        verify(conn, names)  # raises: not registered, or registered to someone else


def lock_page_rows(conn: psycopg.Connection[Any], names: StoreNames, page_ids: Sequence[str]) -> None:
    """Exclusive locks on ``page_ids`` of one customer until the current transaction ends (see ``ensure_registry``).

    Keys are inserted in one sorted statement, so two writers meet their common pages in the same order.
    """
    conn.execute(
        sql.SQL(
            "INSERT INTO {} (customer_id, page_id)"
            ' SELECT %s, p FROM (SELECT DISTINCT unnest(%s::text[]) AS p) AS keys ORDER BY p COLLATE "C"'
        ).format(PAGE_LOCKS),
        (names.customer_id, list(page_ids)),
    )
    conn.execute(
        sql.SQL("DELETE FROM {} WHERE customer_id = %s AND page_id = ANY(%s::text[])").format(PAGE_LOCKS),
        (names.customer_id, list(page_ids)),
    )
