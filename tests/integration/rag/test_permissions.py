"""Permission-aware retrieval (``rag.permissions: enforce``): only pages the asking user may read answer, in every
retrieval mode, filtered in the database (the permission views fail closed), with BM25 statistics that tell nothing
of hidden pages; a change of readers is picked up by the next run without a new version."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pytest
from psycopg import errors as pg_errors
from psycopg import sql

from tenant_rag.config import CustomerConfig
from tenant_rag.db import ensure_vector_types, set_local_role, tenant_pool
from tenant_rag.permissions import Identity
from tenant_rag.pipeline.run import run_update
from tenant_rag.query import CustomerQueryManager
from tenant_rag.query_permissions import IdentityRequiredError
from tenant_rag.store.names import VIEWED_KINDS
from tenant_rag.store.schema import STORE_FORMAT, store_names
from tenant_rag.store.search import vector_parent_records, vector_parents
from tenant_rag.store.visibility import SET_PERMISSIONS_SQL, permission_settings
from tests.integration.rag.rag_core_support import (
    live_generation,
    make_config,
    make_customer,
    offline_embedder,
    rag_pools,  # noqa: F401 - fixture
    write_page,
)

pytestmark = pytest.mark.usefixtures("rag_pools")

STAFF = {"users": [], "groups": ["staff"], "restricted": False}
X_ONLY = {"users": [], "groups": ["x"], "restricted": True}
ALICE = Identity("acc-alice", ("staff", "x"))  # in group x
BOB = Identity("acc-bob", ("staff",))  # not in group x
MODES = ("vector", "lexical", "hybrid")
SECRET_BODY = "The zephyrquartz rollout plan: zephyrquartz nodes deploy in waves. Only group x may read this."


def _write_public(exports: Path) -> None:
    for n in range(6):
        body = f"Deployment checklist number {n}: verify the rollout, deploy in waves, watch the dashboards."
        write_page(exports, "ENG", f"pub{n}", f"Deployment checklist {n}", body, readers=STAFF)
    write_page(exports, "ENG", "mention", "Glossary", "A zephyrquartz is a deployment unit.", readers=STAFF)
    write_page(exports, "ENG", "unk", "Rollout notes", "zephyrquartz rollout notes in waves.", readers="unknown")


def _ids(result: Any) -> list[str]:
    return [doc.metadata["page_id"] for doc in result.documents]


@pytest.fixture
def store(pg_url: str, customers_dir: Path) -> tuple[CustomerConfig, Path]:
    config = make_config("perm", permissions="enforce")
    root = make_customer(customers_dir, config)
    _write_public(root / "exports")
    write_page(root / "exports", "ENG", "secret", "Zephyrquartz rollout", SECRET_BODY, readers=X_ONLY)
    stats = run_update(config, root, root / "exports", database_url=pg_url, embedder=offline_embedder())
    assert stats["pages_restricted"] == 1 and stats["pages_permissions_unknown"] == 1
    return config, root


def test_a_user_in_group_x_sees_the_x_only_page_and_a_user_not_in_x_does_not(pg_url: str, store) -> None:
    config, _ = store
    queries = CustomerQueryManager(pg_url)
    question = "zephyrquartz rollout in waves"
    off = config.model_copy(update={"rag": config.rag.model_copy(update={"permissions": "off"})})
    for mode in MODES:
        alice = _ids(queries.query(config, question, top_k=5, mode=mode, identity=ALICE))
        bob = _ids(queries.query(config, question, top_k=5, mode=mode, identity=BOB))
        everyone = _ids(queries.query(off, question, top_k=9, mode=mode))
        assert "secret" in alice and "secret" not in bob, mode
        assert len(alice) == len(bob) == 5, mode  # still exactly k when k readable pages exist
        assert "unk" not in alice + bob, mode  # unknown readers: nobody, under enforcement
        assert {"secret", "unk"} <= set(everyone), mode  # off: permissions recorded, not enforced
        stranger = _ids(queries.query(config, question, top_k=5, mode=mode, identity=Identity("acc-eve")))
        assert stranger == [], mode  # in no group the space admits


def test_enforcement_refuses_a_query_without_an_identity(pg_url: str, store) -> None:
    config, _ = store
    with pytest.raises(IdentityRequiredError, match="'perm'"):
        CustomerQueryManager(pg_url).query(config, "zephyrquartz", mode="lexical")


def test_a_query_path_that_sets_no_principals_reads_nothing(pg_url: str, store) -> None:
    config, _ = store
    base = store_names(config)
    generation = live_generation(pg_url, "perm")
    views = base.reading(STORE_FORMAT, enforced=True)
    with tenant_pool(pg_url, base.role).connection() as conn:
        for kind in VIEWED_KINDS:
            with conn.transaction():
                set_local_role(conn, base.role)
                count = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(views.gen_table(generation, kind)))
                assert count.fetchone() == (0,), kind
            with pytest.raises(pg_errors.InsufficientPrivilege), conn.transaction():
                set_local_role(conn, base.role)
                conn.execute(sql.SQL("SELECT count(*) FROM {}").format(base.gen_table(generation, kind)))
    with psycopg.connect(pg_url) as admin:  # the rows are there: the admin (the tables' owner) sees them all
        count = admin.execute(sql.SQL("SELECT count(*) FROM {}").format(base.gen_table(generation, "documents")))
        assert count.fetchone() == (9,)


def _lexical_scores(queries: CustomerQueryManager, config: CustomerConfig, who: Identity) -> dict[str, float]:
    result = queries.query(config, "zephyrquartz deployment", top_k=9, mode="lexical", identity=who)
    return {doc.metadata["page_id"]: doc.metadata["score"] for doc in result.documents}


def test_a_hidden_page_changes_no_score_a_user_who_cannot_see_it_gets(pg_url: str, customers_dir: Path) -> None:
    config = make_config("perm", permissions="enforce")
    root = make_customer(customers_dir, config)
    _write_public(root / "exports")
    run_update(config, root, root / "exports", database_url=pg_url, embedder=offline_embedder())
    queries = CustomerQueryManager(pg_url)
    before = _lexical_scores(queries, config, BOB)
    alice_before = _lexical_scores(queries, config, ALICE)
    assert "mention" in before

    write_page(root / "exports", "ENG", "secret", "Zephyrquartz rollout", SECRET_BODY, readers=X_ONLY)
    run_update(config, root, root / "exports", database_url=pg_url, embedder=offline_embedder())
    assert _lexical_scores(queries, config, BOB) == before  # same N, avgdl and df: nothing tells of the page
    alice = _lexical_scores(queries, config, ALICE)
    assert "secret" in alice and alice["mention"] != alice_before["mention"]  # she sees it: her statistics moved


def test_removing_a_restriction_shows_the_page_after_the_next_run(pg_url: str, store) -> None:
    config, root = store
    queries = CustomerQueryManager(pg_url)
    assert "secret" not in _ids(queries.query(config, "zephyrquartz rollout", top_k=5, mode="hybrid", identity=BOB))
    write_page(root / "exports", "ENG", "secret", "Zephyrquartz rollout", SECRET_BODY, readers=STAFF)  # same body
    embedder = offline_embedder()
    stats = run_update(config, root, root / "exports", database_url=pg_url, embedder=embedder)
    assert stats["pages_updated"] == 1 and stats["permissions_changed"] == 1 and stats["pages_restricted"] == 0
    assert embedder.calls == 0 and stats["chunks_reused"] == stats["chunks"]  # rewritten from the stored vectors
    for mode in MODES:
        assert "secret" in _ids(queries.query(config, "zephyrquartz rollout", top_k=5, mode=mode, identity=BOB))
    again = run_update(config, root, root / "exports", database_url=pg_url, embedder=offline_embedder())
    assert again["pages_written"] == 0 and again["permissions_changed"] == 0


def test_a_pooled_connection_keeps_no_asker_after_a_vector_query(pg_url: str, store) -> None:
    """The vector search sets the asker for its session and forgets it in the same round trip; the next borrower
    must not inherit it."""
    config, _ = store
    queries = CustomerQueryManager(pg_url)
    graph = config.model_copy(update={"rag": config.rag.model_copy(update={"permissions_vector_search": "hnsw"})})
    for searched in (config, graph):  # exact: settings for its transaction; hnsw: for the session of its round trip
        answer = queries.query(searched, "zephyrquartz rollout", top_k=5, mode="vector", identity=ALICE)
        assert "secret" in _ids(answer)
    base = store_names(config)
    views = base.reading(STORE_FORMAT, enforced=True)
    generation = live_generation(pg_url, "perm")
    pool = tenant_pool(pg_url, base.role)
    assert pool.get_stats()["pool_size"] >= 1
    for _ in range(pool.get_stats()["pool_size"]):  # every connection the queries used
        with pool.connection() as conn:
            settings = conn.execute(
                "SELECT current_setting('tenant_rag.permissions', true), current_setting('tenant_rag.principals', true)"
            ).fetchone()
            assert settings in (("", ""), (None, None)), settings  # emptied, or never set on this connection
            count = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(views.gen_table(generation, "chunks")))
            assert count.fetchone() == (0,)


def test_a_connection_whose_search_failed_half_way_keeps_no_asker(pg_url: str, store) -> None:
    """The asker is set in the first statement of the vector search's round trip; when a later one fails (here: a
    generation that does not exist) the round trip's last statement, which forgets it, never runs: the round trip is
    one implicit transaction, so the settings roll back with it."""
    config, _ = store
    base = store_names(config)
    names = base.reading(STORE_FORMAT, enforced=True)
    vector = np.asarray(offline_embedder().embed_query("zephyrquartz"), dtype=np.float32)
    pool = tenant_pool(pg_url, base.role)
    with pytest.raises(psycopg.errors.UndefinedTable), pool.connection() as conn:
        ensure_vector_types(conn)
        asker = permission_settings(ALICE.principals())
        vector_parent_records(conn, names, 999, vector, 5, session_role=base.role, permissions=asker)
    for _ in range(pool.get_stats()["pool_size"]):
        with pool.connection() as conn:
            settings = conn.execute(
                "SELECT current_setting('tenant_rag.permissions', true), current_setting('tenant_rag.principals', true)"
            ).fetchone()
            assert settings in (("", ""), (None, None)), settings


@pytest.mark.parametrize("search", ["exact", "hnsw"])
def test_the_enforced_vector_side_scans_the_readable_chunks_unless_told_to_walk_the_graph(
    pg_url: str, store, search: str
) -> None:
    """``rag.permissions_vector_search``: exact (default; no walk past hidden neighbours, whose time would tell where
    they lie) or hnsw. The index scans of the transaction say which ran; both answer from readable pages only."""
    config, _ = store
    base = store_names(config)
    generation = live_generation(pg_url, "perm")
    names = base.reading(STORE_FORMAT, enforced=True, exact_when_filtered=search == "exact")
    vector = np.asarray(offline_embedder().embed_query("zephyrquartz rollout in waves"), dtype=np.float32)
    index = f"{base.schema}.g{generation}_chunks_embedding_idx"
    for who, sees_secret in ((ALICE, True), (BOB, False)):
        with tenant_pool(pg_url, base.role).connection() as conn, conn.transaction():
            set_local_role(conn, base.role)
            conn.execute(SET_PERMISSIONS_SQL, {**permission_settings(who.principals()), "local": True})
            conn.execute("SET LOCAL enable_seqscan = off")  # nine pages: let the planner take the graph when it may
            pages = [hit.page_id for hit in vector_parents(conn, names, generation, vector, 5)]
            row = conn.execute("SELECT pg_stat_get_xact_numscans(%s::regclass)", (index,)).fetchone()
        assert row is not None and (row[0] > 0) == (search == "hnsw"), (search, row)
        assert len(pages) == 5 and ("secret" in pages) == sees_secret and "unk" not in pages, (search, pages)
    assert config.rag.permissions_vector_search == "exact"  # the default
