"""DDL of a customer's store, and the grants that make the database enforce isolation.

Per customer: a schema named ``config.collection_name`` holding ``index_meta`` (the generations of the index),
``query_history`` and, per generation ``n``, the tables ``g<n>_documents``, ``g<n>_parents`` and ``g<n>_chunks``
(and, from store format 2 on, the lexical statistics ``g<n>_terms`` and ``g<n>_totals``).
A role ``tenant_role_name(customer_id)`` may use that schema and read its tables (and write its query history) and
nothing else. The query path logs in as that role itself, so no login can reach two tenants (the roles
themselves: ``tenant_rag.store.roles``). Which customer owns which schema and role is kept in the database's
ownership registry (``tenant_rag.store.registry``): a store is created, written and dropped only for its owner.
"""

from __future__ import annotations

import re
from typing import Any

import psycopg
from psycopg import sql

from tenant_rag.config import CustomerConfig
from tenant_rag.errors import TenantRagError
from tenant_rag.naming import tenant_role_name
from tenant_rag.store.hardening import harden_database
from tenant_rag.store.indexes import WRITE_INDEXES, create_index
from tenant_rag.store.names import GENERATION_KINDS, StoreNames
from tenant_rag.store.registry import REGISTRY_SCHEMA, claim, owner_of, release
from tenant_rag.store.roles import (
    RETIRED_GATEWAY_ROLE,
    create_role,
    drop_role,
    retire_gateway_role,
    set_login_password,
)
from tenant_rag.store.visibility import create_permission_views, revoke_protected_tables

# What a generation stores, recorded per generation in ``index_meta.store_format`` (a store without that column
# was built before formats were recorded: format 1).
# 1: chunks carry a generated ``tsv`` (to_tsvector in the database), lexical search ranks by summed idf.
# 2: chunks carry the terms of the Python analyser (``tenant_rag.text_analysis``) with their frequencies and length,
#    kept with per-generation term statistics (``g<n>_terms``: document frequency per term; ``g<n>_totals``: chunks
#    and summed length), lexical search ranks by BM25.
# 3: documents, parents and chunks carry their page's ``readers text[]`` (``tenant_rag.permissions``), and the tenant
#    role reads them only through the permission views (``tenant_rag.store.visibility``).
STORE_FORMAT = 3
LEGACY_STORE_FORMAT = 1

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class StoreError(TenantRagError):
    """A customer's store cannot be created, used or dropped; the message names the customer."""


def store_names(config: CustomerConfig) -> StoreNames:
    """Names for ``config``'s store; refuses a collection or role name that is not a plain identifier."""
    schema = config.collection_name
    role = tenant_role_name(config.customer_id)
    for what, name in (("collection name", schema), ("tenant role", role)):
        if (
            not _IDENTIFIER.match(name)
            or name in ("public", RETIRED_GATEWAY_ROLE, REGISTRY_SCHEMA)
            or name.startswith("pg_")
        ):
            raise StoreError(f"customer {config.customer_id!r}: {what} {name!r} is not a usable identifier")
    return StoreNames(customer_id=config.customer_id, schema=schema, role=role)


def schema_exists(conn: psycopg.Connection[Any], names: StoreNames) -> bool:
    row = conn.execute("SELECT to_regclass(format('%%I.index_meta', %s::text))", (names.schema,)).fetchone()
    return row is not None and row[0] is not None


def role_exists(conn: psycopg.Connection[Any], names: StoreNames) -> bool:
    return conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (names.role,)).fetchone() is not None


def create_store(conn: psycopg.Connection[Any], names: StoreNames) -> None:
    """Schema, metadata and history tables, tenant role and grants (idempotent; run as the admin).

    The customer claims its schema and role in the ownership registry first: a name another customer owns is
    refused (``StoreOwnershipError``) before anything is created or granted.
    """
    schema = sql.Identifier(names.schema)
    role = sql.Identifier(names.role)
    claim(conn, names)
    harden_database(conn)
    retire_gateway_role(conn)
    create_role(conn, names.role, sql.SQL("LOGIN NOINHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE"))
    set_login_password(conn, names.role)
    with conn.transaction():
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(schema))
        conn.execute(sql.SQL("REVOKE ALL ON SCHEMA {} FROM PUBLIC").format(schema))
        conn.execute(
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {} ("
                " generation integer PRIMARY KEY,"
                " embedding_model text NOT NULL,"
                " model_id text NOT NULL,"
                " dimensions integer NOT NULL,"
                " text_search_config text NOT NULL,"
                " status text NOT NULL CHECK (status IN ('building', 'active')),"
                " store_format integer NOT NULL DEFAULT 1,"
                " created_at timestamptz NOT NULL DEFAULT now(),"
                " activated_at timestamptz)"
            ).format(names.meta)
        )
        # a store created before formats were recorded: its generations are format 1
        conn.execute(
            sql.SQL("ALTER TABLE {} ADD COLUMN IF NOT EXISTS store_format integer NOT NULL DEFAULT 1").format(
                names.meta
            )
        )
        conn.execute(
            sql.SQL(
                "CREATE UNIQUE INDEX IF NOT EXISTS index_meta_one_active ON {} ((true)) WHERE status = 'active'"
            ).format(names.meta)
        )
        conn.execute(
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {} ("
                " id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
                " asked_at timestamptz NOT NULL DEFAULT now(),"
                " question text NOT NULL,"
                " mode text NOT NULL,"
                " top_k integer NOT NULL,"
                " latency_ms double precision NOT NULL,"
                " generation integer,"
                " page_ids text[] NOT NULL)"
            ).format(names.history)
        )
        conn.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(schema, role))
        grant_reader(conn, names)
        conn.execute(sql.SQL("GRANT INSERT, DELETE ON {} TO {}").format(names.history, role))
        conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")


def grant_reader(conn: psycopg.Connection[Any], names: StoreNames) -> None:
    """SELECT on every table and view of the schema for the tenant role (after a generation adds some), except the
    tables with readers: those it reads through their permission views only."""
    conn.execute(
        sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA {} TO {}").format(
            sql.Identifier(names.schema), sql.Identifier(names.role)
        )
    )
    revoke_protected_tables(conn, names)


def create_generation_tables(
    conn: psycopg.Connection[Any], names: StoreNames, generation: int, dimensions: int
) -> None:
    """The documents/parents/chunks tables of one generation, with the keys and indexes its writes need.

    The tables carry no foreign keys: the page swap (``writer.replace_pages``) deletes and writes a page's
    document, parents and chunks together in one transaction, so none can be orphaned, and a per-row foreign-key
    check cost about a tenth of the write time. A generation is created while it is being built (not live): the
    indexes only its queries need (the GIN lexical index, the text-hash btree, HNSW) are built once, in bulk, by
    ``create_search_indexes`` before it is activated, instead of being maintained row by row during the build.
    The chunks' terms come analysed (``tenant_rag.text_analysis``, in the chunk stage) and are stored as written:
    ``terms`` (distinct, space-separated), ``freqs`` (their frequencies, in the same order) and ``length``; the
    statistics BM25 needs are kept beside them by every page swap, which appends what it changed (``g<n>_terms``:
    term and change of its chunk count; ``g<n>_totals``: change of the chunk count and summed length): appends take
    no locks, so parallel writers never wait for each other, and a reader sums the rows of its terms.
    ``compact_term_stats`` folds the appended rows into one per term.
    Chunk rows (text, context, vector, terms: a few kB) stay inline and uncompressed up to a full page
    (``toast_tuple_target``), so neither the writer nor the query path pays for TOAST on them; parent texts (tens
    of kB) are stored out of line without
    compression (pglz ran at ~50 MB/s and was a sixth of the write time).
    Every row carries its page's ``readers``; the tenant role reads the three tables only through their permission
    views (``tenant_rag.store.visibility``).
    """
    docs = names.gen_table(generation, "documents")
    parents = names.gen_table(generation, "parents")
    chunks = names.gen_table(generation, "chunks")
    conn.execute(
        sql.SQL(
            "CREATE TABLE IF NOT EXISTS {} ("
            " page_id text PRIMARY KEY, space_key text NOT NULL, title text NOT NULL, url text,"
            " rel_path text NOT NULL, version integer, content_hash text NOT NULL, meta_hash text NOT NULL,"
            " breadcrumbs text[] NOT NULL, labels text[] NOT NULL, last_modified timestamptz,"
            " parent_page_id text, parents integer NOT NULL, chunks integer NOT NULL,"
            " indexed_at timestamptz NOT NULL DEFAULT now(), readers text[] NOT NULL)"
        ).format(docs)
    )
    conn.execute(
        sql.SQL(
            "CREATE TABLE IF NOT EXISTS {} ("
            " parent_id text PRIMARY KEY,"
            " page_id text NOT NULL,"
            " ordinal integer NOT NULL, text text STORAGE EXTERNAL NOT NULL, heading_path text[] NOT NULL,"
            " readers text[] NOT NULL)"
        ).format(parents)
    )
    conn.execute(
        sql.SQL(
            "CREATE TABLE IF NOT EXISTS {chunks} ("
            " chunk_id text PRIMARY KEY,"
            " parent_id text NOT NULL,"
            " page_id text NOT NULL, space_key text NOT NULL, ordinal integer NOT NULL,"
            " text text NOT NULL, context text NOT NULL, text_hash text NOT NULL, model_id text NOT NULL,"
            " embedding vector({dims}) NOT NULL,"
            " terms text NOT NULL, freqs text NOT NULL, length integer NOT NULL, readers text[] NOT NULL)"
            " WITH (toast_tuple_target = 8160)"
        ).format(chunks=chunks, dims=sql.Literal(int(dimensions)))
    )
    terms = names.gen_table(generation, "terms")
    conn.execute(sql.SQL("CREATE TABLE IF NOT EXISTS {} (term text NOT NULL, df integer NOT NULL)").format(terms))
    conn.execute(
        sql.SQL("CREATE TABLE IF NOT EXISTS {} (chunks bigint NOT NULL, length bigint NOT NULL)").format(
            names.gen_table(generation, "totals")
        )
    )
    for index in WRITE_INDEXES:
        create_index(conn, names, generation, index)
    create_permission_views(conn, names, generation)
    grant_reader(conn, names)


def compact_term_stats(conn: psycopg.Connection[Any], names: StoreNames, generation: int) -> None:
    """Fold a generation's appended statistics into one row per term (and one total), in the caller's transaction.

    The caller holds the store lock (no page swap appends meanwhile); readers see the rows before or after, whose
    sums are the same. The cost grows with the rows appended, not with the chunks.
    """
    for table, columns, having in (
        ("terms", "term, sum(df)", " GROUP BY term HAVING sum(df) <> 0"),
        ("totals", "sum(chunks), sum(length)", ""),
    ):
        conn.execute(
            sql.SQL(
                "WITH gone AS (DELETE FROM {table} RETURNING *) INSERT INTO {table} SELECT {columns} FROM gone"
            ).format(table=names.gen_table(generation, table), columns=sql.SQL(columns))
            + sql.SQL(having)
        )


def drop_generation_tables(conn: psycopg.Connection[Any], names: StoreNames, generation: int) -> None:
    for kind in reversed(GENERATION_KINDS):
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {} CASCADE").format(names.gen_table(generation, kind)))


def drop_store(conn: psycopg.Connection[Any], names: StoreNames) -> bool:
    """Drop what the ownership registry says the customer owns (its schema, every generation and the history, and
    its role), and its registration. Returns whether the role went.

    A customer that was never registered (an index of a version before the registry) has its derived names dropped
    only when no other customer owns them.
    """
    with conn.transaction():
        owned = release(conn, names.customer_id)
        schema, role = (owned.schema, owned.role) if owned else (names.schema, names.role)
        if owned is None and owner_of(conn, schema=schema, role=role) is not None:
            raise StoreError(
                f"customer {names.customer_id!r} is not registered and {schema!r}/{role!r} belong to another "
                "customer; nothing dropped"
            )
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
    return drop_role(conn, role)
