"""CQL dates are written in the indexing user's time zone, read from the site (``user/current`` ``timeZone``);
the configured ``site_timezone`` is the fallback, and a warning when it disagrees. Every CQL is logged."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tenant_rag.config import CustomerConfig
from tenant_rag.export import ConfluenceCredentials, export_customer
from tenant_rag_devtools.confluence_server import FakeConfluence
from tests.integration.export.conftest import CLOUD_AUTH, CLOUD_CREDENTIALS, FAST, SERVER_CREDENTIALS

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
WINDOW = (datetime(2026, 3, 2, 10, 0, tzinfo=UTC), datetime(2026, 3, 2, 11, 0, tzinfo=UTC))
EDITS = [datetime(2026, 3, 2, 10, minute, tzinfo=UTC) for minute in (5, 20, 35, 50, 55)]  # all inside WINDOW


def _edit_five(fake: FakeConfluence) -> list[str]:
    fake.add_space("ENG", "Engineering")
    home = fake.add_page("ENG", "Home", "<p>home</p>", modified_at=T0)
    return [fake.add_page("ENG", f"Page {n}", f"<p>{n}</p>", parent_id=home, modified_at=T0) for n in range(5)]


def _run_with_edits(
    fake: FakeConfluence, config: CustomerConfig, customer_dir: Path, credentials: ConfluenceCredentials
) -> dict[str, Any]:
    ids = _edit_five(fake)
    export_customer(config, customer_dir, credentials=credentials, retry_policy=FAST)
    for page_id, when in zip(ids, EDITS, strict=True):
        fake.update_page(page_id, storage="<p>edited</p>", modified_at=when)
    fake.request_log.clear()
    return export_customer(config, customer_dir, credentials=credentials, retry_policy=FAST, window=WINDOW)


def _sent_cql(fake: FakeConfluence) -> list[str]:
    """The CQL of page searches (not of the read-restriction listing, which has no window)."""
    queries = [parse_qs(urlsplit(line).query) for line in fake.request_log if "/content/search" in line]
    pages = [query for query in queries if "cql" in query and "type = page" in query["cql"][0]]
    return [query["cql"][0] for query in pages if "restrictions" not in ",".join(query.get("expand", []))]


def _zone_warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "tenant_rag.export.exporter" and r.levelno == logging.WARNING]


def test_the_users_zone_from_the_site_wins_over_a_disagreeing_config(
    config_for: Callable[..., CustomerConfig], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    fake = FakeConfluence(auth=CLOUD_AUTH, site_timezone="Europe/Berlin")
    caplog.set_level(logging.INFO, logger="tenant_rag.export")
    with fake.serve() as url:
        stats = _run_with_edits(fake, config_for(url, ["ENG"], site_timezone="UTC"), tmp_path, CLOUD_CREDENTIALS)
    assert (stats["cql_timezone"], stats["cql_timezone_source"]) == ("Europe/Berlin", "site")
    assert stats["pages_fetched"] == 5 and stats["pages_outside_window"] == 0  # the window itself found all five
    # 10:00 UTC minus the 5-minute overlap is 10:55 in Berlin (CET, +01:00); 11:00 UTC is 12:00
    [cql] = _sent_cql(fake)
    assert 'lastmodified >= "2026-03-02 10:55" AND lastmodified < "2026-03-02 12:00"' in cql
    assert len(_zone_warnings(caplog)) == 1
    logged = [r.args for r in caplog.records if r.name == "tenant_rag.export.client"]
    assert (cql,) in logged  # the exact CQL of the request is in the task log


def test_a_config_that_agrees_with_the_site_gives_no_warning(
    config_for: Callable[..., CustomerConfig], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    fake = FakeConfluence(auth=CLOUD_AUTH, site_timezone="UTC", user_timezone="Europe/Berlin")
    with fake.serve() as url:
        stats = _run_with_edits(
            fake, config_for(url, ["ENG"], site_timezone="Europe/Berlin"), tmp_path, CLOUD_CREDENTIALS
        )
    assert (stats["cql_timezone"], stats["pages_outside_window"]) == ("Europe/Berlin", 0)
    assert _zone_warnings(caplog) == []


@pytest.mark.parametrize("flavor", ["cloud", "server"])
def test_without_the_users_zone_the_config_is_used_and_the_listing_still_catches_every_edit(
    config_for: Callable[..., CustomerConfig], tmp_path: Path, flavor: str
) -> None:
    """A Cloud user who hides the zone, or Server/DC (no ``timeZone`` at all): the configured zone is used."""
    fake = FakeConfluence(
        flavor=flavor,  # type: ignore[arg-type]
        auth=CLOUD_AUTH if flavor == "cloud" else None,
        bearer="server-pat",
        site_timezone="Europe/Berlin",
        share_user_timezone=False,
    )
    credentials = CLOUD_CREDENTIALS if flavor == "cloud" else SERVER_CREDENTIALS
    with fake.serve() as url:
        config = config_for(url, ["ENG"], flavor=flavor, site_timezone="UTC")
        stats = _run_with_edits(fake, config, tmp_path, credentials)
    assert (stats["cql_timezone"], stats["cql_timezone_source"]) == ("UTC", "config")
    # read as UTC on a Berlin site the window [09:55, 11:00) local is [08:55, 10:00) UTC: it misses all five edits,
    # but the listing shows their new versions, so all five are fetched anyway
    assert stats["pages_outside_window"] == 5 and stats["pages_fetched"] == 5


def test_the_user_zone_is_asked_once_and_only_by_incremental_runs(
    config_for: Callable[..., CustomerConfig], tmp_path: Path
) -> None:
    fake = FakeConfluence(auth=CLOUD_AUTH, site_timezone="Asia/Kolkata")
    _edit_five(fake)
    with fake.serve() as url:
        config = config_for(url, ["ENG"])
        full = export_customer(config, tmp_path, credentials=CLOUD_CREDENTIALS, retry_policy=FAST)
        asked_by_full = [line for line in fake.request_log if "/user/current" in line]
        export_customer(config, tmp_path, credentials=CLOUD_CREDENTIALS, retry_policy=FAST, window=WINDOW)
    assert asked_by_full == [] and "cql_timezone" not in full
    assert sum("/user/current" in line for line in fake.request_log) == 1
