"""The local server's v2 answers carry every field the exporter reads, by the spec's own names.

The v2 OpenAPI schemas declare no required fields, so validating against them alone only catches wrong types.
``FIELDS_READ`` names, once, what the exporter (``client.py``, ``page_children.py``) reads from each v2 answer; each
name must be a property of that answer's schema in the spec, and the server's answers are validated with those
fields made required (``required`` injected along each path). ``parentType`` is required wherever ``parentId`` is
a string (the exporter reads it only then: it is absent at the top of a space, and the spec's enum has no null).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import httpx
import pytest

from tenant_rag_devtools.confluence_server import FakeConfluence
from tenant_rag_devtools.confluence_server.sample_files import MEDIA_TYPES, pdf_bytes
from tests.integration.export.conftest import CLOUD_AUTH
from tests.integration.export.test_fake_server_api import _fix_refs, _nullable, _response_schema, _spec, _validator

# v2 path -> the fields read from its answer ("a.b" nested, "a[]" every item of an array)
FIELDS_READ: dict[str, tuple[str, ...]] = {
    # CloudClient.get_space
    "/spaces": ("results", "results[].id", "results[].key", "results[].name"),
    # CloudClient.list_pages (and paginate: results, _links.next when more)
    "/spaces/{id}/pages": (
        "results",
        "results[].id",
        "results[].title",
        "results[].status",
        "results[].parentId",
        "results[].parentType",
        "results[].version.number",
        "results[].version.createdAt",
    ),
    # CloudClient.get_page (body-format=storage, include-labels=true)
    "/pages/{id}": (
        "id",
        "title",
        "parentId",
        "parentType",
        "version.number",
        "version.createdAt",
        "body.storage.value",
        "labels.results[].name",
        "labels.meta.hasMore",
        "_links.webui",
        "_links.base",
    ),
    # labels beyond the embedded first page
    "/pages/{id}/labels": ("results", "results[].name"),
    # page_children.footer_comments (body-format=storage)
    "/pages/{id}/footer-comments": (
        "results",
        "results[].id",
        "results[].body.storage.value",
        "results[].version.authorId",
        "results[].version.createdAt",
    ),
    # page_children.get_container
    "/folders/{id}": ("id", "title", "parentId", "parentType"),
    # the v2 names of what page_children.list_attachments reads from the v1 listing
    "/pages/{id}/attachments": (
        "results",
        "results[].id",
        "results[].title",
        "results[].pageId",
        "results[].mediaType",
        "results[].fileSize",
        "results[].downloadLink",
        "results[].version.number",
    ),
    # a page's place in the tree
    "/pages/{id}/ancestors": ("results", "results[].id", "results[].type"),
}
PARENTED = "parentType"  # required only next to a string parentId


def _lookup(spec: dict[str, Any], ref: str) -> dict[str, Any]:
    node: Any = spec
    for part in ref.split("#", 1)[1].strip("/").split("/"):
        node = node[part]
    return dict(node)


def _inline(spec: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``node`` with its own ``$ref`` (and its ``allOf`` branches' ones) resolved; deeper refs stay."""
    while "$ref" in node:
        node = {**_lookup(spec, node["$ref"]), **{k: v for k, v in node.items() if k != "$ref"}}
    node = copy.deepcopy(node)
    if "allOf" in node:
        node["allOf"] = [_inline(spec, branch) for branch in node["allOf"]]
    return node


def _owners(node: dict[str, Any], name: str) -> list[dict[str, Any]]:
    """The parts of an inlined ``node`` (itself, its ``allOf`` branches) that declare property ``name``."""
    return [n for n in (node, *node.get("allOf", [])) if name in n.get("properties", {})]


def _declares(spec: dict[str, Any], node: dict[str, Any], path: list[str]) -> bool:
    inlined = _inline(spec, node)
    name, many = path[0].removesuffix("[]"), path[0].endswith("[]")
    for owner in _owners(inlined, name):
        prop = _inline(spec, owner["properties"][name])
        if len(path) == 1 or _declares(spec, prop.get("items", {}) if many else prop, path[1:]):
            return True
    return False


def _require(spec: dict[str, Any], node: dict[str, Any], path: list[str], where: str) -> dict[str, Any]:
    """``node`` with ``path[0]`` required (and the rest of the path required below it, in every part of the
    schema that declares it: ``allOf`` branches may each add properties to the same object)."""
    node = _inline(spec, node)
    name, many = path[0].removesuffix("[]"), path[0].endswith("[]")
    owners = [owner for owner in _owners(node, name) if _declares(spec, {"properties": owner["properties"]}, path)]
    assert owners, f"{where}: {'.'.join(path)!r} is not declared by the spec's schema"
    if name == PARENTED:
        rule = {"if": {"properties": {"parentId": {"type": "string"}}, "required": ["parentId"]}}
        node.setdefault("allOf", []).append({**rule, "then": {"required": [name]}})
    else:
        node["required"] = sorted({*node.get("required", []), name})
    for owner in owners:
        if len(path) == 1:
            continue
        prop = _inline(spec, owner["properties"][name])
        if many:
            assert "items" in prop, f"{where}: {name!r} is not an array in the spec"
            prop["items"] = _require(spec, prop["items"], path[1:], where)
        else:
            prop = _require(spec, prop, path[1:], where)
        owner["properties"][name] = prop
    return node


def required_schema(spec: dict[str, Any], path: str) -> dict[str, Any]:
    """The 200 schema of ``GET path`` with every field of ``FIELDS_READ[path]`` required."""
    resolved = _nullable(spec)
    schema = _response_schema(resolved, path)
    for field in FIELDS_READ[path]:
        schema = _require(resolved, schema, field.split("."), f"{path} {field}")
    return dict(_fix_refs(schema))


@pytest.mark.shared
def test_every_field_read_is_named_as_in_the_spec(shared_dir: Path) -> None:
    spec = _spec(shared_dir, "openapi_v2/confluence-cloud-rest-v2.openapi.json")
    for path in FIELDS_READ:
        schema = required_schema(spec, path)
        assert schema.get("required") or any("required" in b for b in schema.get("allOf", [])), path
    # a name the spec does not have is refused: the list cannot drift from the spec's spelling
    with pytest.raises(AssertionError, match="parentPageId"):
        _require(_nullable(spec), _response_schema(spec, "/pages/{id}"), ["parentPageId"], "/pages/{id}")


@pytest.mark.shared
def test_v2_answers_carry_every_field_the_exporter_reads(shared_dir: Path) -> None:
    spec = _spec(shared_dir, "openapi_v2/confluence-cloud-rest-v2.openapi.json")
    fake = FakeConfluence(auth=CLOUD_AUTH)
    fake.add_space("ENG", "Engineering")
    fake.add_user("u-7", "Grace Hopper")
    home = fake.add_page("ENG", "Home", "<p>home</p>", labels=["a", "b"])
    folder = fake.add_folder("ENG", "Runbooks", parent_id=home)
    page = fake.add_page("ENG", "Restart", "<p>restart it</p>", parent_id=folder, labels=["ops"])
    fake.add_page("ENG", "Loose", "<p>top level</p>")
    fake.add_comment(page, "<p>works</p>", author_id="u-7")
    fake.attach(page, "notes.pdf", pdf_bytes(["notes"]), MEDIA_TYPES["pdf"])
    top_folder = fake.add_folder("ENG", "Archive")
    with fake.serve() as url, httpx.Client(auth=CLOUD_AUTH, base_url=url) as http:
        space_id = http.get("/api/v2/spaces", params={"keys": "ENG", "limit": 1}).json()["results"][0]["id"]
        answers = {
            "/spaces": [http.get("/api/v2/spaces", params={"keys": "ENG", "limit": 1})],
            "/spaces/{id}/pages": [http.get(f"/api/v2/spaces/{space_id}/pages", params={"limit": 2})],
            "/pages/{id}": [
                http.get(f"/api/v2/pages/{pid}", params={"body-format": "storage", "include-labels": "true"})
                for pid in (home, page)
            ],
            "/pages/{id}/labels": [http.get(f"/api/v2/pages/{home}/labels", params={"limit": 250})],
            "/pages/{id}/footer-comments": [
                http.get(f"/api/v2/pages/{page}/footer-comments", params={"body-format": "storage", "limit": 25})
            ],
            "/folders/{id}": [http.get(f"/api/v2/folders/{fid}") for fid in (folder, top_folder)],
            "/pages/{id}/attachments": [http.get(f"/api/v2/pages/{page}/attachments")],
            "/pages/{id}/ancestors": [http.get(f"/api/v2/pages/{page}/ancestors")],
        }
        rest = http.get(answers["/spaces/{id}/pages"][0].json()["_links"]["next"].removeprefix("/wiki"))
        answers["/spaces/{id}/pages"].append(rest)
    assert sorted(answers) == sorted(FIELDS_READ)
    for path, responses in answers.items():
        validator = _validator(spec, required_schema(spec, path))
        for response in responses:
            assert response.status_code == 200, (path, response.text)
            errors = sorted(validator.iter_errors(response.json()), key=str)
            assert not errors, f"{path}: {errors[0].message} at {list(errors[0].absolute_path)}"
    listed = [item for r in answers["/spaces/{id}/pages"] for item in r.json()["results"]]
    assert {item["parentType"] for item in listed if item["parentId"]} == {"folder"}
    assert answers["/folders/{id}"][0].json()["parentType"] == "page"


@pytest.mark.shared
def test_an_answer_missing_a_field_read_fails_validation(shared_dir: Path) -> None:
    """The injected requirements bite: the same answer without a field the exporter reads is refused."""
    spec = _spec(shared_dir, "openapi_v2/confluence-cloud-rest-v2.openapi.json")
    fake = FakeConfluence(auth=CLOUD_AUTH)
    fake.add_space("ENG", "Engineering")
    home = fake.add_page("ENG", "Home", "<p>home</p>")
    child = fake.add_page("ENG", "Child", "<p>child</p>", parent_id=home)
    with fake.serve() as url, httpx.Client(auth=CLOUD_AUTH, base_url=url) as http:
        single = http.get(f"/api/v2/pages/{child}", params={"body-format": "storage", "include-labels": "true"})
    validator = _validator(spec, required_schema(spec, "/pages/{id}"))
    good = single.json()
    assert not list(validator.iter_errors(good))
    for broken in (
        {k: v for k, v in good.items() if k != "title"},
        {k: v for k, v in good.items() if k != "parentType"},
        {**good, "body": {}},
        {**good, "version": {"number": 1}},
        {**good, "_links": {"webui": good["_links"]["webui"]}},
    ):
        assert list(validator.iter_errors(broken)), broken
