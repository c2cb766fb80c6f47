"""Helpers for the RAG core integration tests: small Markdown exports, configs, embedders and DB snapshots."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pytest
from psycopg import sql

from tenant_rag.config import CustomerConfig
from tenant_rag.customers import CustomerManager
from tenant_rag.db import admin_connection, close_pools, ensure_vector_types, set_local_role
from tenant_rag.documents import render_page
from tenant_rag.embedding.offline import WordLlamaEmbedder
from tenant_rag.embedding.shared import clear_shared_embedders
from tenant_rag.manager import CustomerRAGManager
from tenant_rag.naming import generate_collection_name
from tenant_rag.rag_factory import RAGFactory
from tenant_rag.store.generations import Target, register_target, signature_for
from tenant_rag.store.names import StoreNames
from tenant_rag.store.schema import STORE_FORMAT, create_store, store_names
from tenant_rag.store.visibility import SET_PERMISSIONS_SQL, permission_settings

KAFKA_PAGES = {
    "k1": (
        "Kafka consumer groups",
        "## Rebalancing\n\nConsumer groups rebalance partitions when a member joins.\n\n"
        "## Offsets\n\nCommitted offsets are stored in the __consumer_offsets topic.",
    ),
    "k2": ("Kafka retention", "Topics keep messages for seven days by default; set retention.ms to change it."),
    "k3": ("Schema registry", "The schema registry stores Avro schemas and checks compatibility on every write."),
    "k4": ("Broker sizing", "Size brokers for disk throughput first; partitions per broker should stay below 4000."),
}
GARDEN_PAGES = {
    "g1": (
        "Tomato seedlings",
        "## Sowing\n\nSow tomato seeds indoors six weeks before the last frost.\n\n"
        "## Hardening off\n\nPut seedlings outside for an hour a day before planting them out.",
    ),
    "g2": ("Composting", "A compost heap needs green and brown material in equal parts and regular turning."),
    "g3": ("Pruning roses", "Prune roses in late winter, cutting just above an outward-facing bud."),
    "g4": ("Watering", "Water deeply and less often so roots grow down; mornings are best in summer."),
}


def write_page(
    export_dir: Path, space: str, page_id: str, title: str, body: str, *, version: int = 1, **meta: Any
) -> Path:
    path = export_dir / space / f"{page_id}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    front = {
        "page_id": page_id,
        "title": title,
        "space_key": space,
        "version": version,
        "url": f"https://wiki.example/{space}/{page_id}",
        **meta,
    }
    path.write_text(render_page(front, f"# {title}\n\n{body}\n"), encoding="utf-8")
    return path


def write_pages(export_dir: Path, space: str, pages: dict[str, tuple[str, str]]) -> None:
    for page_id, (title, body) in pages.items():
        write_page(export_dir, space, page_id, title, body)


def make_config(customer_id: str, *, spaces: list[str] | None = None, **rag: Any) -> CustomerConfig:
    return CustomerConfig.model_validate(
        {
            "customer_id": customer_id,
            "display_name": customer_id.title(),
            "export": {"source": "directory", "path": "exports", "space_keys": spaces},
            "rag": rag,
        }
    )


def make_customer(customers_dir: Path, config: CustomerConfig) -> Path:
    """The customer's folder (config.yaml, state.json, exports/...) through the real CustomerManager."""
    return CustomerManager(customers_dir).create(config, exist_ok=True).root


def registered_store(url: str, customer_id: str) -> StoreNames:
    """A customer's store with generation 1 registered (``new``, empty): what the writer tests write into."""
    config = make_config(customer_id)
    names = store_names(config)
    with admin_connection(url) as conn:
        ensure_vector_types(conn, create=True)
        create_store(conn, names)
        register_target(conn, names, Target(1, "new", signature_for(config.rag)))
    return names


def build_customer_index(
    customers_dir: Path, url: str, config: CustomerConfig, pages: dict[str, tuple[str, str]], space: str = "DOCS"
) -> CustomerRAGManager:
    """A customer with ``pages`` in one space, fully indexed through the real pipeline; its manager."""
    root = make_customer(customers_dir, config)
    write_pages(root / "exports", space, pages)
    manager = CustomerRAGManager(config, customer_dir=root, database_url=url, embedder=offline_embedder())
    manager.build_index(root / "exports")
    return manager


def offline_embedder() -> WordLlamaEmbedder:
    """A fresh offline embedder (the model is loaded once per process; the call counters start at zero)."""
    return WordLlamaEmbedder()


class FailingEmbedder:
    """Wraps an embedder and raises on the call number ``fail_on`` (1-based): a crash in the embed stage."""

    def __init__(self, inner: WordLlamaEmbedder, fail_on: int = 1) -> None:
        self.inner = inner
        self.fail_on = fail_on
        self.model_id = inner.model_id
        self.dimensions = inner.dimensions
        self.attempts = 0

    @property
    def calls(self) -> int:
        return self.inner.calls

    @property
    def texts_embedded(self) -> int:
        return self.inner.texts_embedded

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        self.attempts += 1
        if self.attempts == self.fail_on:
            raise RuntimeError("embedder crashed (injected by the test)")
        return self.inner.embed_documents(texts)

    def embed_query(self, text: str) -> np.ndarray:
        return self.inner.embed_query(text)


@pytest.fixture
def rag_pools() -> Iterator[None]:
    """Close the shared pools and forget cached managers after the test (its database is dropped next)."""
    RAGFactory.clear()
    clear_shared_embedders()
    yield
    RAGFactory.clear()
    clear_shared_embedders()
    close_pools()


_module_counter = itertools.count()


def schema_of(customer_id: str) -> str:
    return generate_collection_name(customer_id)


def live_generation(url: str, customer_id: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            sql.SQL("SELECT generation FROM {} WHERE status = 'active'").format(
                sql.Identifier(schema_of(customer_id), "index_meta")
            )
        ).fetchone()
    assert row is not None, f"customer {customer_id} has no live generation"
    return int(row[0])


def table_rows(url: str, customer_id: str, kind: str, columns: str, generation: int | None = None) -> list[tuple]:
    """Rows of one generation table (``columns`` is a fixed, test-written column list)."""
    gen = generation if generation is not None else live_generation(url, customer_id)
    with psycopg.connect(url) as conn:
        return conn.execute(
            sql.SQL("SELECT " + columns + " FROM {} ORDER BY 1").format(
                sql.Identifier(schema_of(customer_id), f"g{gen}_{kind}")
            )
        ).fetchall()


def index_content(url: str, customer_id: str) -> dict[str, list[tuple]]:
    """What a customer's live index holds, without row identity: for comparing with a clean build."""
    return {
        "documents": table_rows(url, customer_id, "documents", "page_id, content_hash, parents, chunks"),
        "parents": table_rows(url, customer_id, "parents", "parent_id, page_id, text"),
        "chunks": table_rows(url, customer_id, "chunks", "chunk_id, parent_id, text_hash, model_id"),
    }


def row_versions(url: str, customer_id: str) -> dict[str, list[tuple]]:
    """(key, xmin) of every row: any UPDATE, DELETE or re-INSERT changes it."""
    return {
        "documents": table_rows(url, customer_id, "documents", "page_id, xmin::text, indexed_at"),
        "parents": table_rows(url, customer_id, "parents", "parent_id, xmin::text"),
        "chunks": table_rows(url, customer_id, "chunks", "chunk_id, xmin::text"),
        "meta": _meta_rows(url, customer_id),
    }


def _meta_rows(url: str, customer_id: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            sql.SQL("SELECT generation, xmin::text, status FROM {} ORDER BY 1").format(
                sql.Identifier(schema_of(customer_id), "index_meta")
            )
        ).fetchall()


def tenant_reads(conn: psycopg.Connection[Any], names: StoreNames) -> StoreNames:
    """Switch the connection's transaction to the tenant role reading with permissions off (what the query path
    does for a customer with ``rag.permissions: off``); returns the names it reads a current-format store through."""
    set_local_role(conn, names.role)
    conn.execute(SET_PERMISSIONS_SQL, {**permission_settings(None), "local": True})
    return names.reading(STORE_FORMAT, enforced=False)
