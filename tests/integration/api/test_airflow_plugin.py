"""The Airflow plugin: Airflow's plugin loader finds ``api_plugin.py`` and mounts the API under ``/tenant-rag``.

The server runs in a subprocess with Airflow's real ``init_plugins`` (the code the Airflow API server runs), the
database URL resolved from the environment the way the plugin does it, and real HTTP.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.api.api_support import free_socket
from tests.integration.api.conftest import ApiEnv

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def plugin_url(api_env: ApiEnv, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    sock = free_socket()
    port = sock.getsockname()[1]
    sock.close()
    home = tmp_path_factory.mktemp("airflow-home")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "include"), str(ROOT / "plugins"), str(ROOT)]),
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "TENANT_RAG_DATABASE_URL": api_env.database_url,
        "TENANT_RAG_API_CUSTOMERS_DIR": str(api_env.customers_dir),
        "TENANT_RAG_API_ADMIN_KEY_FILE": str(api_env.settings.resolved_admin_key_file()),
        "TENANT_RAG_API_AIRFLOW_BASE_URL": api_env.airflow.base_url,
        "TENANT_RAG_API_AIRFLOW_USERNAME": api_env.airflow.username,
        "TENANT_RAG_API_AIRFLOW_PASSWORD": api_env.airflow.password,
    }
    env.pop("AIRFLOW_CONN_TENANT_RAG_DB", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.integration.api.plugin_server", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    try:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"plugin server exited: {process.stdout.read() if process.stdout else ''}")
            try:
                if httpx.get(f"{url}/tenant-rag/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("plugin server did not answer within 180 s")
            time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_api_is_mounted_under_tenant_rag(api_env: ApiEnv, plugin_url: str) -> None:
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


def test_status_page_cookie_is_scoped_to_the_mount(api_env: ApiEnv, plugin_url: str) -> None:
    page = f"{plugin_url}/tenant-rag/v1/customers/acme/status/page"
    first = httpx.get(f"{page}?key={api_env.key('acme')}", timeout=30)
    assert first.status_code == 303
    assert first.headers["location"] == "page"
    cookie = first.headers["set-cookie"]
    assert "Path=/tenant-rag/v1/" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
    with httpx.Client(timeout=30, follow_redirects=True) as browser:
        final = browser.get(f"{page}?key={api_env.key('acme')}")
    assert final.status_code == 200 and 'data-field="status"' in final.text
    assert final.url.path == "/tenant-rag/v1/customers/acme/status/page" and not final.url.query
