"""Pages that cannot be read do not stop a site: 403 removed, 404 deleted only when the listing agrees, 5xx and
answers without a body keep the last good version. Each is recorded in the stats and the manifest."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tenant_rag.config import CustomerConfig
from tenant_rag.export import ConfluenceCredentials, export_customer
from tenant_rag_devtools.confluence_server import FakeConfluence
from tests.integration.export.conftest import CLOUD_CREDENTIALS, FAST, tree

BETA = "ENG/Home/Beta.md"


def _site(fake: FakeConfluence) -> dict[str, str]:
    fake.add_space("ENG", "Engineering")
    home = fake.add_page("ENG", "Home", "<p>home</p>")
    return {
        "home": home,
        "a": fake.add_page("ENG", "Alpha", "<p>a1</p>", parent_id=home),
        "b": fake.add_page("ENG", "Beta", "<p>b1</p>", parent_id=home),
        "c": fake.add_page("ENG", "Gamma", "<p>c1</p>", parent_id=home),
    }


def _manifest(customer_dir: Path) -> dict[str, Any]:
    return dict(json.loads((customer_dir / "cache/export_manifest.json").read_text(encoding="utf-8")))


def _record(page_id: str, title: str, status: int | None, reason: str, action: str) -> dict[str, Any]:
    return dict(page_id=page_id, space_key="ENG", title=title, status=status, reason=reason, action=action)


def test_a_restricted_page_is_removed_recorded_and_the_run_goes_on(
    site: tuple[FakeConfluence, ConfluenceCredentials, str], config_for: Callable[..., CustomerConfig], tmp_path: Path
) -> None:
    fake, credentials, flavor = site
    ids = _site(fake)
    with fake.serve() as url:
        config = config_for(url, ["ENG"], flavor=flavor)
        export_customer(config, tmp_path, credentials=credentials, retry_policy=FAST)
        assert (tmp_path / "exports" / BETA).is_file()
        fake.restrict_page(ids["b"])
        fake.update_page(ids["b"], storage="<p>b2 (secret)</p>")
        fake.update_page(ids["c"], storage="<p>c2</p>")
        stats = export_customer(config, tmp_path, credentials=credentials, retry_policy=FAST)
        again = export_customer(config, tmp_path, credentials=credentials, retry_policy=FAST)
    forbidden = _record(ids["b"], "Beta", 403, "forbidden", "removed")
    assert stats["unreadable"] == [forbidden] and stats["unreadable_total"] == 1
    assert stats["errors"] == [] and stats["pages_deleted"] == 1 and stats["pages_written"] == 1
    assert not (tmp_path / "exports" / BETA).exists()
    assert "c2" in (tmp_path / "exports/ENG/Home/Gamma.md").read_text(encoding="utf-8")
    manifest = _manifest(tmp_path)
    assert ids["b"] not in manifest["spaces"]["ENG"] and manifest["unreadable"] == {"ENG": [forbidden]}
    # every later run goes on the same way: the page is tried again, recorded again, nothing else changes
    assert again["unreadable"] == [forbidden] and again["pages_deleted"] == 0 and again["pages_written"] == 0


def test_a_page_restricted_from_the_start_is_recorded_without_a_file(
    fake: FakeConfluence, served: str, config_for: Callable[..., CustomerConfig], tmp_path: Path
) -> None:
    ids = _site(fake)
    fake.restrict_page(ids["a"])
    stats = export_customer(config_for(served, ["ENG"]), tmp_path, credentials=CLOUD_CREDENTIALS, retry_policy=FAST)
    assert stats["unreadable"] == [_record(ids["a"], "Alpha", 403, "forbidden", "removed")]
    assert stats["pages_written"] == 3 and stats["pages_deleted"] == 0
    assert sorted(tree(tmp_path)) == ["ENG/Home.md", "ENG/Home/Beta.md", "ENG/Home/Gamma.md"]


def test_a_page_deleted_between_listing_and_fetch_is_deleted(
    site: tuple[FakeConfluence, ConfluenceCredentials, str], config_for: Callable[..., CustomerConfig], tmp_path: Path
) -> None:
    fake, credentials, flavor = site
    ids = _site(fake)
    with fake.serve() as url:
        config = config_for(url, ["ENG"], flavor=flavor)
        export_customer(config, tmp_path, credentials=credentials, retry_policy=FAST)
        fake.update_page(ids["b"], storage="<p>b2</p>")
        fake.delete_on_read(ids["b"])  # listed at v2, trashed just before its fetch
        stats = export_customer(config, tmp_path, credentials=credentials, retry_policy=FAST)
    assert stats["unreadable"] == [_record(ids["b"], "Beta", 404, "deleted", "deleted")]
    assert stats["pages_deleted"] == 1 and stats["errors"] == []
    assert not (tmp_path / "exports" / BETA).exists()
    assert ids["b"] not in _manifest(tmp_path)["spaces"]["ENG"]


def test_a_listed_page_answering_404_keeps_its_last_version_until_it_reads_again(
    fake: FakeConfluence, served: str, config_for: Callable[..., CustomerConfig], tmp_path: Path
) -> None:
    ids = _site(fake)
    config = config_for(served, ["ENG"])
    export_customer(config, tmp_path, credentials=CLOUD_CREDENTIALS, retry_policy=FAST)
    before = tree(tmp_path)
    fake.update_page(ids["b"], storage="<p>b2</p>")
    fake.break_page(ids["b"], status=404)  # the listing still shows it: not a deletion
    stats = export_customer(config, tmp_path, credentials=CLOUD_CREDENTIALS, retry_policy=FAST)
    assert stats["unreadable"] == [_record(ids["b"], "Beta", 404, "not_found", "kept")]
    assert stats["pages_deleted"] == 0 and tree(tmp_path) == before
    assert _manifest(tmp_path)["spaces"]["ENG"][ids["b"]]["version"] == 1
    fake.fix_page(ids["b"])
    healed = export_customer(config, tmp_path, credentials=CLOUD_CREDENTIALS, retry_policy=FAST)
    assert healed["unreadable"] == [] and healed["pages_fetched"] == 1
    assert "b2" in (tmp_path / "exports" / BETA).read_text(encoding="utf-8")
    assert _manifest(tmp_path)["unreadable"] == {}


def test_server_errors_after_retries_keep_the_last_version_and_are_recorded(
    fake: FakeConfluence, served: str, config_for: Callable[..., CustomerConfig], tmp_path: Path
) -> None:
    ids = _site(fake)
    config = config_for(served, ["ENG"])
    export_customer(config, tmp_path, credentials=CLOUD_CREDENTIALS, retry_policy=FAST)
    before = tree(tmp_path)
    fake.update_page(ids["b"], storage="<p>b2</p>")
    fake.break_page(ids["b"], status=503)
    stats = export_customer(config, tmp_path, credentials=CLOUD_CREDENTIALS, retry_policy=FAST)
    assert stats["unreadable"] == [_record(ids["b"], "Beta", 503, "server_error", "kept")]
    assert [error["page_id"] for error in stats["errors"]] == [ids["b"]]
    assert tree(tmp_path) == before and _manifest(tmp_path)["spaces"]["ENG"][ids["b"]]["version"] == 1


def test_an_answer_without_body_storage_is_an_error_not_an_empty_page(
    site: tuple[FakeConfluence, ConfluenceCredentials, str], config_for: Callable[..., CustomerConfig], tmp_path: Path
) -> None:
    fake, credentials, flavor = site
    ids = _site(fake)
    with fake.serve() as url:
        config = config_for(url, ["ENG"], flavor=flavor)
        export_customer(config, tmp_path, credentials=credentials, retry_policy=FAST)
        before = tree(tmp_path)
        fake.update_page(ids["b"], storage="<p>b2</p>")
        fake.strip_body(ids["b"])
        new = fake.add_page("ENG", "Delta", "<p>d1</p>")
        fake.strip_body(new)
        stats = export_customer(config, tmp_path, credentials=credentials, retry_policy=FAST)
    assert stats["unreadable"] == [
        _record(ids["b"], "Beta", None, "no_body", "kept"),
        _record(new, "Delta", None, "no_body", "kept"),
    ]
    assert sorted(error["page_id"] for error in stats["errors"]) == sorted([ids["b"], new])
    assert stats["errors_total"] == 2 and stats["pages_written"] == 0
    assert tree(tmp_path) == before  # Beta keeps its body, Delta is not written empty
