"""What every role may do by default in a PostgreSQL database and no tenant session needs: taken away from PUBLIC.

A query-path session (logged in as a tenant role) only reads its own schema and writes its query history. By
default any role may also create temporary tables, create large objects, send notifications and take advisory locks
(which fill the server's shared lock table, a denial of service for every tenant). ``harden_database`` revokes those
from PUBLIC in the tenant database and keeps them for the indexer (the admin, ``current_user``). It is idempotent.

Some of these need the owner of the database (TEMP) or of the built-in functions (a superuser). An admin that may
not revoke one is logged once and left as it is; ``deploy/postgres-init`` runs the same revocations as the
superuser. What PostgreSQL cannot revoke from a role: ``LISTEN``/``NOTIFY`` as commands (nothing here listens) and
settings any session may change, such as ``work_mem`` (bounded by the role's ``statement_timeout`` and connection
limit: ``tenant_rag.tenant_limits``).
"""

from __future__ import annotations

import logging
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg import sql

log = logging.getLogger(__name__)

#: built-in functions no tenant session needs, by signature
REVOKED_FUNCTIONS = (
    "lo_creat(integer)",
    "lo_create(oid)",
    "lo_from_bytea(oid, bytea)",
    "lo_import(text)",
    "lo_import(text, oid)",
    "lo_put(oid, bigint, bytea)",
    "pg_notify(text, text)",
    "pg_advisory_lock(bigint)",
    "pg_advisory_lock(integer, integer)",
    "pg_advisory_lock_shared(bigint)",
    "pg_advisory_lock_shared(integer, integer)",
    "pg_try_advisory_lock(bigint)",
    "pg_try_advisory_lock(integer, integer)",
    "pg_try_advisory_lock_shared(bigint)",
    "pg_try_advisory_lock_shared(integer, integer)",
    "pg_advisory_xact_lock(bigint)",
    "pg_advisory_xact_lock(integer, integer)",
    "pg_advisory_xact_lock_shared(bigint)",
    "pg_advisory_xact_lock_shared(integer, integer)",
    "pg_try_advisory_xact_lock(bigint)",
    "pg_try_advisory_xact_lock(integer, integer)",
    "pg_try_advisory_xact_lock_shared(bigint)",
    "pg_try_advisory_xact_lock_shared(integer, integer)",
)


def _try(conn: psycopg.Connection[Any], statement: sql.Composed, what: str) -> bool:
    try:
        with conn.transaction():
            conn.execute(statement)
    except pg_errors.InsufficientPrivilege:
        log.warning("could not revoke %s from PUBLIC (needs the database owner or a superuser); see README", what)
        return False
    return True


def harden_database(conn: psycopg.Connection[Any]) -> None:
    """Revoke TEMP on the database and the functions above from PUBLIC; grant TEMP back to the admin."""
    database = conn.execute("SELECT current_database()").fetchone()
    assert database is not None
    db = sql.Identifier(database[0])
    if _try(conn, sql.SQL("REVOKE TEMPORARY ON DATABASE {} FROM PUBLIC").format(db), "TEMP"):
        conn.execute(sql.SQL("GRANT TEMPORARY ON DATABASE {} TO CURRENT_USER").format(db))
    granted = conn.execute(
        "SELECT bool_or(has_function_privilege('public', f::regprocedure, 'EXECUTE')) FROM unnest(%s::text[]) AS f",
        (list(REVOKED_FUNCTIONS),),
    ).fetchone()
    if not (granted and granted[0]):
        return
    functions = sql.SQL(", ").join(sql.SQL(signature) for signature in REVOKED_FUNCTIONS)
    _try(conn, sql.SQL("REVOKE EXECUTE ON FUNCTION {} FROM PUBLIC").format(functions), "large objects, notify, locks")
