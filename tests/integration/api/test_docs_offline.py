"""``/docs`` works offline: Swagger UI's files are served by the API itself, standalone and under ``/tenant-rag``.

Real HTTP: the docs page, every asset it references and the OpenAPI document it loads answer 200, and no
external host appears in the page. Standalone on uvicorn, and mounted in Airflow's api-server by Airflow's own
plugin loader (the subprocess of test_airflow_plugin.py).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import httpx
import pytest

from tests.integration.api.cdp import CHROMIUM, Chromium
from tests.integration.api.conftest import ApiEnv
from tests.integration.api.test_airflow_plugin import PluginServer, plugin_env, plugin_server

pytestmark = pytest.mark.slow


def _referenced(html: str) -> list[str]:
    """Every URL the page loads: src/href attributes and the OpenAPI/OAuth2 URLs in its inline script."""
    urls = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html)
    urls += re.findall(r"""url:\s*['"]([^'"]+)['"]""", html)
    urls += re.findall(r"""oauth2RedirectUrl:\s*window\.location\.origin\s*\+\s*['"]([^'"]+)['"]""", html)
    return urls


def _check_docs(base: str, prefix: str) -> list[str]:
    page = httpx.get(f"{base}{prefix}/docs", timeout=30)
    assert page.status_code == 200, page.text
    html = page.text
    assert not re.search(r"(?:https?:)?//[a-z0-9.-]+", html.replace("window.location.origin", "")), html
    urls = _referenced(html)
    assert {u.rsplit("/", 1)[-1] for u in urls} >= {
        "swagger-ui-bundle.js",
        "swagger-ui.css",
        "favicon-32x32.png",
        "openapi.json",
        "oauth2-redirect",
    }, urls
    for url in urls:
        assert url.startswith(f"{prefix}/"), url
        response = httpx.get(base + url, timeout=30)
        assert response.status_code == 200, (url, response.status_code)
        assert response.content, url
    spec = httpx.get(f"{base}{prefix}/openapi.json", timeout=30).json()
    assert spec["openapi"].startswith("3.1") and "/docs" not in spec["paths"]
    return urls


def test_docs_standalone_need_no_network(api_env: ApiEnv) -> None:
    urls = _check_docs(api_env.base_url, "")
    js = httpx.get(api_env.base_url + next(u for u in urls if u.endswith("swagger-ui-bundle.js")), timeout=30)
    assert "javascript" in js.headers["content-type"] and b"SwaggerUIBundle" in js.content
    assert httpx.get(f"{api_env.base_url}/redoc", timeout=30).status_code == 404  # ReDoc would need a CDN


@pytest.mark.browser
def test_docs_render_in_a_browser_from_local_files_only(api_env: ApiEnv, tmp_path: Path) -> None:
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    with Chromium(tmp_path / "profile") as browser:
        browser.call("Network.enable")
        browser.open(f"{api_env.base_url}/docs")
        operations = "document.querySelectorAll('.swagger-ui .opblock').length"
        deadline = time.monotonic() + 60  # liveness bound: Swagger UI fetches openapi.json, then renders
        while not browser.evaluate(operations) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert browser.evaluate(operations) > 0, browser.dom()[:3000]
        assert "tenant-rag API" in browser.evaluate("document.querySelector('.swagger-ui .info .title').textContent")
        browser.call("Runtime.evaluate", {"expression": "1"})  # collect the network events received so far
        requested = [
            e["params"]["request"]["url"] for e in browser.events if e["method"] == "Network.requestWillBeSent"
        ]
    assert any(url.endswith("/openapi.json") for url in requested), requested
    assert {urlparse(url).netloc for url in requested} == {urlparse(api_env.base_url).netloc}, requested


@pytest.fixture(scope="module")
def plugin(api_env: ApiEnv, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PluginServer]:
    import swagger_ui_bundle

    root = tmp_path_factory.mktemp("plugin-docs")
    env = plugin_env(api_env, root, TENANT_RAG_DATABASE_URL=api_env.database_url)
    # wherever this interpreter found the bundle (the venv, or a private folder on PYTHONPATH) the server finds it
    env["PYTHONPATH"] += os.pathsep + str(Path(swagger_ui_bundle.__file__).parents[1])
    with plugin_server(env, root) as server:
        yield server


def test_docs_under_the_airflow_mount_need_no_network(plugin: PluginServer) -> None:
    _check_docs(plugin.url, "/tenant-rag")
    spec = httpx.get(f"{plugin.url}/tenant-rag/openapi.json", timeout=30).json()
    assert spec.get("servers") == [{"url": "/tenant-rag"}]  # "Try it out" calls the mounted API
