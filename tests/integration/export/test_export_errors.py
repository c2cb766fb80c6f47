"""Errors that stop an export name the customer and what is wrong: missing space, credentials, bad arguments."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tenant_rag.config import CustomerConfig, parse_customer_config
from tenant_rag.export import (
    ConfluenceAuthError,
    ConfluenceCredentials,
    ExportError,
    SpaceNotFoundError,
    export_customer,
)
from tenant_rag_devtools.confluence_server import FakeConfluence
from tests.integration.export.conftest import CLOUD_CREDENTIALS, FAST, SERVER_CREDENTIALS


def test_missing_space_is_a_clear_error(
    fake: FakeConfluence, served: str, config_for: Callable[..., CustomerConfig], tmp_path: Path
) -> None:
    fake.add_space("ENG", "Engineering")
    with pytest.raises(SpaceNotFoundError) as caught:
        export_customer(config_for(served, ["ENG", "NOPE"]), tmp_path, credentials=CLOUD_CREDENTIALS, retry_policy=FAST)
    assert caught.value.customer_id == "acme" and caught.value.space_key == "NOPE"
    assert "'acme'" in str(caught.value) and "'NOPE'" in str(caught.value)
    assert not list((tmp_path / "exports").rglob("*.md"))


def test_missing_space_on_server_flavour(config_for: Callable[..., CustomerConfig], tmp_path: Path) -> None:
    fake = FakeConfluence(flavor="server", auth=None, bearer="server-pat")
    with fake.serve() as url, pytest.raises(SpaceNotFoundError, match="'GONE'"):
        export_customer(
            config_for(url, ["GONE"], flavor="server"), tmp_path, credentials=SERVER_CREDENTIALS, retry_policy=FAST
        )


def test_wrong_credentials_fail_without_retries(
    fake: FakeConfluence, served: str, config_for: Callable[..., CustomerConfig], tmp_path: Path
) -> None:
    fake.add_space("ENG", "Engineering")
    with pytest.raises(ConfluenceAuthError) as caught:
        export_customer(
            config_for(served, ["ENG"]),
            tmp_path,
            credentials=ConfluenceCredentials(username="user@example.com", api_token="wrong"),
            retry_policy=FAST,
        )
    assert caught.value.status == 401 and fake.request_count == 1


def test_missing_credentials_and_bad_arguments(
    served: str, config_for: Callable[..., CustomerConfig], tmp_path: Path
) -> None:
    config = config_for(served, ["ENG"])
    with pytest.raises(ExportError, match="API token"):
        export_customer(config, tmp_path, credentials=ConfluenceCredentials())
    with pytest.raises(ExportError, match=r"not in export\.space_keys"):
        export_customer(config, tmp_path, credentials=CLOUD_CREDENTIALS, space_keys=["OTHER"])
    directory = parse_customer_config(
        {"customer_id": "dir", "display_name": "Dir", "export": {"source": "directory", "path": "md"}},
        customer_id="dir",
        path="dir/config.yaml",
    )
    with pytest.raises(ExportError, match="not 'confluence'"):
        export_customer(directory, tmp_path, credentials=CLOUD_CREDENTIALS)


def test_unknown_ancestor_is_an_error(
    fake: FakeConfluence, served: str, config_for: Callable[..., CustomerConfig], tmp_path: Path
) -> None:
    fake.add_space("ENG", "Engineering")
    fake.add_page("ENG", "Home", "<p>x</p>")
    with pytest.raises(ExportError, match="ancestor_id '999'"):
        export_customer(
            config_for(served, ["ENG"], ancestor_id="999"), tmp_path, credentials=CLOUD_CREDENTIALS, retry_policy=FAST
        )


def test_base_url_argument_overrides_the_config(
    fake: FakeConfluence, served: str, config_for: Callable[..., CustomerConfig], tmp_path: Path
) -> None:
    fake.add_space("ENG", "Engineering")
    fake.add_page("ENG", "Home", "<p>x</p>")
    config = config_for("https://unreachable.invalid/wiki", ["ENG"])
    stats = export_customer(config, tmp_path, credentials=CLOUD_CREDENTIALS, retry_policy=FAST, base_url=served)
    assert stats["pages_written"] == 1


def test_bad_windows_and_time_zones_name_the_customer(
    fake: FakeConfluence, served: str, config_for: Callable[..., CustomerConfig], tmp_path: Path
) -> None:
    fake.add_space("ENG", "Engineering")
    start = datetime(2026, 3, 2, tzinfo=UTC)
    with pytest.raises(ExportError, match=r"customer 'acme'.*not after its start"):
        export_customer(
            config_for(served, ["ENG"]),
            tmp_path,
            credentials=CLOUD_CREDENTIALS,
            window=(start, start - timedelta(hours=1)),
        )
    with pytest.raises(ExportError, match=r"customer 'acme'.*IANA"):
        export_customer(
            config_for(served, ["ENG"], site_timezone="Mars/Base"),
            tmp_path,
            credentials=CLOUD_CREDENTIALS,
            window=(start, start + timedelta(hours=1)),
        )
    assert fake.request_count == 0  # refused before any request
