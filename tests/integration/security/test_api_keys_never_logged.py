"""API keys never reach a log or a URL: the attack is a user (or a chat link) putting ``?key=<key>`` in a status
page's address, and a hostile site posting a key to the sign-in route.

The API runs as ``serve-api`` runs it (``tenant_rag.api.app.api_server``: uvicorn with its access log on and the
masking filter installed) over real HTTP on a real PostgreSQL index; every log record of the process and uvicorn's
own access-log output are captured and searched for the key.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tenant_rag.api.app import api_server
from tenant_rag.api.page_login import PAGE_COOKIE
from tenant_rag.api.settings import ApiSettings
from tests.integration.api.api_support import GARDEN, KAFKA, Keys, build_index, make_customer, make_keys, serve_server

HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
CAPTURED_LOGGERS = ("", "uvicorn", "uvicorn.access", "uvicorn.error", "tenant_rag")


@dataclass
class Env:
    customers_dir: Path
    database_url: str
    keys: Keys
    admin_file: Path


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.name} {record.getMessage()} {record.exc_text or ''}")


@dataclass
class Served:
    url: str
    records: Records
    capfd: pytest.CaptureFixture[str]
    captured: str = ""

    def log_text(self, *expected: str) -> str:
        """Everything logged so far; waits (bounded) until each of ``expected`` is in it: uvicorn writes an access
        log line after the answer has gone out, so the client can be faster than the log."""
        deadline = time.monotonic() + 30
        while True:
            out, err = self.capfd.readouterr()
            self.captured += out + err
            text = "\n".join([*self.records.lines, self.captured])
            if all(line in text for line in expected) or time.monotonic() > deadline:
                return text
            time.sleep(0.1)


@pytest.fixture(scope="module")
def env(module_pg_url: str, tmp_path_factory: pytest.TempPathFactory) -> Env:
    root = tmp_path_factory.mktemp("keys-never-logged")
    customers_dir = root / "customers"
    make_customer(customers_dir, "acme", {"ENG": KAFKA})
    make_customer(customers_dir, "globex", {"GARDEN": GARDEN})
    build_index(customers_dir, "acme", module_pg_url)
    keys = make_keys(customers_dir, root / "admin_key.json", ["acme", "globex"])
    return Env(customers_dir, module_pg_url, keys, root / "admin_key.json")


@pytest.fixture
def served(env: Env, capfd: pytest.CaptureFixture[str]) -> Iterator[Served]:
    settings = ApiSettings(
        customers_dir=env.customers_dir, database_url=env.database_url, admin_key_file=env.admin_file
    )
    server = api_server(settings, host="127.0.0.1", port=0)  # the serve-api path: access log on, masking installed
    records = Records()
    loggers = [logging.getLogger(name) for name in CAPTURED_LOGGERS]
    for logger in loggers:
        logger.addHandler(records)
    try:
        with serve_server(server) as url:
            yield Served(url, records, capfd)
    finally:
        for logger in loggers:
            logger.removeHandler(records)


def assert_never_logged(served: Served, *secrets: str, after: tuple[str, ...] = ()) -> str:
    text = served.log_text(*after)
    for secret in secrets:
        assert secret not in text
    return text


def test_a_key_in_the_url_never_authenticates_and_never_reaches_a_log(env: Env, served: Served) -> None:
    acme, admin = env.keys.customers["acme"], env.keys.admin
    with httpx.Client(base_url=served.url, timeout=30) as http:
        page = http.get(f"/v1/customers/acme/status/page?key={acme}")
        assert page.status_code == 400 and page.json()["error"] == "key_in_url"
        assert "X-API-Key" in page.json()["message"] and "form" in page.json()["message"]
        # even together with a valid header the URL's key is refused, under any of the secret names
        both = http.get(f"/v1/customers/acme/status/page?KEY={acme}", headers={"X-API-Key": acme})
        assert both.status_code == 400
        overview = http.get(f"/v1/admin/status/page?api_key={admin}", headers=HTML)
        assert overview.status_code == 400 and 'type="password"' in overview.text and "X-API-Key" in overview.text
        login = http.post(f"/v1/customers/acme/status/login?token={acme}", data={"key": acme})
        assert login.status_code == 400
        # a JSON route ignores the parameter (it needs the header) but its URL was logged all the same
        assert http.get(f"/v1/customers/acme/status?access_token={acme}&password={admin}").status_code == 401
        for response in (page, both, overview, login):
            assert "set-cookie" not in response.headers and acme not in response.text and admin not in response.text
    logged = ("/v1/customers/acme/status/page?key=*** HTTP/1.1", "access_token=***&password=***")
    text = assert_never_logged(served, acme, admin, after=logged)
    assert all(line in text for line in logged)  # the access log did log these requests, masked


def test_form_sign_in_sets_a_lax_httponly_cookie_and_the_page_renders(env: Env, served: Served) -> None:
    acme = env.keys.customers["acme"]
    same_site = {"Origin": served.url, "Sec-Fetch-Site": "same-origin"}
    with httpx.Client(base_url=served.url, timeout=30, headers=HTML) as browser:
        form = browser.get("/v1/customers/acme/status/page")
        assert form.status_code == 401 and form.headers["content-type"].startswith("text/html")
        assert '<form method="post" action="login"' in form.text and 'type="password"' in form.text
        assert "form-action 'self'" in form.headers["content-security-policy"]
        signed_in = browser.post("/v1/customers/acme/status/login", data={"key": acme}, headers=same_site)
        assert signed_in.status_code == 303 and signed_in.headers["location"] == "page"
        cookie = signed_in.headers["set-cookie"]
        assert cookie.startswith(f"{PAGE_COOKIE}=") and "HttpOnly" in cookie and "SameSite=lax" in cookie
        assert "Path=/v1/" in cookie and "Max-Age=28800" in cookie
        page = browser.get("/v1/customers/acme/status/page")
        assert page.status_code == 200 and 'data-field="status" data-value="ready"' in page.text
        assert "form-action 'none'" in page.headers["content-security-policy"]
        # the JSON routes never read the cookie
        assert browser.get("/v1/customers/acme/status").status_code == 401
        assert acme not in form.text + signed_in.text + page.text
    assert_never_logged(served, acme)


def test_wrong_keys_get_the_form_again_and_learn_nothing(env: Env, served: Served) -> None:
    globex, admin = env.keys.customers["globex"], env.keys.admin
    same_site = {"Origin": served.url}
    with httpx.Client(base_url=served.url, timeout=30, headers=HTML) as browser:
        other = browser.post("/v1/customers/acme/status/login", data={"key": globex}, headers=same_site)
        unknown = browser.post("/v1/customers/nosuch/status/login", data={"key": globex}, headers=same_site)
        assert other.status_code == unknown.status_code == 404
        assert other.text.replace("acme", "X") == unknown.text.replace("nosuch", "X")  # same answer, no leak
        assert 'type="password"' in other.text and globex not in other.text and "set-cookie" not in other.headers
        not_admin = browser.post("/v1/admin/status/login", data={"key": globex}, headers=same_site)
        assert not_admin.status_code == 403 and "set-cookie" not in not_admin.headers
        admin_in = browser.post("/v1/admin/status/login", data={"key": admin}, headers=same_site)
        assert admin_in.status_code == 303 and "SameSite=lax" in admin_in.headers["set-cookie"]
        overview = browser.get("/v1/admin/status/page")
        assert overview.status_code == 200 and 'data-customer="acme"' in overview.text
    assert_never_logged(served, globex, admin)


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Referer": "https://evil.example/page"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site", "Origin": "https://wiki.evil.example"},
    ],
)
def test_cross_site_sign_in_is_refused(env: Env, served: Served, headers: dict[str, str]) -> None:
    acme = env.keys.customers["acme"]
    with httpx.Client(base_url=served.url, timeout=30) as http:
        refused = http.post("/v1/customers/acme/status/login", data={"key": acme}, headers=headers)
        admin = http.post("/v1/admin/status/login", data={"key": env.keys.admin}, headers=headers)
    for response in (refused, admin):
        assert response.status_code == 403 and response.json()["error"] == "cross_site_request"
        assert "set-cookie" not in response.headers
    assert_never_logged(served, acme, env.keys.admin)
