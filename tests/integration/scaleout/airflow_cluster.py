"""A real, local Airflow 3 cluster on CeleryExecutor: Redis, api-server, scheduler, dag-processor, N Celery workers.

Every process runs in its own process group and is stopped by a group kill; every wait is bounded. Airflow's
metadata lives in its own database on the given PostgreSQL server, a copy of the session's migrated template
(``tests.fixtures.airflow_metadata``); Celery's result backend is that database too.
Each worker reports a distinct hostname (through ``[core] hostname_callable``), so task instances show where they ran.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import psycopg
from psycopg import sql

from tests.fixtures.airflow_metadata import create_metadata_database

ROOT = Path(__file__).resolve().parents[3]
AIRFLOW_BIN = Path(sys.executable).parent / "airflow"
IDENTITY_MODULE = '''"""Test-only hostname callable: each Celery worker reports its own name."""
import os
import socket


def hostname() -> str:
    return os.environ.get("TENANT_RAG_TEST_WORKER_NAME") or socket.getfqdn()
'''


class ClusterError(RuntimeError):
    """The cluster did not reach the expected state in time; the message carries the process logs' tails."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(what: str, probe: Callable[[], Any], *, timeout: float, interval: float = 1.0) -> Any:
    """Poll ``probe`` until it returns a truthy value; raise ``ClusterError`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            value = probe()
        except Exception as exc:  # probing a server that is still starting
            last_error = exc
            value = None
        if value:
            return value
        time.sleep(interval)
    raise ClusterError(f"timed out after {timeout:.0f}s waiting for {what} (last error: {last_error!r})")


@dataclass
class AirflowCluster:
    """Handle on the running processes; built by :func:`start_cluster`."""

    home: Path
    env: dict[str, str]
    api_url: str
    worker_names: list[str]
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    _token: str | None = None

    # ------------------------------------------------------------------ processes

    def spawn(self, name: str, args: list[str], extra_env: dict[str, str] | None = None) -> None:
        log = (self.home / "logs" / f"{name}.log").open("ab")
        self.procs[name] = subprocess.Popen(
            args,
            env={**self.env, **(extra_env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.home,
            start_new_session=True,  # own process group: stopped with one killpg, children included
        )
        log.close()

    def check_alive(self) -> None:
        dead = {name: proc.returncode for name, proc in self.procs.items() if proc.poll() is not None}
        if dead:
            raise ClusterError(f"processes exited early: {dead}\n{self.log_tails()}")

    def log_tails(self, lines: int = 25) -> str:
        out = []
        for name in self.procs:
            path = self.home / "logs" / f"{name}.log"
            text = path.read_text(errors="replace").splitlines()[-lines:] if path.exists() else []
            out.append(f"--- {name} ---\n" + "\n".join(text))
        return "\n".join(out)

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM every group, SIGKILL them after ``timeout`` s (a Celery worker's warm shutdown asserts nothing)."""
        for proc in self.procs.values():
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for proc in self.procs.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        for proc in self.procs.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # the group: task processes a worker forked too
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)

    # ------------------------------------------------------------------ REST API

    def _headers(self) -> dict[str, str]:
        if self._token is None:
            response = httpx.get(f"{self.api_url}/auth/token", timeout=10)
            response.raise_for_status()
            self._token = response.json()["access_token"]
        return {"Authorization": f"Bearer {self._token}"}

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.request(method, f"{self.api_url}/api/v2{path}", headers=self._headers(), timeout=30, **kwargs)

    def wait_for_dag(self, dag_id: str, timeout: float = 300) -> None:
        def parsed() -> bool:
            self.check_alive()
            return self.api("GET", f"/dags/{dag_id}").status_code == 200

        wait_until(f"DAG {dag_id} to be parsed", parsed, timeout=timeout)

    def trigger(self, dag_id: str, conf: dict[str, Any] | None = None) -> str:
        self.api("PATCH", f"/dags/{dag_id}", json={"is_paused": False}).raise_for_status()
        response = self.api("POST", f"/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf or {}})
        response.raise_for_status()
        return str(response.json()["dag_run_id"])

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 180) -> str:
        def finished() -> str | None:
            self.check_alive()
            state = self.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}").json()["state"]
            return state if state in ("success", "failed") else None

        try:
            return str(wait_until(f"run {run_id} of {dag_id} to finish", finished, timeout=timeout, interval=2))
        except ClusterError as exc:
            raise ClusterError(f"{exc}\n{self.log_tails()}") from exc

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        response = self.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances", params={"limit": 1000})
        response.raise_for_status()
        return list(response.json()["task_instances"])


def _airflow_db_url(server_url: str, database: str, driver: str) -> str:
    return urlparse(server_url)._replace(scheme=driver, path=f"/{database}").geturl()


def drop_database(server_url: str, database: str) -> None:
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database)))


def cluster_env(
    home: Path, *, server_url: str, database: str, redis_port: int, api_port: int, dags_folder: Path
) -> dict[str, str]:
    """The environment every cluster process shares (the test's own env plus Airflow settings)."""
    metadata = _airflow_db_url(server_url, database, "postgresql+psycopg2")
    pythonpath = [str(home / "pylib"), str(ROOT / "include"), str(ROOT / "plugins"), str(ROOT)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW__") and k != "PYTEST_CURRENT_TEST"}
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "PYTHONPATH": os.pathsep.join(pythonpath),
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            "AIRFLOW__CORE__PARALLELISM": "8",
            "AIRFLOW__CORE__HOSTNAME_CALLABLE": "scaleout_identity.hostname",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{api_port}",
            "AIRFLOW__API__PORT": str(api_port),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
            "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata,
            "AIRFLOW__CELERY__BROKER_URL": f"redis://127.0.0.1:{redis_port}/0",
            "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + metadata,
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": "1",
            "AIRFLOW__CELERY__WORKER_PREFETCH_MULTIPLIER": "1",
            "AIRFLOW__CELERY__SYNC_PARALLELISM": "1",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "10",
            "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "task-logs"),
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        }
    )
    return env


@contextlib.contextmanager
def start_cluster(
    home: Path,
    *,
    server_url: str,
    template: str,
    dags_folder: Path,
    workers: int = 2,
    pool_slots: int = 4,
    extra_env: dict[str, str] | None = None,
) -> Iterator[AirflowCluster]:
    """Start Redis and the Airflow processes on a copy of the migrated metadata database ``template``; yield once
    the api-server answers and every worker is online."""
    redis = _redis_server_binary()
    home.mkdir(parents=True, exist_ok=True)
    (home / "logs").mkdir(exist_ok=True)
    (home / "pylib").mkdir(exist_ok=True)
    (home / "pylib" / "scaleout_identity.py").write_text(IDENTITY_MODULE)
    database = f"airflow_meta_{os.getpid()}_{secrets.token_hex(3)}"
    create_metadata_database(server_url, database, template)
    redis_port, api_port = free_port(), free_port()
    env = cluster_env(
        home,
        server_url=server_url,
        database=database,
        redis_port=redis_port,
        api_port=api_port,
        dags_folder=dags_folder,
    )
    env.update(extra_env or {})
    names = [f"worker{i + 1}" for i in range(workers)]
    cluster = AirflowCluster(home=home, env=env, api_url=f"http://127.0.0.1:{api_port}", worker_names=names)
    try:
        cluster.spawn(
            "redis",
            [redis, "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        )
        pool = subprocess.run(
            [str(AIRFLOW_BIN), "pools", "set", "embedding_api", str(pool_slots), "shared embedding API pool"],
            check=False,
            env=env,
            cwd=home,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if pool.returncode != 0:
            raise ClusterError(f"airflow pools set failed:\n{pool.stderr[-3000:]}")
        cluster.spawn("api-server", [str(AIRFLOW_BIN), "api-server", "--port", str(api_port), "--host", "127.0.0.1"])
        cluster.spawn("scheduler", [str(AIRFLOW_BIN), "scheduler"])
        cluster.spawn("dag-processor", [str(AIRFLOW_BIN), "dag-processor"])
        for name in names:
            cluster.spawn(
                name,
                [
                    str(AIRFLOW_BIN),
                    "celery",
                    "worker",
                    "--concurrency",
                    "1",
                    "--celery-hostname",
                    f"{name}@%h",
                    "--skip-serve-logs",
                    "--without-gossip",
                    "--without-mingle",
                ],
                {"TENANT_RAG_TEST_WORKER_NAME": name},
            )

        def api_up() -> bool:
            cluster.check_alive()
            return httpx.get(f"{cluster.api_url}/api/v2/monitor/health", timeout=5).status_code == 200

        wait_until("the api-server", api_up, timeout=300)  # bounded, not tight: start-ups are slow under load

        def workers_ready() -> bool:
            cluster.check_alive()
            return all("ready" in (home / "logs" / f"{name}.log").read_text(errors="replace").lower() for name in names)

        wait_until("the Celery workers", workers_ready, timeout=300)
        yield cluster
    except ClusterError as exc:
        raise ClusterError(f"{exc}\n{cluster.log_tails()}") from exc
    finally:
        cluster.stop()
        drop_database(server_url, database)


def _redis_server_binary() -> str:
    import shutil

    import pytest

    found = shutil.which("redis-server") or (
        "/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None
    )
    if found is None:
        pytest.skip("redis-server is not installed (apt-get install -y redis-server); the Celery test needs it")
    return found
