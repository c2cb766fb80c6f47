"""Who may read each page, recorded by the export over real HTTP from the local Confluence server: space view
permissions, read restrictions inherited down the tree, group-only pages, attachments taking their page's readers,
changes picked up without a new page version, and readers that cannot be read."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from tenant_rag.config import CustomerConfig
from tenant_rag.documents import read_page
from tenant_rag.export import ConfluenceCredentials, export_customer
from tenant_rag.permissions import UNKNOWN, Readers
from tenant_rag_devtools.confluence_server import FakeConfluence
from tenant_rag_devtools.confluence_server.access import DEFAULT_GROUP
from tests.integration.export.conftest import CLOUD_AUTH, CLOUD_CREDENTIALS, FAST, tree

VIEWERS = {"users": ["zed"], "groups": [DEFAULT_GROUP], "restricted": False}
PATHS = {
    "home": "ENG/Home.md",
    "salaries": "ENG/Home/Salaries.md",
    "hr": "ENG/Home/HR.md",
    "reviews": "ENG/Home/HR/Reviews.md",
    "y2026": "ENG/Home/HR/Reviews/2026.md",
    "legal": "ENG/Home/Legal.md",
}


def _site(fake: FakeConfluence) -> dict[str, str]:
    for user in ("ada", "bob", "cy", "zed", "outsider"):
        fake.add_user(user, user.title())
    for user in ("zed", "outsider"):  # zed views the space by name; outsider has no product access at all
        fake.permissions.leave(DEFAULT_GROUP, user)
    fake.permissions.add_group("hr", ["ada", "bob"])
    fake.permissions.add_group("legal", ["cy"])
    fake.add_space("ENG", "Engineering")
    fake.permissions.set_space_viewers("ENG", users=("zed",), groups=(DEFAULT_GROUP,))
    home = fake.add_page("ENG", "Home", "<p>home</p>")
    ids = {
        "home": home,
        "salaries": fake.add_page("ENG", "Salaries", "<p>pay</p>", parent_id=home),
        "hr": fake.add_page("ENG", "HR", "<p>people</p>", parent_id=home),
        "legal": fake.add_page("ENG", "Legal", "<p>contracts</p>", parent_id=home),
    }
    ids["reviews"] = fake.add_page("ENG", "Reviews", "<p>reviews</p>", parent_id=ids["hr"])
    ids["y2026"] = fake.add_page("ENG", "2026", "<p>this year</p>", parent_id=ids["reviews"])
    ids["sheet"] = fake.attach(ids["reviews"], "scores.csv", b"name,score\nada,5\n", "text/csv")
    fake.permissions.set_read_restriction(ids["salaries"], users=("ada", "outsider"))
    fake.permissions.set_read_restriction(ids["hr"], groups=("hr",))
    fake.permissions.set_read_restriction(ids["y2026"], users=("bob", "cy"))  # cy is not in hr: the parent wins
    fake.permissions.set_read_restriction(ids["legal"], groups=("legal",))
    return ids


def _front_matter_readers(customer_dir: Path) -> dict[str, Readers | None]:
    root = customer_dir / "exports"
    return {name: read_page(root / rel, root).readers for name, rel in PATHS.items()}


def _manifest(customer_dir: Path) -> dict[str, Any]:
    return dict(json.loads((customer_dir / "cache/export_manifest.json").read_text(encoding="utf-8")))


def _readers(users: list[str] | None = None, groups: list[str] | None = None) -> dict[str, Any]:
    return {"users": users or [], "groups": groups or [], "restricted": True}


def test_readers_follow_space_permissions_and_inherited_restrictions_and_keep_current(
    site: tuple[FakeConfluence, ConfluenceCredentials, str], config_for: Callable[..., CustomerConfig], tmp_path: Path
) -> None:
    fake, credentials, flavor = site
    ids = _site(fake)
    with fake.serve() as url:
        config = config_for(url, ["ENG"], flavor=flavor)
        first = export_customer(config, tmp_path, credentials=credentials, retry_policy=FAST)
        expected = {
            "home": VIEWERS,
            "salaries": _readers(users=["ada"]),  # outsider is named but cannot view the space
            "hr": _readers(groups=["hr"]),
            "reviews": _readers(groups=["hr"]),  # inherited from HR
            "y2026": _readers(users=["bob"]),  # its own restriction within HR's
            "legal": _readers(groups=["legal"]),  # a group-only page
        }
        assert first["pages_restricted"] == 5 and first["pages_permissions_unknown"] == 0
        assert first["permissions_changed"] == 0
        assert _front_matter_readers(tmp_path) == {name: Readers.from_json(value) for name, value in expected.items()}
        pages = _manifest(tmp_path)["spaces"]["ENG"]
        assert {name: pages[ids[name]]["readers"] for name in PATHS} == expected
        attachment = _manifest(tmp_path)["attachments"]["ENG"][ids["sheet"]]
        assert attachment["readers"] == expected["reviews"]
        sheet = read_page(tmp_path / "exports" / attachment["path"], tmp_path / "exports")
        assert sheet.readers == Readers.from_json(expected["reviews"])
        # restrictions change on the site without a new page version
        fake.permissions.set_read_restriction(ids["hr"])
        fake.permissions.add_group("legal", ["ada"])  # the membership changes nothing: legal stays a group
        before = tree(tmp_path)
        versions = {pid: entry["version"] for pid, entry in _manifest(tmp_path)["spaces"]["ENG"].items()}
        fake.request_log.clear()
        second = export_customer(config, tmp_path, credentials=credentials, retry_policy=FAST)
        assert not [line for line in fake.request_log if "/restriction/" in line]  # the listing carried them all
        third = export_customer(config, tmp_path, credentials=credentials, retry_policy=FAST)
    assert second["pages_fetched"] == 0 and second["attachments_downloaded"] == 0
    assert second["permissions_changed"] == 3 and second["pages_restricted"] == 3
    expected.update(hr=VIEWERS, reviews=VIEWERS, y2026=_readers(users=["bob", "cy"]))
    assert _front_matter_readers(tmp_path) == {name: Readers.from_json(value) for name, value in expected.items()}
    manifest = _manifest(tmp_path)
    assert {name: manifest["spaces"]["ENG"][ids[name]]["readers"] for name in PATHS} == expected
    assert {pid: entry["version"] for pid, entry in manifest["spaces"]["ENG"].items()} == versions
    assert manifest["attachments"]["ENG"][ids["sheet"]]["readers"] == VIEWERS
    after = tree(tmp_path)
    changed = {rel for rel in after if after[rel] != before[rel]}
    assert changed == {PATHS["hr"], PATHS["reviews"], PATHS["y2026"], attachment["path"]}
    for rel in changed:  # only the front matter was rewritten
        assert after[rel].split("\n---\n", 1)[1] == before[rel].split("\n---\n", 1)[1]
    assert third["permissions_changed"] == 0 and tree(tmp_path) == after


def test_pages_of_a_space_whose_permissions_cannot_be_read_have_unknown_readers(
    fake: FakeConfluence, served: str, config_for: Callable[..., CustomerConfig], tmp_path: Path
) -> None:
    ids = _site(fake)
    fake.permissions.hidden_spaces.add("ENG")  # the indexing account is no space admin: no permissions in the answer
    config = config_for(served, ["ENG"])
    stats = export_customer(config, tmp_path, credentials=CLOUD_CREDENTIALS, retry_policy=FAST)
    assert stats["pages_permissions_unknown"] == 6 and stats["pages_written"] == 6
    assert set(_front_matter_readers(tmp_path).values()) == {UNKNOWN}
    assert "readers: unknown\n" in (tmp_path / "exports" / PATHS["home"]).read_text(encoding="utf-8")
    fake.permissions.hidden_spaces.discard("ENG")
    again = export_customer(config, tmp_path, credentials=CLOUD_CREDENTIALS, retry_policy=FAST)
    assert again["pages_permissions_unknown"] == 0 and again["permissions_changed"] == 6
    assert _manifest(tmp_path)["spaces"]["ENG"][ids["home"]]["readers"] == VIEWERS


def test_a_restriction_cut_short_in_the_listing_is_read_on_its_own(
    fake: FakeConfluence, served: str, config_for: Callable[..., CustomerConfig], tmp_path: Path
) -> None:
    ids = _site(fake)
    fake.permissions.set_read_restriction(ids["y2026"], users=("bob", "cy", "zed"))
    fake.permissions.page_size = 2  # the listing embeds two users and two groups of each restriction
    config = config_for(served, ["ENG"])
    export_customer(config, tmp_path, credentials=CLOUD_CREDENTIALS, retry_policy=FAST)
    assert _front_matter_readers(tmp_path)["y2026"] == Readers(("bob",), (), restricted=True)
    assert _front_matter_readers(tmp_path)["salaries"] == Readers(("ada",), (), restricted=True)
    asked = {line.split("/content/")[1].split("/")[0] for line in fake.request_log if "/byOperation/read" in line}
    assert asked == {ids["salaries"], ids["y2026"]}  # a full embedded page may be cut short: asked to be sure


def test_the_server_answers_in_confluences_shapes(fake: FakeConfluence, served: str) -> None:
    ids = _site(fake)
    with httpx.Client(base_url=served + "/rest/api", auth=CLOUD_AUTH) as http:
        read = http.get(f"/content/{ids['y2026']}/restriction/byOperation/read").json()
        space = http.get("/space/ENG", params={"expand": "permissions"}).json()
        memberof = http.get("/user/memberof", params={"accountId": "ada"}).json()
        members = http.get("/group/hr/member").json()
        listing = http.get(
            "/content",
            params={
                "spaceKey": "ENG",
                "expand": "restrictions.read.restrictions.user,restrictions.read.restrictions.group",
            },
        ).json()
        unknown_group = http.get("/group/nobody/member")
    assert read["operation"] == "read"
    assert [user["accountId"] for user in read["restrictions"]["user"]["results"]] == ["bob", "cy"]
    assert read["restrictions"]["group"]["results"] == []
    viewing = [p for p in space["permissions"] if p["operation"] == {"operation": "read", "targetType": "space"}]
    assert sorted(
        [s["accountId"] for p in viewing for s in p["subjects"].get("user", {}).get("results", [])]
        + [s["name"] for p in viewing for s in p["subjects"].get("group", {}).get("results", [])]
    ) == [DEFAULT_GROUP, "zed"]
    assert sorted(group["name"] for group in memberof["results"]) == [DEFAULT_GROUP, "hr"]
    assert sorted(user["accountId"] for user in members["results"]) == ["ada", "bob"]
    by_id = {item["id"]: item["restrictions"]["read"]["restrictions"] for item in listing["results"]}
    assert [group["name"] for group in by_id[ids["legal"]]["group"]["results"]] == ["legal"]
    assert by_id[ids["home"]]["user"]["results"] == [] and unknown_group.status_code == 404


def test_a_lost_manifest_is_rebuilt_with_the_readers_of_the_front_matter(
    fake: FakeConfluence, served: str, config_for: Callable[..., CustomerConfig], tmp_path: Path
) -> None:
    ids = _site(fake)
    config = config_for(served, ["ENG"])
    export_customer(config, tmp_path, credentials=CLOUD_CREDENTIALS, retry_policy=FAST)
    recorded = _manifest(tmp_path)
    (tmp_path / "cache/export_manifest.json").unlink()
    before = tree(tmp_path)
    stats = export_customer(config, tmp_path, credentials=CLOUD_CREDENTIALS, retry_policy=FAST)
    assert stats["pages_fetched"] == 0 and stats["permissions_changed"] == 0 and tree(tmp_path) == before
    rebuilt = _manifest(tmp_path)
    assert rebuilt["spaces"]["ENG"][ids["y2026"]]["readers"] == _readers(users=["bob"])
    assert (
        rebuilt["attachments"]["ENG"][ids["sheet"]]["readers"]
        == recorded["attachments"]["ENG"][ids["sheet"]]["readers"]
    )
