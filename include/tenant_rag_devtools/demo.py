"""The main job on embedded defaults: ``make demo`` / ``python -m tenant_rag_devtools demo``.

Starts the embedded PostgreSQL + pgvector and the local Confluence-compatible server, creates the two sample
customers, runs each customer's DAG through Airflow (``airflow dags test``), answers one question per customer from
its own index, edits a page and re-runs to show that only that page is re-embedded, and prints the states.
Everything lives under ``.run/demo/`` (customers, Airflow home); nothing touches ``data/customers``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tenant_rag import embedded_pg
from tenant_rag.config import CustomerConfig
from tenant_rag.connections import conn_env_var
from tenant_rag.constants import CUSTOMERS_DIR_ENV, DATABASE_URL_ENV, DB_CONN_ID
from tenant_rag.customers import CustomerManager
from tenant_rag.dsn import airflow_conn_json
from tenant_rag.naming import dag_id_for
from tenant_rag.paths import project_root, run_dir
from tenant_rag.permissions import Identity
from tenant_rag_devtools.confluence_server import samples_globex
from tenant_rag_devtools.confluence_server.access import DEFAULT_GROUP
from tenant_rag_devtools.confluence_server.samples import SAMPLE_QUESTIONS

DEMO_USER = ("demo@example.com", "demo-token")


def _say(text: str) -> None:
    print(f"\n=== {text}", flush=True)


def demo_customers(base_url: str) -> list[CustomerConfig]:
    """The two sample customers' configs (spaces served by ``tenant_rag_devtools.confluence_server.demo_site``)."""
    common = {"owner": "demo", "schedule": "@daily", "catchup": False, "tags": ["demo"]}
    acme = {
        "customer_id": "acme",
        "display_name": "Acme Corp",
        **common,
        "export": {
            "source": "confluence",
            "base_url": base_url,
            "conn_id": "confluence_demo",
            "space_keys": ["ENG", "OPS"],
        },
    }
    globex = {
        "customer_id": "globex",
        "display_name": "Globex Inc",
        **common,
        "rag": {"permissions": "enforce"},  # pay pages are restricted: answers only from what the asker may read
        "export": {
            "source": "confluence",
            "base_url": base_url,
            "conn_id": "confluence_demo",
            "space_keys": ["HR", "SUPPORT"],
        },
    }
    return [CustomerConfig.model_validate(acme), CustomerConfig.model_validate(globex)]


def airflow_env(demo_dir: Path, customers_dir: Path, database_url: str, base_url: str) -> dict[str, str]:
    """Environment for Airflow processes on the embedded defaults (SQLite metadata under ``demo_dir``)."""
    root = project_root()
    airflow_home = demo_dir / "airflow"
    env = dict(os.environ)
    env.update(
        {
            "AIRFLOW_HOME": str(airflow_home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(root / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(root / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{airflow_home / 'airflow.db'}",
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(demo_dir / "logs"),
            "PYTHONPATH": os.pathsep.join([str(root / "include"), str(root / "plugins"), str(root)]),
            CUSTOMERS_DIR_ENV: str(customers_dir),
            DATABASE_URL_ENV: database_url,
            conn_env_var(DB_CONN_ID): airflow_conn_json(database_url),
            "AIRFLOW_CONN_CONFLUENCE_DEMO": json.dumps(
                {"conn_type": "confluence", "host": base_url, "login": DEMO_USER[0], "password": DEMO_USER[1]}
            ),
        }
    )
    return env


def _airflow(env: dict[str, str], *args: str) -> None:
    command = [sys.executable, "-m", "airflow", *args]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900, check=False)
    if result.returncode != 0:
        sys.stderr.write(result.stdout[-4000:] + result.stderr[-4000:])
        raise SystemExit(f"airflow {' '.join(args)} failed with exit code {result.returncode}")


def run_dag(env: dict[str, str], customer_id: str, conf: dict[str, object] | None = None) -> None:
    """``airflow dags test``: one real DAG run in-process (logical date now), the way a user debugs a DAG."""
    args = ["dags", "test", dag_id_for(customer_id)]
    if conf:
        args += ["--conf", json.dumps(conf)]
    _airflow(env, *args)


@contextmanager
def _timed(label: str) -> Iterator[None]:
    start = time.perf_counter()
    yield
    print(f"    ({label}: {time.perf_counter() - start:.1f}s)", flush=True)


def print_state(manager: CustomerManager, customer_id: str) -> None:
    state = manager.load_state(customer_id)
    counts = state.last_run_stats.counts.model_dump() if state.last_run_stats else {}
    print(
        f"  {customer_id}: status={state.status} ready={state.is_ready_for_queries} "
        f"pages={state.total_indexed_documents} chunks={state.total_indexed_chunks} model={state.embedding_model}"
    )
    keys = (
        "pages_added",
        "pages_updated",
        "pages_unchanged",
        "pages_deleted",
        "chunks_embedded",
        "chunks_reused",
        "embedding_calls",
    )
    print(f"    last run: {', '.join(f'{k}={counts[k]}' for k in keys if k in counts)}")


def show_database_isolation(configs: list[CustomerConfig], database_url: str) -> None:
    """On a query-path session (logged in as acme's own role) try to reach globex: the database refuses."""
    import psycopg
    from psycopg import sql

    from tenant_rag.db import tenant_url
    from tenant_rag.store.schema import store_names

    acme, globex = (store_names(c) for c in configs)
    with psycopg.connect(tenant_url(database_url, acme.role), autocommit=True) as conn:
        (who,) = conn.execute("SELECT session_user").fetchone() or ("?",)
        print(f"  query-path session of acme logs in as {who}")
        for statement in (
            sql.SQL("SELECT count(*) FROM {}").format(globex.meta),
            sql.SQL("SET ROLE {}").format(sql.Identifier(globex.role)),
        ):
            try:
                conn.execute(statement)
            except psycopg.errors.InsufficientPrivilege as exc:
                print(f"  {statement.as_string(conn)}\n    -> refused: {exc.diag.message_primary}")
            else:
                raise SystemExit(f"isolation broken: {statement.as_string(conn)} succeeded as {who}")


# globex's users (its index enforces page permissions, so every query names who asks): Hanna is in the group that
# may read the pay pages, Tomás is not
HANNA = Identity(samples_globex.HANNA, (DEFAULT_GROUP, samples_globex.PAY_GROUP))
TOMAS = Identity(samples_globex.TOMAS, (DEFAULT_GROUP,))
ASKER = {"globex": TOMAS}
PAY_QUESTION = "When does the annual pay review happen, and how are the salary bands set?"


def print_answer(configs: list[CustomerConfig], customer_id: str, database_url: str) -> None:
    from tenant_rag.query import CustomerQueryManager

    config = next(c for c in configs if c.customer_id == customer_id)
    own_spaces = set(config.export.space_keys or [])
    question, expected_title = SAMPLE_QUESTIONS[customer_id][0]
    asker = ASKER.get(customer_id)
    result = CustomerQueryManager(database_url).query(config, question, top_k=3, identity=asker)
    who = f", asked by {asker.account_id}" if asker else ""
    print(f"  [{customer_id}] Q: {result.question}   ({result.latency * 1000:.0f} ms, {result.mode}{who})")
    for rank, doc in enumerate(result.documents, 1):
        meta = doc.metadata
        where = " > ".join(meta.get("heading_path") or [])
        print(f"    {rank}. {meta.get('title')} [{meta.get('space_key')}] score={meta.get('score', 0):.3f} {where}")
    foreign = [d for d in result.documents if d.metadata.get("space_key") not in own_spaces]
    titles = [d.metadata.get("title") for d in result.documents]
    rank_of_expected = titles.index(expected_title) + 1 if expected_title in titles else "-"
    print(
        f"    expected page {expected_title!r} ranked #{rank_of_expected}; "
        f"pages from another customer's spaces: {len(foreign)}"
    )
    if foreign:
        raise SystemExit(f"isolation broken: {customer_id} saw {foreign}")


def show_permission_aware_answers(configs: list[CustomerConfig], database_url: str) -> None:
    """Two globex users ask the same question: only Hanna may read the pay pages, so only her answer holds them."""
    from tenant_rag.query import CustomerQueryManager

    config = next(c for c in configs if c.customer_id == "globex")
    answers = {}
    for name, who in (("Hanna (people lead)", HANNA), ("Tomás (support)", TOMAS)):
        result = CustomerQueryManager(database_url).query(config, PAY_QUESTION, top_k=3, identity=who)
        answers[who.account_id] = [doc.metadata.get("title") for doc in result.documents]
        print(f"  [globex] {name} asks: {PAY_QUESTION}")
        for rank, title in enumerate(answers[who.account_id], 1):
            print(f"    {rank}. {title}")
    restricted = {"Salary Bands and Pay Review", "Pay Review Calendar"}
    if restricted & set(answers[TOMAS.account_id]):
        raise SystemExit(f"permissions broken: Tomás was answered from {restricted & set(answers[TOMAS.account_id])}")
    if answers[HANNA.account_id][0] not in restricted:
        raise SystemExit(f"Hanna's answer misses the pay pages: {answers[HANNA.account_id]}")
    print("  same question, different answers: Tomás gets none of the pay pages restricted to globex-people-leads")


def run(fresh: bool = True) -> None:
    from tenant_rag_devtools.confluence_server import FakeConfluence
    from tenant_rag_devtools.confluence_server.samples import populate_demo

    demo_dir = run_dir() / "demo"
    customers_dir = demo_dir / "customers"
    if fresh and customers_dir.exists():
        shutil.rmtree(customers_dir)
    _say("embedded PostgreSQL + pgvector")
    server = embedded_pg.start(embedded_pg.default_pgdata())
    database_url = server.url_for("tenant_rag_demo")
    _recreate_database(server, "tenant_rag_demo")
    print(f"  {database_url}")

    site = FakeConfluence(flavor="cloud", auth=DEMO_USER)
    page_ids = populate_demo(site)
    with site.serve() as base_url:
        _say(f"local Confluence-compatible server at {base_url}")
        manager = CustomerManager(customers_dir)
        configs = demo_customers(base_url)
        for config in configs:
            manager.create(config)
        report = manager.validate_all()
        print(f"  customers: {[c.customer_id for c in report.valid]} (invalid: {sorted(report.errors)})")

        env = airflow_env(demo_dir, customers_dir, database_url, base_url)
        _say("Airflow metadata database (SQLite under .run/demo/airflow)")
        with _timed("airflow db migrate"):
            _airflow(env, "db", "migrate")
        _airflow(env, "pools", "set", "embedding_api", "4", "shared by every customer's embedding tasks")

        for config in configs:
            _say(f"run DAG {dag_id_for(config.customer_id)} (full export, chunk, embed, upsert)")
            with _timed("dag test"):
                run_dag(env, config.customer_id, {"full_refresh": True})
            print_state(manager, config.customer_id)

        _say("one question per customer, answered from its own index (as its own database role)")
        for config in configs:
            print_answer(configs, config.customer_id, database_url)

        _say("permission-aware retrieval: two globex users, one question (rag.permissions: enforce)")
        show_permission_aware_answers(configs, database_url)

        _say("database-enforced isolation: SQL as one customer's role against the other's store")
        show_database_isolation(configs, database_url)

        _say("edit one acme page in Confluence, run the DAG again: only that page is re-embedded")
        site.update_page(page_ids["acme"][EDITED_PAGE], storage=EDITED_STORAGE)
        with _timed("dag test"):
            run_dag(env, "acme")
        print_state(manager, "acme")

    _say(f"state.json of acme (full file: {customers_dir / 'acme' / 'state.json'})")
    state = json.loads((customers_dir / "acme" / "state.json").read_text())
    last = state["last_run_stats"] or {}
    state["last_run_stats"] = {k: last.get(k) for k in ("run_id", "status", "counts", "durations_s")}
    state["run_history"] = f"<{len(state['run_history'])} runs>"
    print(json.dumps(state, indent=2))
    print("\nDemo finished. Customers are in", customers_dir)


EDITED_PAGE = "Deployment Runbook"
EDITED_STORAGE = (
    "<h1>Rolling back a deployment</h1><p>Run <code>deployctl rollback --to previous</code>; the previous release "
    "is kept warm for 24 hours. Announce the rollback in the incident channel.</p>"
)


def _recreate_database(server: embedded_pg.EmbeddedPostgres, name: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(server.url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
