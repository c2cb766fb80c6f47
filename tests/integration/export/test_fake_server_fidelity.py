"""The local server answers what real answers carry beyond ``body.storage``: ``body.view`` and
``atlas_doc_format`` when asked, ``history.lastUpdated`` (v1), ``subtype`` (v2 listings), users with the recorded
``User`` shape; and it counts its answers by kind, which the site tests read."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tenant_rag_devtools.confluence_server import FakeConfluence
from tenant_rag_devtools.confluence_server.sample_storage import code, panel
from tenant_rag_devtools.confluence_server.traffic import request_kind
from tests.integration.export.conftest import CLOUD_AUTH
from tests.integration.export.test_fake_server_api import _response_schema, _spec, _validator

STORAGE = "<h2>Restart</h2><p>Drain the <strong>node</strong> first.</p>" + panel("info", "<p>Call ops.</p>")
STORAGE += code("bash", "kubectl drain node-1")


@pytest.fixture
def fake() -> FakeConfluence:
    fake = FakeConfluence(auth=CLOUD_AUTH)
    fake.add_space("ENG", "Engineering")
    fake.add_user("u-9", "Katherine Johnson")
    home = fake.add_page("ENG", "Home", "<p>home</p>")
    fake.add_page("ENG", "Runbook", STORAGE, parent_id=home)
    return fake


def _runbook(fake: FakeConfluence) -> str:
    return next(page.page_id for page in fake.site.pages_sorted() if page.title == "Runbook")


@pytest.mark.shared
def test_v1_bodies_history_last_updated_and_users_match_the_recordings(shared_dir: Path, fake: FakeConfluence) -> None:
    spec = _spec(shared_dir, "openapi_v1/confluence-cloud-rest-v1.openapi.json")
    recorded = _spec(shared_dir, "v1_recorded_cloud/airbyte_page_98487_body_storage_view.json")
    page_id = _runbook(fake)
    fake.update_page(page_id, storage=STORAGE)
    expand = "body.storage,body.view,body.atlas_doc_format,history.lastUpdated,version"
    with fake.serve() as url, httpx.Client(auth=CLOUD_AUTH) as http:
        item = http.get(f"{url}/rest/api/content/{page_id}", params={"expand": expand}).json()
        plain = http.get(f"{url}/rest/api/content/{page_id}", params={"expand": "history"}).json()
        user = http.get(f"{url}/rest/api/user", params={"accountId": "u-9"}).json()
    validator = _validator(spec, _response_schema(spec, "/wiki/rest/api/content/{id}"))
    for answer in (item, plain):
        errors = sorted(validator.iter_errors(answer), key=str)
        assert not errors, errors[0]
    history = item["history"]
    assert set(history) >= set(recorded["history"]) - {"contributors"}
    assert set(history["lastUpdated"]) >= {"by", "when", "friendlyWhen", "message", "number", "minorEdit", "_links"}
    assert history["lastUpdated"]["number"] == item["version"]["number"] == 2
    assert history["lastUpdated"]["when"] == item["version"]["when"]
    assert "lastUpdated" not in plain["history"] and "lastUpdated" in plain["history"]["_expandable"]
    view, adf = item["body"]["view"], item["body"]["atlas_doc_format"]
    assert set(view) == set(recorded["body"]["view"]) and view["representation"] == "view"
    assert "ac:" not in view["value"] and "ri:" not in view["value"]
    assert "<strong>node</strong>" in view["value"] and "Call ops." in view["value"]
    assert "<pre>kubectl drain node-1</pre>" in view["value"]
    document = json.loads(adf["value"])
    assert document["type"] == "doc" and document["content"][0] == {
        "type": "heading",
        "attrs": {"level": 2},
        "content": [{"type": "text", "text": "Restart"}],
    }
    texts = [block["content"][0]["text"] for block in document["content"]]
    assert texts[1:] == ["Drain the node first.", "Call ops.", "kubectl drain node-1"]
    assert not ({"storage", "view", "atlas_doc_format"} & set(item["body"]["_expandable"]))
    # users: the recorded User shape (without the e-mail, which Cloud hides by default)
    recorded_user = recorded["history"]["createdBy"]
    assert set(user) == set(recorded_user) - {"email"} and user["displayName"] == "Katherine Johnson"
    assert set(user["profilePicture"]) == set(recorded_user["profilePicture"])
    user_schema = _validator(spec, _response_schema(spec, "/wiki/rest/api/user"))
    assert not list(user_schema.iter_errors(user))
    assert user["_links"]["self"].endswith("/rest/api/user?accountId=u-9")


def test_v2_body_formats_and_subtype(fake: FakeConfluence) -> None:
    page_id = _runbook(fake)
    fake.site.pages[page_id].subtype = "live"
    with fake.serve() as url, httpx.Client(auth=CLOUD_AUTH, base_url=url) as http:
        single = {
            fmt: http.get(f"/api/v2/pages/{page_id}", params={"body-format": fmt})
            for fmt in ("storage", "view", "atlas_doc_format")
        }
        space_id = http.get("/api/v2/spaces").json()["results"][0]["id"]
        listed = http.get(f"/api/v2/spaces/{space_id}/pages", params={"body-format": "atlas_doc_format"})
        view_listing = http.get(f"/api/v2/spaces/{space_id}/pages", params={"body-format": "view"})
    for fmt, response in single.items():
        assert response.status_code == 200
        assert list(response.json()["body"]) == [fmt] and response.json()["body"][fmt]["representation"] == fmt
    assert "subtype" not in single["storage"].json()  # PageSingle has no subtype in the spec
    assert "Drain the" in single["view"].json()["body"]["view"]["value"]
    assert json.loads(single["atlas_doc_format"].json()["body"]["atlas_doc_format"]["value"])["type"] == "doc"
    results = {item["id"]: item for item in listed.json()["results"]}
    assert results[page_id]["subtype"] == "live" and {item["subtype"] for item in results.values()} == {"live", None}
    assert all(list(item["body"]) == ["atlas_doc_format"] for item in results.values())
    assert view_listing.status_code == 400  # the listings' enum is storage and atlas_doc_format only


def test_answers_are_counted_by_kind_and_status(fake: FakeConfluence) -> None:
    page_id = _runbook(fake)
    fake.restrict_page(page_id)
    fake.attach(next(iter(fake.site.pages)), "a.txt", b"hello", "text/plain")
    with fake.serve() as url, httpx.Client(auth=CLOUD_AUTH, base_url=url) as http:
        space_id = http.get("/api/v2/spaces").json()["results"][0]["id"]
        http.get(f"/api/v2/spaces/{space_id}/pages")
        http.get(f"/api/v2/pages/{page_id}")
        home = next(iter(fake.site.pages))
        http.get(f"/api/v2/pages/{home}", params={"body-format": "storage"})
        http.get(f"/rest/api/content/{home}", params={"expand": "body.storage"})
        http.get(f"/download/attachments/{home}/a.txt")
        http.get("/rest/api/content/search", params={"cql": "type = page"})
        fake.set_faults(rate=1.0, kinds=["500"])
        http.get(f"/api/v2/pages/{home}")
    traffic = fake.traffic
    assert traffic.by_kind() == {
        "download": {"200": 1},
        "listing": {"200": 1},
        "page": {"200": 2, "403": 1, "500": 1},
        "search": {"200": 1},
        "space": {"200": 1},
    }
    assert traffic.count("page") == 4 and traffic.count("page", "200") == 2 and traffic.count() == 8
    traffic.clear()
    assert traffic.count() == 0
    kinds = {
        "/wiki/api/v2/pages/1/footer-comments": "children",
        "/wiki/rest/api/content/1/child/attachment": "children",
        "/wiki/api/v2/folders/5": "folder",
        "/wiki/rest/api/user/current": "user",
        "/wiki/rest/api/content": "listing",
        "/wiki/api/v2/pages": "listing",
        "/wiki/rest/api/space/ENG": "space",
        "/wiki/elsewhere": "other",
    }
    assert {path: request_kind(path, "/wiki") for path in kinds} == kinds
    assert request_kind("/rest/api/content/7", "") == "page"
