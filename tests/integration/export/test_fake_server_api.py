"""The local server answers like Confluence: shapes checked against the OpenAPI specs and recorded responses
in ../shared (read at test time, never copied into the project)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from tenant_rag_devtools.confluence_server import FakeConfluence
from tests.integration.export.conftest import CLOUD_AUTH


@pytest.fixture
def site() -> FakeConfluence:
    fake = FakeConfluence(auth=CLOUD_AUTH)
    fake.add_space("ENG", "Engineering")
    home = fake.add_page("ENG", "Home", "<p>home</p>", labels=["a", "b"])
    for number in range(5):
        fake.add_page("ENG", f"Child {number}", f"<p>{number}</p>", parent_id=home)
    return fake


def _nullable(node: Any) -> Any:
    """OpenAPI 3.0 ``nullable`` (or a description saying the value may be null) -> a JSON Schema type union."""
    if isinstance(node, dict):
        node = {k: _nullable(v) for k, v in node.items()}
        says_null = "or null" in str(node.get("description", ""))
        if (node.pop("nullable", False) or says_null) and isinstance(node.get("type"), str):
            node["type"] = [node["type"], "null"]
        elif node.get("nullable") is False:
            node.pop("nullable")
        return node
    return [_nullable(v) for v in node] if isinstance(node, list) else node


def _validator(spec: dict[str, Any], schema: dict[str, Any]) -> Draft202012Validator:
    resource = Resource(contents=_nullable(spec), specification=DRAFT202012)
    registry = Registry().with_resource("spec", resource)
    return Draft202012Validator(
        {"$ref": f"spec#{schema['$ref'][1:]}"} if "$ref" in schema else schema, registry=registry
    )


def _spec(shared_dir: Path, name: str) -> dict[str, Any]:
    path = shared_dir / f"data/confluence/rest_api/{name}"
    return json.loads(path.read_text(encoding="utf-8"))


def _response_schema(spec: dict[str, Any], path: str) -> dict[str, Any]:
    return spec["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]


def _fix_refs(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {k: (f"spec{v}" if k == "$ref" and v.startswith("#") else _fix_refs(v)) for k, v in schema.items()}
    return [_fix_refs(v) for v in schema] if isinstance(schema, list) else schema


@pytest.mark.shared
def test_v2_responses_match_the_openapi_schemas(shared_dir: Path, site: FakeConfluence) -> None:
    spec = _spec(shared_dir, "openapi_v2/confluence-cloud-rest-v2.openapi.json")
    with site.serve() as url, httpx.Client(auth=CLOUD_AUTH) as http:
        space = http.get(f"{url}/api/v2/spaces", params={"keys": "ENG"}).json()
        space_id = space["results"][0]["id"]
        listing = http.get(f"{url}/api/v2/spaces/{space_id}/pages", params={"limit": 2, "body-format": "storage"})
        page_id = listing.json()["results"][0]["id"]
        single = http.get(f"{url}/api/v2/pages/{page_id}", params={"body-format": "storage", "include-labels": "true"})
        bulk = http.get(f"{url}/api/v2/pages", params={"id": page_id})
        labels = http.get(f"{url}/api/v2/pages/{page_id}/labels")
    cases = [
        ("/spaces", space),
        ("/spaces/{id}/pages", listing.json()),
        ("/pages/{id}", single.json()),
        ("/pages", bulk.json()),
        ("/pages/{id}/labels", labels.json()),
    ]
    for path, payload in cases:
        validator = _validator(spec, _fix_refs(_response_schema(spec, path)))
        errors = sorted(validator.iter_errors(payload), key=str)
        assert not errors, f"{path}: {errors[0]}"
    # cursor pagination as the spec describes it: _links.next and a Link header with rel="next" and rel="base"
    assert listing.json()["_links"]["next"].startswith("/wiki/api/v2/spaces/")
    assert 'rel="next"' in listing.headers["Link"] and 'rel="base"' in listing.headers["Link"]
    assert single.json()["body"]["storage"]["representation"] == "storage"
    assert [label["name"] for label in single.json()["labels"]["results"]] == ["a", "b"]


@pytest.mark.shared
def test_v1_responses_have_the_recorded_shape(shared_dir: Path, site: FakeConfluence) -> None:
    recorded_list = _spec(shared_dir, "v1_recorded_cloud/content_list_response.json")
    recorded_search = _spec(shared_dir, "v1_recorded_cloud/content_search_cql_response.json")
    expand = "space,version,ancestors,history,body.storage"
    with site.serve() as url, httpx.Client(auth=CLOUD_AUTH) as http:
        listed = http.get(f"{url}/rest/api/content", params={"spaceKey": "ENG", "limit": 2, "expand": expand}).json()
        found = http.get(f"{url}/rest/api/content/search", params={"cql": "type=page", "limit": 2, "expand": expand})
    for ours, recorded in ((listed, recorded_list), (found.json(), recorded_search)):
        assert set(ours) == set(recorded)
        assert set(ours["_links"]) == set(recorded["_links"])  # base, context, next, self
        assert ours["_links"]["context"] == recorded["_links"]["context"] == "/wiki"
        item, reference = ours["results"][0], recorded["results"][0]
        for key in ("id", "type", "status", "title", "space", "version", "ancestors", "history", "_links"):
            assert type(item[key]) is type(reference[key]), key
        assert set(item["version"]) >= {"by", "when", "number", "minorEdit", "message"}
        assert set(item["space"]) >= {"id", "key", "name", "type", "status", "_links"}
        assert set(item["_links"]) == set(reference["_links"])  # self, tinyui, editui, webui
    recorded_next = recorded_list["_links"]["next"]
    assert recorded_next.startswith("/rest/api/content?") and "start=2" in recorded_next
    assert listed["_links"]["next"].startswith("/rest/api/content?") and "start=2" in listed["_links"]["next"]
    assert "cursor=" in recorded_search["_links"]["next"] and "cursor=" in found.json()["_links"]["next"]
    child = (
        next(r for r in listed["results"] if r["ancestors"]) if any(r["ancestors"] for r in listed["results"]) else None
    )
    if child is not None:
        assert set(child["ancestors"][0]) >= {"id", "type", "status", "title", "_links"}


def test_errors_and_auth(site: FakeConfluence) -> None:
    with site.serve() as url, httpx.Client(auth=CLOUD_AUTH) as http:
        anonymous = httpx.get(f"{url}/api/v2/spaces")
        missing_v2 = http.get(f"{url}/api/v2/pages/1")
        missing_v1 = http.get(f"{url}/rest/api/space/NOPE")
        bad_cql = http.get(f"{url}/rest/api/content/search", params={"cql": "colour = red"})
        no_body = http.get(f"{url}/api/v2/spaces/{http.get(f'{url}/api/v2/spaces').json()['results'][0]['id']}/pages")
    assert anonymous.status_code == 401 and "WWW-Authenticate" in anonymous.headers
    assert missing_v2.status_code == 404 and missing_v2.json()["errors"][0]["status"] == 404
    assert missing_v1.status_code == 404 and missing_v1.json()["statusCode"] == 404
    assert "No space with key" in missing_v1.json()["message"]
    assert bad_cql.status_code == 400 and "Could not parse cql" in bad_cql.json()["message"]
    assert all(page["body"] == {} for page in no_body.json()["results"])  # no body unless body-format is given


def test_fault_injection_is_seeded_and_switchable() -> None:
    def pattern(seed: int) -> list[int]:
        fake = FakeConfluence(auth=None, seed=seed)
        fake.add_space("ENG", "Engineering")
        fake.set_faults(rate=0.5, kinds=["429", "500"], retry_after=2)
        with fake.serve() as url, httpx.Client() as http:
            codes = [http.get(f"{url}/api/v2/spaces").status_code for _ in range(30)]
            fake.set_faults(rate=0.0)
            assert http.get(f"{url}/api/v2/spaces").status_code == 200
        return codes

    first, second = pattern(7), pattern(7)
    assert first == second and {200, 429, 500} == set(first)
    fake = FakeConfluence(auth=None)
    fake.add_space("ENG", "Engineering")
    fake.set_faults(rate=1.0, kinds=["429"], retry_after=3)
    with fake.serve() as url:
        response = httpx.get(f"{url}/api/v2/spaces")
    assert response.status_code == 429 and response.headers["Retry-After"] == "3"
    with pytest.raises(ValueError, match="unknown fault kinds"):
        fake.set_faults(rate=0.1, kinds=["explode"])


@pytest.mark.shared
def test_current_user_matches_the_v1_user_schema_and_carries_the_time_zone(shared_dir: Path) -> None:
    spec = _spec(shared_dir, "openapi_v1/confluence-cloud-rest-v1.openapi.json")
    validator = _validator(spec, _response_schema(spec, "/wiki/rest/api/user/current"))
    cloud = FakeConfluence(auth=CLOUD_AUTH, site_timezone="UTC", user_timezone="Europe/Berlin")
    hidden = FakeConfluence(auth=CLOUD_AUTH, site_timezone="Asia/Kolkata", share_user_timezone=False)
    server = FakeConfluence(flavor="server", auth=None, bearer="pat", site_timezone="Europe/Berlin")
    users = []
    for fake, auth in ((cloud, CLOUD_AUTH), (hidden, CLOUD_AUTH), (server, None)):
        headers = {"Authorization": "Bearer pat"} if auth is None else {}
        with fake.serve() as url:
            users.append(httpx.get(f"{url}/rest/api/user/current", auth=auth, headers=headers).json())
    for user in users[:2]:
        errors = sorted(validator.iter_errors(user), key=str)
        assert not errors, errors[0]
    assert users[0]["timeZone"] == "Europe/Berlin" and users[1]["timeZone"] is None
    assert "timeZone" not in users[2] and users[2]["type"] == "known"  # Server/DC does not say


def test_restricted_pages_are_listed_but_answer_403(site: FakeConfluence) -> None:
    page_id = next(page.page_id for page in site.site.pages_sorted() if page.title == "Child 1")
    site.restrict_page(page_id)
    with site.serve() as url, httpx.Client(auth=CLOUD_AUTH) as http:
        space_id = http.get(f"{url}/api/v2/spaces").json()["results"][0]["id"]
        listed = [p["id"] for p in http.get(f"{url}/api/v2/spaces/{space_id}/pages").json()["results"]]
        v2 = http.get(f"{url}/api/v2/pages/{page_id}", params={"body-format": "storage"})
        v1 = http.get(f"{url}/rest/api/content/{page_id}", params={"expand": "body.storage"})
        found = http.get(f"{url}/rest/api/content/search", params={"cql": 'space = "ENG"'}).json()["results"]
    assert page_id in listed and page_id not in [item["id"] for item in found]
    assert v2.status_code == 403 and v2.json()["errors"][0]["status"] == 403
    assert v2.json()["errors"][0]["code"] == "FORBIDDEN"
    assert v1.status_code == 403 and v1.json()["statusCode"] == 403
    assert v1.json()["data"]["authorized"] is False and v1.json()["reason"] == "Forbidden"


def test_pages_deleted_on_read_and_answers_without_a_body(site: FakeConfluence) -> None:
    gone, bare = [page.page_id for page in site.site.pages_sorted()][1:3]
    site.delete_on_read(gone)
    site.strip_body(bare)
    with site.serve() as url, httpx.Client(auth=CLOUD_AUTH) as http:
        first = http.get(f"{url}/api/v2/pages/{gone}")
        v2 = http.get(f"{url}/api/v2/pages/{bare}", params={"body-format": "storage"}).json()
        v1 = http.get(f"{url}/rest/api/content/{bare}", params={"expand": "body.storage,version"}).json()
    assert first.status_code == 404 and site.site.pages[gone].status == "trashed"
    assert v2["body"] == {} and "body" not in v1 and v1["version"]["number"] == 1
