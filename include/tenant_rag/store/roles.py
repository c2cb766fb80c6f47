"""The database roles that enforce isolation: one login role per tenant, created idempotently, and nothing shared.

Roles are cluster-wide, so creating one treats a role created before (or concurrently, by another process) as
success, and dropping one tolerates privileges it still holds in other databases. A shared query login
``tenant_rag_query`` that is a member of every tenant role (one password would open every store) must not exist:
creating a store drops it when it is there.
"""

from __future__ import annotations

import logging
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg import sql

from tenant_rag.db import tenant_password
from tenant_rag.tenant_limits import tenant_limits

log = logging.getLogger(__name__)

RETIRED_GATEWAY_ROLE = "tenant_rag_query"


def create_role(conn: psycopg.Connection[Any], role: str, options: sql.Composable) -> None:
    """CREATE ROLE that treats a role created before (or concurrently, by another process) as success."""
    try:
        with conn.transaction():
            conn.execute(sql.SQL("CREATE ROLE {} ").format(sql.Identifier(role)) + options)
    except (pg_errors.DuplicateObject, pg_errors.UniqueViolation):
        log.debug("role %s already exists", role)


def retire_gateway_role(conn: psycopg.Connection[Any]) -> None:
    """Drop the shared query login ``tenant_rag_query`` when it exists: a member of every tenant role, its one
    password would open every store, and nothing logs in as it. A role this admin may not drop is kept and logged,
    never an error."""
    try:
        drop_role(conn, RETIRED_GATEWAY_ROLE)
    except pg_errors.InsufficientPrivilege as exc:
        log.warning("could not drop the retired gateway role %s: %s", RETIRED_GATEWAY_ROLE, str(exc).strip())


def set_login_password(conn: psycopg.Connection[Any], role: str) -> bool:
    """Let the tenant ``role`` log in (the query path logs in as it) with the password derived from
    ``TENANT_RAG_TENANT_ROLE_SECRET`` and under the per-tenant limits (``apply_role_limits``); False when no secret
    is set (trust socket)."""
    password = tenant_password(role)
    login = sql.SQL("ALTER ROLE {} LOGIN").format(sql.Identifier(role))
    if password:
        login = login + sql.SQL(" PASSWORD {}").format(sql.Literal(password))
    conn.execute(login)
    apply_role_limits(conn, role)
    return password is not None


def apply_role_limits(conn: psycopg.Connection[Any], role: str) -> None:
    """The per-tenant limits (``tenant_rag.tenant_limits``) on ``role``: connection limit, timeouts, and what only a
    superuser may set (skipped, logged, when the admin is not one: a tenant session cannot raise those anyway)."""
    limits = tenant_limits()
    ident = sql.Identifier(role)
    conn.execute(sql.SQL("ALTER ROLE {} CONNECTION LIMIT {}").format(ident, sql.Literal(limits.connection_limit)))
    for name, value in limits.settings:
        conn.execute(sql.SQL("ALTER ROLE {} SET {} = {}").format(ident, sql.Identifier(name), sql.Literal(value)))
    for name, value in limits.superuser_settings:
        try:
            with conn.transaction():
                conn.execute(
                    sql.SQL("ALTER ROLE {} SET {} = {}").format(ident, sql.Identifier(name), sql.Literal(value))
                )
        except pg_errors.InsufficientPrivilege:
            log.info("role %s: %s not set (needs a superuser admin)", role, name)


def drop_role(conn: psycopg.Connection[Any], role: str) -> bool:
    """Drop a role (with what it owns and is granted here); False (logged) when it still holds privileges in
    another database."""
    ident = sql.Identifier(role)
    if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone() is None:
        return True
    try:
        with conn.transaction():
            conn.execute(sql.SQL("DROP OWNED BY {}").format(ident))
            conn.execute(sql.SQL("DROP ROLE {}").format(ident))
    except pg_errors.DependentObjectsStillExist:
        log.info("role %s still has privileges in another database; kept", role)
        return False
    except pg_errors.UndefinedObject:
        return True
    return True
