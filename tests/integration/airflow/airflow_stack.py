"""A real Airflow 3 deployment for one test: api-server, scheduler and dag-processor as subprocesses.

All three share one new process group, so a single ``killpg`` stops them and every task process the
LocalExecutor forked. The metadata database is a fresh database on the embedded Postgres (LocalExecutor runs
tasks in parallel; SQLite's single writer is not what a deployment uses), a copy of the session's migrated
template (``tests.fixtures.airflow_metadata``). The REST API is driven with a JWT from
the simple auth manager's ``POST /auth/token``, for a user whose password file the test writes.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from tenant_rag_airflow.dag_bundle import bundle_config
from tenant_rag_devtools.process_group import group_alive, stop_group
from tests.fixtures.airflow_metadata import create_metadata_database, drop_database, sqlalchemy_url

ROOT = Path(__file__).resolve().parents[3]
AIRFLOW = str(Path(sys.executable).with_name("airflow"))
USER, PASSWORD = "admin", "tenant-rag-test-password"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(what: str, check: Callable[[], Any], timeout: float, interval: float = 1.0) -> Any:
    """Poll ``check`` until it returns a truthy value; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = check()
        except (httpx.HTTPError, OSError, ValueError, KeyError) as exc:
            last_error, result = exc, None
        if result:
            return result
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what} (last error: {last_error})")


class AirflowStack:
    def __init__(self, workdir: Path, metadata_url: str, extra_env: Mapping[str, str]) -> None:
        self.workdir = workdir
        self.home = workdir / "airflow"
        self.home.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        passwords = self.home / "passwords.json"
        passwords.write_text(json.dumps({USER: PASSWORD}), encoding="utf-8")
        # Shard 0 alone, building every customer (one shard): the DAG processor re-parses each file every 5 s here,
        # and the 31 other shipped shard files (which build nothing at this size) cost an idle stack ~10 s of CPU
        # per 30 s. The shard files themselves are tested in tests/dags/test_dag_shards.py and by benchmark 4.
        dags = self.home / "dags"
        dags.mkdir(parents=True, exist_ok=True)
        (dags / "tenant_rag_dags.py").symlink_to(ROOT / "dags" / "tenant_rag_dags.py")
        self.env = {
            **os.environ,
            "TENANT_RAG_DAG_SHARDS": "1",
            **extra_env,
            "AIRFLOW_HOME": str(self.home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
            # the project's bundle: it writes the shard files the customers want (none beyond shard 0 when pinned)
            "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST": bundle_config(dags, refresh_interval=5, min_files=1),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.base}/execution/",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USER}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": sqlalchemy_url(metadata_url),
            "AIRFLOW__API__BASE_URL": self.base,
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__API__SECRET_KEY": "tenant-rag-test-secret-key",
            "AIRFLOW__API_AUTH__JWT_SECRET": "tenant-rag-test-jwt-secret",
            # only runs the test creates (trigger, backfill): no surprise scheduled run for "yesterday"
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "5",
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(workdir / "logs"),
            "PYTHONPATH": os.pathsep.join(str(ROOT / p) for p in ("include", "plugins", ".")),
            "TENANT_RAG_PROGRESS_SECONDS": "5",
            "TENANT_RAG_LEASE_RECHECK_SECONDS": "3",
            # runs waiting for the customer's lease wait in their task, never rescheduled every 3 s (see export.py)
            "TENANT_RAG_LEASE_WAIT_IN_TASK_SECONDS": "600",
        }
        self.processes: list[subprocess.Popen[bytes]] = []
        self.pgid: int | None = None
        self._token: str | None = None

    # -- processes ------------------------------------------------------------------------------------------------
    def cli(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [AIRFLOW, *args], env=self.env, capture_output=True, text=True, timeout=timeout, check=True
        )

    def _spawn(self, name: str, *args: str) -> None:
        log = (self.workdir / f"{name}.log").open("wb")
        proc = subprocess.Popen(
            [AIRFLOW, *args],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            process_group=0 if self.pgid is None else self.pgid,
        )
        if self.pgid is None:
            self.pgid = proc.pid
        self.processes.append(proc)

    def start(self) -> None:
        """The services on an already migrated metadata database (``running_stack`` copies a migrated one)."""
        self._spawn("api-server", "api-server", "--port", str(self.port), "--host", "127.0.0.1", "--workers", "1")
        self._spawn("scheduler", "scheduler")
        self._spawn("dag-processor", "dag-processor")
        # bounded, not tight: under load (other work on the cores) three Airflow start-ups took over 120 s
        wait_for("the API server", lambda: httpx.get(f"{self.base}/api/v2/monitor/health", timeout=5).is_success, 300)

    def stop(self, timeout: float = 5) -> None:
        """SIGTERM the group, SIGKILL what is left after ``timeout`` s (a test stack's graceful exit asserts nothing;
        under load the scheduler's took ~10 s, waiting for its executor's workers)."""
        if self.pgid is not None:
            stop_group(self.pgid, self.processes, timeout)

    def group_alive(self) -> bool:
        return self.pgid is not None and group_alive(self.pgid)

    def logs(self, tail: int = 60) -> str:
        parts = []
        for path in sorted(self.workdir.glob("*.log")):
            lines = path.read_text(encoding="utf-8", errors="replace").splitlines()[-tail:]
            parts.append(f"--- {path.name}\n" + "\n".join(lines))
        for path in sorted((self.workdir / "logs").rglob("*.log"))[-8:]:
            lines = path.read_text(encoding="utf-8", errors="replace").splitlines()[-tail:]
            parts.append(f"--- {path.relative_to(self.workdir)}\n" + "\n".join(lines))
        return "\n".join(parts)

    # -- REST -----------------------------------------------------------------------------------------------------
    def token(self) -> str:
        if self._token is None:
            response = httpx.post(f"{self.base}/auth/token", json={"username": USER, "password": PASSWORD}, timeout=30)
            response.raise_for_status()
            self._token = str(response.json()["access_token"])
        return self._token

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token()}"}
        return httpx.request(method, f"{self.base}/api/v2{path}", headers=headers, timeout=30, **kwargs)

    def wait_for_dag(self, dag_id: str, timeout: float = 300) -> dict[str, Any]:
        return wait_for(f"DAG {dag_id} to be parsed", lambda: _json_if_ok(self.api("GET", f"/dags/{dag_id}")), timeout)

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 240) -> str:
        def finished() -> str | None:
            state = self.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}").json()["state"]
            return state if state in ("success", "failed") else None

        return str(wait_for(f"run {run_id} of {dag_id}", finished, timeout, interval=2))


def _json_if_ok(response: httpx.Response) -> dict[str, Any] | None:
    return response.json() if response.status_code == 200 else None


@contextmanager
def running_stack(
    server_url: str, database: str, template: str, folder: Path, env: Mapping[str, str]
) -> Iterator[AirflowStack]:
    """A started stack whose metadata database ``database`` (on the server at ``server_url``) is created fresh, a copy
    of the migrated ``template``, and dropped afterwards; its logs are printed when the block fails, and no process
    of it survives."""
    stack = AirflowStack(folder, create_metadata_database(server_url, database, template), env)
    try:
        stack.start()
        yield stack
    except BaseException:
        print(stack.logs())
        raise
    finally:
        stack.stop()
        assert not stack.group_alive(), "Airflow processes survived the process-group kill"
        drop_database(server_url, database)
