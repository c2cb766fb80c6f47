"""The Airflow plugin: Airflow's plugin loader finds ``api_plugin.py`` and mounts the API under ``/tenant-rag``.

The server runs in a subprocess with Airflow's real ``init_plugins`` and access-log middleware (the code the
Airflow API server runs), the database URL resolved the way the plugin does it (environment, a secrets backend's
Connection, or nothing at all), and real HTTP. Its output goes to a file the tests read.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tenant_rag import embedded_pg
from tenant_rag.dsn import airflow_conn_json
from tenant_rag.paths import admin_key_file
from tests.integration.api.api_support import free_socket
from tests.integration.api.conftest import ApiEnv

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[3]
HTML = {"Accept": "text/html,application/xhtml+xml"}


@dataclass
class PluginServer:
    url: str
    log: Path
    run_dir: Path

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


def plugin_env(api_env: ApiEnv, root: Path, **extra: str) -> dict[str, str]:
    """The API server's environment with no database configured; ``extra`` adds some."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "include"), str(ROOT / "plugins"), str(ROOT)]),
        "PYTHONUNBUFFERED": "1",
        "AIRFLOW_HOME": str(root / "airflow-home"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{root / 'airflow.db'}",
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "TENANT_RAG_RUN_DIR": str(root / "run"),
        "TENANT_RAG_API_CUSTOMERS_DIR": str(api_env.customers_dir),
        "TENANT_RAG_API_ADMIN_KEY_FILE": str(api_env.settings.admin_key_file or admin_key_file()),
        "TENANT_RAG_API_AIRFLOW_BASE_URL": api_env.airflow.base_url,
        "TENANT_RAG_API_AIRFLOW_USERNAME": api_env.airflow.username,
        "TENANT_RAG_API_AIRFLOW_PASSWORD": api_env.airflow.password,
        **extra,
    }
    for name in ("AIRFLOW_CONN_TENANT_RAG_DB", "TENANT_RAG_DATABASE_URL", "TENANT_RAG_API_DATABASE_URL"):
        if name not in extra:
            env.pop(name, None)
    return env


@contextmanager
def plugin_server(env: dict[str, str], root: Path) -> Iterator[PluginServer]:
    sock = free_socket()
    port = sock.getsockname()[1]
    sock.close()
    log = root / "server.log"
    url = f"http://127.0.0.1:{port}"
    with log.open("w", encoding="utf-8") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.integration.api.plugin_server", str(port)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )
        deadline = time.monotonic() + 180
        try:
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"plugin server exited: {log.read_text()[-3000:]}")
                try:
                    if httpx.get(f"{url}/tenant-rag/healthz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError("plugin server did not answer within 180 s")
                time.sleep(0.5)
            yield PluginServer(url, log, Path(env["TENANT_RAG_RUN_DIR"]))
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture(scope="module")
def plugin(api_env: ApiEnv, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PluginServer]:
    root = tmp_path_factory.mktemp("plugin")
    with plugin_server(plugin_env(api_env, root, TENANT_RAG_DATABASE_URL=api_env.database_url), root) as server:
        yield server


def test_api_is_mounted_under_tenant_rag(api_env: ApiEnv, plugin: PluginServer) -> None:
    plugin_url = plugin.url
    headers = {"X-API-Key": api_env.key("acme")}
    query = httpx.post(
        f"{plugin_url}/tenant-rag/v1/customers/acme/query",
        json={"question": "kafka retention"},
        headers=headers,
        timeout=30,
    )
    assert query.status_code == 200, query.text
    assert query.json()["documents"][0]["title"] == "Kafka retention"
    leak = httpx.get(f"{plugin_url}/tenant-rag/v1/customers/globex/status", headers=headers, timeout=30)
    assert leak.status_code == 404 and leak.json()["error"] == "not_found"
    assert httpx.get(f"{plugin_url}/tenant-rag/v1/customers/acme/status", timeout=30).status_code == 401
    trigger = httpx.post(f"{plugin_url}/tenant-rag/v1/customers/acme/index", json={}, headers=headers, timeout=30)
    assert trigger.status_code == 202 and trigger.json()["dag_id"] == "tenant_rag__acme"
    assert httpx.get(f"{plugin_url}/tenant-rag/readyz", timeout=30).json()["status"] == "ok"
    spec = httpx.get(f"{plugin_url}/tenant-rag/openapi.json", timeout=30).json()
    assert "/v1/customers/{customer_id}/query" in spec["paths"]


def test_status_page_sign_in_cookie_is_scoped_to_the_mount(api_env: ApiEnv, plugin: PluginServer) -> None:
    page = f"{plugin.url}/tenant-rag/v1/customers/acme/status/page"
    with httpx.Client(timeout=30, headers=HTML) as browser:
        form = browser.get(page)
        assert form.status_code == 401 and 'action="login"' in form.text and 'type="password"' in form.text
        signed_in = browser.post(
            f"{plugin.url}/tenant-rag/v1/customers/acme/status/login",
            data={"key": api_env.key("acme")},
            headers={"Origin": plugin.url, "Sec-Fetch-Site": "same-origin"},
        )
        assert signed_in.status_code == 303 and signed_in.headers["location"] == "page"
        cookie = signed_in.headers["set-cookie"]
        assert "Path=/tenant-rag/v1/" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
        final = browser.get(page)
    assert final.status_code == 200 and 'data-field="status"' in final.text
    assert api_env.key("acme") not in final.text


def test_keys_in_urls_are_refused_and_masked_in_the_server_log(api_env: ApiEnv, plugin: PluginServer) -> None:
    key = api_env.key("acme")
    base = f"{plugin.url}/tenant-rag/v1/customers/acme"
    refused = httpx.get(f"{base}/status/page?key={key}", timeout=30)
    assert refused.status_code == 400 and refused.json()["error"] == "key_in_url"
    assert "X-API-Key" in refused.json()["message"]
    # a JSON route ignores the parameter (and still needs the header), but the access logs saw the URL
    assert httpx.get(f"{base}/status?api_key={key}&Token={key}", timeout=30).status_code == 401
    deadline = time.monotonic() + 60

    def both_logged() -> bool:  # each access log writes its line after the answer, in its own time
        out = plugin.output()
        return "Token=***" in out and "Token=%2A%2A%2A" in out

    while not both_logged() and time.monotonic() < deadline:
        time.sleep(0.2)
    output = plugin.output()
    assert key not in output
    assert "/tenant-rag/v1/customers/acme/status/page?key=***" in output  # uvicorn's access log, masked
    assert "request finished" in output and "Token=%2A%2A%2A" in output  # Airflow's http.access, masked


def test_connection_from_a_secrets_backend_is_used(api_env: ApiEnv, tmp_path: Path) -> None:
    """The legitimate path without environment shortcuts: Airflow's Connection lookup finds ``tenant_rag_db``."""
    connections = tmp_path / "connections.json"
    connections.write_text(json.dumps({"tenant_rag_db": json.loads(airflow_conn_json(api_env.database_url))}))
    env = plugin_env(
        api_env,
        tmp_path,
        AIRFLOW__SECRETS__BACKEND="airflow.secrets.local_filesystem.LocalFilesystemBackend",
        AIRFLOW__SECRETS__BACKEND_KWARGS=json.dumps({"connections_file_path": str(connections)}),
    )
    with plugin_server(env, tmp_path) as server:
        status = httpx.get(
            f"{server.url}/tenant-rag/v1/customers/acme/status", headers={"X-API-Key": api_env.key("acme")}, timeout=30
        )
    assert status.status_code == 200, status.text
    assert status.json()["index"]["pages"] == 4 and status.json()["index"]["bytes"] > 0


def test_no_connection_is_a_clear_503_and_no_embedded_database(api_env: ApiEnv, tmp_path: Path) -> None:
    with plugin_server(plugin_env(api_env, tmp_path), tmp_path) as server:
        headers = {"X-API-Key": api_env.key("acme")}
        base = f"{server.url}/tenant-rag"
        status = httpx.get(f"{base}/v1/customers/acme/status", headers=headers, timeout=30)
        query = httpx.post(f"{base}/v1/customers/acme/query", json={"question": "kafka"}, headers=headers, timeout=30)
        ready = httpx.get(f"{base}/readyz", timeout=30)
        healthy = httpx.get(f"{base}/healthz", timeout=30)
        output = server.output()
    for response in (status, query):
        assert response.status_code == 503, response.text
        body = response.json()
        assert body["error"] == "database_not_configured"
        assert "'tenant_rag_db'" in body["message"] and "airflow connections add tenant_rag_db" in body["message"]
    assert ready.status_code == 503 and "'tenant_rag_db'" in ready.json()["detail"]
    assert healthy.status_code == 200  # the process is alive; only the data routes refuse
    assert output.count("the Airflow Connection 'tenant_rag_db'") == 1  # logged once, not per request
    assert not (server.run_dir / "pgdata").exists()
    assert embedded_pg.running_url(server.run_dir / "pgdata") is None
