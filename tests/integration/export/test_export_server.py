"""Confluence Server / Data Center flavour: REST v1 only, offset pagination, personal access token."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tenant_rag.config import CustomerConfig
from tenant_rag.documents import read_page
from tenant_rag.export import ConfluenceAuthError, ConfluenceCredentials, export_customer
from tenant_rag_devtools.confluence_server import FakeConfluence
from tests.integration.export.conftest import FAST, SERVER_CREDENTIALS, fetched_page_ids


@pytest.fixture
def server_fake() -> FakeConfluence:
    fake = FakeConfluence(flavor="server", auth=None, bearer="server-pat", site_timezone="Europe/Berlin")
    fake.add_space("DOC", "Documentation")
    fake.add_user("jdoe", "Jane Doe")
    return fake


def test_server_full_incremental_and_deletion(
    server_fake: FakeConfluence, config_for: Callable[..., CustomerConfig], tmp_path: Path
) -> None:
    fake = server_fake
    t0 = datetime(2026, 5, 1, 8, tzinfo=UTC)
    home = fake.add_page(
        "DOC", "Home", '<p>Owner: <ac:link><ri:user ri:userkey="jdoe" /></ac:link></p>', labels=["root"], modified_at=t0
    )
    child = fake.add_page("DOC", "Install", "<p>v1</p>", parent_id=home, modified_at=t0)
    other = fake.add_page("DOC", "Upgrade", "<p>u</p>", parent_id=home, modified_at=t0)
    with fake.serve() as url:
        assert not url.endswith("/wiki")
        config = config_for(url, ["DOC"], flavor="server", site_timezone="Europe/Berlin")
        full = export_customer(config, tmp_path, credentials=SERVER_CREDENTIALS, retry_policy=FAST)
        assert full["pages_written"] == 3
        page = read_page(tmp_path / "exports/DOC/Home/Install.md", tmp_path / "exports")
        assert page.breadcrumbs == ("Home",) and page.parent_id == home and page.version == 1
        assert page.url == f"{url}/display/DOC/Install"
        assert "Owner: @Jane Doe" in (tmp_path / "exports/DOC/Home.md").read_text()
        assert read_page(tmp_path / "exports/DOC/Home.md", tmp_path / "exports").labels == ("root",)

        fake.update_page(child, storage="<p>v2</p>", modified_at=datetime(2026, 5, 2, 12, tzinfo=UTC))
        fake.delete_page(other)
        fake.request_log.clear()
        window = (datetime(2026, 5, 2, tzinfo=UTC), datetime(2026, 5, 3, tzinfo=UTC))
        incremental = export_customer(
            config, tmp_path, credentials=SERVER_CREDENTIALS, retry_policy=FAST, window=window
        )
    assert fetched_page_ids(fake) == [child]
    assert (incremental["pages_fetched"], incremental["pages_deleted"]) == (1, 1)
    assert not (tmp_path / "exports/DOC/Home/Upgrade.md").exists()
    assert "v2" in (tmp_path / "exports/DOC/Home/Install.md").read_text()
    assert all("/api/v2/" not in line for line in fake.request_log)  # Server has no v2
    search = next(line for line in fake.request_log if "/rest/api/content/search" in line and "type+%3D+page" in line)
    # window start 00:00 UTC minus the 5 minute overlap, written in Berlin time (UTC+2 in May)
    assert "lastmodified+%3E%3D+%222026-05-02+01%3A55%22" in search


def test_wrong_personal_access_token(
    server_fake: FakeConfluence, config_for: Callable[..., CustomerConfig], tmp_path: Path
) -> None:
    with server_fake.serve() as url, pytest.raises(ConfluenceAuthError):
        export_customer(
            config_for(url, ["DOC"], flavor="server"),
            tmp_path,
            credentials=ConfluenceCredentials(bearer_token="stolen"),
            retry_policy=FAST,
        )
