"""Shared connection pools (psycopg_pool), one per database URL, with pgvector types registered.

Two kinds of pool exist per database: the *admin* pool (the configured URL; writes, DDL) and one *tenant* pool per
customer, logged in as that customer's own role (``tenant_pool``), which is all the query path uses. No login holds
more than one tenant's role. Pool connections are in autocommit mode: every unit of work opens an explicit
``conn.transaction()``. ``close_pools()`` closes everything (also registered with ``atexit``).
"""

from __future__ import annotations

import atexit
import hashlib
import hmac
import logging
import os
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote, urlparse, urlunparse

import psycopg
from pgvector.psycopg import register_vector
from psycopg import sql
from psycopg_pool import ConnectionPool

from tenant_rag.errors import TenantRagError
from tenant_rag.settings import settings

log = logging.getLogger(__name__)

_pools: dict[tuple[str, str], ConnectionPool[Any]] = {}
_lock = threading.Lock()


class DatabaseError(TenantRagError):
    """A database operation failed; the message names the customer (when known) and what was attempted."""


def redact(url: str) -> str:
    """``url`` without its password, for messages and logs."""
    parsed = urlparse(url)
    if parsed.password is None:
        return url
    netloc = parsed.netloc.replace(f":{parsed.password}@", ":***@")
    return urlunparse(parsed._replace(netloc=netloc))


def tenant_password(role: str) -> str | None:
    """The login password of a tenant role: HMAC-SHA256 of the role under ``TENANT_RAG_TENANT_ROLE_SECRET``.

    None when the secret is unset (a trust/peer socket such as the embedded server's)."""
    secret = settings().tenant_role_secret
    if secret is None:
        return None
    return hmac.new(secret.get_secret_value().encode(), role.encode(), hashlib.sha256).hexdigest()


def tenant_url(admin_url: str, role: str) -> str:
    """The admin URL logged in as the customer's own reader role (its session user is that role)."""
    parsed = urlparse(admin_url)
    password = tenant_password(role)
    auth = quote(role, safe="") + (f":{quote(password, safe='')}" if password else "")
    host = parsed.netloc.rsplit("@", 1)[-1]
    return urlunparse(parsed._replace(netloc=f"{auth}@{host}"))


def tenant_pool(database_url: str, role: str) -> ConnectionPool[Any]:
    """A small pool logged in as ``role`` itself, so SQL on it can never reach another customer's store.

    Because the session user is the tenant role, even ``RESET ROLE`` or ``SET ROLE other`` inside a session cannot
    leave it. Pools are kept for the most recently used ``TENANT_RAG_MAX_TENANT_POOLS`` (default 64) tenants; each
    opens connections on demand (min 0, at most the role's connection limit) and closes idle ones after a minute.
    """
    url = tenant_url(database_url, role)
    pool = _get_pool(url, "tenant")
    with _lock:
        _tenant_lru.pop(url, None)
        _tenant_lru[url] = None
        limit = settings().max_tenant_pools
        evicted = []
        while len(_tenant_lru) > limit:
            old_url = next(iter(_tenant_lru))
            del _tenant_lru[old_url]
            old = _pools.pop((old_url, "tenant"), None)
            if old is not None:
                evicted.append(old)
    for old in evicted:
        old.close(timeout=5)
    return pool


_tenant_lru: dict[str, None] = {}


def _configure(conn: psycopg.Connection[Any]) -> None:
    try:
        register_vector(conn)
    except psycopg.ProgrammingError:
        log.debug("the vector extension is not installed yet on %s", redact(conn.info.dsn))


_returned_at: weakref.WeakKeyDictionary[psycopg.Connection[Any], float] = weakref.WeakKeyDictionary()
RECENTLY_USED_S = 2.0


def _mark_returned(conn: psycopg.Connection[Any]) -> None:
    """Pool ``reset`` callback: the connection just came back in a clean idle state."""
    _returned_at[conn] = time.monotonic()


def _check(conn: psycopg.Connection[Any]) -> None:
    """Pool ``check`` callback: probe the server only for a connection idle for more than ``RECENTLY_USED_S``.

    A connection returned to the pool (idle, healthy) a moment ago needs no extra round trip on the query path; one
    that sat idle longer (the server may have restarted or closed it) is probed (``ConnectionPool.check_connection``).
    """
    if time.monotonic() - _returned_at.get(conn, float("-inf")) < RECENTLY_USED_S:
        return
    ConnectionPool.check_connection(conn)


def _probe(url: str) -> None:
    """Fail fast (instead of a pool timeout) when the URL cannot log in at all."""
    try:
        psycopg.connect(url, connect_timeout=10).close()
    except psycopg.OperationalError as exc:
        raise DatabaseError(f"cannot connect to {redact(url)}: {str(exc).strip()}") from exc


def _get_pool(url: str, kind: str) -> ConnectionPool[Any]:
    key = (url, kind)
    with _lock:
        pool = _pools.get(key)
        if pool is not None and not pool.closed:
            return pool
        _probe(url)
        environment = settings()
        pool = ConnectionPool(
            url,
            min_size=0,
            # a tenant's pool stays within its role's connection limit (tenant_rag.tenant_limits)
            max_size=min(environment.pool_max_size, environment.tenant_connection_limit)
            if kind == "tenant"
            else environment.pool_max_size,
            kwargs={"autocommit": True},
            configure=_configure,
            check=_check,
            reset=_mark_returned,
            max_idle=60.0,
            timeout=15.0,
            name=f"tenant_rag-{kind}",
            open=False,
        )
        pool.open()
        _pools[key] = pool
        return pool


def admin_pool(database_url: str) -> ConnectionPool[Any]:
    """The pool for writes and DDL, connected with the configured (admin) URL."""
    return _get_pool(database_url, "admin")


@contextmanager
def admin_connection(
    database_url: str, *, customer_id: str = "", action: str = ""
) -> Iterator[psycopg.Connection[Any]]:
    """An autocommit admin connection from the shared pool, with pgvector registered.

    Driver errors raised inside the block are translated here, once, into ``DatabaseError`` naming the customer
    and the action (the original stays available as ``__cause__``).
    """
    with _translated_errors(database_url, customer_id, action), admin_pool(database_url).connection() as conn:
        yield conn


@contextmanager
def _translated_errors(database_url: str, customer_id: str, action: str) -> Iterator[None]:
    """Driver errors raised inside the block become ``DatabaseError`` naming the customer and the action."""
    who = f"customer {customer_id!r}: " if customer_id else ""
    what = action or "database operation"
    try:
        yield
    except psycopg.Error as exc:
        raise DatabaseError(f"{who}{what} failed on {redact(database_url)}: {str(exc).strip()}") from exc


@contextmanager
def dedicated_connection(
    database_url: str, *, customer_id: str = "", action: str = ""
) -> Iterator[psycopg.Connection[Any]]:
    """A new autocommit admin connection of its own (not from the pool), closed on exit; errors as in
    ``admin_connection``. For the extra writers of one stage, which must not drain the shared pool."""
    with (
        _translated_errors(database_url, customer_id, action),
        psycopg.connect(database_url, autocommit=True, connect_timeout=10) as conn,
    ):
        ensure_vector_types(conn)
        yield conn


def ensure_vector_types(conn: psycopg.Connection[Any], *, create: bool = False) -> None:
    """Register pgvector's types on ``conn`` if not done yet; with ``create`` install the extension if missing."""
    if conn.adapters.types.get("vector") is not None:
        return
    if create and conn.execute("SELECT 1 FROM pg_type WHERE typname = 'vector'").fetchone() is None:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    register_vector(conn)


def _same_database(url: str, other: str) -> bool:
    """Whether two URLs reach the same database (whoever they log in as)."""
    a, b = urlparse(url), urlparse(other)
    return (a.netloc.rsplit("@", 1)[-1], a.path, a.query) == (b.netloc.rsplit("@", 1)[-1], b.path, b.query)


def close_pools(database_url: str | None = None) -> None:
    """Close the pools of ``database_url`` (admin and every tenant's), or every pool when None."""
    with _lock:
        keys = [key for key in _pools if database_url is None or _same_database(key[0], database_url)]
        pools = [_pools.pop(key) for key in keys]
    for pool in pools:
        try:
            pool.close(timeout=5.0)
        except Exception:  # closing must never mask the caller's error
            log.warning("closing pool %s failed", pool.name, exc_info=True)


def set_local(conn: psycopg.Connection[Any], name: str, value: str | int) -> None:
    """``SET LOCAL name = value`` with the value bound as a parameter (``set_config(..., true)``)."""
    conn.execute("SELECT set_config(%s, %s, true)", (name, str(value)))


def bulk_build_settings(conn: psycopg.Connection[Any]) -> None:
    """For the rest of the current transaction: memory and parallel workers for building indexes in bulk.

    HNSW builds in memory only while the graph fits ``maintenance_work_mem`` (the server default, 64 MB, makes a
    100k x 384 graph spill and the build crawl); GIN and btree builds sort in it. ``TENANT_RAG_INDEX_BUILD_MEMORY``
    (default 1GB) and ``TENANT_RAG_INDEX_BUILD_WORKERS`` (default 2; capped by the server's max_parallel_workers)
    override. One round trip.
    """
    environment = settings()
    conn.execute(
        "SELECT set_config('maintenance_work_mem', %s, true), set_config('max_parallel_maintenance_workers', %s, true)",
        (environment.index_build_memory, str(environment.index_build_workers)),
    )


def set_local_role(conn: psycopg.Connection[Any], role: str) -> None:
    conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(role)))


def _forget_pools_in_child() -> None:
    """After fork the parent's pools (threads gone, sockets shared) must not be used or closed by the child.

    They are kept referenced so their connections are never finalised here (which would end the parent's
    sessions); the child opens its own pools on first use.
    """
    global _lock  # noqa: PLW0603 - the inherited lock may be held by a thread that no longer exists
    _lock = threading.Lock()
    _inherited.extend(_pools.values())
    _pools.clear()


_inherited: list[ConnectionPool[Any]] = []
atexit.register(close_pools)
os.register_at_fork(after_in_child=_forget_pools_in_child)
