"""Isolation between customers, enforced by the database: roles, schemas, and attacks that must all fail."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

import psycopg
import pytest
from psycopg import errors as pg_errors
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from pydantic import ValidationError

from tenant_rag.config import CustomerConfig
from tenant_rag.db import ensure_vector_types, set_local_role, tenant_pool, tenant_url
from tenant_rag.manager import CustomerRAGManager
from tenant_rag.naming import tenant_role_name
from tenant_rag.query import CustomerQueryManager, IndexNotReadyError
from tenant_rag.store.lexical_search import lexical_parents
from tenant_rag.store.roles import RETIRED_GATEWAY_ROLE
from tenant_rag.store.schema import STORE_FORMAT, StoreError, create_store, store_names
from tenant_rag.store.search import vector_parent_records
from tenant_rag.store.visibility import permission_settings
from tests.integration.rag.rag_core_support import (
    GARDEN_PAGES,
    KAFKA_PAGES,
    live_generation,
    make_config,
    make_customer,
    offline_embedder,
    rag_pools,  # noqa: F401 - fixture
    schema_of,
    tenant_reads,
    write_pages,
)

pytestmark = pytest.mark.usefixtures("rag_pools")


@pytest.fixture
def two_customers(pg_url: str, customers_dir: Path) -> tuple[CustomerRAGManager, CustomerRAGManager]:
    managers = []
    for customer_id, space, pages in (("kafka-co", "ENG", KAFKA_PAGES), ("garden-co", "HOME", GARDEN_PAGES)):
        config = make_config(customer_id)
        root = make_customer(customers_dir, config)
        write_pages(root / "exports", space, pages)
        manager = CustomerRAGManager(config, customer_dir=root, database_url=pg_url, embedder=offline_embedder())
        manager.build_index(root / "exports")
        managers.append(manager)
    return managers[0], managers[1]


@pytest.mark.parametrize("mode", ["vector", "lexical", "hybrid"])
def test_each_customer_sees_only_its_own_parents(two_customers, mode: str) -> None:
    kafka, garden = two_customers
    for manager, own, question in (
        (kafka, KAFKA_PAGES, "how do consumer groups rebalance partitions"),
        (garden, GARDEN_PAGES, "when should I sow tomato seeds"),
        (kafka, KAFKA_PAGES, "when should I sow tomato seeds"),  # the other customer's topic
        (garden, GARDEN_PAGES, "kafka consumer offsets topic"),
    ):
        result = manager.query(question, top_k=4, mode=mode)
        page_ids = {doc.metadata["page_id"] for doc in result.documents}
        assert page_ids <= set(own), (manager.config.customer_id, question, page_ids)
        assert result.collection_used == manager.config.collection_name
        assert all(doc.metadata["customer_id"] == manager.config.customer_id for doc in result.documents)
    assert kafka.query("consumer groups rebalance", top_k=1, mode=mode).documents[0].metadata["page_id"] == "k1"
    assert garden.query("sow tomato seeds indoors", top_k=1, mode=mode).documents[0].metadata["page_id"] == "g1"


@pytest.mark.parametrize("bad_id", ["../x", "a;drop", "a'b", 'a"b', "a b", "x/../y", "", "public", "a\x00b"])
def test_crafted_customer_ids_are_refused(bad_id: str) -> None:
    with pytest.raises(ValidationError):
        make_config(bad_id)


def test_a_collection_name_that_is_not_an_identifier_never_reaches_sql() -> None:
    good = make_config("acme")
    for crafted in ('x"; DROP SCHEMA public; --', "customer_b_documents;", "pg_catalog", "public", "../x"):
        forged = CustomerConfig.model_construct(
            **{**dict(good), "rag": good.rag.model_construct(**{**dict(good.rag), "collection_name": crafted})}
        )
        with pytest.raises(StoreError, match="acme"):
            store_names(forged)


@pytest.mark.parametrize(
    "question",
    [
        "'; DROP SCHEMA customer_garden_co_documents CASCADE; --",
        "consumer\\' OR 1=1 --",
        "$$ ) UNION SELECT text FROM customer_garden_co_documents.g1_parents --",
        "rebalance % _ \" ' ; : & | ! ( ) <-> *",
        '"consumer groups" -tomato OR offsets',
    ],
)
def test_sql_metacharacters_in_the_question_are_just_text(two_customers, pg_url: str, question: str) -> None:
    kafka, garden = two_customers
    for mode in ("vector", "lexical", "hybrid"):
        result = kafka.query(question, top_k=3, mode=mode)
        assert {doc.metadata["page_id"] for doc in result.documents} <= set(KAFKA_PAGES)
    with psycopg.connect(pg_url) as conn:
        count = conn.execute(
            sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(schema_of("garden-co"), "g1_parents"))
        ).fetchone()
    assert count == (len(GARDEN_PAGES),)
    assert garden.query("compost heap", top_k=1).documents[0].metadata["page_id"] == "g2"


def test_tenant_role_cannot_read_or_change_another_schema(two_customers, pg_url: str) -> None:
    kafka, garden = two_customers
    gen = live_generation(pg_url, "garden-co")
    garden_view = garden.names.reading(STORE_FORMAT, enforced=False).gen_table(gen, "chunks")
    other = sql.Identifier(schema_of("garden-co"), f"g{gen}_chunks")
    own = sql.Identifier(schema_of("kafka-co"), f"g{live_generation(pg_url, 'kafka-co')}_chunks")
    with tenant_pool(pg_url, kafka.names.role).connection() as conn:
        for statement in (
            sql.SQL("SELECT text FROM {}").format(other),
            sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(schema_of("garden-co"), "query_history")),
            sql.SQL("DELETE FROM {}").format(own),
            sql.SQL("CREATE TABLE {} (x int)").format(sql.Identifier(schema_of("kafka-co"), "evil")),
            sql.SQL("CREATE TABLE public.evil (x int)"),
        ):
            with pytest.raises(pg_errors.InsufficientPrivilege), conn.transaction():
                set_local_role(conn, kafka.names.role)
                conn.execute(statement)
        with pytest.raises(pg_errors.InsufficientPrivilege), conn.transaction():
            tenant_reads(conn, kafka.names)  # its own tables it reads through their permission views only
            conn.execute(sql.SQL("SELECT count(*) FROM {}").format(own))
        with pytest.raises(pg_errors.InsufficientPrivilege), conn.transaction():
            tenant_reads(conn, kafka.names)
            conn.execute(sql.SQL("SELECT count(*) FROM {}").format(garden_view))
        with conn.transaction():
            own_view = tenant_reads(conn, kafka.names).gen_table(live_generation(pg_url, "kafka-co"), "chunks")
            assert conn.execute(sql.SQL("SELECT count(*) FROM {}").format(own_view)).fetchone()[0] > 0


def test_wrong_sql_built_by_the_application_is_refused_by_the_database(two_customers, pg_url: str) -> None:
    """Search code pointed at customer B's schema while running as customer A's role."""
    kafka, garden = two_customers
    gen = live_generation(pg_url, "garden-co")
    with tenant_pool(pg_url, kafka.names.role).connection() as conn:
        for names in (garden.names, garden.names.reading(STORE_FORMAT, enforced=False)):  # tables, views
            with pytest.raises(pg_errors.InsufficientPrivilege), conn.transaction():
                tenant_reads(conn, kafka.names)
                lexical_parents(conn, names, gen, "tomato", "english", 3)
        with pytest.raises(pg_errors.InsufficientPrivilege), conn.transaction():
            set_local_role(conn, garden.names.role)  # nor can it take B's role
    with tenant_pool(pg_url, garden.names.role).connection() as conn, conn.transaction():
        assert lexical_parents(conn, tenant_reads(conn, garden.names), gen, "tomato", "english", 3)


def test_the_shared_gateway_role_of_earlier_versions_is_dropped(two_customers, pg_url: str) -> None:
    """A database set up by an earlier version has a login that is a member of every tenant role (one password
    for every store); creating or updating any store removes it."""
    kafka, garden = two_customers
    gateway = sql.Identifier(RETIRED_GATEWAY_ROLE)
    with psycopg.connect(pg_url, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(gateway))
        admin.execute(sql.SQL("CREATE ROLE {} LOGIN NOINHERIT").format(gateway))
        for role in (kafka.names.role, garden.names.role):
            admin.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(role), gateway))
        create_store(admin, kafka.names)
        remaining = admin.execute(
            "SELECT count(*) FROM pg_roles WHERE rolname = %s", (RETIRED_GATEWAY_ROLE,)
        ).fetchone()
        members = admin.execute(
            "SELECT count(*) FROM pg_auth_members am JOIN pg_roles r ON r.oid = am.roleid WHERE r.rolname = ANY(%s)",
            ([kafka.names.role, garden.names.role],),
        ).fetchone()
    assert remaining == (0,) and members == (0,)
    assert kafka.query("kafka", top_k=1).documents  # the store itself is untouched


def test_a_session_of_tenant_a_cannot_become_b(two_customers, pg_url: str) -> None:
    """A login that holds only customer A's role (what a leaked tenant credential would be)."""
    kafka, garden = two_customers
    probe = "probe_kafka_only"
    with psycopg.connect(pg_url, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(probe)))
        admin.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(probe)))
        admin.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(kafka.names.role), sql.Identifier(probe)))
    try:
        probe_url = tenant_url(pg_url, probe)
        with psycopg.connect(probe_url, autocommit=True) as conn:
            conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(kafka.names.role)))
            for target in (garden.names.role, "postgres"):
                with pytest.raises(pg_errors.InsufficientPrivilege):
                    conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(target)))
            with pytest.raises(pg_errors.InsufficientPrivilege):
                conn.execute(sql.SQL("SELECT * FROM {}").format(sql.Identifier(schema_of("garden-co"), "index_meta")))
    finally:
        with psycopg.connect(pg_url, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(probe)))
            admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(probe)))


def test_tenant_roles_are_not_members_of_each_other(two_customers, pg_url: str) -> None:
    kafka, garden = two_customers
    with psycopg.connect(pg_url) as conn:
        rows = conn.execute(
            "SELECT r.rolname, m.rolname FROM pg_auth_members am JOIN pg_roles r ON r.oid = am.roleid"
            " JOIN pg_roles m ON m.oid = am.member WHERE r.rolname = ANY(%s)",
            ([kafka.names.role, garden.names.role],),
        ).fetchall()
        login = conn.execute("SELECT rolcanlogin FROM pg_roles WHERE rolname = %s", (kafka.names.role,)).fetchone()
    assert rows == []  # no role, and so no login, holds two tenants' roles
    assert login == (True,)  # the query path logs in as the tenant role itself
    assert kafka.names.role == tenant_role_name(kafka.config.customer_id)


def test_the_query_path_session_is_the_tenant_role_and_cannot_leave_it(two_customers, pg_url: str) -> None:
    """Even arbitrary SQL on a query-path connection (say, an injection bug) stays inside its own store."""
    kafka, garden = two_customers
    with tenant_pool(pg_url, kafka.names.role).connection() as conn:
        assert conn.execute("SELECT session_user, current_user").fetchone() == (kafka.names.role, kafka.names.role)
        for escape in (
            sql.SQL("SET ROLE {}").format(sql.Identifier(garden.names.role)),
            sql.SQL("SET ROLE postgres"),
            sql.SQL("SET SESSION AUTHORIZATION {}").format(sql.Identifier(garden.names.role)),
        ):
            with pytest.raises(pg_errors.InsufficientPrivilege):
                conn.execute(escape)
        conn.execute("RESET ROLE")
        with pytest.raises(pg_errors.InsufficientPrivilege):
            conn.execute(sql.SQL("SELECT count(*) FROM {}").format(garden.names.meta))
        assert conn.execute(sql.SQL("SELECT count(*) FROM {}").format(kafka.names.meta)).fetchone() == (1,)


def test_the_one_round_trip_vector_search_cannot_be_pointed_at_another_tenant(two_customers, pg_url: str) -> None:
    """A bug that hands tenant A's connection B's names (or B's role) gets a refusal, not B's parents."""
    kafka, garden = two_customers
    question = offline_embedder().embed_query("pruning roses")
    mine, theirs = live_generation(pg_url, "kafka-co"), live_generation(pg_url, "garden-co")
    with tenant_pool(pg_url, kafka.names.role).connection() as conn:
        ensure_vector_types(conn)
        off = permission_settings(None)
        mine_names = kafka.names.reading(STORE_FORMAT, enforced=False)
        own = vector_parent_records(conn, mine_names, mine, question, 2, session_role=kafka.names.role, permissions=off)
        assert len(own) == 2 and {record.page_id for _, record in own} <= set(KAFKA_PAGES)
        for names in (garden.names, garden.names.reading(STORE_FORMAT, enforced=False)):  # tables, views
            with pytest.raises(pg_errors.InsufficientPrivilege):
                vector_parent_records(conn, names, theirs, question, 2, session_role=kafka.names.role, permissions=off)
            with pytest.raises(pg_errors.InsufficientPrivilege):
                vector_parent_records(conn, names, theirs, question, 2, session_role=garden.names.role, permissions=off)
        assert conn.execute("SELECT session_user, current_user").fetchone() == (kafka.names.role, kafka.names.role)


def test_cleanup_index_drops_only_that_customer(two_customers, pg_url: str) -> None:
    kafka, garden = two_customers
    kafka.query("offsets")  # history rows exist
    outcome = kafka.cleanup_index()
    assert outcome["schema_dropped"] == kafka.config.collection_name
    with psycopg.connect(pg_url) as conn:
        schemas = {row[0] for row in conn.execute("SELECT nspname FROM pg_namespace")}
    assert kafka.config.collection_name not in schemas
    assert garden.config.collection_name in schemas
    with pytest.raises(IndexNotReadyError, match="kafka-co"):
        CustomerQueryManager(pg_url).query(kafka.config, "offsets")
    assert garden.query("pruning roses", top_k=1).documents[0].metadata["page_id"] == "g3"
    assert kafka.cleanup_index()["schema_dropped"] == kafka.config.collection_name  # idempotent


def test_dropping_a_role_that_still_has_privileges_elsewhere_keeps_it(
    two_customers, pg_url: str, pg_server_url: str
) -> None:
    """Roles are cluster-wide: the same tenant role holding a grant in another database survives cleanup."""
    kafka, _garden = two_customers
    other_db = conninfo_to_dict(pg_url)["dbname"] + "_other"
    with psycopg.connect(pg_server_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(other_db)))
    other_url = urlparse(pg_url)._replace(path=f"/{other_db}").geturl()
    try:
        with psycopg.connect(other_url, autocommit=True) as conn:
            conn.execute("CREATE SCHEMA elsewhere")
            conn.execute(sql.SQL("GRANT USAGE ON SCHEMA elsewhere TO {}").format(sql.Identifier(kafka.names.role)))
        outcome = kafka.cleanup_index()
        assert outcome["role_dropped"] is False  # logged, not raised
        with psycopg.connect(pg_url) as conn:
            assert conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (kafka.names.role,)).fetchone()
            schemas = {row[0] for row in conn.execute("SELECT nspname FROM pg_namespace")}
        assert kafka.config.collection_name not in schemas
    finally:
        with psycopg.connect(pg_server_url, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(other_db)))
    assert kafka.cleanup_index()["role_dropped"] is True  # once the other database is gone


def test_rotating_the_tenant_role_secret_resets_each_role_password(
    two_customers, pg_url: str, customers_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``customers reset-role-passwords`` after a new ``TENANT_RAG_TENANT_ROLE_SECRET``: every indexed customer's
    role gets the password derived from it (each its own); a customer not indexed yet is skipped, not an error."""
    from tenant_rag.cli import main
    from tenant_rag.db import tenant_password

    kafka, garden = two_customers
    make_customer(customers_dir, make_config("new-co"))
    roles = [kafka.names.role, garden.names.role]

    def verifiers() -> list[str | None]:
        with psycopg.connect(pg_url) as conn:
            rows = dict(conn.execute("SELECT rolname, rolpassword FROM pg_authid WHERE rolname = ANY(%s)", (roles,)))
        return [rows[role] for role in roles]

    before = verifiers()
    monkeypatch.setenv("TENANT_RAG_TENANT_ROLE_SECRET", "rotated-secret")
    assert main(["--customers-dir", str(customers_dir), "customers", "reset-role-passwords"]) == 0
    out = capsys.readouterr().out
    assert "kafka-co: password reset" in out and "garden-co: password reset" in out and "new-co: skipped" in out
    after = verifiers()
    assert after != before and all(v and v.startswith("SCRAM-SHA-256$") for v in after) and after[0] != after[1]
    for role, verifier in zip(roles, after, strict=True):  # each verifier is of the password derived for it
        assert _scram_matches(verifier, tenant_password(role) or "")


def _scram_matches(verifier: str, password: str) -> bool:
    """Whether a ``SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`` verifier is of ``password``."""
    import base64
    import hashlib
    import hmac

    _, params, keys = verifier.split("$")
    iterations, salt = params.split(":")
    stored_key, server_key = (base64.b64decode(part) for part in keys.split(":"))
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(salt), int(iterations))
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    return (hashlib.sha256(client_key).digest(), hmac.new(salted, b"Server Key", hashlib.sha256).digest()) == (
        stored_key,
        server_key,
    )


def test_closing_a_databases_pools_closes_its_tenant_pools_too(two_customers, pg_url: str) -> None:
    """``close_pools(url)`` closes the admin pool and every tenant pool of that database, whoever they log in as,
    and leaves other databases' pools alone."""
    from tenant_rag.db import admin_pool, close_pools

    kafka, garden = two_customers
    tenants = [tenant_pool(pg_url, kafka.names.role), tenant_pool(pg_url, garden.names.role)]
    other = urlparse(pg_url)._replace(path="/postgres").geturl()
    elsewhere = admin_pool(other)
    try:
        close_pools(pg_url)
        assert all(pool.closed for pool in tenants)
        assert not elsewhere.closed
        with tenant_pool(pg_url, kafka.names.role).connection() as conn:  # reopened on demand
            assert conn.execute("SELECT current_user").fetchone() == (kafka.names.role,)
    finally:
        close_pools(other)
