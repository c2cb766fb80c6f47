"""Who may read what, enforced in the database: the permission views of a generation of store format 3 on.

Each row of a generation's documents, parents and chunks carries ``readers text[]`` (``u:<account id>``,
``g:<group>``, ``*`` for anyone; empty: nobody; ``tenant_rag.permissions.reader_principals``). The tenant role may
not read those tables; it reads a view of each, ``g<n>_<kind>_visible``, that keeps the rows whose readers overlap
the principals of the current transaction (or session)::

    CASE WHEN current_setting('tenant_rag.permissions', true) = 'off' THEN true
         ELSE readers && (SELECT <the JSON array in tenant_rag.principals, as text[]>) END

The query path sets exactly one of the two settings on every query (``SET_PERMISSIONS_SQL``): ``off`` when the
customer's ``rag.permissions`` is off, the asking user's principals when it is ``enforce``. A query path that
forgets gets no rows (fail closed). The scalar subquery is an InitPlan: the principals are parsed once per
statement, not per row.

Views rather than row-level security, measured: under a policy, a predicate of the query that is not leakproof
(``&&`` on arrays is not) may not become an index condition, so BM25's candidate selection through the GIN index of
the chunks' terms fell back to a sequential scan (200k chunks: 105 ms instead of 17 ms), in ``off`` mode as well.
The views are inlined by the planner, so the GIN, HNSW (iterative scan) and btree indexes keep serving, with the
readers test as a filter. They are plain views (not ``security_barrier``): they guard against a query path that
forgets the principals, not against SQL written by whoever holds the tenant role's login (which could set
``tenant_rag.permissions`` itself); that login never leaves the service.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg import sql

from tenant_rag.store.names import VIEWED_KINDS, StoreNames

PERMISSIONS_SETTING = "tenant_rag.permissions"
PRINCIPALS_SETTING = "tenant_rag.principals"

# The asking user's principals as text[] (a scalar subquery: an InitPlan, parsed once per statement); unset: none.
PRINCIPALS_ARRAY = (
    "(SELECT ARRAY(SELECT jsonb_array_elements_text("
    "nullif(current_setting('tenant_rag.principals', true), '')::jsonb)))"
)

# A CASE, not ``off OR readers && ...``: the planner cannot know either setting when it plans, and it estimated the
# OR at 1.5 % of the rows (0.5 % for the equality of two non-columns, 1 % for an array overlap with an unknown
# array), so with that filter a sequential scan and sort of every chunk beat the HNSW index for ``ORDER BY distance
# LIMIT n``, in ``off`` mode as well (10k chunks: 35-45 ms instead of 1-2 ms; bench/results/permissions.md). A CASE
# is a plain boolean expression to it, estimated at half the rows, and the HNSW, GIN and btree indexes serve again.
_VISIBLE_ROWS = (
    "CASE WHEN current_setting('tenant_rag.permissions', true) = 'off' THEN true"
    f" ELSE readers && {PRINCIPALS_ARRAY} END"
)

# %(local)s: true inside a transaction, false for the session of an autocommit connection (the vector query's single
# round trip, which ends with ``FORGET_PERMISSIONS_SQL``)
SET_PERMISSIONS_SQL = (
    "SELECT set_config('tenant_rag.permissions', %(permissions)s, %(local)s),"
    " set_config('tenant_rag.principals', %(principals)s, %(local)s)"
)


# the last statement of the vector search's single round trip (``search``): the session keeps no asker after it. The
# round trip runs as one implicit transaction, so when a statement of it fails the settings roll back with it.
FORGET_PERMISSIONS_SQL = (
    "SELECT set_config('tenant_rag.permissions', '', false), set_config('tenant_rag.principals', '', false)"
)


def permission_settings(principals: Sequence[str] | None) -> dict[str, str]:
    """Parameters of ``SET_PERMISSIONS_SQL``: ``None`` turns the filter off, a list (maybe empty) enforces it."""
    if principals is None:
        return {"permissions": "off", "principals": "[]"}
    return {"permissions": "enforce", "principals": json.dumps(list(principals))}


def create_permission_views(conn: psycopg.Connection[Any], names: StoreNames, generation: int) -> None:
    """The views the tenant role reads a generation through (idempotent)."""
    for kind in VIEWED_KINDS:
        conn.execute(
            sql.SQL("CREATE OR REPLACE VIEW {} AS SELECT * FROM {} WHERE " + _VISIBLE_ROWS).format(
                names.view(generation, kind), names.gen_table(generation, kind)
            )
        )


def revoke_protected_tables(conn: psycopg.Connection[Any], names: StoreNames) -> None:
    """Take SELECT on every table with readers (behind a permission view) away from the tenant role again, after
    ``GRANT SELECT ON ALL TABLES`` gave it."""
    rows = conn.execute(
        "SELECT c.relname FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace"
        " JOIN pg_attribute AS a ON a.attrelid = c.oid"
        " WHERE n.nspname = %s AND c.relkind = 'r' AND a.attname = 'readers' AND NOT a.attisdropped",
        (names.schema,),
    ).fetchall()
    for (table,) in rows:
        conn.execute(
            sql.SQL("REVOKE SELECT ON {} FROM {}").format(
                sql.Identifier(names.schema, table), sql.Identifier(names.role)
            )
        )
