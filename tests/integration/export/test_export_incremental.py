"""Incremental windows: CQL lastmodified in the indexing user's time zone, overlap, changes found by the id listing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tenant_rag.config import CustomerConfig
from tenant_rag.documents import read_page
from tenant_rag.export import export_customer
from tenant_rag_devtools.confluence_server import FakeConfluence
from tests.integration.export.conftest import (
    CLOUD_AUTH,
    CLOUD_CREDENTIALS,
    FAST,
    eng_home_and_three_children,
    fetched_page_ids,
)

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def _site(fake: FakeConfluence) -> dict[str, str]:
    return eng_home_and_three_children(fake, T0)


@pytest.mark.parametrize("zone", ["UTC", "Asia/Kolkata", "America/New_York"])
def test_window_fetches_pages_modified_inside_it(
    config_for: Callable[..., CustomerConfig], tmp_path: Path, zone: str
) -> None:
    fake = FakeConfluence(auth=CLOUD_AUTH, site_timezone=zone)
    ids = _site(fake)
    with fake.serve() as url:
        config = config_for(url, ["ENG"], site_timezone=zone)
        export_customer(config, tmp_path, credentials=CLOUD_CREDENTIALS, retry_policy=FAST)
        fake.update_page(ids["a"], storage="<p>a2</p>", modified_at=datetime(2026, 3, 2, 9, 59, 40, tzinfo=UTC))
        fake.update_page(ids["b"], storage="<p>b2</p>", modified_at=datetime(2026, 3, 2, 10, 30, tzinfo=UTC))
        fake.update_page(ids["c"], storage="<p>c2</p>", modified_at=datetime(2026, 3, 2, 11, 0, tzinfo=UTC))
        fake.request_log.clear()
        window = (datetime(2026, 3, 2, 10, 0, tzinfo=UTC), datetime(2026, 3, 2, 11, 0, tzinfo=UTC))
        stats = export_customer(config, tmp_path, credentials=CLOUD_CREDENTIALS, retry_policy=FAST, window=window)
    assert stats["mode"] == "incremental"
    # Beta is inside; Alpha 20 s before the start is caught by the overlap; Gamma at the (exclusive) end is not,
    # but the listing shows its new version, so it is fetched all the same
    assert stats["pages_outside_window"] == 1
    assert sorted(fetched_page_ids(fake)) == sorted([ids["a"], ids["b"], ids["c"]])
    assert stats["pages_fetched"] == 3 and stats["pages_unchanged"] == 1
    assert "b2" in (tmp_path / "exports/ENG/Home/Beta.md").read_text()
    assert "c2" in (tmp_path / "exports/ENG/Home/Gamma.md").read_text()
    searches = [line for line in fake.request_log if "/content/search" in line and "type+%3D+page" in line]
    searches = [line for line in searches if "expand=restrictions" not in line]  # the read-restriction listing
    assert len(searches) == 1 and "lastmodified" in searches[0]


def test_incremental_run_also_mirrors_deletions_moves_and_missing_pages(
    fake: FakeConfluence, served: str, config_for: Callable[..., CustomerConfig], tmp_path: Path
) -> None:
    ids = _site(fake)
    config = config_for(served, ["ENG"])
    export_customer(config, tmp_path, credentials=CLOUD_CREDENTIALS, retry_policy=FAST)
    fake.delete_page(ids["c"])
    fake.update_page(ids["b"], parent_id=ids["a"], modified_at=T0 + timedelta(days=30))  # moved, outside the window
    restored = fake.add_page(
        "ENG", "Restored", "<p>old page back from the trash</p>", modified_at=T0 - timedelta(days=9)
    )
    window = (T0 + timedelta(days=1), T0 + timedelta(days=2))
    fake.request_log.clear()
    stats = export_customer(config, tmp_path, credentials=CLOUD_CREDENTIALS, retry_policy=FAST, window=window)
    assert stats["pages_deleted"] == 1 and not (tmp_path / "exports/ENG/Home/Gamma.md").exists()
    assert stats["pages_moved"] == 1 and not (tmp_path / "exports/ENG/Home/Beta.md").exists()
    moved = read_page(tmp_path / "exports/ENG/Home/Alpha/Beta.md", tmp_path / "exports")
    assert moved.breadcrumbs == ("Home", "Alpha") and moved.parent_id == ids["a"]
    assert (tmp_path / "exports/ENG/Restored.md").is_file()  # absent from the mirror: fetched whatever its date
    # exactly the moved page and the restored one, in whatever order the fetching threads got to them
    assert sorted(fetched_page_ids(fake)) == sorted([ids["b"], restored])


def test_naive_window_bounds_are_utc(
    fake: FakeConfluence, served: str, config_for: Callable[..., CustomerConfig], tmp_path: Path
) -> None:
    ids = _site(fake)
    config = config_for(served, ["ENG"])
    export_customer(config, tmp_path, credentials=CLOUD_CREDENTIALS, retry_policy=FAST)
    fake.update_page(ids["a"], storage="<p>a2</p>", modified_at=datetime(2026, 3, 2, 10, 30, tzinfo=UTC))
    stats = export_customer(
        config,
        tmp_path,
        credentials=CLOUD_CREDENTIALS,
        retry_policy=FAST,
        window=(datetime(2026, 3, 2, 10), datetime(2026, 3, 2, 11)),
    )
    assert stats["pages_fetched"] == 1


def test_backfill_over_intervals_equals_one_full_run(
    fake: FakeConfluence, served: str, config_for: Callable[..., CustomerConfig], tmp_path: Path
) -> None:
    ids = _site(fake)
    config = config_for(served, ["ENG"])
    export_customer(config, tmp_path / "backfill", credentials=CLOUD_CREDENTIALS, retry_policy=FAST)
    day = timedelta(days=1)
    fake.update_page(ids["a"], storage="<p>a2</p>", modified_at=T0 + day)
    fake.update_page(ids["b"], title="Beta renamed", modified_at=T0 + 2 * day)
    fake.update_page(ids["a"], storage="<p>a3</p>", modified_at=T0 + 3 * day)
    for start in (T0 + day, T0 + 2 * day, T0 + 3 * day):  # three daily intervals, oldest first
        export_customer(
            config,
            tmp_path / "backfill",
            credentials=CLOUD_CREDENTIALS,
            retry_policy=FAST,
            window=(start - timedelta(hours=1), start + day - timedelta(hours=1)),
        )
    export_customer(config, tmp_path / "full", credentials=CLOUD_CREDENTIALS, retry_policy=FAST)
    root_b, root_f = tmp_path / "backfill/exports", tmp_path / "full/exports"
    assert sorted(p.relative_to(root_b) for p in root_b.rglob("*.md")) == sorted(
        p.relative_to(root_f) for p in root_f.rglob("*.md")
    )
    for path in root_f.rglob("*.md"):
        assert (root_b / path.relative_to(root_f)).read_text() == path.read_text()
