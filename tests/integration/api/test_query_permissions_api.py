"""POST /v1/customers/{id}/query under ``rag.permissions: enforce``: the body's ``user`` decides which pages answer;
a query without one is refused (403), a malformed one is a 422."""

from __future__ import annotations

import pytest
import yaml

from tenant_rag.documents import render_page
from tests.integration.api.api_support import build_index, client
from tests.integration.api.conftest import ApiEnv

X_ONLY = {"users": [], "groups": ["x"], "restricted": True}
STAFF = {"users": [], "groups": ["staff"], "restricted": False}


@pytest.fixture(scope="module")
def enforced(api_env: ApiEnv) -> ApiEnv:
    """initech's index with a page only group x may read, and its config switched to enforce."""
    folder = api_env.customers_dir / "initech"
    pages = {
        "d1": ("TPS reports", "Every TPS report needs a cover sheet.", STAFF),
        "d2": ("TPS cover sheets", "The cover sheet of a TPS report has a barcode.", STAFF),
        "d3": ("TPS salaries", "The TPS report salary review is confidential.", X_ONLY),
    }
    for page_id, (title, body, readers) in pages.items():
        front = {"page_id": page_id, "title": title, "space_key": "DOCS", "readers": readers}
        (folder / "exports" / "DOCS" / f"{page_id}.md").write_text(render_page(front, body), encoding="utf-8")
    config_path = folder / "config.yaml"
    config = yaml.safe_load(config_path.read_text())
    config.setdefault("rag", {})["permissions"] = "enforce"
    config_path.write_text(yaml.safe_dump(config))
    build_index(api_env.customers_dir, "initech", api_env.database_url)
    return api_env


@pytest.mark.parametrize("mode", ["vector", "lexical", "hybrid"])
def test_a_user_in_group_x_sees_the_x_only_page_over_http_and_others_do_not(enforced: ApiEnv, mode: str) -> None:
    question = {"question": "TPS report salary review", "top_k": 3, "mode": mode}
    with client(enforced.base_url, enforced.key("initech")) as http:
        alice = http.post(
            "/v1/customers/initech/query", json={**question, "user": {"account_id": "a", "groups": ["x"]}}
        )
        bob = http.post(
            "/v1/customers/initech/query", json={**question, "user": {"account_id": "b", "groups": ["staff"]}}
        )
    assert alice.status_code == bob.status_code == 200, (alice.text, bob.text)
    assert [doc["page_id"] for doc in alice.json()["documents"]] == ["d3"]
    assert {doc["page_id"] for doc in bob.json()["documents"]} == {"d1", "d2"}


def test_a_query_without_a_user_is_refused_under_enforcement(enforced: ApiEnv) -> None:
    with client(enforced.base_url, enforced.key("initech")) as http:
        response = http.post("/v1/customers/initech/query", json={"question": "TPS report"})
    assert response.status_code == 403
    assert response.json()["error"] == "identity_required" and "'initech'" in response.json()["message"]


@pytest.mark.parametrize(
    "user",
    [
        {"account_id": ""},
        {"account_id": "a" * 129},
        {"account_id": "a", "groups": [""]},
        {"account_id": "a", "groups": ["g"] * 1001},
        {"account_id": "a", "groups": "x"},
        {"account_id": "a", "admin": True},
    ],
)
def test_malformed_users_are_422(enforced: ApiEnv, user: object) -> None:
    with client(enforced.base_url, enforced.key("initech")) as http:
        response = http.post("/v1/customers/initech/query", json={"question": "TPS report", "user": user})
    assert response.status_code == 422, response.text


def test_a_customer_in_off_mode_ignores_the_user(enforced: ApiEnv) -> None:
    with client(enforced.base_url, enforced.key("acme")) as http:
        plain = http.post("/v1/customers/acme/query", json={"question": "kafka retention"})
        named = http.post("/v1/customers/acme/query", json={"question": "kafka retention", "user": {"account_id": "z"}})
    assert plain.status_code == named.status_code == 200
    assert [d["page_id"] for d in plain.json()["documents"]] == [d["page_id"] for d in named.json()["documents"]]


def test_status_shows_restricted_pages_and_when_permissions_were_synced(enforced: ApiEnv) -> None:
    with client(enforced.base_url, enforced.key("initech")) as http:
        status = http.get("/v1/customers/initech/status").json()
    permissions = status["permissions"]
    assert permissions["mode"] == "enforce"
    assert permissions["pages_restricted"] == 1 and permissions["pages_permissions_unknown"] == 0
    assert permissions["synced_at"] is not None
