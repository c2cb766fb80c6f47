"""Full export against the local server: files, front matter, links, stats, and an unchanged re-run."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from tenant_rag.config import CustomerConfig
from tenant_rag.documents import FRONT_MATTER_FIELDS, iter_page_files, read_page
from tenant_rag.export import export_customer
from tenant_rag_devtools.confluence_server import FakeConfluence
from tests.integration.export.conftest import CLOUD_CREDENTIALS, FAST, fetched_page_ids, tree

STATS_KEYS = {
    "mode",
    "spaces",
    "pages_listed",
    "pages_fetched",
    "pages_written",
    "pages_unchanged",
    "pages_deleted",
    "pages_moved",
    "errors",
    "errors_total",
    "unreadable",
    "unreadable_total",
    "http_requests",
    "retries",
    "duration_s",
    "attachments_listed",
    "attachments_downloaded",
    "attachments_written",
    "attachments_unchanged",
    "attachments_deleted",
    "attachments_failed",
    "attachments_failed_total",
    "permissions_changed",
    "pages_restricted",
    "pages_permissions_unknown",
}


def _site(fake: FakeConfluence) -> dict[str, str]:
    fake.add_space("ENG", "Engineering")
    fake.add_space("OPS", "Operations")
    fake.add_user("u-1", "Ada Lovelace")
    ids = {
        "home": fake.add_page(
            "ENG",
            "Home",
            '<p>Start at <ac:link><ri:page ri:content-title="Deploy" />'
            '</ac:link> or <ac:link><ri:page ri:space-key="OPS" ri:content-title="Pager" />'
            '</ac:link>, ask <ac:link><ri:user ri:account-id="u-1" /></ac:link>.</p>',
            labels=["handbook"],
        )
    }
    ids["guides"] = fake.add_page("ENG", "Guides", "<h2>Guides</h2>", parent_id=ids["home"])
    ids["deploy"] = fake.add_page(
        "ENG",
        "Deploy",
        '<p>Back to <ac:link><ri:page ri:content-title="Home" />'
        '</ac:link>.</p><ac:image><ri:attachment ri:filename="flow.png" /></ac:image>',
        parent_id=ids["guides"],
        labels=["runbook", "deploy"],
    )
    ids["pager"] = fake.add_page("OPS", "Pager", "<p>Page the primary.</p>")
    return ids


def test_full_export_writes_the_tree_with_front_matter_and_links(
    fake: FakeConfluence, served: str, config_for: Callable[..., CustomerConfig], tmp_path: Path
) -> None:
    ids = _site(fake)
    progress: list[tuple[int, int]] = []
    stats = export_customer(
        config_for(served, ["ENG", "OPS"]),
        tmp_path,
        credentials=CLOUD_CREDENTIALS,
        retry_policy=FAST,
        progress=lambda done, total: progress.append((done, total)),
    )

    assert set(stats) == STATS_KEYS
    json.dumps(stats)  # small and JSON-serialisable, for XCom
    assert stats["mode"] == "full" and stats["spaces"] == ["ENG", "OPS"]
    assert (stats["pages_listed"], stats["pages_fetched"], stats["pages_written"]) == (4, 4, 4)
    assert stats["errors"] == [] and stats["retries"] == 0
    assert progress[0] == (0, 4) and progress[-1] == (4, 4) and len(progress) == 5

    files = sorted(p.relative_to(tmp_path / "exports").as_posix() for p in iter_page_files(tmp_path / "exports"))
    assert files == ["ENG/Home.md", "ENG/Home/Guides.md", "ENG/Home/Guides/Deploy.md", "OPS/Pager.md"]
    deploy = read_page(tmp_path / "exports/ENG/Home/Guides/Deploy.md", tmp_path / "exports")
    assert deploy.page_id == ids["deploy"] and deploy.title == "Deploy" and deploy.space_key == "ENG"
    assert deploy.version == 1 and deploy.last_modified is not None and deploy.last_modified.tzinfo is not None
    assert deploy.breadcrumbs == ("Home", "Guides") and deploy.labels == ("deploy", "runbook")
    assert deploy.parent_id == ids["guides"]
    assert deploy.url == f"{served}/spaces/ENG/pages/{ids['deploy']}/Deploy"
    text = (tmp_path / "exports/ENG/Home/Guides/Deploy.md").read_text()
    top_level = [line for line in text.split("---")[1].strip().splitlines() if not line.startswith(" ")]
    assert [line.split(":")[0] for line in top_level] == list(FRONT_MATTER_FIELDS)  # readers is a nested mapping
    assert "Back to [Home](../../Home.md)." in deploy.body
    assert f"![flow.png]({served}/download/attachments/{ids['deploy']}/flow.png)" in deploy.body
    home = read_page(tmp_path / "exports/ENG/Home.md", tmp_path / "exports")
    assert "[Deploy](Home/Guides/Deploy.md)" in home.body and "[Pager](../OPS/Pager.md)" in home.body
    assert "@Ada Lovelace" in home.body
    manifest = json.loads((tmp_path / "cache/export_manifest.json").read_text())
    assert manifest["spaces"]["ENG"][ids["deploy"]]["path"] == "ENG/Home/Guides/Deploy.md"


def test_unchanged_rerun_fetches_nothing_and_writes_nothing(
    fake: FakeConfluence, served: str, config_for: Callable[..., CustomerConfig], tmp_path: Path
) -> None:
    _site(fake)
    config = config_for(served, ["ENG", "OPS"])
    export_customer(config, tmp_path, credentials=CLOUD_CREDENTIALS, retry_policy=FAST)
    before = tree(tmp_path)
    mtimes = {p: p.stat().st_mtime_ns for p in (tmp_path / "exports").rglob("*.md")}
    fake.request_log.clear()
    stats = export_customer(config, tmp_path, credentials=CLOUD_CREDENTIALS, retry_policy=FAST)
    assert (stats["pages_fetched"], stats["pages_written"], stats["pages_unchanged"]) == (0, 0, 4)
    assert fetched_page_ids(fake) == []
    # per space: resolve the key, one id-only listing page, one attachment listing page (CQL), the space's view
    # permissions and one page of the read-restriction listing (CQL)
    assert stats["http_requests"] == 10
    assert tree(tmp_path) == before
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "exports").rglob("*.md")} == mtimes


def test_edit_refetches_only_that_page(
    fake: FakeConfluence, served: str, config_for: Callable[..., CustomerConfig], tmp_path: Path
) -> None:
    ids = _site(fake)
    config = config_for(served, ["ENG", "OPS"])
    export_customer(config, tmp_path, credentials=CLOUD_CREDENTIALS, retry_policy=FAST)
    fake.update_page(ids["pager"], storage="<p>Page the <strong>secondary</strong> too.</p>")
    fake.request_log.clear()
    stats = export_customer(config, tmp_path, credentials=CLOUD_CREDENTIALS, retry_policy=FAST)
    assert fetched_page_ids(fake) == [ids["pager"]]
    assert (stats["pages_fetched"], stats["pages_written"], stats["pages_unchanged"]) == (1, 1, 3)
    pager = read_page(tmp_path / "exports/OPS/Pager.md", tmp_path / "exports")
    assert pager.version == 2 and "Page the **secondary** too." in pager.body


def test_lost_manifest_is_rebuilt_without_refetching(
    fake: FakeConfluence, served: str, config_for: Callable[..., CustomerConfig], tmp_path: Path
) -> None:
    _site(fake)
    config = config_for(served, ["ENG", "OPS"])
    export_customer(config, tmp_path, credentials=CLOUD_CREDENTIALS, retry_policy=FAST)
    (tmp_path / "cache/export_manifest.json").unlink()
    stats = export_customer(config, tmp_path, credentials=CLOUD_CREDENTIALS, retry_policy=FAST)
    assert stats["pages_fetched"] == 0 and (tmp_path / "cache/export_manifest.json").is_file()


def test_space_subset_leaves_other_spaces_alone(
    fake: FakeConfluence, served: str, config_for: Callable[..., CustomerConfig], tmp_path: Path
) -> None:
    ids = _site(fake)
    config = config_for(served, ["ENG", "OPS"])
    export_customer(config, tmp_path, credentials=CLOUD_CREDENTIALS, retry_policy=FAST)
    fake.delete_page(ids["pager"])
    stats = export_customer(config, tmp_path, credentials=CLOUD_CREDENTIALS, retry_policy=FAST, space_keys=["ENG"])
    assert stats["spaces"] == ["ENG"] and stats["pages_deleted"] == 0
    assert (tmp_path / "exports/OPS/Pager.md").is_file()
