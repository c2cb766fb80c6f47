"""The auth matrix, the no-existence-leak rule, and the key lifecycle (CLI create / rotate / revoke, admin key)."""

from __future__ import annotations

import json
import stat

import httpx
import pytest
from pydantic import ValidationError

from tenant_rag.api.keys import KEYS_FILE, hash_key
from tenant_rag.api.settings import ApiSettings
from tenant_rag.cli import main as cli_main
from tenant_rag.paths import admin_key_file
from tenant_rag.settings import api_settings
from tests.integration.api.api_support import client, running_api
from tests.integration.api.conftest import ApiEnv

RUN_ID = "manual__2026-01-01T00:00:00+00:00"


def customer_requests(customer_id: str) -> list[tuple[str, str, dict | None]]:
    base = f"/v1/customers/{customer_id}"
    return [
        ("POST", f"{base}/query", {"question": "kafka"}),
        ("GET", f"{base}/status", None),
        ("GET", f"{base}/status/page", None),
        ("POST", f"{base}/index", {"dry_run": True}),
        ("GET", f"{base}/index/{RUN_ID}", None),
        ("DELETE", f"{base}/index?confirm={customer_id}", None),
    ]


ADMIN_REQUESTS = [
    ("GET", "/v1/customers", None),
    ("POST", "/v1/index", {"customer_ids": ["acme"], "dry_run": True}),
    ("GET", "/metrics", None),
    ("GET", "/v1/admin/status/page", None),
]


def send(http: httpx.Client, method: str, path: str, body: dict | None) -> httpx.Response:
    return http.request(method, path, json=body) if body is not None else http.request(method, path)


def comparable(response: httpx.Response) -> tuple[int, bytes, list[tuple[str, str]]]:
    headers = sorted((k, v) for k, v in response.headers.items() if k.lower() != "date")
    return response.status_code, response.content, headers


def test_no_key_is_401_everywhere(api_env: ApiEnv) -> None:
    with client(api_env.base_url) as http:
        for method, path, body in customer_requests("acme") + ADMIN_REQUESTS:
            response = send(http, method, path, body)
            assert response.status_code == 401, (method, path, response.text)
            assert response.json()["error"] == "unauthenticated"
            assert response.headers["www-authenticate"].startswith("Bearer")


def test_other_customers_id_answers_exactly_like_an_unknown_id(api_env: ApiEnv) -> None:
    """acme's key: globex (exists) and nosuchcustomer (does not) get byte-identical answers on every route."""
    for key in (api_env.key("acme"), "trk_0000abcd_not-a-real-key", "garbage"):
        with client(api_env.base_url, key) as http:
            for (m, existing, b), (_, unknown, _) in zip(
                customer_requests("globex"), customer_requests("nosuchcustomer"), strict=True
            ):
                seen_existing = send(http, m, existing.replace("confirm=globex", "confirm=x"), b)
                seen_unknown = send(http, m, unknown.replace("confirm=nosuchcustomer", "confirm=x"), b)
                assert seen_existing.status_code == 404, (m, existing, seen_existing.text)
                assert comparable(seen_existing) == comparable(seen_unknown), (m, existing)
                assert seen_existing.json() == {"error": "not_found", "message": "customer not found"}


def test_invalid_customer_ids_are_rejected_the_same_way_for_everyone(api_env: ApiEnv) -> None:
    answers = set()
    for key in (api_env.key("acme"), api_env.keys.admin, "garbage"):
        with client(api_env.base_url, key) as http:
            for bad_id in ("-leading-dash", "a" * 65, "semi;colon", "d%C3%A9j%C3%A0"):
                response = http.get(f"/v1/customers/{bad_id}/status")
                assert response.status_code == 422, (bad_id, response.text)
                answers.add(response.json()["error"])
            assert http.get("/v1/customers/public/status").status_code in (404,)  # reserved id: never a customer
    assert answers == {"invalid_request"}


def test_own_key_and_admin_key_reach_the_customer_routes(api_env: ApiEnv) -> None:
    for key, bearer in ((api_env.key("acme"), False), (api_env.key("acme"), True), (api_env.keys.admin, False)):
        with client(api_env.base_url, key, bearer=bearer) as http:
            assert http.post("/v1/customers/acme/query", json={"question": "kafka"}).status_code == 200
            assert http.get("/v1/customers/acme/status").status_code == 200
            assert http.get("/v1/customers/acme/status/page").status_code == 200


def test_admin_routes_refuse_customer_keys(api_env: ApiEnv) -> None:
    with client(api_env.base_url, api_env.key("acme")) as http:
        for method, path, body in ADMIN_REQUESTS:
            response = send(http, method, path, body)
            assert response.status_code == 403, (method, path, response.text)
            assert response.json()["error"] == "forbidden"
        delete = http.delete("/v1/customers/acme/index?confirm=acme")
    assert delete.status_code == 403
    with client(api_env.base_url, api_env.keys.admin) as http:
        assert http.get("/v1/customers").status_code == 200
        assert http.get("/metrics").status_code == 200
        assert http.get("/v1/admin/status/page").status_code == 200


def test_keys_are_stored_hashed_and_private(api_env: ApiEnv) -> None:
    for customer_id in ("acme", "globex"):
        path = api_env.customers_dir / customer_id / KEYS_FILE
        text = path.read_text()
        assert api_env.key(customer_id) not in text
        assert hash_key(api_env.key(customer_id)) in text
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    admin_file = api_env.settings.admin_key_file or admin_key_file()
    assert api_env.keys.admin not in admin_file.read_text()
    assert json.loads(admin_file.read_text())["hash"] == hash_key(api_env.keys.admin)


def test_cli_create_rotate_revoke(api_env: ApiEnv, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["--customers-dir", str(api_env.customers_dir)]
    assert cli_main([*base, "create-key", "globex", "--label", "ci"]) == 0
    first = capsys.readouterr().out.strip()
    assert first.startswith("trk_")
    with client(api_env.base_url, first) as http:
        assert http.get("/v1/customers/globex/status").status_code == 200

    assert cli_main([*base, "rotate-key", "globex"]) == 0
    second = capsys.readouterr().out.strip()
    with client(api_env.base_url, first) as old, client(api_env.base_url, second) as new:
        assert old.get("/v1/customers/globex/status").status_code == 404
        assert new.get("/v1/customers/globex/status").status_code == 200
    # rotation revoked every older key of globex, including the fixture's: restore one for the other tests
    api_env.keys.customers["globex"] = second

    assert cli_main([*base, "create-key", "globex"]) == 0
    third = capsys.readouterr().out.strip()
    key_id = third.split("_")[1]
    assert cli_main([*base, "list-keys", "globex"]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert {k["key_id"] for k in listing} >= {key_id, second.split("_")[1]}
    assert all("hash" not in k for k in listing)
    assert cli_main([*base, "revoke-key", "globex", key_id]) == 0
    with client(api_env.base_url, third) as revoked, client(api_env.base_url, second) as kept:
        assert revoked.get("/v1/customers/globex/status").status_code == 404
        assert kept.get("/v1/customers/globex/status").status_code == 200

    assert cli_main([*base, "create-key", "nosuchcustomer"]) == 1
    assert "nosuchcustomer" in capsys.readouterr().err


def test_admin_key_from_environment_hash_and_plaintext_refused(
    api_env: ApiEnv, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli_main(["set-admin-key", "--print-hash"]) == 0
    captured = capsys.readouterr()
    key = captured.out.strip()
    key_hash = captured.err.split("'")[1]
    assert key_hash == hash_key(key)

    with pytest.raises(ValidationError, match="never put the plaintext key"):
        ApiSettings(admin_key_hash=key)

    monkeypatch.setenv("TENANT_RAG_ADMIN_KEY_HASH", key_hash)
    settings = api_settings(customers_dir=api_env.customers_dir, database_url=api_env.database_url)
    assert settings.admin_key_hash == key_hash
    with running_api(settings) as base_url:
        with client(base_url, key) as http:
            assert http.get("/v1/customers").status_code == 200
        with client(base_url, api_env.keys.admin) as http:  # the file's key does not apply when the env is set
            assert http.get("/v1/customers").status_code == 403
