"""The per-customer query path: validated questions, run as the customer's tenant role, with a bounded history
(``tenant_rag.query_history``).

Every query takes a connection from a small pool logged in as the customer's own tenant role (``db.tenant_pool``)
and also sets that role (``SET LOCAL ROLE`` in the transaction of a lexical or hybrid query; for the session in
the single round trip of a vector query): whatever SQL runs there, even ``RESET ROLE``, can read only that
customer's schema. The active generation (model, dimension) is read first so the question is embedded with the
model its vectors were made with, which keeps queries correct while a blue/green rebuild with another model is in
progress. Every query also says who is asking (``tenant_rag.query_permissions``): a generation of store format 3 on
is read through its permission views, which show nothing to a query that does not.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
from langchain_core.documents import Document
from psycopg import errors as pg_errors
from psycopg import sql

from tenant_rag.config import CustomerConfig, RAGConfig
from tenant_rag.constants import MAX_QUESTION_CHARS, MAX_TOP_K, SPACE_KEY_PATTERN
from tenant_rag.db import DatabaseError, ensure_vector_types, set_local_role, tenant_pool
from tenant_rag.embedding.base import Embedder
from tenant_rag.embedding.shared import shared_embedder
from tenant_rag.errors import TenantRagError
from tenant_rag.permissions import Identity
from tenant_rag.query_history import recent_queries, record_query
from tenant_rag.query_permissions import check_identity, query_permissions
from tenant_rag.store.bm25_search import BM25Params
from tenant_rag.store.generations import GENERATIONS_SQL, Generation, Signature
from tenant_rag.store.hits import Hit
from tenant_rag.store.hybrid_search import hybrid_parents
from tenant_rag.store.lexical_pages import lexical_pages
from tenant_rag.store.names import StoreNames
from tenant_rag.store.parent_records import ParentRecord, with_records
from tenant_rag.store.schema import StoreError, store_names
from tenant_rag.store.search import vector_parent_records
from tenant_rag.store.visibility import SET_PERMISSIONS_SQL

MODES = ("vector", "lexical", "hybrid")
_SPACE_KEY = re.compile(SPACE_KEY_PATTERN)

EmbedderFactory = Callable[[RAGConfig, str], Embedder]


class IndexNotReadyError(TenantRagError, LookupError):
    """The customer has no complete index to query yet."""


class QueryError(StoreError):
    """A query failed in the database; the message names the customer."""


@dataclass(frozen=True)
class QueryResult:
    customer_id: str
    question: str
    documents: list[Document]
    collection_used: str
    latency: float
    mode: str = "hybrid"
    generation: int | None = None
    model_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "customer_id": self.customer_id,
            "question": self.question,
            "collection_used": self.collection_used,
            "latency": self.latency,
            "mode": self.mode,
            "generation": self.generation,
            "model_id": self.model_id,
            "documents": [{"page_content": d.page_content, "metadata": d.metadata} for d in self.documents],
        }


def validate_query(
    config: CustomerConfig, question: object, top_k: object, mode: object, space_keys: object
) -> tuple[str, int, str, list[str] | None]:
    """Check the inputs of a query; ``ValueError`` names the customer and the bad field."""
    who = f"customer {config.customer_id!r}"
    if not isinstance(question, str) or not question.strip():
        raise ValueError(f"{who}: question must be a non-empty string")
    if len(question) > MAX_QUESTION_CHARS:
        raise ValueError(f"{who}: question is {len(question)} characters; at most {MAX_QUESTION_CHARS} are allowed")
    if "\x00" in question:
        raise ValueError(f"{who}: question must not contain NUL characters")
    k = config.rag.top_k if top_k is None else top_k
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_TOP_K:
        raise ValueError(f"{who}: top_k must be an integer from 1 to {MAX_TOP_K}, got {top_k!r}")
    chosen = config.rag.retrieval_mode if mode is None else mode
    if chosen not in MODES:
        raise ValueError(f"{who}: mode must be one of {', '.join(MODES)}, got {mode!r}")
    keys: list[str] | None = None
    if space_keys is not None:
        if isinstance(space_keys, str) or not isinstance(space_keys, Sequence):
            raise ValueError(f"{who}: space_keys must be a list of space keys")
        keys = [str(key) for key in space_keys]
        bad = [key for key in keys if not _SPACE_KEY.match(key)]
        if bad:
            raise ValueError(f"{who}: space_keys {bad} are not Confluence space keys")
    return question.strip(), k, str(chosen), keys


class CustomerQueryManager:
    """Answers queries for any customer of one database, each through a pool logged in as its tenant role."""

    def __init__(self, database_url: str, *, embedder_factory: EmbedderFactory | None = None) -> None:
        self.database_url = database_url
        self._embedder_factory = embedder_factory or shared_embedder

    def active_generation(self, config: CustomerConfig) -> Generation | None:
        names = store_names(config)
        try:
            with tenant_pool(self.database_url, names.role).connection() as conn, conn.transaction():
                set_local_role(conn, names.role)
                row = conn.execute(
                    sql.SQL(GENERATIONS_SQL + " WHERE status = 'active'").format(meta=names.meta)
                ).fetchone()
        except (pg_errors.InvalidSchemaName, pg_errors.UndefinedTable, pg_errors.UndefinedObject):
            return None
        except (pg_errors.InvalidParameterValue, DatabaseError) as exc:  # the tenant role does not exist (yet)
            if "does not exist" in str(exc):
                return None
            raise QueryError(f"customer {config.customer_id!r}: cannot read the index metadata: {exc}") from exc
        except psycopg.Error as exc:
            raise QueryError(f"customer {config.customer_id!r}: cannot read the index metadata: {exc}") from exc
        if row is None:
            return None
        return Generation(row[0], Signature(*row[1:6]), "active")

    def query(
        self,
        config: CustomerConfig,
        question: str,
        top_k: int | None = None,
        mode: str | None = None,
        space_keys: list[str] | None = None,
        *,
        identity: Identity | None = None,
    ) -> QueryResult:
        """The ``top_k`` best parents for ``question``. ``identity``: the end user asking, required when the
        customer enforces page permissions (``rag.permissions: enforce``; ``IdentityRequiredError`` without it):
        only pages that user may read answer then (``tenant_rag.query_permissions``)."""
        question, k, mode, keys = validate_query(config, question, top_k, mode, space_keys)
        check_identity(config, identity)
        store = store_names(config)
        started = time.perf_counter()
        for attempt in (1, 2):
            generation = self.active_generation(config)
            if generation is None:
                raise IndexNotReadyError(f"customer {config.customer_id!r}: the index has not been built yet")
            permissions = query_permissions(config, generation.signature.store_format, identity)
            names = store.reading(
                generation.signature.store_format,
                enforced=permissions.enforced,
                exact_when_filtered=config.rag.permissions_vector_search == "exact",
            )
            vector = None
            if mode != "lexical":
                embedder = self._embedder_factory(generation.signature.rag_config(config.rag), config.customer_id)
                vector = embedder.embed_query(question)
            try:
                documents = self._search(
                    config, names, generation, question, vector, k, mode, keys, started, permissions.settings
                )
            except pg_errors.UndefinedTable:
                if attempt == 2:
                    raise
                continue  # the generation was switched between reading it and searching it: read it again
            return QueryResult(
                customer_id=config.customer_id,
                question=question,
                documents=documents,
                collection_used=config.collection_name,
                latency=time.perf_counter() - started,
                mode=mode,
                generation=generation.number,
                model_id=generation.signature.model_id,
            )
        raise AssertionError("unreachable")

    def _search(
        self,
        config: CustomerConfig,
        names: StoreNames,
        generation: Generation,
        question: str,
        vector: Any,
        k: int,
        mode: str,
        keys: list[str] | None,
        started: float,
        permissions: dict[str, str],
    ) -> list[Document]:
        number, tsconfig = generation.number, generation.signature.text_search_config
        store_format = generation.signature.store_format
        bm25 = BM25Params(config.rag.bm25_k1, config.rag.bm25_b)
        limit = config.rag.query_history_limit
        try:
            with tenant_pool(self.database_url, names.role).connection() as conn:
                ensure_vector_types(conn)
                if mode == "vector":  # one round trip: role, permissions, scan settings, search, parents (autocommit)
                    pairs = vector_parent_records(
                        conn, names, number, vector, k, keys, session_role=names.role, permissions=permissions
                    )
                    documents = _documents(config, pairs, mode)
                    if limit:
                        with conn.pipeline(), conn.transaction():
                            record_query(conn, names, question, mode, k, number, documents, limit, started)
                    return documents
                # pipeline mode: BEGIN, the role switch and the first search go out in one round trip
                with conn.pipeline(), conn.transaction():
                    set_local_role(conn, names.role)
                    conn.execute(SET_PERMISSIONS_SQL, {**permissions, "local": True})
                    if mode == "lexical":
                        hits = lexical_pages(
                            conn, names, number, question, tsconfig, k, keys, store_format=store_format, bm25=bm25
                        )
                    else:
                        hits = hybrid_parents(
                            conn,
                            names,
                            number,
                            question,
                            vector,
                            tsconfig,
                            k,
                            keys,
                            store_format=store_format,
                            bm25=bm25,
                        )
                    documents = _documents(config, with_records(conn, names, number, hits), mode)
                    if limit:
                        record_query(conn, names, question, mode, k, number, documents, limit, started)
                    return documents
        except pg_errors.UndefinedTable:
            raise
        except psycopg.Error as exc:
            raise QueryError(f"customer {config.customer_id!r}: {mode} query failed: {exc}") from exc

    def history(self, config: CustomerConfig, limit: int = 50) -> list[dict[str, Any]]:
        """The customer's most recent queries, newest first."""
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 10_000:
            raise ValueError(f"customer {config.customer_id!r}: limit must be an integer from 1 to 10000")
        names = store_names(config)
        try:
            with tenant_pool(self.database_url, names.role).connection() as conn, conn.transaction():
                set_local_role(conn, names.role)
                return recent_queries(conn, names, limit)
        except (pg_errors.InvalidSchemaName, pg_errors.UndefinedTable, pg_errors.InvalidParameterValue):
            return []
        except DatabaseError as exc:  # the tenant role (and with it the store) does not exist
            if "does not exist" in str(exc):
                return []
            raise QueryError(f"customer {config.customer_id!r}: cannot read the query history: {exc}") from exc
        except psycopg.Error as exc:
            raise QueryError(f"customer {config.customer_id!r}: cannot read the query history: {exc}") from exc


def _documents(config: CustomerConfig, pairs: list[tuple[Hit, ParentRecord]], mode: str) -> list[Document]:
    return [_document(config, hit, rank, record, mode) for rank, (hit, record) in enumerate(pairs, 1)]


def _document(config: CustomerConfig, hit: Hit, rank: int, record: ParentRecord, mode: str) -> Document:
    return Document(
        page_content=record.text,
        metadata={
            "customer_id": config.customer_id,
            "page_id": record.page_id,
            "parent_id": record.parent_id,
            "title": record.title,
            "url": record.url,
            "space_key": record.space_key,
            "heading_path": list(record.heading_path),
            "breadcrumbs": list(record.breadcrumbs),
            "labels": list(record.labels),
            "rel_path": record.rel_path,
            "version": record.version,
            "last_modified": record.last_modified.isoformat() if record.last_modified else None,
            "score": hit.score,
            "rank": rank,
            "vector_rank": hit.vector_rank,
            "lexical_rank": hit.lexical_rank,
            "mode": mode,
        },
    )
