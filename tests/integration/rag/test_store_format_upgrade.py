"""A store built before store formats (format 1: tsvector in the database) or before permissions (format 2: no
readers) keeps answering after the upgrade, and the next run builds the current format as a new generation
(blue/green, vectors reused) before switching to it. Under ``rag.permissions: enforce`` a live generation without
readers refuses queries (fail closed) until then."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from tenant_rag.permissions import Identity
from tenant_rag.pipeline.run import run_update
from tenant_rag.query import CustomerQueryManager
from tenant_rag.query_permissions import PermissionsNotBuiltError
from tenant_rag.store.indexes import create_index
from tenant_rag.store.names import VIEWED_KINDS
from tenant_rag.store.schema import STORE_FORMAT, store_names
from tests.integration.rag.rag_core_support import (
    KAFKA_PAGES,
    make_config,
    make_customer,
    offline_embedder,
    rag_pools,  # noqa: F401 - fixture
    schema_of,
    write_pages,
)

pytestmark = pytest.mark.usefixtures("rag_pools")


def _write_format_2_layout(url: str, customer_id: str, generation: int) -> None:
    """Turn a generation into the layout format 2 wrote: no readers (nor permission views), tables the tenant role
    reads directly."""
    names = store_names(make_config(customer_id))
    with psycopg.connect(url) as conn:
        for kind in VIEWED_KINDS:
            table = names.gen_table(generation, kind)
            conn.execute(sql.SQL("ALTER TABLE {} DROP COLUMN readers CASCADE").format(table))  # and its view
            conn.execute(sql.SQL("GRANT SELECT ON {} TO {}").format(table, sql.Identifier(names.role)))
        create_index(conn, names, generation, ("chunks", "terms", "gin"))  # format 2's GIN: the terms only
        conn.execute(sql.SQL("UPDATE {} SET store_format = 2").format(names.meta))


def _write_format_1_layout(url: str, customer_id: str, generation: int) -> None:
    """Turn a generation into the layout the version before store formats wrote: no ``store_format`` column, chunks
    with a generated ``tsv`` (to_tsvector in the database) and its GIN index, no term statistics."""
    _write_format_2_layout(url, customer_id, generation)
    names = store_names(make_config(customer_id))
    chunks = names.gen_table(generation, "chunks")
    with psycopg.connect(url) as conn:
        conn.execute(sql.SQL("ALTER TABLE {} DROP COLUMN store_format").format(names.meta))
        conn.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(names.schema, f"g{generation}_chunks_terms_idx")))
        conn.execute(sql.SQL("ALTER TABLE {} DROP COLUMN terms, DROP COLUMN freqs, DROP COLUMN length").format(chunks))
        conn.execute(
            sql.SQL(
                "ALTER TABLE {} ADD COLUMN tsv tsvector GENERATED ALWAYS AS ("
                " setweight(to_tsvector('english'::regconfig, context), 'A')"
                " || setweight(to_tsvector('english'::regconfig, text), 'B')) STORED"
            ).format(chunks)
        )
        conn.execute(
            sql.SQL("CREATE INDEX {} ON {} USING gin (tsv)").format(
                sql.Identifier(f"g{generation}_chunks_tsv_idx"), chunks
            )
        )
        for kind in ("terms", "totals"):
            conn.execute(sql.SQL("DROP TABLE {}").format(names.gen_table(generation, kind)))


def _tables(url: str, customer_id: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s", (schema_of(customer_id),))
        return {row[0] for row in rows}


def _answers(queries: CustomerQueryManager, config, generation: int) -> None:
    for mode in ("lexical", "hybrid", "vector"):
        result = queries.query(config, "how do consumer groups rebalance", top_k=2, mode=mode)
        assert result.generation == generation, mode
        assert result.documents[0].metadata["page_id"] == "k1", mode
    lexical = queries.query(config, "retention.ms", top_k=3, mode="lexical")
    assert [doc.metadata["page_id"] for doc in lexical.documents] == ["k2"]


def test_a_format_1_store_answers_after_the_upgrade_and_the_next_run_rebuilds_it(
    pg_url: str, customers_dir: Path
) -> None:
    config = make_config("upgrade")
    root = make_customer(customers_dir, config)
    write_pages(root / "exports", "ENG", KAFKA_PAGES)
    run_update(config, root, root / "exports", database_url=pg_url, embedder=offline_embedder())
    _write_format_1_layout(pg_url, "upgrade", 1)
    assert {"g1_terms", "g1_totals"}.isdisjoint(_tables(pg_url, "upgrade"))

    queries = CustomerQueryManager(pg_url)
    live = queries.active_generation(config)
    assert live is not None and live.signature.store_format == 1
    _answers(queries, config, 1)  # the old generation answers with what it has (its tsvector)

    embedder = offline_embedder()
    stats = run_update(config, root, root / "exports", database_url=pg_url, embedder=embedder)
    assert stats["target_status"] == "new" and stats["switched"] and stats["generation"] == 2
    assert embedder.calls == 0 and stats["chunks_reused"] == stats["chunks"]  # same model: vectors carried over
    live = queries.active_generation(config)
    assert live is not None and live.number == 2 and live.signature.store_format == STORE_FORMAT
    assert not any(table.startswith("g1_") for table in _tables(pg_url, "upgrade"))
    _answers(queries, config, 2)

    again = run_update(config, root, root / "exports", database_url=pg_url, embedder=offline_embedder())
    assert again["target_status"] == "active" and again["pages_written"] == 0  # the format is current: no rebuild


def test_a_format_2_store_answers_in_off_mode_refuses_under_enforcement_until_the_next_run(
    pg_url: str, customers_dir: Path
) -> None:
    config = make_config("upgrade2")
    enforced = make_config("upgrade2", permissions="enforce")
    root = make_customer(customers_dir, config)
    write_pages(root / "exports", "ENG", KAFKA_PAGES)
    run_update(config, root, root / "exports", database_url=pg_url, embedder=offline_embedder())
    _write_format_2_layout(pg_url, "upgrade2", 1)

    queries = CustomerQueryManager(pg_url)
    live = queries.active_generation(config)
    assert live is not None and live.signature.store_format == 2
    _answers(queries, config, 1)  # off: the old generation answers as before
    for mode in ("lexical", "hybrid", "vector"):
        with pytest.raises(PermissionsNotBuiltError, match="'upgrade2'"):
            queries.query(enforced, "consumer groups", mode=mode, identity=Identity("acc-1", ("staff",)))

    embedder = offline_embedder()
    stats = run_update(enforced, root, root / "exports", database_url=pg_url, embedder=embedder)
    assert stats["target_status"] == "new" and stats["switched"] and stats["generation"] == 2
    assert embedder.calls == 0 and stats["chunks_reused"] == stats["chunks"]
    live = queries.active_generation(config)
    assert live is not None and live.signature.store_format == STORE_FORMAT == 3
    _answers(queries, config, 2)
    for mode in ("lexical", "hybrid", "vector"):  # a directory source records no readers: visible to every user
        result = queries.query(enforced, "how do consumer groups rebalance", top_k=2, mode=mode, identity=Identity("a"))
        assert result.documents[0].metadata["page_id"] == "k1", mode
