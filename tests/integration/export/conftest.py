"""Fixtures for export tests: a local Confluence server, customer configs pointing at it, fast retry settings."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tenant_rag.config import CustomerConfig, parse_customer_config
from tenant_rag.export import ConfluenceCredentials, RetryPolicy
from tenant_rag_devtools.confluence_server import FakeConfluence

CLOUD_AUTH = ("user@example.com", "token")
CLOUD_CREDENTIALS = ConfluenceCredentials(username="user@example.com", api_token="token")
SERVER_CREDENTIALS = ConfluenceCredentials(bearer_token="server-pat")
FAST = RetryPolicy(timeout_seconds=2.0, max_retries=8, backoff_base=0.005, backoff_max=0.05)


@pytest.fixture
def fake() -> FakeConfluence:
    return FakeConfluence(flavor="cloud", auth=CLOUD_AUTH)


@pytest.fixture
def served(fake: FakeConfluence) -> Iterator[str]:
    with fake.serve() as url:
        yield url


def make_config(url: str, spaces: list[str], *, customer: str = "acme", **export: Any) -> CustomerConfig:
    raw = {
        "customer_id": customer,
        "display_name": customer.title(),
        "export": {"source": "confluence", "base_url": url, "space_keys": spaces, **export},
    }
    return parse_customer_config(raw, customer_id=customer, path=f"{customer}/config.yaml")


@pytest.fixture
def config_for() -> Callable[..., CustomerConfig]:
    return make_config


def tree(customer_dir: Path) -> dict[str, str]:
    """Every exported file (relative path -> text): what a test compares between runs."""
    root = customer_dir / "exports"
    return {
        p.relative_to(root).as_posix(): p.read_text(encoding="utf-8") for p in sorted(root.rglob("*")) if p.is_file()
    }


def fetched_page_ids(fake: FakeConfluence) -> list[str]:
    """Ids of single-page GETs the server saw (v2 ``/pages/{id}`` or v1 ``/content/{id}``)."""
    out = []
    for line in fake.request_log:
        path = line.split("?", 1)[0].rstrip("/").split("/")
        if len(path) >= 2 and path[-2] in ("pages", "content") and path[-1].isdigit():
            out.append(path[-1])
    return out


@pytest.fixture(params=["cloud", "server"])
def site(request: pytest.FixtureRequest) -> tuple[FakeConfluence, ConfluenceCredentials, str]:
    """An empty local site of each flavour, with the credentials that open it and the flavour's name."""
    flavor = request.param
    fake = FakeConfluence(flavor=flavor, auth=CLOUD_AUTH if flavor == "cloud" else None, bearer="server-pat")
    return fake, CLOUD_CREDENTIALS if flavor == "cloud" else SERVER_CREDENTIALS, flavor


def eng_home_and_three_children(fake: FakeConfluence, modified_at: datetime) -> dict[str, str]:
    """Space ENG: Home with Alpha, Beta and Gamma below it (bodies a1, b1, c1), all last modified at ``modified_at``."""
    fake.add_space("ENG", "Engineering")
    home = fake.add_page("ENG", "Home", "<p>home</p>", modified_at=modified_at)
    return {
        "home": home,
        "a": fake.add_page("ENG", "Alpha", "<p>a1</p>", parent_id=home, modified_at=modified_at),
        "b": fake.add_page("ENG", "Beta", "<p>b1</p>", parent_id=home, modified_at=modified_at),
        "c": fake.add_page("ENG", "Gamma", "<p>c1</p>", parent_id=home, modified_at=modified_at),
    }
