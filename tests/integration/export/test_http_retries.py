"""Robust HTTP against the local server: Retry-After, backoff, budget, timeouts, dropped connections, no retry on
client errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from tenant_rag.export import ConfluenceAuthError, ConfluenceHTTPError, RetryBudgetExhaustedError, RetryPolicy
from tenant_rag.export.client import next_link
from tenant_rag.export.errors import ConfluenceForbiddenError
from tenant_rag.export.http import HttpClient, parse_retry_after, with_limit
from tenant_rag_devtools.confluence_server import FakeConfluence
from tests.integration.export.conftest import CLOUD_AUTH


@pytest.fixture
def fake() -> FakeConfluence:
    fake = FakeConfluence(auth=CLOUD_AUTH, seed=11)
    fake.add_space("ENG", "Engineering")
    return fake


def _client(sleeps: list[float], **policy: float) -> HttpClient:
    settings = {"timeout_seconds": 0.5, "max_retries": 3, "backoff_base": 0.01, "backoff_max": 0.04, **policy}
    return HttpClient(auth=CLOUD_AUTH, policy=RetryPolicy(**settings), sleep=sleeps.append, seed=1)  # type: ignore[arg-type]


def test_parse_retry_after() -> None:
    assert parse_retry_after("7") == 7.0 and parse_retry_after("0.25") == 0.25
    later = datetime(2026, 1, 1, 12, 0, 30, tzinfo=UTC)
    assert parse_retry_after(format_datetime(later, usegmt=True), now=(later - timedelta(seconds=30)).timestamp()) == 30
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    assert with_limit("http://x/a?limit=50&cursor=abc", 12) == "http://x/a?limit=12&cursor=abc"


def test_429_waits_for_retry_after(fake: FakeConfluence) -> None:
    fake.set_faults(rate=1.0, kinds=["429"], retry_after=2)
    sleeps: list[float] = []
    with fake.serve() as url, _client(sleeps, max_retries=2) as http, pytest.raises(ConfluenceHTTPError) as caught:
        http.get_json(f"{url}/api/v2/spaces")
    assert caught.value.status == 429 and sleeps == [2.0, 2.0] and http.retries == 2 and http.requests == 3


@pytest.mark.parametrize("kind", ["500", "drop", "slow"])
def test_transient_failures_are_retried_with_backoff(fake: FakeConfluence, kind: str) -> None:
    fake.set_faults(rate=1.0, kinds=[kind], slow_seconds=1.0)  # slow: longer than the 0.5 s timeout
    sleeps: list[float] = []
    with fake.serve() as url, _client(sleeps) as http:
        with pytest.raises(ConfluenceHTTPError, match="gave up after 4 attempts"):
            http.get_json(f"{url}/api/v2/spaces")
        assert http.requests == 4 and len(sleeps) == 3
        assert all(0.005 <= s <= 0.04 for s in sleeps) and sleeps[2] >= sleeps[0]  # exponential, capped, jittered
        fake.set_faults(rate=0.0)
        payload, _ = http.get_json(f"{url}/api/v2/spaces")
    assert payload["results"][0]["key"] == "ENG"


def test_client_errors_are_not_retried(fake: FakeConfluence) -> None:
    sleeps: list[float] = []
    with fake.serve() as url, _client(sleeps) as http:
        with pytest.raises(ConfluenceHTTPError) as missing:
            http.get_json(f"{url}/api/v2/pages/424242")
        with pytest.raises(ConfluenceHTTPError) as bad:
            http.get_json(f"{url}/rest/api/content/search", {"cql": "colour = red"})
    assert (missing.value.status, bad.value.status) == (404, 400) and sleeps == []
    with fake.serve() as url, HttpClient(auth=("user@example.com", "nope")) as http, pytest.raises(ConfluenceAuthError):
        http.get_json(f"{url}/api/v2/spaces")


def test_the_retry_budget_bounds_retries_across_requests(fake: FakeConfluence) -> None:
    fake.set_faults(rate=1.0, kinds=["500"])
    sleeps: list[float] = []
    with fake.serve() as url, _client(sleeps, max_retries=5, budget_floor=4, budget_ratio=0.0) as http:
        with pytest.raises(ConfluenceHTTPError):
            http.get_json(f"{url}/api/v2/spaces")  # 5 failures... but only 4 retries in the budget
        with pytest.raises(RetryBudgetExhaustedError):
            http.get_json(f"{url}/api/v2/spaces")  # nothing left: fails after one attempt
    assert http.retries == 4 and http.requests == 6


def test_connection_refused_is_retried_then_reported() -> None:
    sleeps: list[float] = []
    fake = FakeConfluence(auth=None)
    url = fake.start()
    fake.stop()  # nothing listens on that port any more
    with _client(sleeps, max_retries=2) as http, pytest.raises(ConfluenceHTTPError, match="ConnectError"):
        http.get_json(f"{url}/api/v2/spaces")
    assert len(sleeps) == 2


def test_403_is_a_forbidden_error_without_retries(fake: FakeConfluence) -> None:
    page_id = fake.add_page("ENG", "Secret", "<p>s</p>")
    fake.restrict_page(page_id)
    sleeps: list[float] = []
    with fake.serve() as url, _client(sleeps) as http, pytest.raises(ConfluenceForbiddenError) as caught:
        http.get_json(f"{url}/api/v2/pages/{page_id}")
    assert isinstance(caught.value, ConfluenceAuthError) and caught.value.status == 403
    assert sleeps == [] and http.requests == 1


def test_the_next_link_comes_from_the_body_or_the_link_header(fake: FakeConfluence) -> None:
    for number in range(3):
        fake.add_page("ENG", f"Page {number}", "<p>x</p>")
    with fake.serve() as url, _client([]) as http:
        space_id = http.get_json(f"{url}/api/v2/spaces")[0]["results"][0]["id"]
        payload, response = http.get_json(f"{url}/api/v2/spaces/{space_id}/pages", {"limit": 2})
        _, last = http.get_json(f"{url}/api/v2/spaces/{space_id}/pages", {"limit": 5})
    body_link = payload["_links"]["next"]
    assert next_link(payload, response.links) == body_link
    assert next_link({"_links": {}}, response.links) == body_link  # the Link header alone, parsed by httpx
    assert next_link({}, last.links) is None and "next" not in last.links
