"""The local server's CQL interpreter: the clauses the exporter sends, time zones, and clear errors."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from tenant_rag_devtools.confluence_server.cql import CqlError, compile_cql, tokenize
from tenant_rag_devtools.confluence_server.site import Site


@pytest.fixture
def site() -> Site:
    site = Site()
    site.add_space("ENG", "Engineering")
    site.add_space("OPS", "Operations")
    site.add_page("ENG", "Home", "", page_id="1", labels=["keep"], modified_at=datetime(2026, 3, 1, 9, tzinfo=UTC))
    site.add_page(
        "ENG",
        "Child",
        "",
        page_id="2",
        parent_id="1",
        labels=["keep", "draft"],
        modified_at=datetime(2026, 3, 1, 10, 30, tzinfo=UTC),
    )
    site.add_page("ENG", 'Say "hi"', "", page_id="3", parent_id="2", modified_at=datetime(2026, 3, 1, 12, tzinfo=UTC))
    site.add_page("OPS", "Runbook", "", page_id="4", labels=["keep"], modified_at=datetime(2026, 3, 1, 10, tzinfo=UTC))
    return site


def ids(site: Site, query: str, zone: str = "UTC") -> list[str]:
    predicate = compile_cql(query, site, ZoneInfo(zone))
    return sorted(p.page_id for p in site.pages.values() if predicate(p))


def test_tokenizer_handles_quotes_and_operators() -> None:
    assert tokenize('title = "a \\"b\\"" AND label NOT IN ("x","y")') == [
        "title",
        "=",
        '"a "b"',
        "AND",
        "label",
        "NOT",
        "IN",
        "(",
        '"x',
        ",",
        '"y',
        ")",
    ]


def test_space_type_labels_ancestor_and_title(site: Site) -> None:
    assert ids(site, 'space = "ENG" AND type = page') == ["1", "2", "3"]
    assert ids(site, 'space = ENG AND label IN ("keep")') == ["1", "2"]
    assert ids(site, 'space = "ENG" AND label NOT IN ("draft")') == ["1", "3"]
    assert ids(site, "ancestor = 1") == ["2", "3"]
    assert ids(site, 'title = "Say \\"hi\\""') == ["3"]
    assert ids(site, 'space IN ("OPS") OR (space = "ENG" AND parent = 2)') == ["3", "4"]
    assert ids(site, 'NOT space = "ENG"') == ["4"]


def test_lastmodified_is_read_in_the_site_time_zone(site: Site) -> None:
    window = 'space = "ENG" AND lastmodified >= "2026-03-01 10:00" AND lastmodified < "2026-03-01 11:00"'
    assert ids(site, window) == ["2"]
    # 10:00-11:00 in Kolkata (+05:30) is 04:30-05:30 UTC: nothing was edited then
    assert ids(site, window, "Asia/Kolkata") == []
    assert ids(site, 'lastmodified >= "2026/03/01 15:55" AND lastmodified < "2026/03/01 16:05"', "Asia/Kolkata") == [
        "2"
    ]
    assert ids(site, 'lastmodified > "2026-03-01"') == ["1", "2", "3", "4"]


@pytest.mark.parametrize(
    "query",
    [
        "",
        "space",
        'space = "ENG" AND',
        "colour = red",
        'lastmodified >= "yesterday"',
        "label IN (a",
        'title = "unterminated',
        "space = ENG )",
    ],
)
def test_invalid_cql_is_an_error(site: Site, query: str) -> None:
    with pytest.raises(CqlError):
        ids(site, query)
