"""Pagination across many pages: Cloud cursors (v2 listing), Server offsets (v1), page-size shrinking and regrowth."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from tenant_rag.config import CustomerConfig
from tenant_rag.documents import iter_page_files
from tenant_rag.export import export_customer
from tenant_rag_devtools.confluence_server import FakeConfluence
from tests.integration.export.conftest import CLOUD_AUTH, CLOUD_CREDENTIALS, FAST, SERVER_CREDENTIALS


def _many(fake: FakeConfluence, count: int) -> list[str]:
    fake.add_space("BIG", "Big space")
    ids: list[str] = []
    for number in range(count):
        parent = ids[number // 5] if number >= 5 else None  # a real tree, five levels deep at the bottom
        ids.append(fake.add_page("BIG", f"Page {number:03d}", f"<p>content {number}</p>", parent_id=parent))
    return ids


def _listing_requests(fake: FakeConfluence, marker: str) -> list[dict[str, list[str]]]:
    return [parse_qs(urlsplit(line).query) for line in fake.request_log if marker in urlsplit(line).path]


def test_cloud_cursor_pagination_over_120_pages(
    fake: FakeConfluence, served: str, config_for: Callable[..., CustomerConfig], tmp_path: Path
) -> None:
    _many(fake, 120)
    stats = export_customer(
        config_for(served, ["BIG"], page_size=25), tmp_path, credentials=CLOUD_CREDENTIALS, retry_policy=FAST
    )
    assert stats["pages_listed"] == stats["pages_written"] == 120
    assert len(list(iter_page_files(tmp_path / "exports"))) == 120
    listing = _listing_requests(fake, "/spaces/")
    listing = [q for q in listing if "status" in q or "cursor" in q]
    assert len(listing) == 5  # 120 pages / 25 per page
    assert "cursor" not in listing[0] and all("cursor" in q for q in listing[1:])
    assert all(q["limit"] == ["25"] for q in listing)


def test_server_offset_pagination_over_120_pages(config_for: Callable[..., CustomerConfig], tmp_path: Path) -> None:
    fake = FakeConfluence(flavor="server", auth=None, bearer="server-pat")
    _many(fake, 120)
    with fake.serve() as url:
        stats = export_customer(
            config_for(url, ["BIG"], flavor="server", page_size=25),
            tmp_path,
            credentials=SERVER_CREDENTIALS,
            retry_policy=FAST,
        )
    assert stats["pages_written"] == 120
    starts = [q.get("start", ["0"])[0] for q in _listing_requests(fake, "/rest/api/content") if "spaceKey" in q]
    assert starts == ["0", "25", "50", "75", "100"]


def test_repeated_server_errors_shrink_the_page_size(
    fake: FakeConfluence, served: str, config_for: Callable[..., CustomerConfig], tmp_path: Path
) -> None:
    _many(fake, 60)
    fake.set_faults(fail_limit_above=10)  # an overloaded site: big pages time out with 500
    stats = export_customer(
        config_for(served, ["BIG"], page_size=50), tmp_path, credentials=CLOUD_CREDENTIALS, retry_policy=FAST
    )
    assert stats["pages_written"] == 60 and stats["errors"] == []
    limits = [int(q["limit"][0]) for q in _listing_requests(fake, "/pages") if "limit" in q]
    assert limits[0] == 50 and limits[-1] <= 10
    assert limits == sorted(limits, reverse=True)  # once reduced, it stays reduced
    assert fake.faults.injected["limit"] >= 2


def test_random_server_errors_do_not_keep_the_page_size_down(
    config_for: Callable[..., CustomerConfig], tmp_path: Path
) -> None:
    """Random 5xx once shrank the listing page for the rest of the run (10 -> 1: 17 listing requests became 197)."""
    counts: dict[str, int] = {}
    limits: list[int] = []
    for rate in (0.0, 0.3):
        fake = FakeConfluence(auth=CLOUD_AUTH, seed=2)
        _many(fake, 170)
        with fake.serve() as url:
            fake.set_faults(rate=rate, kinds=["500"])
            stats = export_customer(
                config_for(url, ["BIG"], page_size=10),
                tmp_path / str(rate),
                credentials=CLOUD_CREDENTIALS,
                retry_policy=FAST,
            )
        assert stats["pages_written"] == 170 and stats["errors"] == []
        limits = [int(q["limit"][0]) for q in _listing_requests(fake, "/spaces/") if "status" in q or "cursor" in q]
        counts[str(rate)] = len(limits)
    assert counts["0.0"] == 17
    first_drop = next(i for i, limit in enumerate(limits) if limit < 10)  # StopIteration: never reduced
    assert 10 in limits[first_drop:]  # reduced, and it came back
    assert counts["0.3"] < 2 * counts["0.0"]  # every attempt counted, failed ones too
