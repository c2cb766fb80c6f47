"""``make ui``: Airflow (api-server, scheduler, dag-processor) on the embedded defaults, with the demo customers.

Starts the embedded PostgreSQL (metadata database ``airflow_ui`` and vector database ``tenant_rag_ui``), the local
Confluence-compatible server with the sample spaces, creates the sample customers under ``.run/ui/customers`` when
missing, and runs the three Airflow services in one process group with LocalExecutor and parallelism 4. The login
is printed; Ctrl-C stops everything (one process-group kill). The tenant API is mounted at ``/tenant-rag``.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

from tenant_rag import embedded_pg
from tenant_rag.customers import CustomerManager
from tenant_rag.demo import DEMO_USER, airflow_env, demo_customers
from tenant_rag.paths import run_dir

USER = "admin"


def _ensure_database(server: embedded_pg.EmbeddedPostgres, name: str) -> str:
    import psycopg
    from psycopg import sql

    with psycopg.connect(server.url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return server.url_for(name)


def _sqlalchemy_url(libpq_url: str) -> str:
    from urllib.parse import parse_qs, urlparse

    parsed = urlparse(libpq_url)
    host = parse_qs(parsed.query)["host"][0]
    return f"postgresql+psycopg://{parsed.username or 'postgres'}@/{parsed.path.lstrip('/')}?host={host}"


def _password(home: Path) -> str:
    path = home / "ui_password.json"
    if path.exists():
        return str(json.loads(path.read_text())[USER])
    password = secrets.token_urlsafe(12)
    home.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({USER: password}))
    path.chmod(0o600)
    return password


def run(port: int = 8080, confluence_port: int = 8090) -> int:
    from tenant_rag.confluence_server import FakeConfluence
    from tenant_rag.confluence_server.samples import populate_demo

    ui_dir = run_dir() / "ui"
    customers_dir = ui_dir / "customers"
    server = embedded_pg.start()
    metadata_url = _ensure_database(server, "airflow_ui")
    database_url = _ensure_database(server, "tenant_rag_ui")
    site = FakeConfluence(flavor="cloud", auth=DEMO_USER)
    populate_demo(site)
    base_url = site.start(port=confluence_port)
    manager = CustomerManager(customers_dir)
    for config in demo_customers(base_url):
        if not manager.exists(config.customer_id):
            manager.create(config)

    password = _password(ui_dir)
    passwords_file = ui_dir / "ui_password.json"
    base = f"http://127.0.0.1:{port}"
    env = airflow_env(ui_dir, customers_dir, database_url, base_url)
    env.update(
        {
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": _sqlalchemy_url(metadata_url),
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{base}/execution/",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USER}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords_file),
            "AIRFLOW__API__BASE_URL": base,
            "AIRFLOW__API__PORT": str(port),
            "TENANT_RAG_API_AIRFLOW_BASE_URL": base,
            "TENANT_RAG_API_AIRFLOW_USERNAME": USER,
            "TENANT_RAG_API_AIRFLOW_PASSWORD": password,
        }
    )
    airflow = [sys.executable, "-m", "airflow"]
    subprocess.run([*airflow, "db", "migrate"], env=env, check=True, capture_output=True, timeout=600)
    subprocess.run(
        [*airflow, "pools", "set", "embedding_api", "4", "shared by every customer's embedding tasks"],
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )
    logs = ui_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    processes: list[subprocess.Popen[bytes]] = []
    pgid: int | None = None
    for name, args in (
        ("api-server", ["api-server", "--port", str(port), "--host", "127.0.0.1"]),
        ("scheduler", ["scheduler"]),
        ("dag-processor", ["dag-processor"]),
    ):
        with (logs / f"{name}.log").open("ab") as log:
            proc = subprocess.Popen(
                [*airflow, *args],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                process_group=pgid or 0,
            )
        pgid = pgid or proc.pid
        processes.append(proc)
    print(f"Airflow UI:         {base}   login: {USER} / {password}")
    print(f"tenant API:         {base}/tenant-rag/v1/...  (create a key: python -m tenant_rag create-key acme)")
    print(f"local Confluence:   {base_url}  ({DEMO_USER[0]} / {DEMO_USER[1]})")
    print(f"customers:          {customers_dir}   logs: {logs}")
    print("Ctrl-C stops everything.", flush=True)
    try:
        while all(p.poll() is None for p in processes):
            time.sleep(1)
        print("an Airflow service exited; see the logs above", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        if pgid is not None:
            try:
                os.killpg(pgid, signal.SIGTERM)
                time.sleep(3)
                os.killpg(pgid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        site.stop()
