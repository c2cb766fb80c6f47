"""``make ui``: Airflow (api-server, scheduler, dag-processor) on the embedded defaults, with the demo customers.

Starts the embedded PostgreSQL (metadata database ``airflow_ui`` and vector database ``tenant_rag_ui``), the local
Confluence-compatible server with the sample spaces, creates the sample customers under ``.run/ui/customers`` when
missing, writes the instance's ``airflow.cfg`` and 0600 ``airflow.env`` (``airflow_ui_config``) and runs
the three Airflow services in one process group with LocalExecutor and parallelism 4.

Order of start-up: the api-server first; the scheduler and the dag-processor only once its health endpoint answers
(task processes report to the api-server's execution API, so no task starts before it can be reached); the URL and
the login are printed last. Ctrl-C stops everything (one process-group kill). The tenant API is at ``/tenant-rag``.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from tenant_rag import embedded_pg
from tenant_rag.customers import CustomerManager
from tenant_rag.errors import TenantRagError
from tenant_rag_devtools.airflow_ui_config import USER, write_config
from tenant_rag_devtools.airflow_ui_config import ui_dir as default_ui_dir
from tenant_rag_devtools.demo import DEMO_USER, demo_customers
from tenant_rag_devtools.process_group import stop_group

AIRFLOW = [sys.executable, "-m", "airflow"]
HEALTH_PATH = "/api/v2/monitor/health"


class AirflowStartError(TenantRagError):
    """An Airflow service of ``make ui`` exited or did not answer in time."""


def _ensure_database(server: embedded_pg.EmbeddedPostgres, name: str) -> str:
    import psycopg
    from psycopg import sql

    with psycopg.connect(server.url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return server.url_for(name)


def _password(home: Path) -> str:
    path = home / "ui_password.json"
    if path.exists():
        return str(json.loads(path.read_text())[USER])
    password = secrets.token_urlsafe(12)
    home.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({USER: password}))
    path.chmod(0o600)
    return password


def api_server_healthy(base: str) -> bool:
    import httpx

    try:
        return httpx.get(base + HEALTH_PATH, timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


class AirflowServices:
    """The UI's Airflow processes in one process group; ``events`` records the order of start-up."""

    def __init__(self, env: Mapping[str, str], logs: Path, base: str, port: int) -> None:
        self.env = dict(env)
        self.logs = logs
        self.base = base
        self.port = port
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.pgid: int | None = None
        self.events: list[str] = []

    def _spawn(self, name: str, *args: str) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        with (self.logs / f"{name}.log").open("ab") as log:
            proc = subprocess.Popen(
                [*AIRFLOW, *args],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                process_group=self.pgid or 0,
            )
        self.pgid = self.pgid or proc.pid
        self.processes[name] = proc
        self.events.append(f"started {name}")

    def _wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        api = self.processes["api-server"]
        while not api_server_healthy(self.base):
            if api.poll() is not None:
                raise AirflowStartError(f"the api-server exited ({api.returncode}); see {self.logs / 'api-server.log'}")
            if time.monotonic() > deadline:
                raise AirflowStartError(
                    f"the api-server did not answer {self.base}{HEALTH_PATH} within {timeout:.0f}s; "
                    f"see {self.logs / 'api-server.log'}"
                )
            time.sleep(1)
        self.events.append("api-server healthy")

    def start(self, announce: Callable[[], None], health_timeout: float = 300) -> None:
        """api-server; once it answers, scheduler and dag-processor; then ``announce`` (print URL and login)."""
        self._spawn("api-server", "api-server", "--port", str(self.port), "--host", "127.0.0.1")
        self._wait_healthy(health_timeout)
        self._spawn("scheduler", "scheduler")
        self._spawn("dag-processor", "dag-processor")
        announce()
        self.events.append("announced")

    def all_running(self) -> bool:
        return all(p.poll() is None for p in self.processes.values())

    def stop(self, grace: float = 10) -> None:
        if self.pgid is not None:
            stop_group(self.pgid, self.processes.values(), grace)

    def all_stopped(self) -> bool:
        return all(p.poll() is not None for p in self.processes.values())


def _airflow_cli(env: Mapping[str, str], *args: str, timeout: float = 600) -> None:
    result = subprocess.run(
        [*AIRFLOW, *args], check=False, env=dict(env), capture_output=True, text=True, timeout=timeout
    )
    if result.returncode != 0:
        sys.stderr.write(result.stdout[-3000:] + result.stderr[-3000:])
        raise AirflowStartError(f"airflow {' '.join(args)} failed with exit code {result.returncode}")


def run(port: int = 8080, confluence_port: int = 8090, health_timeout: float = 300) -> int:
    from tenant_rag_devtools.confluence_server import FakeConfluence
    from tenant_rag_devtools.confluence_server.samples import populate_demo

    directory = default_ui_dir()
    customers_dir = directory / "customers"
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

    password = _password(directory)
    ui = write_config(
        directory,
        metadata_url=metadata_url,
        database_url=database_url,
        confluence_url=base_url,
        confluence_user=DEMO_USER,
        customers_dir=customers_dir,
        password=password,
        port=port,
    )
    env = {**os.environ, **ui.env}
    services = AirflowServices(env, directory / "logs", ui.base_url, port)

    def announce() -> None:
        print(f"Airflow UI:         {ui.base_url}   login: {USER} / {password}")
        print(
            f"tenant API:         {ui.base_url}/tenant-rag/docs  (create a key: python -m tenant_rag create-key acme)"
        )
        print(f"local Confluence:   {base_url}  ({DEMO_USER[0]} / {DEMO_USER[1]})")
        print(f"customers:          {customers_dir}   logs: {services.logs}")
        print(f'airflow CLI:        make airflow ARGS="dags list"   (config: {ui.config_file})')
        print("Ctrl-C stops everything.", flush=True)

    try:
        _airflow_cli(env, "db", "migrate")
        _airflow_cli(env, "pools", "set", "embedding_api", "4", "shared by every customer's embedding tasks")
        print(
            f"starting the api-server (up to {health_timeout:.0f}s; log: {services.logs / 'api-server.log'})",
            flush=True,
        )
        services.start(announce, health_timeout=health_timeout)
        while services.all_running():
            time.sleep(1)
        exited = ", ".join(name for name, p in services.processes.items() if p.poll() is not None)
        print(f"Airflow service exited: {exited}; see {services.logs}/<service>.log", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        services.stop()
        site.stop()
