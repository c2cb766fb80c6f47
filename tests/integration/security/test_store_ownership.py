"""Two customers never share a schema or a role: by construction (names), by config checks, and by the database's
ownership registry when a config check is bypassed. Offboarding drops only what the registry says a customer owns."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from airflow.dag_processing.dagbag import DagBag
from psycopg import errors as pg_errors

from tenant_rag.config import CustomerConfig, load_customer_config
from tenant_rag.customers import CustomerManager
from tenant_rag.db import close_pools, tenant_url
from tenant_rag.errors import ConfigError, CustomerExistsError
from tenant_rag.manager import CustomerRAGManager
from tenant_rag.naming import generate_collection_name, safe_name, tenant_role_name
from tenant_rag.query import CustomerQueryManager, QueryError
from tenant_rag.store.registry import StoreOwnershipError
from tenant_rag.store.schema import StoreError, create_store, store_names
from tests.integration.rag.rag_core_support import (
    GARDEN_PAGES,
    KAFKA_PAGES,
    build_customer_index,
    make_config,
    make_customer,
    offline_embedder,
    rag_pools,  # noqa: F401 - fixture
    write_pages,
)

ROOT = Path(__file__).resolve().parents[3]
DAG_FILE = ROOT / "dags" / "tenant_rag_dags.py"
pytestmark = pytest.mark.usefixtures("rag_pools")


def _write_config(customers_dir: Path, customer_id: str, collection_name: str | None) -> Path:
    """A hand-written config.yaml (no state.json), as a careless operator would add one."""
    folder = customers_dir / customer_id
    folder.mkdir(parents=True, exist_ok=True)
    rag = f"rag: {{collection_name: {collection_name}}}\n" if collection_name else ""
    path = folder / "config.yaml"
    path.write_text(
        f"customer_id: {customer_id}\ndisplay_name: {customer_id}\nexport: {{source: directory, path: docs}}\n{rag}",
        encoding="utf-8",
    )
    return path


def _forged(config: CustomerConfig, collection_name: str) -> CustomerConfig:
    """``config`` pointing at another schema, as if every config check had a bug (no validation runs)."""
    return config.model_copy(update={"rag": config.rag.model_copy(update={"collection_name": collection_name})})


@pytest.mark.parametrize(
    ("newcomer", "chosen"),
    [("zed", "customer_acme"), ("aaa", "customer_zzz_documents"), ("bob", "customer_acme_reader")],
)
def test_a_config_cannot_choose_another_customers_default_names(
    customers_dir: Path, newcomer: str, chosen: str
) -> None:
    path = _write_config(customers_dir, newcomer, chosen)
    with pytest.raises(ConfigError) as caught:
        load_customer_config(path)
    assert caught.value.customer_id == newcomer and caught.value.path == path
    assert caught.value.first_field == "rag.collection_name"
    assert "reserved" in str(caught.value)


def test_derived_schema_and_role_names_never_collide() -> None:
    ids = ["acme", "Acme", "acme-corp", "acme_corp", "acme.corp", "ACME_CORP", "x" * 64, "x" * 63 + "y"]
    ids += [f"acme_{safe_name('Acme').rsplit('_', 1)[1]}", "team_deadbeef", "team-deadbeef"]  # hash look-alikes
    ids += [f"c{n}" for n in range(2000)]
    schemas = {generate_collection_name(cid) for cid in ids}
    roles = {tenant_role_name(cid) for cid in ids}
    assert len(schemas) == len(ids) and len(roles) == len(ids)
    assert all(len(name.encode()) <= 63 for name in schemas | roles)
    assert generate_collection_name("acme") == "customer_acme_documents"  # existing stores keep their names
    assert tenant_role_name("acme") == "customer_acme_reader"


def test_the_dag_factory_and_validate_keep_the_rightful_owner(customers_dir: Path) -> None:
    manager = CustomerManager(customers_dir)
    manager.create(make_config("zzz"))  # default name customer_zzz_documents
    _write_config(customers_dir, "aaa", "customer_zzz_documents")  # sorts first, takes zzz's default shape
    manager.create(make_config("zz_owner", collection_name="team_docs"))  # created first: state.json records it
    _write_config(customers_dir, "aa_newcomer", "team_docs")  # sorts first, hand-written later
    with pytest.warns(UserWarning):
        bag = DagBag(dag_folder=str(DAG_FILE))
    assert bag.dags["tenant_rag__zzz"].task_ids != ["config_error"]
    assert bag.dags["tenant_rag__zz_owner"].task_ids != ["config_error"]
    for newcomer in ("aaa", "aa_newcomer"):
        dag = bag.dags[f"tenant_rag__{newcomer}"]
        assert [t.task_id for t in dag.tasks] == ["config_error"]
        assert "rag.collection_name" in (dag.description or "")
    assert "belongs to customer 'zz_owner'" in (bag.dags["tenant_rag__aa_newcomer"].description or "")

    report = manager.validate_all()
    assert sorted(report.errors) == ["aa_newcomer", "aaa"]
    assert sorted(c.customer_id for c in report.valid) == ["zz_owner", "zzz"]
    with pytest.raises(CustomerExistsError, match="zz_owner"):
        manager.create(make_config("third", collection_name="team_docs"))

    cli = subprocess.run(
        [sys.executable, "-m", "tenant_rag", "customers", "validate"],
        capture_output=True,
        text=True,
        env={**_env(), "TENANT_RAG_CUSTOMERS_DIR": str(customers_dir)},
        check=False,
    )
    assert cli.returncode == 1
    assert "INVALID aa_newcomer:" in cli.stderr and "INVALID aaa:" in cli.stderr
    assert "ok      zz_owner" in cli.stdout and "ok      zzz" in cli.stdout


def _env() -> dict[str, str]:
    import os

    return {**os.environ, "PYTHONPATH": f"{ROOT / 'include'}:{ROOT / 'plugins'}:{ROOT}"}


def test_the_registry_refuses_a_second_owner_when_config_checks_are_bypassed(pg_url: str, customers_dir: Path) -> None:
    acme = build_customer_index(customers_dir, pg_url, make_config("acme"), KAFKA_PAGES)
    zed = _forged(make_config("zed"), acme.names.schema)
    assert store_names(zed).role != acme.names.role  # the role comes from the id, never from the collection
    with psycopg.connect(pg_url, autocommit=True) as conn, pytest.raises(StoreOwnershipError, match="'acme'"):
        create_store(conn, store_names(zed))
    root = make_customer(customers_dir, make_config("zed"))
    write_pages(root / "exports", "DOCS", GARDEN_PAGES)
    intruder = CustomerRAGManager(zed, customer_dir=root, database_url=pg_url, embedder=offline_embedder())
    with pytest.raises(StoreOwnershipError, match="belongs to customer 'acme'"):
        intruder.build_index(root / "exports")
    # acme is untouched: its own pages only, still answered as its own role
    result = acme.query("consumer groups rebalance", top_k=4)
    assert {d.metadata["page_id"] for d in result.documents} <= set(KAFKA_PAGES) and result.documents


def test_a_forged_query_config_cannot_read_the_other_store(pg_url: str, customers_dir: Path) -> None:
    zzz = build_customer_index(customers_dir, pg_url, make_config("zzz"), KAFKA_PAGES)
    build_customer_index(customers_dir, pg_url, make_config("aaa"), GARDEN_PAGES)
    forged = _forged(make_config("aaa"), zzz.names.schema)
    with pytest.raises(QueryError, match="permission denied for schema") as caught:
        CustomerQueryManager(pg_url).query(forged, "consumer groups rebalance", top_k=3)
    assert isinstance(caught.value.__cause__, pg_errors.InsufficientPrivilege)


def test_offboarding_drops_only_what_the_registry_says(pg_url: str, customers_dir: Path) -> None:
    acme = build_customer_index(customers_dir, pg_url, make_config("acme"), KAFKA_PAGES)
    zed = build_customer_index(customers_dir, pg_url, make_config("zed"), GARDEN_PAGES)
    never_indexed = CustomerRAGManager(
        _forged(make_config("mallory"), acme.names.schema), customer_dir=zed.customer_dir, database_url=pg_url
    )
    with pytest.raises(StoreError, match="belong to another customer"):  # not registered: acme's names are kept
        never_indexed.cleanup_index()
    forged = CustomerRAGManager(
        _forged(zed.config, acme.names.schema), customer_dir=zed.customer_dir, database_url=pg_url
    )
    forged.cleanup_index()  # whatever its config says, zed's offboarding drops what zed owns: its own store
    with psycopg.connect(pg_url) as conn:
        schemas = {r[0] for r in conn.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'customer_%'")}
        roles = {r[0] for r in conn.execute("SELECT rolname FROM pg_roles WHERE rolname LIKE 'customer_%'")}
        owners = conn.execute("SELECT customer_id FROM tenant_rag_registry.tenants").fetchall()
    assert schemas == {acme.names.schema} and acme.names.role in roles and zed.names.role not in roles
    assert owners == [("acme",)]
    assert acme.query("consumer groups rebalance", top_k=2).documents


def test_the_registry_is_unique_by_schema_and_role_and_unreachable_from_tenant_roles(
    pg_url: str, customers_dir: Path
) -> None:
    acme = build_customer_index(customers_dir, pg_url, make_config("acme"), KAFKA_PAGES)
    with psycopg.connect(pg_url) as conn:
        unique = {
            r[0]
            for r in conn.execute(
                "SELECT a.attname FROM pg_constraint c JOIN pg_attribute a"
                " ON a.attrelid = c.conrelid AND a.attnum = ANY(c.conkey)"
                " WHERE c.conrelid = 'tenant_rag_registry.tenants'::regclass AND c.contype IN ('u', 'p')"
            )
        }
    assert unique == {"customer_id", "schema_name", "role_name"}
    with psycopg.connect(tenant_url(pg_url, acme.names.role), autocommit=True) as tenant:
        for statement in (
            "SELECT * FROM tenant_rag_registry.tenants",
            "SELECT 1 FROM tenant_rag_registry.tenants FOR UPDATE",
            "INSERT INTO tenant_rag_registry.page_locks VALUES ('globex', 'p1')",
        ):
            with pytest.raises(pg_errors.InsufficientPrivilege):
                tenant.execute(statement)


def test_a_lost_role_comes_back_by_reset_or_by_the_next_run(pg_url: str, customers_dir: Path) -> None:
    acme = build_customer_index(customers_dir, pg_url, make_config("acme"), KAFKA_PAGES)
    for repair in (acme.reset_role_password, lambda: acme.build_index(acme.customer_dir / "exports")):
        with psycopg.connect(pg_url, autocommit=True) as admin:  # an operator drops the role by hand
            admin.execute(f'DROP OWNED BY "{acme.names.role}"')
            admin.execute(f'DROP ROLE "{acme.names.role}"')
        repair()
        close_pools(pg_url)  # sessions of the dropped role are gone with it (an API restart does the same)
        result = CustomerQueryManager(pg_url).query(acme.config, "consumer groups rebalance", top_k=2)
        assert result.documents and {d.metadata["page_id"] for d in result.documents} <= set(KAFKA_PAGES)
