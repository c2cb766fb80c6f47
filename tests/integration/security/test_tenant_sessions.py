"""A session logged in as one tenant's role (what an injection on the query path would get) cannot block, starve or
reach another tenant: no locks it can take on the indexer's path, per-role limits, nothing it does not need."""

from __future__ import annotations

import threading
from contextlib import ExitStack
from pathlib import Path

import psycopg
import pytest
from psycopg import errors as pg_errors

from tenant_rag.db import tenant_pool, tenant_url
from tenant_rag.errors import SettingsError
from tenant_rag.manager import CustomerRAGManager
from tenant_rag.settings import Settings
from tenant_rag.tenant_limits import tenant_limits
from tests.integration.rag.rag_core_support import (
    GARDEN_PAGES,
    KAFKA_PAGES,
    build_customer_index,
    make_config,
    rag_pools,  # noqa: F401 - fixture
    write_pages,
)

pytestmark = pytest.mark.usefixtures("rag_pools")


@pytest.fixture
def acme_and_globex(pg_url: str, customers_dir: Path) -> tuple[CustomerRAGManager, CustomerRAGManager]:
    return (
        build_customer_index(customers_dir, pg_url, make_config("acme"), KAFKA_PAGES),
        build_customer_index(customers_dir, pg_url, make_config("globex"), GARDEN_PAGES),
    )


def test_a_tenant_session_cannot_take_the_locks_another_tenants_writes_wait_on(
    pg_url: str, customers_dir: Path, acme_and_globex: tuple[CustomerRAGManager, CustomerRAGManager]
) -> None:
    acme, globex = acme_and_globex
    with psycopg.connect(tenant_url(pg_url, acme.names.role), autocommit=True) as hostile:
        for statement, args in (
            ("SELECT pg_advisory_lock(hashtext(%s))", ("tenant_rag:" + globex.names.schema,)),
            ("SELECT pg_advisory_xact_lock(hashtext(%s))", ("tenant_rag:" + globex.names.schema,)),
            ("SELECT 1 FROM tenant_rag_registry.tenants WHERE customer_id = %s FOR UPDATE", ("globex",)),
            ("SELECT 1 FROM tenant_rag_registry.tenants WHERE customer_id = %s FOR SHARE", ("globex",)),
        ):
            with pytest.raises(pg_errors.InsufficientPrivilege):
                hostile.execute(statement, args)
        # what the tenant can hold (a transaction reading its own store) does not stop globex's next run
        hostile.execute("BEGIN")
        hostile.execute(f'SELECT count(*) FROM "{acme.names.schema}".index_meta')
        write_pages(globex.customer_dir / "exports", "DOCS", {"g5": ("Mulching", "Mulch keeps soil moist.")})
        outcome: list[object] = []
        worker = threading.Thread(target=lambda: outcome.append(globex.build_index(globex.customer_dir / "exports")))
        worker.start()
        worker.join(timeout=300)  # a liveness bound, not a timing assertion: a blocked run never finishes
        hostile.execute("ROLLBACK")
    assert not worker.is_alive() and outcome, "globex's run was blocked by a tenant session of acme"
    assert "g5" in {d.metadata["page_id"] for d in globex.query("mulch soil moist", top_k=2).documents}


def test_tenant_roles_carry_connection_limits_and_timeouts(
    pg_url: str, acme_and_globex: tuple[CustomerRAGManager, CustomerRAGManager]
) -> None:
    acme, globex = acme_and_globex
    limits = tenant_limits()
    with psycopg.connect(pg_url) as admin:
        row = admin.execute(
            "SELECT rolconnlimit, rolconfig FROM pg_roles WHERE rolname = %s", (acme.names.role,)
        ).fetchone()
    assert row is not None
    assert row[0] == limits.connection_limit == Settings.model_fields["tenant_connection_limit"].default
    settings = dict(item.split("=", 1) for item in row[1])
    assert settings == dict(limits.settings + limits.superuser_settings)  # the embedded admin is a superuser
    assert set(settings) >= {"statement_timeout", "idle_in_transaction_session_timeout", "idle_session_timeout"}
    # the limit holds: acme's role cannot take more connections, and globex still gets its own
    with ExitStack() as stack:
        for _ in range(limits.connection_limit):
            stack.enter_context(psycopg.connect(tenant_url(pg_url, acme.names.role)))
        with pytest.raises(psycopg.OperationalError, match="too many connections for role"):
            psycopg.connect(tenant_url(pg_url, acme.names.role))
        with psycopg.connect(tenant_url(pg_url, globex.names.role)) as other:
            assert other.execute("SELECT 1").fetchone() == (1,)
    assert tenant_pool(pg_url, acme.names.role).max_size <= limits.connection_limit


def test_the_pool_and_the_role_follow_a_configured_limit(
    pg_url: str, customers_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TENANT_RAG_TENANT_CONNECTION_LIMIT", "2")
    monkeypatch.setenv("TENANT_RAG_TENANT_STATEMENT_TIMEOUT", "1s")
    acme = build_customer_index(customers_dir, pg_url, make_config("acme"), KAFKA_PAGES)
    assert tenant_pool(pg_url, acme.names.role).max_size == 2
    with psycopg.connect(tenant_url(pg_url, acme.names.role), autocommit=True) as tenant:
        with pytest.raises(pg_errors.QueryCanceled):  # the role's statement_timeout ends it, whatever it runs
            tenant.execute("SELECT pg_sleep(60)")
        assert tenant.execute("SHOW statement_timeout").fetchone() == ("1s",)
    monkeypatch.setenv("TENANT_RAG_TENANT_CONNECTION_LIMIT", "lots")
    with pytest.raises(SettingsError, match="TENANT_RAG_TENANT_CONNECTION_LIMIT='lots'"):
        tenant_limits()
    monkeypatch.setenv("TENANT_RAG_TENANT_CONNECTION_LIMIT", "2")
    monkeypatch.setenv("TENANT_RAG_TENANT_STATEMENT_TIMEOUT", "30s; DROP ROLE x")
    with pytest.raises(SettingsError, match="TENANT_RAG_TENANT_STATEMENT_TIMEOUT"):
        tenant_limits()


@pytest.mark.parametrize(
    "statement",
    [
        "CREATE TEMP TABLE t (x int)",
        "SELECT lo_from_bytea(0, 'x'::bytea)",
        "SELECT lo_create(0)",
        "SELECT pg_notify('c', 'x')",
        "SELECT pg_advisory_lock(1)",
        "SELECT pg_try_advisory_lock_shared(1, 2)",
        "SELECT pg_advisory_xact_lock(1)",
    ],
)
def test_a_tenant_session_loses_what_the_query_path_does_not_need(
    pg_url: str, acme_and_globex: tuple[CustomerRAGManager, CustomerRAGManager], statement: str
) -> None:
    acme, _ = acme_and_globex
    with psycopg.connect(tenant_url(pg_url, acme.names.role), autocommit=True) as tenant:
        with pytest.raises(pg_errors.InsufficientPrivilege):
            tenant.execute(statement)
        # and the query path itself still works on the same kind of session
        assert tenant.execute(f'SELECT count(*) FROM "{acme.names.schema}".index_meta').fetchone() == (1,)
