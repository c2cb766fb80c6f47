"""Incremental runs fetch what the id-only listing shows changed, even when the CQL window did not return it:
edits, renames and moves outside the window update the file, its front matter and the manifest."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tenant_rag.config import CustomerConfig
from tenant_rag.documents import read_page
from tenant_rag.export import export_customer
from tenant_rag_devtools.confluence_server import FakeConfluence
from tests.integration.export.conftest import CLOUD_CREDENTIALS, FAST, eng_home_and_three_children, fetched_page_ids

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
WINDOW = (T0 + timedelta(days=1), T0 + timedelta(days=1, hours=1))
OUTSIDE = T0 + timedelta(hours=3)  # after the full export, long before the window


def _site(fake: FakeConfluence) -> dict[str, str]:
    return eng_home_and_three_children(fake, T0)


def _entries(customer_dir: Path) -> dict[str, dict[str, object]]:
    manifest = json.loads((customer_dir / "cache/export_manifest.json").read_text(encoding="utf-8"))
    return dict(manifest["spaces"]["ENG"])


def test_an_edit_outside_the_window_is_fetched_from_the_listing(
    fake: FakeConfluence, served: str, config_for: Callable[..., CustomerConfig], tmp_path: Path
) -> None:
    ids = _site(fake)
    config = config_for(served, ["ENG"])
    export_customer(config, tmp_path, credentials=CLOUD_CREDENTIALS, retry_policy=FAST)
    fake.update_page(ids["a"], storage="<p>a2</p>", modified_at=OUTSIDE)
    fake.request_log.clear()
    stats = export_customer(config, tmp_path, credentials=CLOUD_CREDENTIALS, retry_policy=FAST, window=WINDOW)
    assert fetched_page_ids(fake) == [ids["a"]] and stats["pages_outside_window"] == 1
    assert stats["pages_fetched"] == 1 and stats["pages_unchanged"] == 3
    page = read_page(tmp_path / "exports/ENG/Home/Alpha.md", tmp_path / "exports")
    assert page.version == 2 and "a2" in page.body
    assert _entries(tmp_path)[ids["a"]]["version"] == 2


def test_a_rename_outside_the_window_updates_front_matter_and_manifest(
    fake: FakeConfluence, served: str, config_for: Callable[..., CustomerConfig], tmp_path: Path
) -> None:
    ids = _site(fake)
    config = config_for(served, ["ENG"])
    export_customer(config, tmp_path, credentials=CLOUD_CREDENTIALS, retry_policy=FAST)
    old_url = read_page(tmp_path / "exports/ENG/Home/Beta.md", tmp_path / "exports").url
    fake.update_page(ids["b"], title="Beta Renamed", modified_at=OUTSIDE)
    stats = export_customer(config, tmp_path, credentials=CLOUD_CREDENTIALS, retry_policy=FAST, window=WINDOW)
    assert stats["pages_fetched"] == 1 and stats["pages_moved"] == 1
    assert not (tmp_path / "exports/ENG/Home/Beta.md").exists()
    page = read_page(tmp_path / "exports/ENG/Home/Beta Renamed.md", tmp_path / "exports")
    assert (page.title, page.version) == ("Beta Renamed", 2)
    assert page.url and page.url != old_url and page.url.endswith("/Beta+Renamed")
    entry = _entries(tmp_path)[ids["b"]]
    assert (entry["title"], entry["version"], entry["path"]) == ("Beta Renamed", 2, "ENG/Home/Beta Renamed.md")


def test_a_move_outside_the_window_updates_front_matter_and_manifest(
    fake: FakeConfluence, served: str, config_for: Callable[..., CustomerConfig], tmp_path: Path
) -> None:
    ids = _site(fake)
    config = config_for(served, ["ENG"])
    export_customer(config, tmp_path, credentials=CLOUD_CREDENTIALS, retry_policy=FAST)
    fake.update_page(ids["c"], parent_id=ids["a"], modified_at=OUTSIDE)
    stats = export_customer(config, tmp_path, credentials=CLOUD_CREDENTIALS, retry_policy=FAST, window=WINDOW)
    assert stats["pages_moved"] == 1 and not (tmp_path / "exports/ENG/Home/Gamma.md").exists()
    page = read_page(tmp_path / "exports/ENG/Home/Alpha/Gamma.md", tmp_path / "exports")
    assert (page.version, page.parent_id, page.breadcrumbs) == (2, ids["a"], ("Home", "Alpha"))
    entry = _entries(tmp_path)[ids["c"]]
    assert (entry["version"], entry["parent_id"], entry["path"]) == (2, ids["a"], "ENG/Home/Alpha/Gamma.md")
