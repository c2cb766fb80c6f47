"""The status pages in a real headless Chromium: numbers match the JSON API, plots have their points, screenshot.

The browser opens ``.../status/page`` like a person would: it gets the sign-in form, the key is typed into its
password field and submitted (a POST body, never the URL), the server answers 303 with an HttpOnly cookie and
Chromium follows it, so this also covers the sign-in flow. Driven over the DevTools protocol (``cdp.py``); needs
Debian's ``chromium`` package.
"""

from __future__ import annotations

import os
import shutil
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from lxml import html

from tenant_rag.customers import CustomerManager
from tenant_rag.manager import CustomerRAGManager
from tests.integration.api.api_support import client, write_export
from tests.integration.api.cdp import CHROMIUM, Chromium
from tests.integration.api.conftest import ApiEnv

pytestmark = pytest.mark.browser


@contextmanager
def signed_in(base_url: str, page: str, key: str, profile: Path) -> Iterator[Chromium]:
    """A browser showing ``page`` after signing in with ``key`` through the page's own form."""
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    with Chromium(profile) as browser:
        browser.open(f"{base_url}{page}")
        assert browser.evaluate("document.querySelector('form#login input[type=password]') !== null")
        browser.sign_in(key)
        yield browser


def fields(dom: str) -> dict[str, str]:
    tree = html.fromstring(dom)
    return {node.get("data-field"): node.get("data-value") for node in tree.xpath("//*[@data-field][@data-value]")}


@pytest.fixture(scope="module")
def busy_acme(api_env: ApiEnv) -> ApiEnv:
    """acme after a second (incremental) run and a few queries: two points of pages, several of latency."""
    folder = api_env.customers_dir / "acme"
    write_export(folder, "ENG", {"k5": ("Kafka connect", "Connectors move data between Kafka and other systems.")})
    config = CustomerManager(api_env.customers_dir).load("acme")
    CustomerRAGManager(config, customer_dir=folder, database_url=api_env.database_url).update_index(folder / "exports")
    with client(api_env.base_url, api_env.key("acme")) as http:
        for question in ("kafka retention", "consumer offsets", "schema compatibility", "connectors", "brokers"):
            assert http.post("/v1/customers/acme/query", json={"question": question}).status_code == 200
    return api_env


def test_customer_page_matches_the_api_and_has_plots(busy_acme: ApiEnv, tmp_path: Path) -> None:
    env = busy_acme
    page = "/v1/customers/acme/status/page"
    with signed_in(env.base_url, page, env.key("acme"), tmp_path / "profile") as browser:
        assert browser.url() == f"{env.base_url}{page}"  # the 303 led back to the page, no key in the address
        dom = browser.dom()
    with client(env.base_url, env.key("acme")) as http:
        status = http.get("/v1/customers/acme/status").json()
    shown = fields(dom)
    assert shown["status"] == status["status"] == "ready"
    assert shown["is_ready_for_queries"] == "true"
    assert int(shown["total_indexed_documents"]) == status["total_indexed_documents"] == 5
    assert int(shown["total_indexed_chunks"]) == status["total_indexed_chunks"]
    assert int(shown["index_pages"]) == status["index"]["pages"] == 5
    assert int(shown["index_chunks"]) == status["index"]["chunks"]
    assert int(shown["index_bytes"]) == status["index"]["bytes"] > 0
    assert shown["embedding_model"] == status["embedding_model"]
    tree = html.fromstring(dom)
    latency_points = int(tree.xpath('//*[@id="latency-chart"]/@data-points')[0])
    assert latency_points >= 5 and latency_points == int(shown["latency_points"])
    assert len(tree.xpath('//*[@id="latency-chart"]//*[local-name()="circle"]')) == latency_points
    assert int(tree.xpath('//*[@id="pages-chart"]/@data-points')[0]) == len(status["run_history"]) == 2
    run_rows = tree.xpath('//table[@id="runs"]/tbody/tr/@data-run-id')
    assert run_rows == [run["run_id"] for run in reversed(status["run_history"])]
    assert env.key("acme") not in dom


def test_customer_page_screenshot(busy_acme: ApiEnv, tmp_path: Path) -> None:
    shot = tmp_path / "acme-status.png"
    page = "/v1/customers/acme/status/page"
    with signed_in(busy_acme.base_url, page, busy_acme.key("acme"), tmp_path / "profile") as browser:
        browser.screenshot(shot, width=1280, height=1000)
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (1280, 1000)
    keep = os.environ.get("TENANT_RAG_SCREENSHOT_DIR")
    if keep:  # a copy for people to look at
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(keep) / shot.name)


def test_admin_overview_page(busy_acme: ApiEnv, tmp_path: Path) -> None:
    env = busy_acme
    with signed_in(env.base_url, "/v1/admin/status/page", env.keys.admin, tmp_path / "p") as browser:
        dom = browser.dom()
    with client(env.base_url, env.keys.admin) as http:
        listing = {c["customer_id"]: c for c in http.get("/v1/customers").json()["customers"]}
    tree = html.fromstring(dom)
    rows = tree.xpath('//table[@id="customers"]/tbody/tr')
    assert [row.get("data-customer") for row in rows] == sorted(listing)
    for row in rows:
        customer = listing[row.get("data-customer")]
        cells = {n.get("data-field"): n.get("data-value") for n in row.xpath(".//*[@data-field]")}
        assert cells["status"] == customer["status"]
        assert int(cells["total_indexed_documents"]) == customer["total_indexed_documents"]
        assert int(cells["total_indexed_chunks"]) == customer["total_indexed_chunks"]
    assert int(fields(dom)["customers"]) == len(listing)
    assert int(tree.xpath('//*[@id="pages-per-customer"]/@data-points')[0]) == len(listing)


def test_page_with_another_customers_key_shows_the_form_again(busy_acme: ApiEnv, tmp_path: Path) -> None:
    env = busy_acme
    page = "/v1/customers/acme/status/page"
    with signed_in(env.base_url, page, env.key("globex"), tmp_path / "p") as browser:
        dom = browser.dom()
        browser.open(f"{env.base_url}{page}")  # no cookie was set: still the form
        again = browser.dom()
    assert 'data-field="login_error"' in dom and 'type="password"' in dom
    assert 'data-field="status"' not in dom and env.key("globex") not in dom
    assert 'id="login"' in again and 'data-field="status"' not in again


def test_a_key_in_the_address_is_refused(busy_acme: ApiEnv, tmp_path: Path) -> None:
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    env = busy_acme
    page = f"{env.base_url}/v1/customers/acme/status/page"
    with Chromium(tmp_path / "p") as browser:
        browser.open(f"{page}?key={env.key('acme')}")
        refused = browser.dom()
        browser.open(page)  # the refused request set no cookie
        after = browser.dom()
    assert "not accepted in URLs" in refused and 'id="login"' in refused and 'data-field="status"' not in refused
    assert 'id="login"' in after and 'data-field="status"' not in after
